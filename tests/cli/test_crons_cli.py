"""A config's ``[triggers] crons`` are the script's Cron Triggers: set after each deploy of an
account's Worker, as ``wrangler deploy`` sets them (``PUT .../schedules``, the whole list), removed
by ``crons = []``, left alone when the config has none, and never set for a dispatch namespace's
user Worker, which has none."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, json_document, make_tree, run_cli

SCHEDULES = f"/accounts/{ACCOUNT}/workers/scripts/site/schedules"
CONFIG = 'name = "site"\ncompatibility_date = "2025-01-01"\n[assets]\ndirectory = "dist"\n'


def _project(tmp: Path, triggers: str) -> Path:
    project = make_tree(tmp / "project", {"dist/index.html": "<h1>hi</h1>"})
    (project / "wrangler.toml").write_text(CONFIG + triggers)
    return project / "wrangler.toml"


def _sync(live: LiveEmulator, config: Path, *args: str) -> tuple[int, str, str]:
    env = {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_TOKEN": live.token, "CI": "1"}
    env["CLOUDFLARE_API_BASE_URL"] = live.api
    done = run_cli("sync", "--config", str(config), "--no-cache", *args, env=env)
    return done.returncode, done.stdout, done.stderr


def _crons(live: LiveEmulator) -> list[str]:
    r = httpx.get(live.api + SCHEDULES, headers={"Authorization": f"Bearer {live.token}"})
    assert r.status_code == 200, r.text
    return [s["cron"] for s in r.json()["result"]["schedules"]]


def test_the_configs_crons_are_set_after_the_deploy(tmp_path: Path, recorded: LiveEmulator) -> None:
    config = _project(tmp_path, '[triggers]\ncrons = ["0 3 * * *", "*/15 * * * *"]\n')
    code, out, err = _sync(recorded, config, "--json")
    assert code == 0, err
    assert json_document(out)["crons"] == ["0 3 * * *", "*/15 * * * *"]
    assert _crons(recorded) == ["0 3 * * *", "*/15 * * * *"]
    methods = [(r["method"], r["path"]) for r in recorded.app.requests]
    deploy = methods.index(("PUT", f"/client/v4/accounts/{ACCOUNT}/workers/scripts/site"))
    put = methods.index(("PUT", "/client/v4" + SCHEDULES))
    assert deploy < put  # a new script exists only once deployed
    sent = json.loads(recorded.app.requests[put]["body"])
    assert sent == [{"cron": "0 3 * * *"}, {"cron": "*/15 * * * *"}]  # wrangler's body

    code, _, err = _sync(recorded, config)
    assert code == 0 and "Cron Triggers: 0 3 * * *, */15 * * * *" in err


def test_an_empty_list_removes_them_and_no_triggers_leaves_them(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    config = _project(tmp_path, '[triggers]\ncrons = ["0 3 * * *"]\n')
    assert _sync(recorded, config)[0] == 0
    config.write_text(CONFIG)  # no [triggers]: the script keeps what it has
    code, out, err = _sync(recorded, config, "--json")
    assert code == 0 and json_document(out)["crons"] is None and "Cron Triggers" not in err
    assert _crons(recorded) == ["0 3 * * *"]
    config.write_text(CONFIG + "[triggers]\ncrons = []\n")
    code, _, err = _sync(recorded, config)
    assert code == 0 and "Cron Triggers: none (the deploy removed them)" in err
    assert _crons(recorded) == []


def test_a_namespace_user_worker_gets_none_and_is_told_so(tmp_path: Path, recorded: LiveEmulator) -> None:
    config = _project(tmp_path, '[triggers]\ncrons = ["0 3 * * *"]\n')
    code, _, err = _sync(recorded, config, "--namespace", "tenants")
    assert code == 0, err
    assert "triggers.crons is not set: a dispatch namespace's user Worker has no Cron Triggers" in err
    assert not [r for r in recorded.app.requests if r["path"].endswith("/schedules")]


def test_a_refused_schedule_says_the_deploy_is_live(tmp_path: Path, recorded: LiveEmulator) -> None:
    refusal = {"success": False, "errors": [{"code": 10021, "message": "plan limit"}], "messages": []}
    recorded.app.faults.append(
        ("PUT", SCHEDULES, (400, [("content-type", "application/json")], json.dumps(refusal).encode()))
    )
    config = _project(tmp_path, '[triggers]\ncrons = ["0 3 * * *"]\n')
    code, _, err = _sync(recorded, config)
    assert code != 0
    assert (
        "error: setting the Cron Triggers: the server refused the request (HTTP 400, code 10021: plan limit)"
        in err
    )
    assert "The deploy itself went through (version " in err and "run again to set the Cron Triggers." in err
    assert [s.name for s in recorded.emulator.store.all_live()] == ["site"]  # the deploy stands


def test_a_local_deploy_says_how_to_fire_one(tmp_path: Path) -> None:
    config = _project(tmp_path, '[triggers]\ncrons = ["0 3 * * *"]\n')
    done = run_cli(
        "sync", "--config", str(config), "--local", "--local-data", str(tmp_path / "data"), "--no-cache"
    )
    assert done.returncode == 0, done.stderr
    assert "Cron Triggers: 0 3 * * *" in done.stderr
    assert "/cdn-cgi/local/scheduled?cron=0+3+%2A+%2A+%2A'" in done.stderr
