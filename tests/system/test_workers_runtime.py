"""Worker code on workerd behind the preview: deployed through assetsync's client, requested over
real sockets. The routing patterns a Workers for Platforms dispatch Worker uses, an outbound Worker,
limits, bindings, redeploys, and what a developer sees when a Worker throws or workerd stops."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetsync.engine import SyncOptions, sync
from assetsync.events import SyncReport
from assetsync.folder.build import BuildOptions
from assetsync.folder.hashing import HashScheme
from assetsync.protocol import AssetsConfig, Module, WorkerSpec
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import Lines, LiveEmulator, make_tree, stop_child, workerd_binary

DATE = "2025-06-01"
NS = "tenants"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveEmulator]:
    with LiveEmulator(tmp_path / "emulator-data", runtime="workerd", workerd=workerd_binary()) as emu:
        yield emu


def deploy(
    live: LiveEmulator,
    tmp_path: Path,
    script: str,
    code: str,
    *,
    namespace: str | None = None,
    bindings: Sequence[Mapping[str, Any]] = (),
    files: Mapping[str, str] | None = None,
    assets: AssetsConfig | None = None,
    date: str = DATE,
) -> SyncReport:
    """Publish ``code`` as ``script``'s main module, with a small site of its own (``files``; {}:
    none, a Worker without assets)."""
    where = f"{script}-{namespace or ''}"
    folder = make_tree(
        tmp_path / "sites" / where, {"index.html": f"<h1>{script}</h1>"} if files is None else files
    )
    folder.mkdir(parents=True, exist_ok=True)
    worker = WorkerSpec(
        main_module="worker.js",
        bindings=tuple(bindings),
        compatibility_date=date,
        assets=assets or AssetsConfig(),
    )
    build = BuildOptions(scheme=HashScheme("sha256", ""), cache_dir=str(tmp_path / "cache"))
    options = SyncOptions(
        script=script,
        namespace=namespace,
        build=build,
        worker=worker,
        modules=(Module("worker.js", "application/javascript+module", code.encode()),),
        allow_empty=True,
    )
    return sync(str(folder), options, Target("api", live.api, ACCOUNT, live.token))


def get(live: LiveEmulator, site: str, path: str = "/", host: str | None = None, **kw: Any) -> httpx.Response:
    """A request for ``path`` of ``site`` (``script`` or ``script.namespace``) by its path-style
    address, with the ``Host`` the Worker should see."""
    headers = {"host": host} if host else {}
    return httpx.get(f"{live.origin}/__preview/{site}{path}", headers=headers, timeout=30, **kw)


TENANT = """
let calls = 0;
export default {
  async fetch(request, env) {
    calls++;
    const url = new URL(request.url);
    return new Response(`tenant NAME at ${url.pathname} (call ${calls})`);
  }
};
"""

DISPATCH_BINDING = {"type": "dispatch_namespace", "name": "DISPATCHER", "namespace": NS}


def tenants(live: LiveEmulator, tmp_path: Path, *names: str) -> None:
    for name in names:
        deploy(live, tmp_path, name, TENANT.replace("NAME", name), namespace=NS)


def test_dispatch_by_the_hostnames_first_label(live: LiveEmulator, tmp_path: Path) -> None:
    tenants(live, tmp_path, "alice", "bob")
    deploy(
        live,
        tmp_path,
        "dispatcher",
        """
export default {
  async fetch(request, env) {
    const name = new URL(request.url).hostname.split(".")[0];
    try {
      return await env.DISPATCHER.get(name).fetch(request);
    } catch (e) {
      if (e.message.startsWith("Worker not found")) return new Response(`no tenant ${name}`, { status: 404 });
      throw e;
    }
  }
};""",
        bindings=[DISPATCH_BINDING],
    )
    assert get(live, "dispatcher", "/x", host="alice.shops.example").text == "tenant alice at /x (call 1)"
    assert get(live, "dispatcher", "/y", host="bob.shops.example").text == "tenant bob at /y (call 1)"
    assert get(live, "dispatcher", "/z", host="alice.shops.example").text == "tenant alice at /z (call 2)"
    unknown = get(live, "dispatcher", "/cart", host="carol.shops.example")
    assert (unknown.status_code, unknown.text) == (404, "no tenant carol")


def test_dispatch_by_the_first_path_segment(live: LiveEmulator, tmp_path: Path) -> None:
    tenants(live, tmp_path, "alice", "bob")
    deploy(
        live,
        tmp_path,
        "router",
        """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, name, ...rest] = url.pathname.split("/");
    url.pathname = "/" + rest.join("/");
    return env.DISPATCHER.get(name).fetch(new Request(url, request));
  }
};""",
        bindings=[DISPATCH_BINDING],
    )
    assert get(live, "router", "/bob/cart/1").text == "tenant bob at /cart/1 (call 1)"
    assert get(live, "router", "/alice/about").text == "tenant alice at /about (call 1)"
    # a user Worker's own assets answer first, as on the platform: alice's index.html
    assert get(live, "router", "/alice/").text == "<h1>alice</h1>"


def test_an_unknown_user_worker_throws_in_the_dispatch_worker(live: LiveEmulator, tmp_path: Path) -> None:
    deploy(
        live,
        tmp_path,
        "router",
        """
export default {
  async fetch(request, env) {
    try {
      await env.DISPATCHER.get("nobody").fetch(request);
      return new Response("reached nobody");
    } catch (e) {
      return new Response(`${e.name}: ${e.message}`);
    }
  }
};""",
        bindings=[DISPATCH_BINDING],
    )
    answer = get(live, "router", "/go")
    assert answer.text.startswith("Error: Worker not found"), answer.text


class Echo(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that answers with the Authorization header it was sent."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"echo auth={self.headers.get('authorization')}".encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


OUTBOUND = """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.hostname === "blocked.example") {
      return new Response("blocked by the outbound Worker", { status: 403 });
    }
    const out = new Request(request);
    out.headers.set("authorization", `Bearer ${env.token}`);
    return fetch(out);
  }
};"""


def test_an_outbound_worker_blocks_a_domain_and_injects_authorization(
    live: LiveEmulator, tmp_path: Path
) -> None:
    echo = Echo()
    try:
        deploy(live, tmp_path, "egress", OUTBOUND)
        deploy(
            live,
            tmp_path,
            "shop",
            f"""
export default {{
  async fetch(request, env) {{
    const blocked = await fetch("http://blocked.example/api");
    const allowed = await fetch({json.dumps(echo.url)});
    return new Response(`${{blocked.status}} ${{await blocked.text()}} | ${{await allowed.text()}}`);
  }}
}};""",
            namespace=NS,
        )
        binding = {
            **DISPATCH_BINDING,
            "outbound": {"worker": {"service": "egress"}, "params": [{"name": "token"}]},
        }
        deploy(
            live,
            tmp_path,
            "dispatcher",
            """
export default {
  async fetch(request, env) {
    const token = new URL(request.url).searchParams.get("token");
    return env.DISPATCHER.get("shop", {}, { outbound: { token } }).fetch(request);
  }
};""",
            bindings=[binding],
        )
        answer = get(live, "dispatcher", "/go?token=t-123")
        assert answer.text == "403 blocked by the outbound Worker | echo auth=Bearer t-123"
        # other parameters make another instance: the outbound Worker sees the new value
        assert get(live, "dispatcher", "/go?token=t-456").text.endswith("echo auth=Bearer t-456")
    finally:
        echo.shutdown()


def test_a_subrequest_limit_stops_the_user_worker(live: LiveEmulator, tmp_path: Path) -> None:
    echo = Echo()
    try:
        deploy(
            live,
            tmp_path,
            "chatty",
            f"""
export default {{
  async fetch(request, env) {{
    let done = 0;
    try {{
      for (let i = 0; i < 5; i++) {{ await fetch({json.dumps(echo.url)}); done++; }}
    }} catch (e) {{
      return new Response(`stopped after ${{done}}: ${{e.message}}`);
    }}
    return new Response(`all ${{done}} made`);
  }}
}};""",
            namespace=NS,
        )
        deploy(
            live,
            tmp_path,
            "dispatcher",
            """
export default {
  async fetch(request, env) {
    const limit = Number(new URL(request.url).searchParams.get("limit"));
    const options = limit ? { limits: { subRequests: limit, cpuMs: 50 } } : {};
    return env.DISPATCHER.get("chatty", {}, options).fetch(request);
  }
};""",
            bindings=[DISPATCH_BINDING],
        )
        assert get(live, "dispatcher", "/go?limit=2").text.startswith("stopped after 2: Too many subrequests")
        assert get(live, "dispatcher", "/go").text == "all 5 made"
    finally:
        echo.shutdown()


def test_bindings_reach_the_worker(live: LiveEmulator, tmp_path: Path) -> None:
    deploy(
        live,
        tmp_path,
        "helper",
        """
export default {
  async fetch(request) { return new Response(`helper saw ${new URL(request.url).pathname}`); }
};""",
    )
    bindings: list[dict[str, Any]] = [
        {"type": "plain_text", "name": "GREETING", "text": "hello"},
        {"type": "json", "name": "SETTINGS", "json": {"plan": "pro", "seats": 3}},
        {"type": "secret_text", "name": "API_KEY", "text": "s3cret"},
        {"type": "service", "name": "HELPER", "service": "helper"},
        {"type": "version_metadata", "name": "VERSION"},
    ]
    report = deploy(
        live,
        tmp_path,
        "main",
        """
export default {
  async fetch(request, env) {
    const helper = await (await env.HELPER.fetch("https://helper.internal/ping")).text();
    const asset = await (await env.ASSETS.fetch(new URL("/data.txt", request.url))).text();
    return Response.json({ greeting: env.GREETING, settings: env.SETTINGS, key: env.API_KEY, helper, asset,
                           version: env.VERSION.id });
  }
};""",
        bindings=bindings,
        files={"data.txt": "from the assets"},
        assets=AssetsConfig(run_worker_first=True),
    )
    got = get(live, "main", "/").json()
    assert got == {
        "greeting": "hello",
        "settings": {"plan": "pro", "seats": 3},
        "key": "s3cret",
        "helper": "helper saw /ping",
        "asset": "from the assets",
        "version": report.version_id,
    }


def test_assets_answer_first_and_the_worker_takes_the_rest(live: LiveEmulator, tmp_path: Path) -> None:
    deploy(
        live,
        tmp_path,
        "site",
        """
export default {
  async fetch(request) { return new Response(`worker: ${request.method} ${new URL(request.url).pathname}`); }
};""",
        files={"index.html": "<h1>home</h1>", "about.html": "<h1>about</h1>"},
    )
    assert get(live, "site", "/").text == "<h1>home</h1>"
    assert get(live, "site", "/about").text == "<h1>about</h1>"
    assert get(live, "site", "/api/orders").text == "worker: GET /api/orders"
    posted = httpx.post(f"{live.origin}/__preview/site/api/orders", content=b"{}", timeout=30)
    assert posted.text == "worker: POST /api/orders"


def test_a_redeploy_is_live_at_once_and_other_workers_keep_running(
    live: LiveEmulator, tmp_path: Path
) -> None:
    tenants(live, tmp_path, "alice", "bob")
    deploy(
        live,
        tmp_path,
        "router",
        """
export default { async fetch(request, env) {
  const [, name] = new URL(request.url).pathname.split("/");
  return env.DISPATCHER.get(name).fetch(request);
} };""",
        bindings=[DISPATCH_BINDING],
    )
    assert get(live, "router", "/alice").text == "tenant alice at /alice (call 1)"
    assert get(live, "router", "/bob").text == "tenant bob at /bob (call 1)"
    deploy(live, tmp_path, "alice", TENANT.replace("tenant NAME", "alice v2"), namespace=NS)
    assert get(live, "router", "/alice").text == "alice v2 at /alice (call 1)"
    # bob was not redeployed: the same isolate answers, its module state intact
    assert get(live, "router", "/bob").text == "tenant bob at /bob (call 2)"


def test_a_worker_that_throws_shows_its_stack_in_the_output_and_a_500_page(
    live: LiveEmulator, tmp_path: Path
) -> None:
    lines: queue.Queue[str] = queue.Queue()
    assert live.emulator.runtime is not None
    live.emulator.runtime.worker_output = lines.put
    deploy(
        live,
        tmp_path,
        "fragile",
        """
function parseOrder(text) { throw new TypeError(`bad order: ${text}`); }
export default { async fetch(request) { return parseOrder("x1"); } };""",
        files={"index.html": "home"},
    )
    page = get(live, "fragile", "/orders")
    assert page.status_code == 500
    assert "TypeError: bad order: x1" in page.text
    assert "at parseOrder (worker.js:" in page.text
    seen: list[str] = []
    while not any("at parseOrder (worker.js:" in line for line in seen):
        seen.append(lines.get(timeout=10))
    assert any("Uncaught TypeError: bad order: x1" in line for line in seen), seen


def test_a_worker_that_does_not_load_says_why(live: LiveEmulator, tmp_path: Path) -> None:
    deploy(live, tmp_path, "broken", "export default { fetch( }", files={"index.html": "home"})
    page = get(live, "broken", "/api")
    assert page.status_code == 500
    assert "could not be loaded" in page.text
    assert "SyntaxError" in page.text
    assert get(live, "broken", "/").text == "home"  # its assets still answer


def test_when_workerd_stops_it_is_said_once_and_assets_are_still_served(
    live: LiveEmulator, tmp_path: Path
) -> None:
    said: queue.Queue[str] = queue.Queue()
    runtime = live.emulator.runtime
    assert runtime is not None
    runtime.say = said.put
    deploy(
        live,
        tmp_path,
        "site",
        "export default { fetch() { return new Response('worker'); } };",
        files={"index.html": "home"},
    )
    assert get(live, "site", "/api").text == "worker"
    proc = runtime.workerd._proc
    assert proc is not None
    os.killpg(proc.pid, signal.SIGKILL)
    line = said.get(timeout=10)
    assert "workerd stopped" in line and "assets are still served" in line
    down = get(live, "site", "/api")
    assert down.status_code == 503 and "not running" in down.text
    assert get(live, "site", "/").text == "home"
    assert said.empty()


def test_auto_without_workerd_serves_assets_and_says_so_once(tmp_path: Path) -> None:
    from assetsync.emulator.runtime import make_runtime
    from assetsync.emulator.store import Store

    said: list[str] = []
    store = Store(str(tmp_path / "data"))

    async def no_assets(*args: object) -> Any:
        raise AssertionError("not called")

    try:
        missing = str(tmp_path / "no-workerd")
        assert make_runtime("auto", store, no_assets, no_assets, workerd=missing, say=said.append) is None
        assert len(said) == 1 and "serving assets only" in said[0] and missing in said[0]
        assert make_runtime("none", store, no_assets, no_assets, say=said.append) is None
        assert len(said) == 1
    finally:
        store.close()


@contextlib.contextmanager
def dev_of(config: Path, data: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """`assetsync dev --config CONFIG` on workerd from `.tools`, on a free port, with no cache."""
    from ..helpers import cli_running

    args = ["dev", "--config", str(config), "--port", "0", "--local-data", str(data), "--no-cache"]
    with cli_running(*args, "--runtime", "workerd", env={"ASSETSYNC_WORKERD": workerd_binary()}) as running:
        yield running


def test_dev_runs_the_worker_and_editing_main_redeploys_and_reloads_the_page(tmp_path: Path) -> None:
    """`dev` with a main module: its Worker answers, its HTML gets the reload script, and an edit
    of the main module deploys the new code and tells open pages to reload."""
    import urllib.parse

    site = make_tree(
        tmp_path / "project",
        {
            "public/index.html": "<h1>home</h1>",
            "src/worker.js": "export default { fetch() { return new Response('<p>v1</p>', "
            "{ headers: { 'content-type': 'text/html' } }); } };",
            "wrangler.json": json.dumps(
                {
                    "name": "app",
                    "main": "src/worker.js",
                    "compatibility_date": DATE,
                    "assets": {"directory": "public"},
                }
            ),
        },
    )
    with dev_of(site / "wrangler.json", tmp_path / "data") as (proc, lines):
        preview = lines.expect(lambda line: " Preview: " in line).split()[2]
        lines.expect(lambda line: " live: " in line)
        url = urllib.parse.urlsplit(preview)
        origin, host = f"http://127.0.0.1:{url.port}", {"Host": url.netloc}
        page = httpx.get(f"{origin}/page", headers=host, timeout=30)
        assert page.text.startswith("<p>v1</p>") and "__assetsync/livereload" in page.text
        with httpx.stream("GET", f"{origin}/__assetsync/livereload", timeout=30) as events:
            (site / "src" / "worker.js").write_text(
                "export default { fetch() { return new Response('<p>v2</p>', "
                "{ headers: { 'content-type': 'text/html' } }); } };"
            )
            reload = next(line for line in events.iter_lines() if line.startswith("data:"))
        assert "app" in reload
        assert httpx.get(f"{origin}/page", headers=host, timeout=30).text.startswith("<p>v2</p>")
        assert stop_child(proc, lines, wait=30) == 0


def test_a_deleted_user_worker_is_not_found_at_once(live: LiveEmulator, tmp_path: Path) -> None:
    tenants(live, tmp_path, "alice")
    deploy(
        live,
        tmp_path,
        "router",
        """
export default { async fetch(request, env) {
  try { return await env.DISPATCHER.get("alice").fetch(request); }
  catch (e) { return new Response(e.message, { status: 404 }); }
} };""",
        bindings=[DISPATCH_BINDING],
    )
    assert get(live, "router", "/go").text == "tenant alice at /go (call 1)"
    gone = httpx.delete(
        f"{live.api}/accounts/{ACCOUNT}/workers/dispatch/namespaces/{NS}/scripts/alice",
        headers={"Authorization": f"Bearer {live.token}"},
    )
    assert gone.status_code == 200
    answer = get(live, "router", "/go")
    assert answer.status_code == 404 and answer.text.startswith("Worker not found")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_workerd_ends_with_the_serve_process_however_it_ends(tmp_path: Path, how: signal.Signals) -> None:
    """uvicorn re-raises SIGTERM after its shutdown and SIGKILL runs no code at all: either way
    the kernel ends workerd with its parent, so no orphan keeps its port and memory."""
    import select

    from ..helpers import cli_running

    args = ["serve", "--port", "0", "--data", str(tmp_path / "data"), "--runtime", "workerd"]
    with cli_running(*args, "--workerd", workerd_binary(), env={}) as (proc, lines):
        lines.expect(lambda line: "workers:  run on workerd" in line)
        children = [
            int(entry)
            for entry in os.listdir("/proc")
            if entry.isdigit() and _parent_of(int(entry)) == proc.pid and "workerd" in _command_of(int(entry))
        ]
        assert len(children) == 1, children
        watch = os.pidfd_open(children[0])
        try:
            proc.send_signal(how)
            proc.wait(30)
            ready, _, _ = select.select([watch], [], [], 30)  # readable once workerd has ended
            assert ready, "workerd outlived the serve process"
        finally:
            os.close(watch)


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _command_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def test_dev_of_an_assets_only_project_starts_no_workerd_and_says_nothing_of_it(tmp_path: Path) -> None:
    from ..helpers import cli_running

    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>"})
    args = ["dev", str(site), "--name", "site", "--port", "0", "--local-data", str(tmp_path / "data")]
    with cli_running(*args, "--no-cache", env={"ASSETSYNC_WORKERD": str(tmp_path / "no-workerd")}) as (
        proc,
        lines,
    ):
        lines.expect(lambda line: " live: " in line)
        assert not any("workerd" in line for line in lines.seen), lines.seen
        assert lines.seen[0][9:].startswith("Preview: http://site.localhost:")  # after HH:MM:SS
        assert stop_child(proc, lines, wait=30) == 0
