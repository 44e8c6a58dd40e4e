"""Credentials as CI gives them, through the real CLI: no credentials in CI stops every command
that takes a target (exit 6) unless ``--local`` says the local emulator is meant; the global API
key and email work end to end, sent as wrangler sends them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, cli_running, json_document, make_tree, run_cli, stop_child

# What a pull request from a fork gets: the secrets' variables exist, set to nothing.
FORK = {
    "CI": "true",
    "CLOUDFLARE_ACCOUNT_ID": "",
    "CLOUDFLARE_API_TOKEN": "",
    "CLOUDFLARE_API_KEY": "",
    "CLOUDFLARE_EMAIL": "",
    "CLOUDFLARE_API_BASE_URL": "",
}
NO_CREDENTIALS_IN_CI = (
    "error: CI is set, but no credentials are: CLOUDFLARE_ACCOUNT_ID (or --account-id) and "
    "CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL) are missing (set to an empty "
    "value counts as missing: that is what a pull request from a fork gets). Without them assetsync "
    "would publish into the local emulator and nothing would reach Cloudflare. Set them as the job's "
    "secrets, or pass --local to publish into the local emulator on purpose.\n"
)
KEY, EMAIL = "cfgk-RECOGNISABLE-5c2e41", "owner.recognisable@example.com"


def commands(tmp_path: Path) -> dict[str, list[str]]:
    """Every command that takes a target, each as a CI job would run it."""
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>"})
    make_tree(tmp_path / "tenants" / "acme", {"index.html": "<h1>acme</h1>"})
    data = ["--local-data", str(tmp_path / "local")]
    return {
        "sync": ["sync", str(site), "--no-cache", *data],
        "watch": ["watch", str(site), "--no-cache", *data],
        "sync-all": ["sync-all", str(tmp_path / "tenants"), "--namespace", "ns", "--no-cache", *data],
        "scripts-list": ["scripts", "list", "--namespace", "ns", *data],
        "scripts-delete": ["scripts", "delete", "--namespace", "ns", "acme", "--yes", *data],
    }


@pytest.mark.parametrize("command", ["sync", "watch", "sync-all", "scripts-list", "scripts-delete"])
def test_ci_without_credentials_stops_every_command_that_takes_a_target(tmp_path: Path, command: str) -> None:
    proc = run_cli(*commands(tmp_path)[command], env=FORK)
    assert (proc.returncode, proc.stderr, proc.stdout) == (6, NO_CREDENTIALS_IN_CI, "")
    assert not (tmp_path / "local").exists()  # the local emulator was not even set up


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_ci_set_to_anything_but_false_or_0_is_ci(tmp_path: Path, ci: str) -> None:
    proc = run_cli(*commands(tmp_path)["sync"], env={**FORK, "CI": ci})
    assert proc.returncode == 6, proc.stderr


@pytest.mark.parametrize("ci", ["false", "0", ""])
def test_ci_set_to_false_or_0_or_nothing_publishes_locally(tmp_path: Path, ci: str) -> None:
    proc = run_cli(*commands(tmp_path)["sync"], "--json", env={**FORK, "CI": ci})
    assert proc.returncode == 0, proc.stderr
    assert json_document(proc.stdout)["target"] == "emulator"


def test_local_publishes_into_the_emulator_on_purpose_with_every_command(tmp_path: Path) -> None:
    cmd = commands(tmp_path)
    sync = run_cli(*cmd["sync"], "--local", "--json", env=FORK)
    assert sync.returncode == 0, sync.stderr
    assert json_document(sync.stdout)["target"] == "emulator"
    every = run_cli(*cmd["sync-all"], "--local", "--json", env=FORK)
    assert every.returncode == 0, every.stderr
    listed = run_cli(*cmd["scripts-list"], "--local", "--json", env=FORK)
    assert listed.returncode == 0, listed.stderr
    assert [s["name"] for s in json.loads(listed.stdout)["scripts"]] == ["acme"]
    deleted = run_cli(*cmd["scripts-delete"], "--local", "--json", env=FORK)
    assert deleted.returncode == 0, deleted.stderr
    with cli_running(*cmd["watch"], "--local", env=FORK) as (proc, lines):  # cli_running sets CI too
        lines.expect(lambda line: " live: 1 file," in line)
        assert stop_child(proc, lines) == 0


def test_local_even_ignores_credentials_the_environment_holds(tmp_path: Path) -> None:
    dead = {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": "t",
        "CLOUDFLARE_API_BASE_URL": "http://127.0.0.1:9",
    }
    proc = run_cli(*commands(tmp_path)["sync"], "--local", "--json", env={**dead, "CI": "1"})
    assert proc.returncode == 0, proc.stderr
    assert json_document(proc.stdout)["target"] == "emulator"


@pytest.mark.parametrize("flag", [["--account-id", ACCOUNT], ["--api-base", "http://127.0.0.1:9/client/v4"]])
def test_local_with_an_account_or_api_base_on_the_command_line_is_a_contradiction(
    tmp_path: Path, flag: list[str]
) -> None:
    proc = run_cli(*commands(tmp_path)["sync"], "--local", *flag, env=FORK)
    assert (proc.returncode, proc.stderr) == (
        2,
        f"error: --local and {flag[0]} contradict each other: drop one of them\n",
    )


def test_the_global_api_key_and_email_go_as_wrangler_sends_them(tmp_path: Path) -> None:
    """CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL: X-Auth-Key / X-Auth-Email on every API call (and no
    Authorization), the upload token on the uploads; the emulator accepts the pair it was given."""
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "a.css": "a{}"})
    with LiveEmulator(tmp_path / "emulator", record=True, api_tokens={}, api_keys={EMAIL: KEY}) as live:
        env = {
            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
            "CLOUDFLARE_API_KEY": f"{KEY}\n",  # trimmed, as a token is
            "CLOUDFLARE_EMAIL": EMAIL,
            "CLOUDFLARE_API_BASE_URL": live.api,
            "CI": "1",
        }
        proc = run_cli("sync", str(site), "--name", "site", "--no-cache", env=env)
        assert proc.returncode == 0, proc.stderr
        listed = run_cli("scripts", "list", "--namespace", "ns", env=env)
        assert listed.returncode == 0, listed.stderr
        requests = live.app.requests
    uploads = [r for r in requests if r["path"].endswith("/workers/assets/upload")]
    calls = [r for r in requests if r not in uploads]
    assert uploads and len(calls) >= 3  # the session, the deploy, the listing (and what else it asks)
    for r in calls:
        assert (r["headers"].get("x-auth-key"), r["headers"].get("x-auth-email")) == (KEY, EMAIL)
        assert "authorization" not in r["headers"]
    for r in uploads:
        assert r["headers"]["authorization"].startswith("Bearer ey") and "x-auth-key" not in r["headers"]
    for out in (proc.stdout, proc.stderr, listed.stdout, listed.stderr):
        assert KEY not in out and EMAIL not in out


def test_serve_takes_a_global_key_with_its_email_only(tmp_path: Path) -> None:
    proc = run_cli("serve", "--data", str(tmp_path / "d"), "--port", "0", "--api-key", KEY)
    assert proc.returncode == 2
    assert "--api-key and --email go together: give both, or neither" in proc.stderr
    assert KEY not in proc.stderr
