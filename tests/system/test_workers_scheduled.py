"""A Worker's Cron Trigger fired by hand, as ``wrangler dev`` fires it: ``/cdn-cgi/local/scheduled``
(and its older name ``/cdn-cgi/handler/scheduled``) runs the Worker's scheduled() handler on workerd
with the cron pattern and time asked for, and answers its outcome."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..conftest import ACCOUNT
from ..emulator.test_api import api
from ..helpers import LiveEmulator, workerd_binary
from .test_workers_runtime import deploy, dev_of, get

CRON = """
export default {
  async fetch() { return new Response("the page"); },
  async scheduled(controller, env) {
    if (controller.cron === "fail") throw new Error("the nightly job failed");
    const seen = { cron: controller.cron, time: controller.scheduledTime };
    await env.STATE.put("last-run", JSON.stringify(seen));
  },
};
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveEmulator]:
    with LiveEmulator(tmp_path / "emulator-data", runtime="workerd", workerd=workerd_binary()) as emu:
        yield emu


def _kv_value(c: httpx.Client, ns: str, key: str) -> object:
    r = c.get(f"/accounts/{ACCOUNT}/storage/kv/namespaces/{ns}/values/{key}")
    assert r.status_code == 200, r.text
    return json.loads(r.content)


def test_a_cron_trigger_fired_by_hand_runs_the_scheduled_handler(live: LiveEmulator, tmp_path: Path) -> None:
    lines: queue.Queue[str] = queue.Queue()
    assert live.emulator.runtime is not None
    live.emulator.runtime.worker_output = lines.put
    with api(live) as c:
        ns = c.post(f"/accounts/{ACCOUNT}/storage/kv/namespaces", json={"title": "state"}).json()["result"][
            "id"
        ]
        binding = {"type": "kv_namespace", "name": "STATE", "namespace_id": ns}
        deploy(live, tmp_path, "nightly", CRON, bindings=[binding])

        ran = get(
            live, "nightly", "/cdn-cgi/local/scheduled", params={"cron": "0 3 * * *", "time": "1700000000000"}
        )
        assert (ran.status_code, ran.text) == (200, "ok\n")
        assert _kv_value(c, ns, "last-run") == {"cron": "0 3 * * *", "time": 1700000000000}

        failed = get(live, "nightly", "/cdn-cgi/handler/scheduled", params={"cron": "fail", "format": "json"})
        assert failed.status_code == 500
        assert failed.json()["outcome"] == "exception"
        assert _kv_value(c, ns, "last-run") == {"cron": "0 3 * * *", "time": 1700000000000}  # unchanged

    seen: list[str] = []
    while not any("the nightly job failed" in line for line in seen):
        seen.append(lines.get(timeout=10))
    assert any("Uncaught in scheduled(): Error: the nightly job failed" in line for line in seen), seen
    assert get(live, "nightly", "/anything").text == "the page"  # fetch() is untouched
    # The event is the preview's to fire: a client's own header of the host's is dropped.
    sneaky = httpx.get(
        f"{live.origin}/__preview/nightly/anything", headers={"x-assetsync-event": "scheduled"}
    )
    assert sneaky.text == "the page"


def test_a_worker_without_a_scheduled_handler_fails_the_event(live: LiveEmulator, tmp_path: Path) -> None:
    lines: queue.Queue[str] = queue.Queue()
    assert live.emulator.runtime is not None
    live.emulator.runtime.worker_output = lines.put
    deploy(live, tmp_path, "plain", 'export default { fetch() { return new Response("hi"); } };')
    r = get(live, "plain", "/cdn-cgi/local/scheduled")
    assert (r.status_code, r.text) == (500, "exception\n")
    seen: list[str] = []
    while not any("This Worker has no scheduled() handler: export one" in line for line in seen):
        seen.append(lines.get(timeout=10))


def test_a_class_worker_runs_too_and_its_no_retry_is_in_the_json(live: LiveEmulator, tmp_path: Path) -> None:
    code = """
import { WorkerEntrypoint } from "cloudflare:workers";
export default class extends WorkerEntrypoint {
  async fetch() { return new Response(`greeting ${this.env.GREETING}`); }
  async scheduled(controller) {
    console.log(`class run ${controller.cron} with ${this.env.GREETING}`);
    if (controller.cron === "give up") { controller.noRetry(); throw new Error("not today"); }
  }
}
"""
    greeting = {"type": "plain_text", "name": "GREETING", "text": "hello"}
    deploy(live, tmp_path, "classy", code, bindings=[greeting])
    ok = get(live, "classy", "/cdn-cgi/local/scheduled", params={"cron": "1 2 3 4 5", "format": "json"})
    assert (ok.status_code, ok.json()) == (200, {"outcome": "ok", "noRetry": False})
    gave_up = get(live, "classy", "/cdn-cgi/local/scheduled", params={"cron": "give up", "format": "json"})
    assert (gave_up.status_code, gave_up.json()) == (500, {"outcome": "exception", "noRetry": True})


def test_assets_only_has_no_scheduled_handler_to_run(live: LiveEmulator, tmp_path: Path) -> None:
    from assetsync.engine import SyncOptions, sync
    from assetsync.folder.build import BuildOptions
    from assetsync.folder.hashing import HashScheme
    from assetsync.wire.target import Target

    from ..helpers import make_tree

    site = make_tree(tmp_path / "site", {"index.html": "home"})
    build = BuildOptions(scheme=HashScheme("sha256", ""), cache_dir=str(tmp_path / "cache"))
    sync(str(site), SyncOptions(script="static", build=build), Target("api", live.api, ACCOUNT, live.token))
    r = get(live, "static", "/cdn-cgi/local/scheduled")
    assert r.status_code == 404 and "has no Worker (assets only)" in r.text


def test_dev_says_how_to_fire_the_configs_cron_triggers(tmp_path: Path) -> None:
    """`dev` of a project with ``[triggers] crons``: the command it prints fires the handler (the
    sync into dev's own emulator sets the schedules too)."""
    import urllib.parse

    from ..helpers import make_tree, stop_child

    worker = (
        "export default { fetch() { return new Response('page'); }, "
        "scheduled(c) { console.log(`ran ${c.cron}`); } };"
    )
    config = {
        "name": "app",
        "main": "src/worker.js",
        "compatibility_date": "2025-06-01",
        "assets": {"directory": "public"},
        "triggers": {"crons": ["*/5 * * * *"]},
    }
    site = make_tree(
        tmp_path / "project",
        {"public/index.html": "home", "src/worker.js": worker, "wrangler.json": json.dumps(config)},
    )
    with dev_of(site / "wrangler.json", tmp_path / "d") as (proc, lines):
        lines.expect(lambda line: "Cron Triggers: */5 * * * *" in line)
        command = lines.expect(lambda line: "fire one now: curl" in line)
        lines.expect(lambda line: " live: " in line)
        url = urllib.parse.urlsplit(command.split("'")[1])
        assert url.path == "/cdn-cgi/local/scheduled" and url.query == "cron=%2A%2F5+%2A+%2A+%2A+%2A"
        origin = f"http://127.0.0.1:{url.port}"
        fired = httpx.get(f"{origin}{url.path}?{url.query}", headers={"host": url.netloc})
        assert (fired.status_code, fired.text) == (200, "ok\n")
        lines.expect(lambda line: "[worker] ran */5 * * * *" in line)
        assert stop_child(proc, lines, wait=30) == 0
