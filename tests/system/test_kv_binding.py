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


def test_dispatch_by_a_kv_lookup_of_the_hostname(live: LiveEmulator, tmp_path: Path) -> None:
    """The third routing pattern: the dispatch Worker looks the hostname up in KV (a table the
    platform's API wrote) and runs the user Worker it names."""
    from .test_workers_runtime import DISPATCH_BINDING, tenants

    tenants(live, tmp_path, "alice", "bob")
    with api(live) as c:
        ns = c.post(f"/accounts/{ACCOUNT}/storage/kv/namespaces", json={"title": "hosts"}).json()["result"][
            "id"
        ]
        pairs = [{"key": "shop.alice.example", "value": "alice"}, {"key": "www.bob.example", "value": "bob"}]
        assert c.put(f"/accounts/{ACCOUNT}/storage/kv/namespaces/{ns}/bulk", json=pairs).status_code == 200
        kv = {"type": "kv_namespace", "name": "HOSTS", "namespace_id": ns}
        deploy(
            live,
            tmp_path,
            "dispatcher",
            """
export default {
  async fetch(request, env) {
    const host = new URL(request.url).hostname;
    const name = await env.HOSTS.get(host);
    if (name === null) return new Response(`unknown host ${host}`, { status: 404 });
    return env.DISPATCHER.get(name).fetch(request);
  }
};""",
            bindings=[kv, DISPATCH_BINDING],
        )
        assert (
            get(live, "dispatcher", "/cart", host="shop.alice.example").text
            == "tenant alice at /cart (call 1)"
        )
        assert get(live, "dispatcher", "/cart", host="www.bob.example").text == "tenant bob at /cart (call 1)"
        missing = get(live, "dispatcher", "/cart", host="nobody.example")
        assert (missing.status_code, missing.text) == (404, "unknown host nobody.example")
        # a host moved to another tenant through the API is routed there on the next request
        url = f"/accounts/{ACCOUNT}/storage/kv/namespaces/{ns}/values/www.bob.example"
        assert c.put(url, content=b"alice").status_code == 200
        assert (
            get(live, "dispatcher", "/cart", host="www.bob.example").text == "tenant alice at /cart (call 2)"
        )


def test_a_refused_binding_write_throws_the_platforms_message(live: LiveEmulator, tmp_path: Path) -> None:
    with api(live) as c:
        ns = c.post(f"/accounts/{ACCOUNT}/storage/kv/namespaces", json={"title": "t"}).json()["result"]["id"]
    deploy(
        live,
        tmp_path,
        "writer",
        """
export default {
  async fetch(request, env) {
    try { await env.KV.put("k", "v", { expirationTtl: 5 }); return new Response("written"); }
    catch (e) { return new Response(`refused: ${e.message}`); }
  }
};""",
        bindings=[{"type": "kv_namespace", "name": "KV", "namespace_id": ns}],
    )
    answer = get(live, "writer", "/go").text
    assert answer.startswith("refused: ") and "60" in answer and "ttl" in answer.lower(), answer
