"""Workers for Platforms deployed by real wrangler 4.86, run on workerd behind the preview: the
user Workers into a dispatch namespace, and a dispatch Worker that routes by path segment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..emulator.test_clients import wrangler
from ..helpers import LiveEmulator, workerd_binary


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveEmulator]:
    with LiveEmulator(tmp_path / "emulator-data", runtime="workerd", workerd=workerd_binary()) as emu:
        yield emu


def project(root: Path, config: dict[str, object], code: str) -> Path:
    (root / "home").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "index.js").write_text(code)
    (root / "wrangler.json").write_text(
        json.dumps({"main": "src/index.js", "compatibility_date": "2025-06-01", **config})
    )
    return root


def test_wrangler_deploys_a_dispatch_worker_and_its_user_workers(live: LiveEmulator, tmp_path: Path) -> None:
    for name in ("alice", "bob"):
        code = (
            "export default { fetch(request) { "
            f"return new Response('{name} got ' + new URL(request.url).pathname); }} }};"
        )
        wrangler(
            live, project(tmp_path / name, {"name": name}, code), "deploy", "--dispatch-namespace", "tenants"
        )
    dispatcher = project(
        tmp_path / "dispatcher",
        {"name": "dispatcher", "dispatch_namespaces": [{"binding": "DISPATCHER", "namespace": "tenants"}]},
        """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, name, ...rest] = url.pathname.split("/");
    url.pathname = "/" + rest.join("/");
    try {
      return await env.DISPATCHER.get(name).fetch(new Request(url, request));
    } catch (e) {
      return new Response(e.message, { status: 404 });
    }
  }
};""",
    )
    wrangler(live, dispatcher, "deploy")

    def get(path: str) -> httpx.Response:
        return httpx.get(f"{live.origin}/__preview/dispatcher{path}", timeout=30)

    assert get("/alice/orders").text == "alice got /orders"
    assert get("/bob/").text == "bob got /"
    missing = get("/carol/")
    assert missing.status_code == 404 and missing.text.startswith("Worker not found")
