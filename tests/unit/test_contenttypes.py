from __future__ import annotations

import pytest

from assetsync.protocol.contenttypes import UNKNOWN, content_type, extension

# Every extension PROTOCOL section 3 lists, with what wrangler sends for it.
OBSERVED = {
    "index.html": "text/html; charset=utf-8",
    "a.htm": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "mod.mjs": "text/javascript; charset=utf-8",
    "site.css": "text/css; charset=utf-8",
    "a.txt": "text/plain; charset=utf-8",
    "README.md": "text/markdown; charset=utf-8",
    "data.json": "application/json",
    "app.js.map": "application/json",
    "logo.svg": "image/svg+xml",
    "favicon.ico": "image/vnd.microsoft.icon",
    "a.png": "image/png",
    "feed.xml": "application/xml",
    "m.wasm": "application/wasm",
    "f.woff2": "font/woff2",
    "site.webmanifest": "application/manifest+json",
    "a.gz": "application/gzip",
    "a.cjs": "application/node",
    "a.ts": "video/mp2t",
    "c.yaml": "text/yaml; charset=utf-8",
    "c.toml": "application/toml",
    "LICENSE": UNKNOWN,
    "a.br": UNKNOWN,
    "c.tsx": UNKNOWN,
    ".DS_Store": UNKNOWN,
}


@pytest.mark.parametrize(("name", "expected"), sorted(OBSERVED.items()))
def test_protocol_table(name: str, expected: str) -> None:
    assert content_type("/dir/" + name) == expected


def test_case_insensitive_lookup() -> None:
    assert content_type("/A.HTML") == "text/html; charset=utf-8"
    assert content_type("/a.PnG") == "image/png"


def test_every_text_type_carries_charset() -> None:
    from assetsync.protocol.contenttypes import _table

    for ext, ctype in _table().items():
        if ctype.startswith("text/"):
            assert ctype.endswith("; charset=utf-8"), ext


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("a.txt", "txt"),
        ("a.b.CSS", "CSS"),
        ("README", ""),
        (".DS_Store", ""),
        ("file.", ""),
        ("..foo", "foo"),
        ("dir.d/file", ""),
        ("/x/.well-known/a.json", "json"),
        (".a.b", "b"),
    ],
)
def test_extension_matches_node_extname(name: str, ext: str) -> None:
    # Values from Node 20: path.extname(name).slice(1)
    assert extension(name) == ext
