"""After a deploy to the API, `assetsync sync` says where it went: the workers.dev URL of an
account's Worker (when the account has a subdomain and the script's workers.dev route is on), or
the namespace and script of a user Worker, and the version and deployment ids, in its lines and
in ``--json``. The lookups are information only: when they fail, the deploy still succeeds."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, envelope_error, json_document, make_tree, run_cli

SUBDOMAIN = f"/accounts/{ACCOUNT}/workers/subdomain"
SCRIPT_SUBDOMAIN = f"/accounts/{ACCOUNT}/workers/scripts/site/subdomain"
# The API's deploy answer, as recorded from the real platform's shape (traces/wrangler-4.164-*).
TRACE_ANSWER = {
    "id": "site",
    "etag": "e" * 64,
    "handlers": ["fetch"],
    "compatibility_date": "2025-01-01",
    "has_assets": True,
    "deployment_id": "3205f52cf43c40d9869fd8de93e040bb",
}


def sync(live: LiveEmulator, tmp_path: Path, *args: str) -> tuple[list[str], dict[str, object]]:
    """`sync` twice over: its lines (stderr) and its --json document, of two identical deploys."""
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>"})
    env = {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_API_BASE_URL": live.api,
    }
    common = ("sync", str(site), "--name", "site", "--no-cache", *args)
    lines = run_cli(*common, env={**env, "CI": "1"})
    assert lines.returncode == 0, lines.stderr
    doc = run_cli(*common, "--json", env=env)
    assert doc.returncode == 0, doc.stderr
    return lines.stderr.splitlines(), json_document(doc.stdout)


def answer(status: int, result: object) -> tuple[int, list[tuple[str, str]], bytes]:
    body = {"success": True, "errors": [], "messages": [], "result": result}
    return status, [("content-type", "application/json")], json.dumps(body).encode()


def test_an_account_worker_with_workers_dev_on_gets_its_url(tmp_path: Path, recorded: LiveEmulator) -> None:
    recorded.app.faults.append(("GET", SUBDOMAIN, answer(200, {"subdomain": "acme-co"})))
    recorded.app.faults.append(
        ("GET", SCRIPT_SUBDOMAIN, answer(200, {"enabled": True, "previews_enabled": True}))
    )
    recorded.app.faults.append(("GET", SUBDOMAIN, answer(200, {"subdomain": "acme-co"})))
    recorded.app.faults.append(
        ("GET", SCRIPT_SUBDOMAIN, answer(200, {"enabled": True, "previews_enabled": True}))
    )
    lines, doc = sync(recorded, tmp_path)
    assert "URL: https://site.acme-co.workers.dev" in lines
    assert doc["workers_dev_url"] == "https://site.acme-co.workers.dev" and doc["workers_dev_enabled"] is True
    store = recorded.emulator.store
    live = store.script(ACCOUNT, "", "site")
    # As the API's, the emulator's answer carries the new version's id as its deployment_id, which
    # is read as wrangler reads it.
    assert live is not None and doc["deployment_id"] == live.version
    assert doc["version_id"] == live.version and doc["schema"] == 1
    (said,) = [line for line in lines if line.startswith("Version: ")]  # of the first of the two deploys
    assert len(said) == len(f"Version: {live.version}") and said != f"Version: {live.version}"


def test_the_scripts_own_workers_dev_setting_is_read_not_changed(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    """The emulator's account has a subdomain; a script deployed through the API starts with
    workers.dev off, and assetsync leaves it so, saying so, until it is turned on."""
    lines, doc = sync(recorded, tmp_path)
    assert (doc["workers_dev_url"], doc["workers_dev_enabled"]) == (None, False)
    assert any(
        line.startswith("workers.dev: off for site, so it answers only on its routes") for line in lines
    )
    assert not [
        r for r in recorded.app.requests if r["method"] == "POST" and r["path"].endswith("/subdomain")
    ]
    on = httpx.post(
        recorded.api + SCRIPT_SUBDOMAIN,
        json={"enabled": True},
        headers={"Authorization": f"Bearer {recorded.token}"},
    )
    assert on.status_code == 200
    lines, doc = sync(recorded, tmp_path)
    assert doc["workers_dev_url"] == "https://site.assetsync-local.workers.dev"
    assert "URL: https://site.assetsync-local.workers.dev" in lines


def test_an_account_without_a_subdomain_is_said_so(tmp_path: Path, recorded: LiveEmulator) -> None:
    for _ in range(2):
        recorded.app.faults.append(
            ("GET", SUBDOMAIN, envelope_error(404, 10007, "workers.dev subdomain not found"))
        )
        recorded.app.faults.append(
            ("GET", SCRIPT_SUBDOMAIN, answer(200, {"enabled": True, "previews_enabled": True}))
        )
    lines, doc = sync(recorded, tmp_path)
    assert (doc["workers_dev_url"], doc["workers_dev_enabled"]) == (None, True)
    assert any(line.startswith("workers.dev: the account has no workers.dev subdomain yet") for line in lines)


@pytest.mark.parametrize(
    "fault",
    [
        envelope_error(500, 10013, "internal"),
        envelope_error(403, 10000, "no access to that"),
        (200, [("content-type", "text/html")], b"<html>not the API</html>"),
    ],
    ids=["server-error", "no-permission", "not-json"],
)
def test_a_failing_lookup_does_not_fail_the_deploy(
    tmp_path: Path, recorded: LiveEmulator, fault: tuple[int, list[tuple[str, str]], bytes]
) -> None:
    recorded.app.faults += [("GET", SUBDOMAIN, fault), ("GET", SUBDOMAIN, fault)]
    lines, doc = sync(recorded, tmp_path)  # both exit 0
    assert (doc["workers_dev_url"], doc["workers_dev_enabled"]) == (None, None)
    assert not [line for line in lines if "workers.dev" in line or line.startswith("URL:")]
    assert [r["fault"] for r in recorded.app.requests if r.get("fault")] == [fault[0], fault[0]]  # tried once


def test_the_api_answers_version_id_is_shown_as_wrangler_shows_it(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    for _ in range(2):
        recorded.app.faults.append(("PUT", "/workers/scripts/site", answer(200, TRACE_ANSWER)))
    lines, doc = sync(recorded, tmp_path)
    assert doc["deployment_id"] == "3205f52cf43c40d9869fd8de93e040bb"
    assert doc["version_id"] == "3205f52c-f43c-40d9-869f-d8de93e040bb"
    assert "Version: 3205f52c-f43c-40d9-869f-d8de93e040bb" in lines  # one id: not said twice


def test_a_user_worker_is_named_by_its_namespace_and_script(tmp_path: Path, recorded: LiveEmulator) -> None:
    lines, doc = sync(recorded, tmp_path, "--namespace", "customers")
    assert (
        "Live as script site in dispatch namespace customers: requests reach it through the namespace's "
        "dispatch Worker"
    ) in lines
    assert (doc["namespace"], doc["script"], doc["workers_dev_url"], doc["workers_dev_enabled"]) == (
        "customers",
        "site",
        None,
        None,
    )
    assert doc["deployment_id"] and doc["version_id"]
    assert not [r for r in recorded.app.requests if r["path"].endswith("/subdomain")]  # nothing to look up
