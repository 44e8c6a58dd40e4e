"""`assetsync sync` as a user runs it: the embedded default, config files, output, exit codes."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx

from assetsync.emulator.store import Store

from ..conftest import ACCOUNT
from ..helpers import FIXTURES, LiveEmulator, envelope_error, json_document, make_tree, run_cli

SITE = FIXTURES / "site"


def test_readme_first_command_syncs_into_the_embedded_emulator(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = run_cli(
        "sync",
        str(SITE),
        "--local-data",
        str(data),
        "--cache-dir",
        str(tmp_path / "c"),
        env={
            "CLOUDFLARE_ACCOUNT_ID": "",
            "CLOUDFLARE_API_TOKEN": "",
            "CLOUDFLARE_API_BASE_URL": "",
            "CI": "",  # a person's shell: in CI, no credentials is an error unless --local says so
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert "Uploading 8 of 8 files" in proc.stderr
    assert "Deployed site" in proc.stderr
    assert "Preview: http://site.localhost:8787/" in proc.stderr and "assetsync serve" in proc.stderr
    # A following `assetsync serve` on that data folder previews what was synced.
    with LiveEmulator(data) as live:
        r = httpx.get(f"{live.origin}/hello.txt", headers={"Host": "site.localhost"})
        assert r.status_code == 200 and r.content == (SITE / "hello.txt").read_bytes()
        r = httpx.get(f"{live.origin}/old", headers={"Host": "site.localhost"})
        assert (r.status_code, r.headers["location"]) == (301, "/new")  # the root _redirects went along


def test_json_summary_is_the_only_stdout(tmp_path: Path) -> None:
    args = (
        "sync",
        str(SITE),
        "--local",
        "--local-data",
        str(tmp_path / "d"),
        "--cache-dir",
        str(tmp_path / "c"),
        "--json",
    )
    first = run_cli(*args)
    assert first.returncode == 0 and first.stderr == ""
    summary = json_document(first.stdout)
    assert summary["ok"] is True and summary["uploaded"] == 8 and summary["skipped"] == 0
    assert set(summary["durations"]) >= {"build", "session", "upload", "deploy", "total"}
    again = json_document(run_cli(*args).stdout)
    assert (again["uploaded"], again["skipped"], again["requests"]) == (0, 8, 0)
    assert again["deployment_id"] != summary["deployment_id"]


def test_wrangler_config_is_read_and_flags_win(tmp_path: Path) -> None:
    project = make_tree(tmp_path / "proj", {"dist/index.html": "<h1>x</h1>", "dist/404.html": "nope"})
    (project / "wrangler.toml").write_text(
        'name = "from-config"\ncompatibility_date = "2024-05-06"\ncompatibility_flags = ["a_flag"]\n'
        '[assets]\ndirectory = "./dist"\nhtml_handling = "none"\nnot_found_handling = "404-page"\n'
    )
    data = tmp_path / "data"
    proc = run_cli(
        "sync",
        "--local",
        "--local-data",
        str(data),
        "--cache-dir",
        str(tmp_path / "c"),
        "--html-handling",
        "drop-trailing-slash",
        cwd=project,
    )
    assert proc.returncode == 0, proc.stderr
    store = Store(str(data))
    live = store.script("local", "", "from-config")
    assert live is not None and live.version
    meta = store.version(live.version).metadata  # type: ignore[union-attr]
    assert meta["compatibility_date"] == "2024-05-06" and meta["compatibility_flags"] == ["a_flag"]
    assert meta["assets"]["config"] == {
        "html_handling": "drop-trailing-slash",
        "not_found_handling": "404-page",
    }
    assert set(meta) == {"assets", "compatibility_date", "compatibility_flags"}  # assets-only: no main


def test_worker_with_main_from_flags(tmp_path: Path) -> None:
    site = make_tree(tmp_path / "public", {"index.html": "hi"})
    worker = make_tree(tmp_path / "src", {"index.js": "export default {}", "util.js": "export const x = 1"})
    data = tmp_path / "data"
    proc = run_cli(
        "sync",
        str(site),
        "--name",
        "w1",
        "--main",
        str(worker / "index.js"),
        "--local",
        "--local-data",
        str(data),
        "--binding",
        "text:GREETING=hi",
        "--binding",
        "kv:CACHE=abc",
        "--tag",
        "t",
        "--no-cache",
        "--compatibility-date",
        "2025-01-02",
    )
    assert proc.returncode == 0, proc.stderr
    store = Store(str(data))
    live = store.script("local", "", "w1")
    assert live is not None and live.version is not None
    meta = store.version(live.version).metadata  # type: ignore[union-attr]
    assert meta["main_module"] == "index.js" and meta["tags"] == ["t"]
    assert meta["bindings"] == [  # wrangler's order: vars, then by kind, the assets near the end
        {"type": "plain_text", "name": "GREETING", "text": "hi"},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "abc"},
        {"name": "ASSETS", "type": "assets"},
    ]
    assert meta["keep_bindings"] == ["secret_text", "secret_key"]


def test_exit_codes(tmp_path: Path, emulator: LiveEmulator, recorded: LiveEmulator) -> None:
    base = ("--cache-dir", str(tmp_path / "c"))
    local = ("--local", "--local-data", str(tmp_path / "d"))
    proc = run_cli("sync", str(tmp_path / "missing"), *local, *base)
    assert proc.returncode == 4 and "no such folder" in proc.stderr
    proc = run_cli("sync", str(SITE), "--name", "Bad Name", *local, *base)
    assert proc.returncode == 2 and "not a valid Worker name" in proc.stderr
    creds = {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_BASE_URL": emulator.api}
    proc = run_cli("sync", str(SITE), *base, env={**creds, "CLOUDFLARE_API_TOKEN": "wrong-token"})
    assert (
        proc.returncode == 6 and "HTTP 401" in proc.stderr and "wrong-token" not in proc.stderr + proc.stdout
    )
    refused = envelope_error(400, 10021, "Invalid manifest: refused for this test")
    recorded.app.faults.append(("POST", "assets-upload-session", refused))
    proc = run_cli(
        "sync",
        str(SITE),
        *base,
        env={**creds, "CLOUDFLARE_API_BASE_URL": recorded.api, "CLOUDFLARE_API_TOKEN": recorded.token},
    )
    assert proc.returncode == 8 and "Invalid manifest: refused for this test" in proc.stderr
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": "t",
        "CLOUDFLARE_API_BASE_URL": f"http://127.0.0.1:{port}/client/v4",
    }
    proc = run_cli("sync", str(SITE), *base, "--attempts", "1", "--json", env=down)
    assert proc.returncode == 7
    message = json_document(proc.stdout)["error"]["message"]
    # The whole message; only the network library's words for the refusal vary.
    assert re.fullmatch(
        r"opening the upload session: cannot connect \(.+\); is the API base URL right and the server "
        rf"up\? on POST /accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session\. "
        r"Gave up after 1 attempt\.",
        message,
    ), message
    error = {"type": "NetworkError", "message": message, "exit_code": 7}
    assert json.loads(proc.stdout) == {"schema": 1, "ok": False, "error": error}
    assert proc.stderr == f"error: {message}\n"
    proc = run_cli("sync", str(SITE), *base, env={"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ACCOUNT_ID": ""})
    assert proc.returncode == 2 and "incomplete credentials" in proc.stderr


def test_dry_run_and_offline(tmp_path: Path) -> None:
    args = ("sync", str(SITE), "--local", "--local-data", str(tmp_path / "d"), "--no-cache")
    proc = run_cli(*args, "--dry-run", "--json")
    summary = json_document(proc.stdout)
    assert (
        summary["dry_run"] and sum(len(r) for r in summary["plan"]) == 8 and summary["deployment_id"] is None
    )
    proc = run_cli(*args, "--dry-run", "--offline")
    assert proc.returncode == 0 and "Dry run (offline): 8 files" in proc.stderr
    assert not (tmp_path / "d" / "emulator.sqlite3").exists() or Store(str(tmp_path / "d")).all_live() == []
    assert run_cli(*args, "--offline").returncode == 2
