from __future__ import annotations

import os
from pathlib import Path

import pytest

from assetsync.errors import UsageError
from assetsync.folder.hashing import CHUNK, HashScheme, digest_bytes, read_digest

TEXT = "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("salt", "ctype", "data", "expected"),
    [
        ("", TEXT, b"Content of file-1", "a9dff3d47fd96efad53b340d028df025"),
        ("acme", TEXT, b"Content of file-1", "837408ecde8db6b6702b1f4dae417f8c"),
        ("acme", "application/null", b"", "0f4d241be6d9b77626208b39c3668c92"),
    ],
)
def test_sha256_vectors(salt: str, ctype: str, data: bytes, expected: str) -> None:
    assert digest_bytes(data, HashScheme("sha256", salt), "/x", ctype) == expected


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("/file-1.txt", b"Content of file-1", "0de3dd5df907418e9730fd2bd747bd5e"),
        ("/empty.txt", b"", "f9bc91770fa5e997cbd47fba833629fc"),
        ("/LICENSE", b"", "af1349b9f5f9a1a6a0404dea36dcc949"),
        ("/index.html", b"<html></html>", "4752155c2c0c0320b40bca1d83e8380a"),
    ],
)
def test_wrangler_vectors(path: str, data: bytes, expected: str) -> None:
    assert digest_bytes(data, HashScheme("wrangler"), path, "ignored") == expected


@pytest.mark.parametrize("scheme", ["sha256", "wrangler"])
@pytest.mark.parametrize("size", [0, 1, 2, 3, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 2])
def test_streamed_file_equals_one_shot(tmp_path: Path, scheme: str, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    hs = HashScheme(scheme, "" if scheme == "wrangler" else "tenant")
    got = read_digest(str(path), hs, "/blob.bin", "application/octet-stream", size)
    assert got.hash == digest_bytes(data, hs, "/blob.bin", "application/octet-stream")
    assert got.stat.st_size == got.read == size and got.full


def test_salt_and_type_both_change_the_hash() -> None:
    base = digest_bytes(b"x", HashScheme("sha256", "a"), "/x.css", "text/css; charset=utf-8")
    assert digest_bytes(b"x", HashScheme("sha256", "b"), "/x.css", "text/css; charset=utf-8") != base
    assert digest_bytes(b"x", HashScheme("sha256", "a"), "/x.js", "text/javascript; charset=utf-8") != base


def test_framing_prevents_salt_content_ambiguity() -> None:
    # With naive concatenation tenant "a" + "bX" would equal tenant "ab" + "X".
    a = digest_bytes(b"bX", HashScheme("sha256", "a"), "/f", "application/null")
    ab = digest_bytes(b"X", HashScheme("sha256", "ab"), "/f", "application/null")
    assert a != ab


def test_bad_schemes_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="no salt"):
        HashScheme("wrangler", "acme")
    with pytest.raises(UsageError, match="NUL"):
        HashScheme("sha256", "a\0b")
    with pytest.raises(UsageError, match="unknown hash scheme"):
        HashScheme("md5")
