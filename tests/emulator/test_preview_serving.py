"""What the preview sends for each kind of answer, over a real socket: headers, bodies, byte ranges.

The platform facts behind each expectation are in the docstrings of
``assetsync/emulator/preview/app.py`` and ``ranges.py``.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from assetsync.emulator.preview.ranges import ByteRange, Unsatisfiable, byte_range

from ..helpers import LiveEmulator
from .test_api import preview, publish

BODY = bytes(range(256)) * 4  # 1024 bytes, each offset distinguishable
SITE = {"/data.bin": BODY, "/index.html": b"<h1>home</h1>", "/404.html": b"<h1>gone</h1>", "/empty.txt": b""}


def get(live: LiveEmulator, path: str, method: str = "GET", **headers: str) -> httpx.Response:
    return httpx.request(
        method, f"{live.origin}{path}", headers={"Host": "site.localhost", **headers}, timeout=30
    )


def raw_status_line_and_body(live: LiveEmulator, target: bytes) -> tuple[bytes, bytes]:
    """Send ``target`` byte for byte (no client re-encodes it) and return the status line and body."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: site.localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body


def test_asset_headers_match_the_asset_worker(emulator: LiveEmulator) -> None:
    publish(emulator, SITE)
    r = get(emulator, "/data.bin")
    assert r.status_code == 200 and r.content == BODY
    assert r.headers["cache-control"] == "public, max-age=0, must-revalidate"
    assert r.headers["cf-cache-status"] == "HIT"
    assert r.headers["etag"].startswith('"') and "content-range" not in r.headers
    # A request with Authorization or Range is not cacheable: no Cache-Control.
    assert "cache-control" not in get(emulator, "/data.bin", Authorization="Bearer x").headers
    assert "cache-control" not in get(emulator, "/data.bin", Range="bytes=0-0").headers


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_no_intent_404_405_and_redirects_have_no_body_and_no_asset_headers(
    emulator: LiveEmulator, method: str
) -> None:
    publish(emulator, {"/file.html": b"f"})  # no 404 page
    for path, status in (("/missing", 404), ("/file.html", 307)):
        r = get(emulator, path, method)
        assert (r.status_code, r.content) == (status, b"")
        assert not {"etag", "cf-cache-status", "cache-control"} & set(r.headers)
    post = get(emulator, "/file", "POST")
    assert (post.status_code, post.content) == (405, b"")
    assert get(emulator, "/missing", "POST").status_code == 404  # no intent comes before the method


def test_404_page_is_served_with_asset_headers_and_answers_if_none_match(emulator: LiveEmulator) -> None:
    publish(emulator, SITE, config={"not_found_handling": "404-page"})
    r = get(emulator, "/nope")
    assert (r.status_code, r.content) == (404, b"<h1>gone</h1>") and r.headers["cf-cache-status"] == "HIT"
    again = get(emulator, "/nope", **{"If-None-Match": r.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"") and again.headers["etag"] == r.headers["etag"]
    # A byte range of a 404 page is not served: the whole page with 404.
    ranged = get(emulator, "/nope", Range="bytes=0-3")
    assert (ranged.status_code, ranged.content) == (404, b"<h1>gone</h1>")


def test_paths_that_are_not_utf8_are_looked_up_as_sent_not_refused(emulator: LiveEmulator) -> None:
    publish(
        emulator,
        {"/%A0%A0.html": b"literal", "/index.html": b"i"},
        config={"html_handling": "drop-trailing-slash"},
    )
    # (A raw 0xA0 byte never gets this far: the HTTP server refuses a request line that holds one.)
    assert raw_status_line_and_body(emulator, b"/%A0") == (b"HTTP/1.1 404 Not Found", b"")
    line, _ = raw_status_line_and_body(emulator, b"/%A0%A0")
    assert line == b"HTTP/1.1 307 Temporary Redirect"
    r = get(emulator, "/%25A0%25A0")
    assert (r.status_code, r.content) == (200, b"literal")


@pytest.mark.parametrize(
    ("header", "status", "content_range", "start", "end"),
    [
        ("bytes=0-99", 206, "bytes 0-99/1024", 0, 100),
        ("bytes=1000-", 206, "bytes 1000-1023/1024", 1000, 1024),
        ("bytes=-24", 206, "bytes 1000-1023/1024", 1000, 1024),
        ("bytes=1000-5000", 206, "bytes 1000-1023/1024", 1000, 1024),
        ("bytes=-5000", 206, "bytes 0-1023/1024", 0, 1024),
        ("bytes=1024-", 416, "bytes */1024", 0, 0),
        ("bytes=-0", 416, "bytes */1024", 0, 0),
        ("bytes=0-1,4-5", 200, None, 0, 1024),  # several ranges: the whole asset
        ("items=0-1", 200, None, 0, 1024),
        ("bytes=5-1", 200, None, 0, 1024),
    ],
)
def test_range_requests_are_answered_as_cloudflares_cache_does(
    emulator: LiveEmulator, header: str, status: int, content_range: str | None, start: int, end: int
) -> None:
    publish(emulator, SITE)
    r = get(emulator, "/data.bin", Range=header)
    assert r.status_code == status and r.headers.get("content-range") == content_range
    assert r.content == BODY[start:end]
    if status != 416:
        assert r.headers["content-length"] == str(end - start)
        head = get(emulator, "/data.bin", "HEAD", Range=header)
        assert (head.status_code, head.content, head.headers.get("content-range")) == (
            status,
            b"",
            content_range,
        )


def test_if_range_serves_the_slice_only_for_the_current_etag(emulator: LiveEmulator) -> None:
    publish(emulator, SITE)
    etag = get(emulator, "/data.bin").headers["etag"]
    current = get(emulator, "/data.bin", Range="bytes=10-19", **{"If-Range": etag})
    assert (current.status_code, current.content) == (206, BODY[10:20])
    stale = get(emulator, "/data.bin", Range="bytes=10-19", **{"If-Range": '"old"'})
    assert (stale.status_code, stale.content) == (200, BODY)


def test_a_range_of_an_empty_asset_is_unsatisfiable(emulator: LiveEmulator) -> None:
    publish(emulator, SITE)
    r = preview(emulator, "site", "/empty.txt", headers={"Range": "bytes=0-"})
    assert (r.status_code, r.headers["content-range"]) == (416, "bytes */0")


def test_byte_range_parses_one_range_per_rfc_9110() -> None:
    assert byte_range("bytes=2-4", 10, etag='"e"') == ByteRange(2, 4, 10)
    assert byte_range(" BYTES = 2 - ", 10, etag='"e"') == ByteRange(2, 9, 10)
    assert byte_range("bytes=-3", 10, etag='"e"') == ByteRange(7, 9, 10)
    assert byte_range("bytes=10-", 10, etag='"e"') == Unsatisfiable(10)
    assert byte_range("bytes=-", 10, etag='"e"') is None
    assert byte_range(None, 10, etag='"e"') is None
    assert byte_range("bytes=0-0", 10, etag='"e"', if_range='W/"e"') is None  # If-Range needs a strong match
    assert byte_range("bytes=0-0", 10, etag='"e"', if_range='"e"') == ByteRange(0, 0, 10)
