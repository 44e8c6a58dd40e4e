"""A routing table in Workers KV: written through the KV REST API, read by a Worker's
``kv_namespace`` binding on workerd, and what the Worker writes read back through the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from ..conftest import ACCOUNT
from ..emulator.test_api import api
from ..helpers import LiveEmulator, workerd_binary
from .test_workers_runtime import deploy, get


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveEmulator]:
    with LiveEmulator(tmp_path / "emulator-data", runtime="workerd", workerd=workerd_binary()) as emu:
        yield emu


ROUTER = """
export default {
  async fetch(request, env) {
    const host = new URL(request.url).hostname;
    const route = await env.ROUTES.getWithMetadata("host/" + host);
    if (route.value === null) return new Response(`no route for ${host}`, { status: 404 });
    await env.ROUTES.put("seen/" + host, "yes", { expirationTtl: 3600, metadata: { by: "worker" } });
    const listed = await env.ROUTES.list({ prefix: "host/" });
    const names = listed.keys.map((k) => k.name).join(",");
    return new Response(`${route.value} ${JSON.stringify(route.metadata)} [${names}]`);
  }
};
"""


def test_a_worker_routes_by_the_table_the_api_wrote(live: LiveEmulator, tmp_path: Path) -> None:
    with api(live) as c:
        ns = c.post(f"/accounts/{ACCOUNT}/storage/kv/namespaces", json={"title": "routes"}).json()["result"][
            "id"
        ]
        pairs = [
            {"key": "host/acme.example", "value": "worker-acme", "metadata": {"plan": "pro"}},
            {"key": "host/globex.example", "value": "worker-globex"},
        ]
        assert c.put(f"/accounts/{ACCOUNT}/storage/kv/namespaces/{ns}/bulk", json=pairs).status_code == 200
        binding = {"type": "kv_namespace", "name": "ROUTES", "namespace_id": ns}
        deploy(live, tmp_path, "router", ROUTER, bindings=[binding])

        r = get(live, "router", "/route", host="acme.example")
        assert r.status_code == 200, r.text
        assert r.text == 'worker-acme {"plan":"pro"} [host/acme.example,host/globex.example]'
        assert get(live, "router", "/route", host="initech.example").status_code == 404

        # An edit through the API is what the next request reads: no copy, no redeploy.
        url = f"/accounts/{ACCOUNT}/storage/kv/namespaces/{ns}/values/{quote('host/acme.example', safe='')}"
        assert c.put(url, content=b"worker-acme-v2").status_code == 200
        assert get(live, "router", "/route", host="acme.example").text.startswith("worker-acme-v2 null ")

        # What the Worker wrote, the API shows, expiration and metadata included.
        seen = c.get(
            f"/accounts/{ACCOUNT}/storage/kv/namespaces/{ns}/keys", params={"prefix": "seen/"}
        ).json()
        [entry] = seen["result"]
        assert entry["name"] == "seen/acme.example" and entry["metadata"] == {"by": "worker"}
        assert isinstance(entry["expiration"], int)
