"""The site ``benchmarks/preview.py`` serves, and the requests it sends: the load of each workload
and the list of requests both servers must answer alike.

The site is generated once (seeded) in the work folder and reused: html pages in folders (an
``index.html`` and a few pages each), small css/js/json/svg/txt assets, a few 1 MiB binaries, a
``404.html``, file names that need encoding (``[boop].html``, ``space name.txt``, ``ü.txt``,
``100%.txt``), a ``_redirects`` with static, splat, placeholder, external and rewrite (200)
rules, and a ``_headers`` whose rules set headers the comparison looks at.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from common.rawhttp import Request
from common.trees import Tree, ensure

SITE_SEED = 20261201
SITE_VERSION = 1  # bump when the generated site changes
MIB_BYTES = 1 << 20
SMALL_KINDS = (("assets/css", "css"), ("assets/js", "js"), ("assets/img", "svg"), ("data", "json"))
SPECIAL = ("[boop].html", "space name.txt", "ü.txt", "100%.txt", "awesome/file.bin")
REDIRECTS = """\
# static, splat, placeholder, external and rewrite rules
/old /docs-0/ 301
/old-page /docs-0/page-1 302
/moved.css /assets/css/s-0000.css 307
/legacy/* /docs-1/:splat 301
/blog/:year/:slug /docs-2/:slug?year=:year 302
/away https://example.com/landing 301
/rewritten /docs-0/ 200
"""
HEADERS = """\
/*
  X-Bench-Site: preview
/assets/*
  Cache-Control: public, max-age=31536000, immutable
  X-Bench-Asset: :splat
/docs-0/:page
  X-Bench-Page: :page
"""
URL_SAFE = "/[]!$&'()*+,;=:@~"  # what a browser leaves as is in a path
CUSTOM_HEADERS = ("x-bench-site", "x-bench-asset", "x-bench-page")


@dataclass(frozen=True)
class Site:
    """The generated site and what its requests are built from (paths relative, no leading /)."""

    tree: Tree
    html: list[str]  # every .html file but 404.html and the special names
    small: list[str]
    big: list[str]

    @property
    def root(self) -> Path:
        return self.tree.root


def _shape(quick: bool) -> tuple[int, int, int, int]:
    """(html folders, pages per folder, small files per kind, 1 MiB files)."""
    return (6, 3, 12, 1) if quick else (40, 8, 150, 4)


def ensure_site(workdir: Path, quick: bool) -> Site:
    folders, pages, per_kind, bigs = _shape(quick)
    params: dict[str, object] = {"seed": SITE_SEED, "version": SITE_VERSION, "quick": quick}
    name = f"preview-site{'-quick' if quick else ''}"

    def make(dest: Path) -> None:
        rng = random.Random(SITE_SEED)

        def write(rel: str, data: bytes) -> None:
            path = dest / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        def page(title: str) -> bytes:
            words = " ".join(rng.choice(("lorem", "ipsum", "dolor", "sit", "amet")) for _ in range(200))
            return f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{words}</p>\n".encode()

        write("index.html", page("home"))
        write("404.html", page("not found"))
        for f in range(folders):
            write(f"docs-{f}/index.html", page(f"docs {f}"))
            for p in range(1, pages + 1):
                write(f"docs-{f}/page-{p}.html", page(f"docs {f} page {p}"))
        for folder, ext in SMALL_KINDS:
            for i in range(per_kind):
                size = rng.randint(200, 8000)
                write(
                    f"{folder}/s-{i:04d}.{ext}",
                    f"/* {folder} {i} */\n".encode() + rng.randbytes(size).hex()[:size].encode(),
                )
        for i in range(bigs):
            write(f"media/big-{i}.bin", rng.randbytes(MIB_BYTES))
        for rel in SPECIAL:
            write(rel, page(rel) if rel.endswith(".html") else f"{rel}\n".encode())
        write("_redirects", REDIRECTS.encode())
        write("_headers", HEADERS.encode())

    tree = ensure(workdir, name, params, "html pages, small assets, 1 MiB files, _redirects, _headers", make)
    rels = sorted(str(Path(p).relative_to(tree.root)) for p in tree.files)
    return Site(
        tree,
        html=[r for r in rels if r.startswith("docs-") or r == "index.html"],
        small=[r for r in rels if r.startswith(("assets/", "data/"))],
        big=[r for r in rels if r.startswith("media/")],
    )


def pretty(rel: str, mode: str) -> str:
    """The URL an html file is served at, without a redirect, under an ``html_handling`` mode."""
    folder, _, name = rel.rpartition("/")
    base = f"/{folder}/" if folder else "/"
    stem = name.removesuffix(".html")
    if mode == "none":
        return f"/{rel}"
    if stem == "index":
        return base.rstrip("/") or "/" if mode == "drop-trailing-slash" else base
    return f"{base}{stem}/" if mode == "force-trailing-slash" else f"{base}{stem}"


# -- the load of each workload ------------------------------------------------------------------

Etags = dict[str, str]  # target -> the ETag a server gave it


def workloads(site: Site, mode: str) -> dict[str, Callable[[random.Random, int, Etags], list[Request]]]:
    """Each workload's request maker: (seeded rng, how many, the server's ETags) -> requests."""

    def pick(paths: list[str]) -> Callable[[random.Random, int, Etags], list[Request]]:
        return lambda rng, n, _: [Request("GET", rng.choice(paths)) for _ in range(n)]

    small = [f"/{r}" for r in site.small]

    def conditional(rng: random.Random, n: int, etags: Etags) -> list[Request]:
        out = []
        for _ in range(n):
            target = rng.choice(small)
            out.append(Request("GET", target, (("If-None-Match", etags.get(target, '"none"')),)))
        return out

    return {
        "small assets": pick(small),
        "html, pretty URLs": pick([pretty(r, mode) for r in site.html]),
        "1 MiB files": pick([f"/{r}" for r in site.big]),
        "404s": lambda rng, n, _: [Request("GET", f"/missing/{rng.randrange(10**6)}.css") for _ in range(n)],
        "_redirects hits": pick(["/old", "/old-page", "/moved.css", "/legacy/page-2", "/blog/2024/page-3"]),
        "If-None-Match -> 304": conditional,
    }


FLOOR_WORKLOADS = ("small assets", "1 MiB files")


# -- the requests both servers must answer alike ------------------------------------------------

ETAG = "{etag}"  # in a header value: the ETag this server gave the same target


def agreement_requests(site: Site, rng: random.Random, quick: bool) -> list[tuple[str, Request]]:
    """(category, request) for every comparison; a few hundred in full mode."""
    out: list[tuple[str, Request]] = []

    def add(category: str, target: str, method: str = "GET", *headers: tuple[str, str]) -> None:
        out.append((category, Request(method, target, headers)))

    sample = max(8, len(site.small) // (12 if quick else 5))
    for rel in [*rng.sample(site.small, min(sample, len(site.small))), *site.big, *SPECIAL, "404.html"]:
        add("files as named", "/" + quote(rel, safe=URL_SAFE))
    for rel in rng.sample(site.html, min(len(site.html), 10 if quick else 40)) + ["index.html"]:
        folder, _, name = rel.rpartition("/")
        base = f"/{folder}/" if folder else "/"
        stem = name.removesuffix(".html")
        for variant in (f"{base}{stem}", f"{base}{stem}/", f"{base}{name}", f"{base}{name}/"):
            add("html variants", variant)
        if stem == "index" and folder:
            add("html variants", f"/{folder}")
    encoded = (
        "/assets/css/s-0000%2Ecss", "/assets/css/s-0000%2ecss", "/assets%2Fcss/s-0000.css",
        "/%61ssets/css/s-0000.css", "/[boop]", "/[boop].html", "/[boop]/", "/%5Bboop%5D", "/%5bboop%5d",
        "/%5Bboop%5D.html", "/%5Bboop%5D/", "/space%20name.txt", "/space+name.txt", "/%C3%BC.txt",
        "/ü.txt", "/%c3%bc.txt", "/100%25.txt", "/100%.txt", "/%A0", "/%A0%A0", "/%", "/%zz",
        "/awesome/file%2ebin", "/awesome%2Ffile.bin", "/awesome/file.bin/", "/docs-0%2F", "/docs-0/%2E%2E/",
        "//docs-0/", "/docs-0//page-1", "/./docs-0/", "/docs-0/./page-1", "/docs-0/../docs-0/page-1",
        "/..%2Fdocs-0/", "/docs-0/page-1?x=1", "/?a=b", "/DOCS-0/", "/docs-0/PAGE-1",
    )  # fmt: skip
    for target in encoded:
        add("encoded and odd paths", target)
    css, big = f"/{site.small[0]}", f"/{site.big[0]}"
    for target in (css, big, pretty(site.html[1], "auto-trailing-slash")):
        for spec in ("bytes=0-99", "bytes=100-", "bytes=-100", "bytes=0-0", "bytes=5-2", "bytes=0-1,4-5"):
            add("Range", target, "GET", ("Range", spec))
    add("Range", big, "GET", ("Range", f"bytes={MIB_BYTES * 4}-"))
    add("Range", css, "GET", ("Range", "items=0-1"))
    add("Range", "/missing.css", "GET", ("Range", "bytes=0-9"))
    for method in ("HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        for target in (css, "/docs-0/", "/missing.css", "/old"):
            add("methods", target, method)
    for target in (css, big, "/docs-0/", "/docs-0/page-1", "/missing.css"):
        add("conditional", target, "GET", ("If-None-Match", ETAG))
        add("conditional", target, "HEAD", ("If-None-Match", ETAG))
        add("conditional", target, "GET", ("If-None-Match", f"W/{ETAG}"))
        add("conditional", target, "GET", ("If-None-Match", '"not-the-etag"'))
        add("conditional", target, "GET", ("If-None-Match", "*"))
        add("conditional", target, "GET", ("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"))
    for target in (
        "/old", "/old/", "/old?x=1", "/old-page", "/moved.css", "/legacy/page-2", "/legacy/", "/legacy",
        "/legacy/a/b?q=1", "/blog/2024/page-3", "/blog/2024/page-3/", "/blog/2024", "/away", "/rewritten",
        "/rewritten/", "/OLD",
    ):  # fmt: skip
        add("_redirects", target)
    for target in (
        "/assets/css/s-0001.css",
        "/assets/js/s-0002.js",
        "/docs-0/page-2",
        "/docs-0/",
        "/data/s-0000.json",
    ):
        add("_headers", target)
    for _i in range(4 if quick else 12):
        add("not found", f"/missing/{rng.randrange(10**6)}.css")
    for target in (
        "/_redirects",
        "/_headers",
        "/404",
        "/404.html",
        "/missing/",
        "/docs-0/missing",
        "/docs-999/",
    ):
        add("not found", target)
    return out
