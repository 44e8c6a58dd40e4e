"""`assetsync sync-all` and `assetsync scripts` as an operator runs them, against a live emulator."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from assetsync.namespace import list_namespace
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, child_env, json_document, make_tree, run_cli

NS = "customers"


def env_for(live: LiveEmulator, token: str | None = None) -> dict[str, str]:
    return {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": token or live.token or "",
        "CLOUDFLARE_API_BASE_URL": live.api,
        "CI": "1",
    }


def names_in(live: LiveEmulator) -> list[str]:
    return [s.name for s in list_namespace(Target("api", live.api, ACCOUNT, live.token or ""), NS)]


def platform(root: Path, names: list[str]) -> Path:
    for name in names:
        make_tree(root / name, {"index.html": f"<h1>{name}</h1>", "app.js": "1"})
    return root


def sync_all(live: LiveEmulator, root: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cache = str(tmp_path / "cache")
    return run_cli("sync-all", str(root), "--namespace", NS, "--cache-dir", cache, *args, env=env_for(live))


def test_json_has_every_row_and_a_summary_and_exit_9_when_one_failed(
    tmp_path: Path, emulator: LiveEmulator
) -> None:
    root = platform(tmp_path / "root", ["acme", "globex", "Initech"])
    proc = sync_all(emulator, root, tmp_path, "--json", "--tag", "plan:pro")
    assert proc.returncode == 9, proc.stderr
    doc = json_document(proc.stdout)  # one document, nothing else on stdout
    assert doc["ok"] is False and doc["namespace"] == NS
    assert doc["summary"]["succeeded"] == 2 and doc["summary"]["failed"] == 1
    rows = {r["tenant"]: r for r in doc["tenants"]}
    assert rows["Initech"]["exit_code"] == 2 and "rename the folder" in rows["Initech"]["error"]["message"]
    assert rows["acme"]["ok"] and rows["acme"]["uploaded"] == 2 and rows["acme"]["deployment_id"]
    assert "1 of 3 tenants failed: Initech" in proc.stderr
    assert emulator.token and emulator.token not in proc.stdout + proc.stderr
    assert names_in(emulator) == ["acme", "globex"]

    (root / "Initech").rename(root / "initech")
    ok = sync_all(emulator, root, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "Deployed 3 of 3 tenants into namespace customers" in ok.stderr
    assert "[3/3] 3 deployed, 0 unchanged, 0 failed" in ok.stderr  # CI: plain progress lines
    assert "7 requests" in ok.stderr  # without --tag plan:pro: 3 sessions, 1 upload, 3 deploys


def test_an_unchanged_rerun_is_skipped_and_the_dry_run_prints_the_plan(
    tmp_path: Path, emulator: LiveEmulator
) -> None:
    root = platform(tmp_path / "root", ["acme", "globex", "initech"])
    assert sync_all(emulator, root, tmp_path, "-q").returncode == 0
    again = sync_all(emulator, root, tmp_path, "-v")
    assert again.returncode == 0, again.stderr
    assert "Deployed 0 of 3 tenants into namespace customers" in again.stderr
    assert "(3 unchanged, skipped)" in again.stderr and "1 request\n" in again.stderr  # one list page
    assert "unchanged globex: skipped" in again.stderr

    (root / "globex" / "app.js").write_text("2")
    dry = sync_all(emulator, root, tmp_path, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Plan: 1 of 3 tenants would deploy (1 changed), 2 unchanged would be skipped" in dry.stderr
    assert "Requests: 4 = 1 list page + 1 session + 1 upload + 1 deploy" in dry.stderr
    assert "Time at 1,200 requests / 300 s: about 1.0 s (this dry run made 2 requests)" in dry.stderr
    doc = json_document(sync_all(emulator, root, tmp_path, "--dry-run", "--offline", "--json").stdout)
    assert doc["plan"]["requests"]["total"] == 4 and doc["plan"]["dry_run_requests"] == 0
    paced = sync_all(
        emulator, root, tmp_path, "--dry-run", "--offline", "--rate-limit", "60/10", "--shard", "1/2"
    )
    assert "Time at 1/2 of 60 requests / 10 s:" in paced.stderr, paced.stderr  # the plan's rate is the run's
    assert (
        doc["plan"]["unverified"] and {r["tenant"]: r["check"] for r in doc["tenants"]}["globex"] == "changed"
    )

    full = json_document(sync_all(emulator, root, tmp_path, "--verify", "full", "--json").stdout)
    assert [r["check"] for r in full["tenants"]] == ["verify-full"] * 3 and full["summary"]["requests"] == 7
    bad = sync_all(emulator, root, tmp_path, "--offline")
    assert bad.returncode == 2 and "--offline only goes with --dry-run" in bad.stderr


def test_prune_without_a_terminal_needs_yes_and_lists_first(tmp_path: Path, emulator: LiveEmulator) -> None:
    root = platform(tmp_path / "root", ["a", "b", "c"])
    assert sync_all(emulator, root, tmp_path, "-q").returncode == 0
    (root / "c").rename(tmp_path / "c-moved-away")
    platform(root, ["d"])
    refused = sync_all(emulator, root, tmp_path, "--prune")
    assert refused.returncode == 10
    assert "--prune would delete: 1 script in namespace customers:\n  c\n" in refused.stderr
    assert "--yes" in refused.stderr
    assert names_in(emulator) == ["a", "b", "c"]  # nothing deployed (d), nothing deleted

    dry = sync_all(emulator, root, tmp_path, "--prune", "--dry-run")
    assert dry.returncode == 0 and "--prune would delete 1 script(s):\n  c" in dry.stderr
    assert names_in(emulator) == ["a", "b", "c"]

    done = sync_all(emulator, root, tmp_path, "--prune", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    doc = json_document(done.stdout)
    assert doc["prune"]["candidates"] == ["c"] and doc["prune"]["results"][0]["ok"]
    assert names_in(emulator) == ["a", "b", "d"]


def test_usage_errors(tmp_path: Path, emulator: LiveEmulator, tried: Callable[..., None]) -> None:
    tried(
        "bad input",
        "sync-all with a bad --shard, no --namespace or a missing root: a clear error, nothing sent",
    )
    root = platform(tmp_path / "root", ["a"])
    for shard in ("0/4", "5/4", "two/4"):
        proc = sync_all(emulator, root, tmp_path, "--shard", shard)
        assert proc.returncode == 2 and "I/N" in proc.stderr and "from 1" in proc.stderr
    proc = run_cli("sync-all", str(root), env=env_for(emulator))
    assert proc.returncode == 2 and "--namespace" in proc.stderr
    proc = sync_all(emulator, tmp_path / "nope", tmp_path)
    assert proc.returncode == 4 and "one subfolder per tenant" in proc.stderr
    proc = sync_all(emulator, tmp_path / "nope", tmp_path, "--json")
    assert proc.returncode == 4 and json_document(proc.stdout)["error"]["exit_code"] == 4
    proc = sync_all(emulator, root, tmp_path, "--namespace", "a/b")
    assert proc.returncode == 2
    assert names_in(emulator) == []


def test_wrong_token_exits_6_and_stops(tmp_path: Path, emulator: LiveEmulator) -> None:
    root = platform(tmp_path / "root", [f"t{i}" for i in range(5)])
    cache = str(tmp_path / "cache")
    proc = run_cli(
        "sync-all", str(root), "--namespace", NS, "--cache-dir", cache, "--tenant-concurrency", "1",
        env=env_for(emulator, token="not-the-token"),
    )  # fmt: skip
    assert proc.returncode == 6 and "The run stopped" in proc.stderr
    assert "not-the-token" not in proc.stderr + proc.stdout


def test_sharded_ci_matrix_covers_the_platform(tmp_path: Path, emulator: LiveEmulator) -> None:
    names = [f"shop-{i}" for i in range(12)]
    root = platform(tmp_path / "root", names)
    counts = []
    for i in (1, 2, 3):
        proc = sync_all(emulator, root, tmp_path, "--shard", f"{i}/3", "--json")
        assert proc.returncode == 0, proc.stderr
        doc = json_document(proc.stdout)
        assert doc["shard"] == f"{i}/3" and doc["summary"]["tenants_found"] == 12
        counts.append(doc["summary"]["tenants"])
    assert sum(counts) == 12 and names_in(emulator) == sorted(names)


def test_scripts_list_and_delete(tmp_path: Path, emulator: LiveEmulator) -> None:
    root = platform(tmp_path / "root", ["a", "b", "c"])
    assert sync_all(emulator, root, tmp_path, "-q").returncode == 0
    env = env_for(emulator)
    table = run_cli("scripts", "list", "--namespace", NS, env=env)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split() == ["NAME", "MODIFIED", "TAGS"]
    assert [line.split()[0] for line in table.stdout.splitlines()[1:]] == ["a", "b", "c"]
    assert "assetsync,tenant:b" in table.stdout and "3 scripts in customers" in table.stderr
    one = json_document(
        run_cli("scripts", "list", "--namespace", NS, "--tag", "tenant:b", "--json", env=env).stdout
    )
    assert one["count"] == 1 and one["scripts"][0]["name"] == "b" and one["scripts"][0]["tags"]

    refused = run_cli(
        "scripts", "delete", "--namespace", NS, "--tag", "tenant:b", env=env, stdin=subprocess.DEVNULL
    )
    assert refused.returncode == 10 and "  b\n" in refused.stderr and names_in(emulator) == ["a", "b", "c"]
    dry = run_cli("scripts", "delete", "a", "--namespace", NS, "--dry-run", "--json", env=env)
    assert dry.returncode == 0 and names_in(emulator) == ["a", "b", "c"]
    assert json_document(dry.stdout)["would_delete"] == ["a"]
    none = run_cli("scripts", "delete", "--namespace", NS, "--tag", "nobody", "--yes", "--json", env=env)
    assert none.returncode == 0 and json_document(none.stdout)["results"] == []
    gone = run_cli("scripts", "delete", "a", "zz", "--namespace", NS, "--yes", "--json", env=env)
    assert gone.returncode == 0, gone.stderr
    results = {r["script"]: r for r in json_document(gone.stdout)["results"]}
    assert results["a"]["existed"] and not results["zz"]["existed"]
    assert names_in(emulator) == ["b", "c"]

    for args in (["--namespace", NS], ["b", "--tag", "x", "--namespace", NS], ["Bad", "--namespace", NS]):
        proc = run_cli("scripts", "delete", *args, "--yes", "--json", env=env)
        assert proc.returncode == 2 and json_document(proc.stdout)["error"]["type"] == "UsageError", args
    listing = run_cli("scripts", "list", "--namespace", "a/b", "--json", env=env)
    assert listing.returncode == 2 and json_document(listing.stdout)["ok"] is False
    assert names_in(emulator) == ["b", "c"]


@pytest.mark.parametrize(("answer", "code", "left"), [("y", 0, ["c"]), ("n", 10, ["b", "c"])])
def test_delete_asks_on_a_terminal(
    tmp_path: Path, emulator: LiveEmulator, answer: str, code: int, left: list[str]
) -> None:
    root = platform(tmp_path / "root", ["b", "c"])
    assert sync_all(emulator, root, tmp_path, "-q").returncode == 0
    main, follower = pty.openpty()
    try:
        os.write(main, f"{answer}\n".encode())  # typed ahead: the terminal holds it until it is read
        proc = subprocess.run(
            [sys.executable, "-m", "assetsync", "scripts", "delete", "b", "--namespace", NS],
            stdin=follower,
            capture_output=True,
            text=True,
            env=child_env(env_for(emulator)),
            timeout=120,
        )
    finally:
        os.close(follower)
        os.close(main)
    assert proc.returncode == code, proc.stderr
    assert "Delete this 1 from customers?" in proc.stderr
    assert names_in(emulator) == left


def test_help_documents_shards_and_exit_codes() -> None:
    text = run_cli("sync-all", "--help").stdout
    assert "counted from 1" in text and "9 one or more tenants failed" in text and "10" in text
    assert "wrangler.json" in text


def test_an_empty_tenant_folder_fails_its_row_unless_allow_empty(
    tmp_path: Path, emulator: LiveEmulator
) -> None:
    root = platform(tmp_path / "root", ["acme"])
    (root / "vacant").mkdir()  # a tenant whose build produced nothing
    proc = sync_all(emulator, root, tmp_path, "--json")
    assert proc.returncode == 9, proc.stderr
    rows = {r["tenant"]: r for r in json_document(proc.stdout)["tenants"]}
    assert rows["vacant"]["exit_code"] == 4 and "no files to publish" in rows["vacant"]["error"]["message"]
    assert rows["acme"]["ok"] and names_in(emulator) == ["acme"]
    again = sync_all(emulator, root, tmp_path, "--allow-empty")
    assert again.returncode == 0, again.stderr
    assert names_in(emulator) == ["acme", "vacant"]
