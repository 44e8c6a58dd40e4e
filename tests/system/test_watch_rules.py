"""Watch mode tells of bad ``_redirects``/``_headers`` lines once, and with ``--strict`` keeps the
last good deploy live until they are fixed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..helpers import LiveEmulator, make_tree
from .test_watch import FakeSource, Harness, replace_text


def test_a_bad_line_is_said_once_not_on_every_save(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1", "_redirects": "/a /b 999\n"})
    source = FakeSource()
    with Harness(recorded, site, tmp_path, source) as h:
        about = [m for m in h.said if f"{site}/_redirects:1: Valid status codes" in m]
        assert len(about) == 1, h.said
        for n, text in enumerate(("v2", "v3"), start=2):
            replace_text(site / "index.html", text)
            source.push(str(site / "index.html"))
            h.wait_deploys(n)
        assert [m for m in h.said if "_redirects:1:" in m] == about  # still the one line
        assert h.served("/index.html") == b"v3"


def test_strict_keeps_the_last_good_deploy_until_the_rules_are_fixed(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1", "_redirects": "/a /b 302\n"})
    source = FakeSource()
    h = Harness(recorded, site, tmp_path, source)
    h.watcher.options = replace(h.watcher.options, strict_rules=True)
    with h:
        sessions = sum("assets-upload-session" in r["path"] for r in recorded.app.requests)
        replace_text(site / "_redirects", "/a /b 302\nnot a rule\n")
        replace_text(site / "index.html", "v2")
        source.push(str(site / "_redirects"), str(site / "index.html"))
        failed = h.wait_steps(2)[1]
        assert failed.outcome == "failed" and f"{site}/_redirects:2: " in (failed.error or "")
        assert any(m.startswith("error: 1 line(s) of _redirects/_headers") for m in h.said)
        assert sum("assets-upload-session" in r["path"] for r in recorded.app.requests) == sessions
        assert h.served("/index.html") == b"v1"  # the last good deploy stays live
        replace_text(site / "_redirects", "/a /b 302\n")
        source.push(str(site / "_redirects"))
        h.wait_deploys(2)
        assert h.served("/index.html") == b"v2"
