"""A Worker and its assets composed as the platform's router composes them, over real sockets on
workerd: run_worker_first (true, false, globs), env.ASSETS.fetch(), navigations of a single-page
app, the router's image guard, and service bindings' RPC (methods, properties, pipelining) that
follows the target's redeploys. Cloudflare's own cases for the same run in ``tests/upstream``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetsync.protocol import AssetsConfig

from ..helpers import LiveEmulator, workerd_binary
from .test_workers_runtime import deploy as deploy_worker

NAVIGATE = {"sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
ECHO = """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/via-assets") return env.ASSETS.fetch(new URL("/data.txt", url));
    return new Response(`worker: ${request.method} ${url.pathname}`, { headers: { "x-from": "worker" } });
  },
};
"""
FILES = {
    "index.html": "<h1>home</h1>",
    "about.html": "<h1>about</h1>",
    "api/docs/intro.html": "<h1>docs</h1>",
    "data.txt": "from the assets",
}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveEmulator]:
    with LiveEmulator(tmp_path / "emulator-data", runtime="workerd", workerd=workerd_binary()) as emu:
        yield emu


def deploy(live: LiveEmulator, tmp_path: Path, script: str, code: str, **kw: Any) -> None:
    """:func:`.test_workers_runtime.deploy`, beside :data:`FILES` unless ``files`` says otherwise."""
    deploy_worker(live, tmp_path, script, code, **{"files": FILES, **kw})


def get(live: LiveEmulator, script: str, path: str, method: str = "GET", **headers: str) -> httpx.Response:
    return httpx.request(
        method, f"{live.origin}/__preview/{script}{path}", headers=headers, timeout=30, follow_redirects=False
    )


def answered_by(response: httpx.Response) -> str:
    return "worker" if response.headers.get("x-from") == "worker" else f"assets {response.status_code}"


@pytest.mark.parametrize(
    ("rwf", "expected"),
    [
        (
            None,
            {"/": "assets 200", "/about": "assets 200", "/api/orders": "worker", "/about.html": "assets 307"},
        ),
        (
            False,
            {"/": "assets 200", "/about": "assets 200", "/api/orders": "worker", "/about.html": "assets 307"},
        ),
        (True, {"/": "worker", "/about": "worker", "/api/orders": "worker", "/about.html": "worker"}),
        (
            ("/api/*", "!/api/docs/*"),
            {
                "/": "assets 200",
                "/api/orders": "worker",
                "/api/docs/intro": "assets 200",
                "/api/docs/x": "assets 404",
            },
        ),
        (("/about",), {"/about": "worker", "/": "assets 200", "/nowhere": "worker"}),
    ],
    ids=["unset", "false", "true", "globs", "a rule over an asset"],
)
def test_run_worker_first_decides_who_answers(
    live: LiveEmulator, tmp_path: Path, rwf: bool | tuple[str, ...] | None, expected: dict[str, str]
) -> None:
    deploy(live, tmp_path, "site", ECHO, assets=AssetsConfig(run_worker_first=rwf))
    assert {path: answered_by(get(live, "site", path)) for path in expected} == expected


def test_a_post_to_an_asset_is_the_assets_405_and_elsewhere_the_workers(
    live: LiveEmulator, tmp_path: Path
) -> None:
    deploy(live, tmp_path, "site", ECHO)
    assert answered_by(get(live, "site", "/about", "POST")) == "assets 405"
    posted = get(live, "site", "/api/orders", "POST")
    assert (posted.status_code, posted.text) == (200, "worker: POST /api/orders")


def test_env_assets_fetch_answers_from_the_workers_own_assets(live: LiveEmulator, tmp_path: Path) -> None:
    deploy(live, tmp_path, "site", ECHO, assets=AssetsConfig(run_worker_first=True))
    answer = get(live, "site", "/via-assets")
    assert (answer.status_code, answer.text) == (200, "from the assets")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"


def test_a_single_page_app_gets_index_html_on_navigation_and_its_api_on_fetch(
    live: LiveEmulator, tmp_path: Path
) -> None:
    deploy(live, tmp_path, "spa", ECHO, assets=AssetsConfig(not_found_handling="single-page-application"))
    page = get(live, "spa", "/dashboard/42", **NAVIGATE)
    assert (page.status_code, page.text) == (200, "<h1>home</h1>")
    assert get(live, "spa", "/dashboard/42", **{"sec-fetch-mode": "cors"}).text == "worker: GET /dashboard/42"
    # before 2025-04-01 (without the flag), a navigation is just another request
    deploy(live, tmp_path, "old-spa", ECHO, assets=AssetsConfig(not_found_handling="single-page-application"),
           date="2025-03-31")  # fmt: skip
    assert get(live, "old-spa", "/dashboard/42", **NAVIGATE).text == "worker: GET /dashboard/42"


def test_the_router_blocks_an_image_proxy_for_another_host(live: LiveEmulator, tmp_path: Path) -> None:
    deploy(live, tmp_path, "astro", ECHO)
    blocked = get(live, "astro", "/_image?href=//evil.example/x.png")
    assert (blocked.status_code, blocked.text) == (403, "Blocked")
    as_image = get(live, "astro", "/_image?href=//evil.example/x.png", **{"sec-fetch-dest": "image"})
    assert answered_by(as_image) == "worker"
    # a remote /_next/image the Worker answers with HTML is not passed on
    assert get(live, "astro", "/_next/image?url=https://evil.example/x").status_code == 403


TARGET = """
import { RpcTarget, WorkerEntrypoint } from "cloudflare:workers";
class Counter extends RpcTarget {
  #n = 0;
  add(k) { this.#n += k; return this.#n; }
  get value() { return this.#n; }
}
export default class extends WorkerEntrypoint {
  get release() { return "RELEASE"; }
  hello(name) { return `hello ${name} from RELEASE`; }
  async nested() { return { inner: { shout: (s) => s.toUpperCase() } }; }
  counter() { return new Counter(); }
  async fetch(request) { return new Response(`target Worker at ${new URL(request.url).pathname}`); }
}
"""
CALLER = """
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/fetch") return env.TARGET.fetch("https://target.example/");
    if (path === "/fetch-miss") return env.TARGET.fetch("https://target.example/nowhere");
    if (path === "/missing") {
      try { return new Response(String(await env.TARGET.nope())); }
      catch (e) { return new Response(`${e.name}: ${e.message}`, { status: 500 }); }
    }
    const c = env.TARGET.counter();
    c.add(2); c.add(3);
    return Response.json({
      method: await env.TARGET.hello("ada"),
      property: await env.TARGET.release,
      pipelined: await env.TARGET.nested().inner.shout("quiet"),
      target: await c.value,
    });
  },
};
"""


def test_a_service_binding_relays_rpc_and_follows_the_targets_redeploys(
    live: LiveEmulator, tmp_path: Path
) -> None:
    deploy(live, tmp_path, "target", TARGET.replace("RELEASE", "v1"), files={"index.html": "target's page"})
    binding = {"type": "service", "name": "TARGET", "service": "target"}
    deploy(live, tmp_path, "caller", CALLER, files={}, bindings=[binding])
    assert get(live, "caller", "/").json() == {
        "method": "hello ada from v1",
        "property": "v1",
        "pipelined": "QUIET",
        "target": 5,
    }
    # fetch() meets the target's router: its assets first, its Worker for the rest
    assert get(live, "caller", "/fetch").text == "target's page"
    assert get(live, "caller", "/fetch-miss").text == "target Worker at /nowhere"
    missing = get(live, "caller", "/missing")
    assert missing.status_code == 500 and 'does not implement the method "nope"' in missing.text, missing.text
    deploy(live, tmp_path, "target", TARGET.replace("RELEASE", "v2"), files={"index.html": "target's page"})
    assert get(live, "caller", "/").json()["method"] == "hello ada from v2"


# Cloudflare's router tests of a /cdn-cgi\ path (router-worker/tests/index.test.ts, "Handling
# /cdn-cgi\ backslash bypass with redirect"): the raw target and where the 307 sends it.
BACKSLASH_CASES = [
    (r"/cdn-cgi\image/q=75/https://evil.com/ssrf", "/cdn-cgi/image/q=75/https://evil.com/ssrf"),
    (r"/cdn-cgi\_next_cache/some-data", "/cdn-cgi/_next_cache/some-data"),
    (r"/cdn-cgi\something-else/path", "/cdn-cgi/something-else/path"),
    (
        r"/cdn-cgi\something-else/path?value=/cdn-cgi/param=foo",
        "/cdn-cgi/something-else/path?value=/cdn-cgi/param=foo",
    ),
]


def _raw_get(live: LiveEmulator, target: str, host: str) -> tuple[int, str | None]:
    """GET ``target`` exactly as written (an HTTP client would turn its backslash into a slash)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(live.origin.rsplit(":", 1)[1]), timeout=30)
    try:
        conn.putrequest("GET", target, skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        answer = conn.getresponse()
        answer.read()
        return answer.status, answer.getheader("location")
    finally:
        conn.close()


@pytest.mark.parametrize("worker_first", [True, False], ids=["worker-first", "assets-first"])
def test_a_cdn_cgi_backslash_path_is_redirected_before_anyone_answers(
    live: LiveEmulator, tmp_path: Path, worker_first: bool
) -> None:
    files = {**FILES, "cdn-cgi/_next_cache/some-data": "an asset: the redirect comes first even so"}
    deploy(live, tmp_path, "site", ECHO, files=files, assets=AssetsConfig(run_worker_first=worker_first))
    for target, location in BACKSLASH_CASES:
        assert _raw_get(live, target, "site.localhost") == (307, f"http://site.localhost{location}"), target
    plain = get(live, "site", "/cdn-cgi/_next_cache/some-data")  # a plain slash: no guard
    assert (
        plain.status_code == 200
        and (plain.text == "worker: GET /cdn-cgi/_next_cache/some-data") == worker_first
    )
    assert (
        _raw_get(live, "/__preview/site/cdn-cgi\\x", "127.0.0.1")[1]
        == "http://127.0.0.1/__preview/site/cdn-cgi/x"
    )
