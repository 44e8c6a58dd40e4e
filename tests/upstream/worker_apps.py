"""The Workers of Cloudflare's fixtures, as deployable data: scripts with a main module, assets,
settings and bindings, written anew in small JavaScript that answers as each fixture's Worker does.

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a, ``fixtures/<name>/src``,
``wrangler.jsonc`` and ``public/`` (facts only: the strings the tests look for, the routes, the
settings). An :class:`App` is deployed once, script by script in order, through assetsync's own
client (``assetsync.sync``) into an emulator that runs Worker code on workerd; requests go to its
last script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assetsync.protocol import AssetsConfig


@dataclass(frozen=True)
class Script:
    """One Worker: ``files`` (asset path -> content, ``None``: the path itself) is the folder the
    client publishes, root ``_headers``/``_redirects``/``.assetsignore`` included; ``code`` the main
    module (``None``: assets only)."""

    name: str
    code: str | None
    files: Mapping[str, str | None]
    date: str
    flags: tuple[str, ...] = ()
    assets: AssetsConfig = field(default_factory=AssetsConfig)
    bindings: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class App:
    """Scripts deployed together (a service binding's target before its caller); requests go to
    the last one."""

    name: str
    scripts: tuple[Script, ...]

    @property
    def entry(self) -> str:
        return self.scripts[-1].name


# ------------------------------------------------------------------------- workers-with-assets

WITH_CODE = """
import { WorkerEntrypoint } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/assets-binding") return env.ASSETS.fetch(new URL("binding.html", request.url));
    if (pathname === "/named-entrypoint") return new Response(await env.NAMED.sayHello());
    const text = "There were no assets at this route! Hello from the user Worker instead!";
    return new Response(`${text}\\n${new Date()}`);
  },
};

export class NamedEntrypoint extends WorkerEntrypoint {
  async sayHello() {
    return "hello from a named entrypoint";
  }
}
"""

# fixtures/workers-with-assets/public, content = path except where a test reads the content
WITH_FILES: dict[str, str | None] = {
    **dict.fromkeys(
        [
            "/.dot/index.html", "/.dotfile.html", "/README.md", "/about/%5Bboop%5D.html",
            "/about/%5Bwomp%5D.html", "/about/[boop].html", "/about/[fünky].txt", "/about/index.html",
            "/bar.html", "/foo.html", "/index.html", "/lava-lamps.jpg", "/totallyinvalidextension.greg",
            "/yay.txt",
        ]
    ),
    "/binding.html": "<h1>✨This is from a user Worker binding✨</h1>",
    "/ignore-me.txt": "THIS IS A SECRET",
    "/.assetsignore": "ignore-me.txt\n",
    "/_headers": "/\n\tX-Header: Custom-Value",
    "/_redirects": "/foo /bar\n/pic /lava-lamps.jpg 200\n",
}  # fmt: skip

WITH = App(
    "workers-with-assets",
    (
        Script(
            "worker-with-assets",
            WITH_CODE,
            WITH_FILES,
            "2024-12-12",
            assets=AssetsConfig(run_worker_first=False),
            bindings=(
                {
                    "type": "service",
                    "name": "NAMED",
                    "service": "worker-with-assets",
                    "entrypoint": "NamedEntrypoint",
                },
            ),
        ),
    ),
)

# --------------------------------------------------------------------- workers-with-assets-spa

SPA_CODE = """
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === "/api/math") return new Response(`1 + 1 = ${1 + 1}`);
    if (pathname === "/api/json") return Response.json({ hello: "world" });
    if (pathname === "/api/html") {
      return new Response("<h1>Hello, world!</h1>", { headers: { "Content-Type": "text/html" } });
    }
    if (pathname === "/shadowed-by-spa" || pathname === "/shadowed-by-asset.txt") return new Response("nope");
    return new Response("nope", { status: 404 });
  },
};
"""
# The fixture's index.html is a client-routed React app; this one carries the words its tests read
# (the page title, the routes it renders) without the scripts it loads from a CDN.
SPA_INDEX = """<!doctype html>
<html>
  <head><title>I'm a SPA</title></head>
  <body>
    <div id="root"></div>
    <script>
      // Client routes: / (Homepage), /blog (Blog), /blog/* (Blog | slug),
      // /shadowed-by-spa (Shadowed by SPA!), anything else (404 page!).
      // Home fetches /api/math, /api/json and /api/html.
    </script>
  </body>
</html>
"""
SPA = App(
    "workers-with-assets-spa",
    (
        Script(
            "worker-with-assets-spa",
            SPA_CODE,
            {"/index.html": SPA_INDEX, "/shadowed-by-asset.txt": "i'm some text!"},
            "2025-03-11",
            ("assets_navigation_prefers_asset_serving",),
            AssetsConfig(not_found_handling="single-page-application", run_worker_first=False),
        ),
    ),
)

# ------------------------------------------------------------ workers-with-assets-static-routing

STATIC_ROUTING_CODE = """
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith("/api/")) return Response.json({ some: ["json", "response"] });
    const asset = await env.ASSETS.fetch(request);
    if (asset.ok) {
      const text = (await asset.text()).replace(
        "I'm an asset", "I'm an asset (and was intercepted by the User Worker)");
      return new Response(text, { headers: asset.headers, status: asset.status });
    }
    return new Response("404 from the User Worker", { status: 404 });
  },
};
"""
STATIC_ROUTING = App(
    "workers-with-assets-static-routing",
    (
        Script(
            "workers-with-assets-static-routing",
            STATIC_ROUTING_CODE,
            {
                "/static/page.html": "<h1>A normal asset</h1>",
                "/worker/asset.html": "<h1>Hello, I'm an asset!</h1>",
                "/worker/worker-runs.html": "<h1>Hello, I'm an asset at /worker/worker-runs.html!</h1>",
            },
            "2025-05-20",
            assets=AssetsConfig(
                run_worker_first=("/worker/*", "/oauth/callback", "!/missing-asset", "!/worker/asset")
            ),
        ),
    ),
)
SPA_ASSETS_INDEX = """<!doctype html>
<html>
  <head><title>I'm an index.html for a SPA</title></head>
  <body>
    <h1>Here I am, at <span id="client-rendered">/</span>!</h1>
  </body>
  <script>document.getElementById("client-rendered").innerText = window.location.pathname;</script>
</html>
"""
STATIC_ROUTING_SPA = App(
    "workers-with-assets-static-routing (spa.wrangler.jsonc)",
    (
        Script(
            "workers-with-assets-static-routing-spa",
            STATIC_ROUTING_CODE,
            {"/index.html": SPA_ASSETS_INDEX},
            "2025-05-20",
            assets=AssetsConfig(
                not_found_handling="single-page-application", run_worker_first=("/api/*", "!/api/asset")
            ),
        ),
    ),
)

# ------------------------------------------------------------ workers-with-assets-run-worker-first

RUN_WORKER_FIRST = App(
    "workers-with-assets-run-worker-first",
    (
        Script(
            "worker-with-assets-run-worker-first",
            """
export default {
  async fetch(request, env) {
    if (!request.headers.get("Authorization")) {
      const headers = { "Content-Type": "text/plain" };
      return new Response("Forbidden", { status: 403, statusText: "Forbidden", headers });
    }
    return env.ASSETS.fetch(request);
  },
};
""",
            {"/index.html": "<h1>Hello Workers + Assets World 🚀!</h1>"},
            "2024-01-01",
            assets=AssetsConfig(run_worker_first=True),
        ),
    ),
)

# ------------------------------------------------------ workers-with-assets-and-service-bindings


def _bee_site(worker: str) -> dict[str, str | None]:
    return {
        "/index.html": f'This is an asset of "{worker}"',
        "/busy-bee.html": f'All "{worker}" 🐝🐝🐝 are 🐝sy. Please come back later',
    }


# worker-b: a default export object (RPC methods take exactly one argument there)
WORKER_B = """
export default {
  honeyBee: "I am worker-b's honeyBee prop",
  get honey() { return "Bees make honey in worker-b"; },
  async fetch() { return new Response("Hello from worker-b fetch()"); },
  busyBee(bee) { return `Hello busy ${bee}s from worker-b busyBee(bee)`; },
  async foo(emoji) { return { bar: { buzz: () => `You made it! ${emoji}` } }; },
  async scheduled() { console.log("Hello from worker-b scheduled()"); },
};
"""


def _entrypoint_class(worker: str, head: str) -> str:
    """worker-c's default and worker-d's named entrypoint: the same class, each with its name."""
    return f"""
class BeeCounter extends RpcTarget {{
  #value = 0;
  increment(amount) {{ this.#value += amount; return this.#value; }}
  get value() {{ return this.#value; }}
}}

{head} extends WorkerEntrypoint {{
  #honey = "Bees make honey in {worker}";
  #honeyBee = "I am {worker}'s honeyBee prop";
  get honey() {{ return this.#honey; }}
  get honeyBee() {{ return this.#honeyBee; }}
  async fetch() {{ return new Response("Hello from {worker} fetch()"); }}
  bee() {{ return "Hello from {worker} bee()"; }}
  busyBee(bee) {{ return `Hello busy ${{bee}}s from {worker} busyBee(bee)`; }}
  async foo(emoji) {{ return {{ bar: {{ buzz: () => `You made it! ${{emoji}}` }} }}; }}
  async newBeeCounter() {{ return new BeeCounter(); }}
"""


IMPORTS = 'import { RpcTarget, WorkerEntrypoint } from "cloudflare:workers";\n'
WORKER_C = (
    IMPORTS
    + _entrypoint_class("worker-c", "export default class")
    + '  async scheduled() { console.log("Hello from worker-c scheduled()"); }\n}\n'
)
WORKER_D = (
    IMPORTS
    + _entrypoint_class("worker-d", "export class EntrypointD")
    + """}

export default class extends WorkerEntrypoint {
  async fetch() { return new Response("Hello from worker-d default entrypoint fetch()"); }
}
"""
)
WORKER_WS = """
import { WorkerEntrypoint } from "cloudflare:workers";

export default class extends WorkerEntrypoint {
  fetch(request) {
    if (!request.headers.get("Upgrade")?.includes("websocket")) {
      return new Response("Hello from worker-ws fetch()");
    }
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener("message", (event) => {
      server.send(new TextEncoder().encode(`pong: ${event.data}`));
      server.close();
    });
    return new Response(null, { status: 101, webSocket: client });
  }
}
"""
# worker-a: calls each binding every way the tests ask about, and answers with every result
WORKER_A = """
const NO_BEE = "Workers in non-class based syntax do not support RPC functions with zero or variable " +
  "number of arguments. They only support RPC functions with strictly one argument.";

async function calls(request, s, label, { classBased, counter }) {
  const lines = [];
  const add = (what, value) => lines.push(`env.${label}.${what} response: ${value}`);
  add("fetch()", await (await s.fetch(request)).text());
  add("bee()", classBased ? await s.bee() : NO_BEE);
  add('busyBee("🐝")', await s.busyBee("🐝"));
  add("honey", await s.honey);
  add("honeyBee", await s.honeyBee);
  const emoji = { DEFAULT_EXPORT: "✨", DEFAULT_ENTRYPOINT: "🐜", NAMED_ENTRYPOINT: "🐙" }[label];
  add(`foo("${emoji}").bar.buzz()`, await s.foo(emoji).bar.buzz());
  if (counter) {
    const c = s.newBeeCounter();
    c.increment(1); c.increment(2); c.increment(-1);
    add("newBeeCounter().value", await c.value);
  } else {
    add("newBeeCounter().value", "RpcTarget is not supported in non-class based syntax Workers.");
  }
  add("scheduled()", label === "NAMED_ENTRYPOINT"
    ? "Not supported. Cron Triggers can only be defined on default exports."
    : await s.scheduled({ cron: "* * * * *" }));
  return lines.join("\\n");
}
async function webSocket(request, env) {
  const plain = await (await env.WS.fetch(request)).text();
  const upgraded = await env.WS.fetch(new Request(request.url, { headers: { Upgrade: "websocket" } }));
  const ws = upgraded.webSocket;
  if (ws) {  // the fixture's client side; waiting for the pong makes its log line come before the answer
    ws.accept();
    const pong = new Promise((resolve) => ws.addEventListener("message", (event) => {
      console.log(new TextDecoder().decode(event.data));
      ws.close();
      resolve();
    }));
    ws.send("hello from client");
    await pong;
  }
  return `env.WS.fetch() response: ${plain}`;
}

const PLAIN = { classBased: false, counter: false };
const CLASS = { classBased: true, counter: true };

export default {
  async fetch(request, env) {
    const parts = [
      `"worker-b" Responses\\n` + await calls(request, env.DEFAULT_EXPORT, "DEFAULT_EXPORT", PLAIN),
      `"worker-c" Responses\\n` + await calls(request, env.DEFAULT_ENTRYPOINT, "DEFAULT_ENTRYPOINT", CLASS),
      `"worker-d" Responses\\n` + await calls(request, env.NAMED_ENTRYPOINT, "NAMED_ENTRYPOINT", CLASS),
      `"worker-ws" Responses\\n` + await webSocket(request, env),
    ];
    return new Response(parts.join("\\n\\n"));
  },
};
"""

SERVICE_BINDINGS = App(
    "workers-with-assets-and-service-bindings",
    (
        Script("worker-b", WORKER_B, _bee_site("worker-b"), "2025-01-01"),
        Script("worker-c", WORKER_C, _bee_site("worker-c"), "2025-01-01"),
        Script("worker-d", WORKER_D, _bee_site("worker-d"), "2025-01-01"),
        Script("worker-ws", WORKER_WS, _bee_site("worker-ws"), "2025-03-20"),
        Script(
            "worker-a",
            WORKER_A,
            {},  # worker-a has no assets
            "2025-01-01",
            bindings=(
                {"type": "service", "name": "DEFAULT_EXPORT", "service": "worker-b"},
                {"type": "service", "name": "DEFAULT_ENTRYPOINT", "service": "worker-c"},
                {
                    "type": "service",
                    "name": "NAMED_ENTRYPOINT",
                    "service": "worker-d",
                    "entrypoint": "EntrypointD",
                },
                {"type": "service", "name": "WS", "service": "worker-ws"},
            ),
        ),
    ),
)
