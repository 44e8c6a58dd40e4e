"""`assetsync dev` as a person uses it: a real browser shows the page, a file is edited, the
page reloads itself and shows the new text."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..helpers import assetsync_argv, make_tree

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt-get install chromium")


def test_dev_live_reload_in_a_browser(tmp_path: Path) -> None:
    # The driver only: the browser is Debian's chromium.
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs playwright: pip install -c .ci/constraints.txt -e '.[dev]'"
    )

    assert CHROMIUM, "chromium is not installed: apt-get install chromium (see .ci/run)"
    site = make_tree(
        tmp_path / "site", {"index.html": "<html><body><h1>first version</h1></body></html>"}, mtime=None
    )
    proc = subprocess.Popen(
        assetsync_argv(
            "dev",
            str(site),
            "--name",
            "site",
            "--port",
            "0",
            "--local-data",
            str(tmp_path / "data"),
            "--no-cache",
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line[9:].startswith("Preview: http://site.localhost:"), line  # after the HH:MM:SS
        url = line.split()[2]
        assert proc.stderr.readline()[9:].startswith("Watching ")
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page()
            page.goto(url, timeout=20_000)
            page.wait_for_function("document.body.innerText.includes('first version')", timeout=20_000)
            page.wait_for_function(
                "window.__assetsyncReload && window.__assetsyncReload.readyState === 1", timeout=20_000
            )
            (site / "index.html").write_text("<html><body><h1>second version</h1></body></html>")
            page.wait_for_function("document.body.innerText.includes('second version')", timeout=20_000)
            assert "first version" not in page.inner_text("body")
            # Ctrl-C with the page still open (its live-reload stream too): prompt, and exit 0.
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0
            took = time.monotonic() - t0
            print(f"dev with a browser page open: exit 0 {took * 1000:.0f} ms after SIGINT")
            assert took < 5.0  # the target is 1 s; this bound holds on a loaded CI machine
            browser.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
