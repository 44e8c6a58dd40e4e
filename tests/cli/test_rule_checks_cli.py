"""Bad ``_redirects``/``_headers`` lines are told to the user before a deploy, as ``FILE:LINE: why``;
``--strict`` makes them errors (exit 3) before any request. The parser is the preview's own."""

from __future__ import annotations

from pathlib import Path

import httpx

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, json_document, make_tree, run_cli

BAD_REDIRECTS = "/old /new 301\n/a /b 999\nnot a rule\n"
BAD_HEADERS = "/*\n  X-Frame-Options DENY\n  X-Ok: yes\n"


def bad_site(root: Path) -> Path:
    return make_tree(root, {"index.html": "hi", "_redirects": BAD_REDIRECTS, "_headers": BAD_HEADERS})


def env_for(live: LiveEmulator) -> dict[str, str]:
    return {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token or "",
        "CLOUDFLARE_API_BASE_URL": live.api,
        "CI": "1",
    }


def problem_lines(stderr: str, folder: Path) -> list[str]:
    """The FILE:LINE lines about rule files, without their message."""
    return [
        line.split(": ", 2)[1]
        for line in stderr.splitlines()
        if line.startswith("warning: ") and f"{folder}/_" in line
    ]


def test_sync_names_every_ignored_line_and_still_deploys(tmp_path: Path, emulator: LiveEmulator) -> None:
    site = bad_site(tmp_path / "site")
    proc = run_cli("sync", str(site), "--cache-dir", str(tmp_path / "c"), env=env_for(emulator))
    assert proc.returncode == 0, proc.stderr
    assert problem_lines(proc.stderr, site) == [
        f"{site}/_redirects:2",
        f"{site}/_redirects:3",
        f"{site}/_headers:2",
    ], proc.stderr
    assert (
        f"{site}/_redirects:2: Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got 999."
        in (proc.stderr)
    )
    assert "(the line: X-Frame-Options DENY)" in proc.stderr
    # The valid rules went live, and the preview dropped the same lines the warnings named.
    host = {"Host": "site.localhost"}
    r = httpx.get(f"{emulator.origin}/old", headers=host)
    assert (r.status_code, r.headers["location"]) == (301, "/new")
    r = httpx.get(f"{emulator.origin}/a", headers=host)
    assert r.status_code == 404
    r = httpx.get(f"{emulator.origin}/", headers=host)
    assert r.headers["x-ok"] == "yes" and "x-frame-options" not in r.headers


def test_a_clean_site_says_nothing_about_its_rules(tmp_path: Path, emulator: LiveEmulator) -> None:
    site = make_tree(
        tmp_path / "site", {"index.html": "hi", "_redirects": "/a /b\n", "_headers": "/*\n  A: b\n"}
    )
    proc = run_cli("sync", str(site), "--strict", "--cache-dir", str(tmp_path / "c"), env=env_for(emulator))
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr


def test_strict_refuses_before_any_request(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = bad_site(tmp_path / "site")
    args = ("sync", str(site), "--strict", "--cache-dir", str(tmp_path / "c"))
    proc = run_cli(*args, env=env_for(recorded))
    assert proc.returncode == 3, proc.stderr
    assert "3 line(s) of _redirects/_headers would be ignored" in proc.stderr
    assert f"{site}/_redirects:3: " in proc.stderr and f"{site}/_headers:2: " in proc.stderr
    assert recorded.app.requests == []  # no session, no lookup, no deploy
    proc = run_cli(*args, "--json", env=env_for(recorded))
    error = json_document(proc.stdout)["error"]
    assert (proc.returncode, error["type"], error["exit_code"]) == (3, "ConfigError", 3)
    assert f"{site}/_headers:2: Expected a colon-separated header pair" in error["message"]
    assert recorded.app.requests == []
    # A dry run checks them too, even offline.
    proc = run_cli(*args, "--dry-run", "--offline", env=env_for(recorded))
    assert proc.returncode == 3 and f"{site}/_redirects:2: " in proc.stderr


def test_sync_all_checks_each_tenant_and_strict_fails_only_its_row(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    root = tmp_path / "root"
    bad_site(root / "acme")
    make_tree(root / "globex", {"index.html": "g", "_redirects": "/x /y 302\n"})
    base = ("sync-all", str(root), "--namespace", "customers", "--cache-dir", str(tmp_path / "c"))
    proc = run_cli(*base, env=env_for(recorded))
    assert proc.returncode == 0, proc.stderr
    assert f"warning: acme: {root / 'acme'}/_redirects:2: Valid status codes" in proc.stderr
    assert "globex: " not in proc.stderr.replace("globex: deployed", "")
    recorded.app.requests.clear()
    (root / "acme" / "index.html").write_text("changed")  # so that acme would upload something
    (root / "globex" / "index.html").write_text("changed")
    proc = run_cli(*base, "--strict", "--json", env=env_for(recorded))
    assert proc.returncode == 9, proc.stderr
    rows = {r["tenant"]: r for r in json_document(proc.stdout)["tenants"]}
    assert rows["globex"]["ok"] and rows["globex"]["uploaded"] == 1
    assert rows["acme"]["exit_code"] == 3 and "_headers:2: " in rows["acme"]["error"]["message"]
    touched = {r["path"] for r in recorded.app.requests}
    assert any("/scripts/globex/" in p for p in touched)
    assert not any("/scripts/acme/" in p for p in touched), touched
