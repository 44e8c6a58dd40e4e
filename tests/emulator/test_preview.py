"""The preview server over a real socket: addressing, caching headers, config, path safety."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..helpers import LiveEmulator
from .test_api import preview, publish

SITE = {
    "/index.html": b"<h1>home</h1>",
    "/about.html": b"<h1>about</h1>",
    "/blog/index.html": b"<h1>blog</h1>",
    "/404.html": b"<h1>missing</h1>",
    "/a.css": b"a{}",
    "/LICENSE": b"MIT",
}


def test_get_head_etag_and_304(emulator: LiveEmulator) -> None:
    publish(emulator, SITE)
    r = preview(emulator, "site", "/a.css")
    assert r.status_code == 200 and r.content == b"a{}"
    etag = r.headers["etag"]
    assert r.headers["content-type"] == "text/css; charset=utf-8"
    assert preview(emulator, "site", "/a.css", headers={"If-None-Match": etag}).status_code == 304
    assert preview(emulator, "site", "/a.css", headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    # The asset worker compares the whole header: a list, or *, gets the asset (as on the platform).
    assert preview(emulator, "site", "/a.css", headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 200
    assert preview(emulator, "site", "/a.css", headers={"If-None-Match": "*"}).status_code == 200
    assert preview(emulator, "site", "/a.css", headers={"If-None-Match": '"other"'}).status_code == 200
    head = httpx.head(f"{emulator.origin}/a.css", headers={"Host": "site.localhost"})
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "3"
    lic = preview(emulator, "site", "/LICENSE")
    assert lic.content == b"MIT" and "content-type" not in lic.headers  # application/null: no header


def test_html_handling_and_404_page_from_deploy_config(emulator: LiveEmulator) -> None:
    publish(emulator, SITE, config={"html_handling": "auto-trailing-slash", "not_found_handling": "404-page"})
    assert preview(emulator, "site", "/about").content == b"<h1>about</h1>"
    r = preview(emulator, "site", "/about.html")
    assert (r.status_code, r.headers["location"]) == (307, "/about")
    r = preview(emulator, "site", "/blog")
    assert (r.status_code, r.headers["location"]) == (307, "/blog/")
    assert preview(emulator, "site", "/blog/").content == b"<h1>blog</h1>"
    r = preview(emulator, "site", "/nope")
    assert (r.status_code, r.content) == (404, b"<h1>missing</h1>")
    assert httpx.post(f"{emulator.origin}/a.css", headers={"Host": "site.localhost"}).status_code == 405


def test_spa_mode(emulator: LiveEmulator) -> None:
    publish(emulator, SITE, config={"not_found_handling": "single-page-application"})
    r = preview(emulator, "site", "/some/client/route")
    assert (r.status_code, r.content) == (200, b"<h1>home</h1>")


def test_headers_and_redirects_files(emulator: LiveEmulator) -> None:
    config = {
        "_headers": "/*\n  X-Frame-Options: DENY\n/a.css\n  Cache-Control: max-age=60\n",
        "_redirects": "/old /about 301\n/go/* /blog/:splat 302\n",
    }
    publish(emulator, SITE, config=config)
    r = preview(emulator, "site", "/old")
    assert (r.status_code, r.headers["location"]) == (301, "/about")
    r = preview(emulator, "site", "/go/x?y=1")
    assert (r.status_code, r.headers["location"]) == (302, "/blog/x?y=1")
    r = preview(emulator, "site", "/a.css")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "max-age=60"


def test_wfp_host_and_path_prefix_addressing(emulator: LiveEmulator) -> None:
    publish(emulator, SITE, script="tenant", ns="ns1")
    publish(emulator, {"/a.css": b"plain"}, script="tenant")
    assert preview(emulator, "tenant", "/a.css", ns="ns1").content == b"a{}"
    assert preview(emulator, "tenant", "/a.css").content == b"plain"
    assert httpx.get(f"{emulator.origin}/__preview/tenant.ns1/a.css").content == b"a{}"
    assert httpx.get(f"{emulator.origin}/__preview/tenant/a.css").content == b"plain"
    r = httpx.get(f"{emulator.origin}/__preview/tenant.ns1/about.html")
    assert r.headers["location"] == "/__preview/tenant.ns1/about"
    index = httpx.get(f"{emulator.origin}/").text
    assert "/__preview/tenant.ns1/" in index and f"tenant.localhost:{emulator.port}" in index
    missing = httpx.get(f"{emulator.origin}/x", headers={"Host": "nobody.localhost"})
    assert missing.status_code == 404 and "No Worker with assets called nobody" in missing.text


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/a.css%00",
        "/%00",
        "/..%2f..%2fetc%2fpasswd",
        "/blog/../../emulator.sqlite3",
        "//etc/passwd",
        "/%c0%ae%c0%ae/etc/passwd",
        "/api-token",
    ],
)
def test_paths_never_leave_the_manifest(emulator: LiveEmulator, path: str) -> None:
    publish(emulator, SITE)
    r = httpx.get(f"{emulator.origin}{path}", headers={"Host": "site.localhost"})
    assert r.status_code in (307, 404), (path, r.status_code)
    assert r.content == b""  # a redirect or a 404 without a 404 page: no body at all


@contextlib.contextmanager
def serve_command(data: Path) -> Iterator[list[str]]:
    """``assetsync serve`` on a free port over ``data``, running until the block ends: its banner."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "assetsync", "serve", "--port", "0", "--data", str(data)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        yield [proc.stderr.readline() for _ in range(8)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_serve_command_prints_a_banner_and_serves(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve_command(data) as lines:
        banner = "".join(lines)
        assert "assetsync emulator" in banner and str(data) in banner
        token = (data / "api-token").read_text().strip()
        assert token not in banner  # never printed
        base = next(line.split()[-1] for line in lines if "API base:" in line)
        r = httpx.get(
            f"{base}/accounts/abc/workers/dispatch/namespaces/ns/scripts",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert r.status_code == 200 and r.json()["result"] == []


def test_public_bind_warns(tmp_path: Path) -> None:
    from assetsync.emulator.app import create_app
    from assetsync.emulator.server import banner, bind_warning

    warning = bind_warning("0.0.0.0")
    assert warning is not None and warning.startswith("WARNING: listening on 0.0.0.0,")
    assert bind_warning("127.0.0.1") is None and bind_warning("::1") is None
    app = create_app(str(tmp_path / "d"))
    assert "WARNING" not in banner(app, "127.0.0.1", 8787)
    assert os.stat(tmp_path / "d" / "api-token").st_mode & 0o077 == 0
