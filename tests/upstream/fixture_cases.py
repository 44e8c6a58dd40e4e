"""Cloudflare's folder-based asset fixtures, as data: a site, the requests its tests make, the answers.

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a, each fixture's
``public/`` folder, ``wrangler.jsonc`` and test file (``tests/index.test.ts``, or ``test/`` for
static routing). The tests run ``wrangler dev`` and ``fetch``, which follows redirects: those cases
set ``follow`` and name the final path in ``location``. Each file's content here is its own path
(the upstream tests look for a marker in the content; here the path is the marker), except where a
case compares bytes with another file.

A fixture with a user Worker runs as the fixture does: its Worker (:mod:`.worker_apps`, written
anew), assets and settings deployed through assetsync's client, each request sent to it. A test
that makes several requests is one case per request (named after the request); a test run in a
browser is the requests the browser makes, with the headers it sends (``Sec-Fetch-Mode:
navigate`` for a page load, ``cors`` for the page's ``fetch()``), and what the page's own script
renders from the answer is not re-checked. Pages and ``wrangler dev``'s own logging do not apply.
"""

from __future__ import annotations

from typing import Any

from .asset_worker_cases import Case
from .worker_apps import (
    RUN_WORKER_FIRST,
    SERVICE_BINDINGS,
    SPA,
    STATIC_ROUTING,
    STATIC_ROUTING_SPA,
    WITH as WITH_APP,
    App,
)

ONLY = "workers-with-assets-only/tests/index.test.ts"
WITH = "workers-with-assets/tests/index.test.ts"

# fixtures/workers-with-assets-only/public (html_handling and not_found_handling left to defaults)
ONLY_SITE: dict[str, str | None] = dict.fromkeys(
    [
        "/404.html", "/README.md", "/about/%5Bboop%5D.html", "/about/404.html", "/about/[boop].html",
        "/about/[fünky].txt", "/about/index.html", "/bin", "/bin.html", "/both.html", "/both/index.html",
        "/file-bin", "/file-bin.html", "/file.html", "/folder-bin", "/folder/index.html", "/index-bin/index",
        "/index-bin/index.html", "/index.html", "/lava-lamps.jpg", "/yay.txt",
    ]
)  # fmt: skip
METHODS = ("POST", "PUT", "DELETE", "OPTIONS", "PATCH")


def _site(source: str, name: str, request: str, status: int = 200, **kw: object) -> Case:
    """A request to the assets-only fixture's site, or to the Worker-with-assets fixture's app."""
    if source == WITH:
        kw["app"] = WITH_APP
    files = ONLY_SITE if source == ONLY else {}
    return Case(source, name, files, request, status, html_handling="auto-trailing-slash", **kw)  # type: ignore[arg-type]


def _app(source: str, app: App, name: str, request: str, status: int = 200, **kw: Any) -> Case:
    return Case(source, name, {}, request, status, app=app, **kw)


def _common(source: str) -> tuple[Case, ...]:
    """The tests both fixtures share, word for word, on their own sites."""
    html = "text/html; charset=utf-8"
    return (
        _site(source, "should respond with static asset content (/index.html)", "/index.html",
              follow=True, location="/", body="/index.html"),
        _site(source, "should respond with static asset content (/about/index.html)", "/about/index.html",
              follow=True, location="/about/", body="/about/index.html"),
        _site(source, "should handle content types correctly (html)", "/index.html", follow=True,
              expect_headers={"content-type": html}),
        _site(source, "should handle content types correctly (md)", "/README.md",
              expect_headers={"content-type": "text/markdown; charset=utf-8"}, body="/README.md"),
        _site(source, "should handle content types correctly (txt)", "/yay.txt",
              expect_headers={"content-type": "text/plain; charset=utf-8"}, body="/yay.txt"),
        _site(source, "should handle content types correctly (jpg)", "/lava-lamps.jpg",
              expect_headers={"content-type": "image/jpeg"}),
        *(
            _site(source, f"should return 405 for non-GET or HEAD requests if an asset exists ({m})",
                  "/index.html", 405, method=m, body="")
            for m in METHODS
        ),
        _site(source, "should work with encoded path names ([fünky].txt)", "/about/[f%C3%BCnky].txt",
              follow=True, location="/about/%5Bf%C3%BCnky%5D.txt", body="/about/[fünky].txt"),
        _site(source, "should work with encoded path names ([boop])", "/about/[boop]",
              follow=True, location="/about/%5Bboop%5D", body="/about/[boop].html"),
        _site(source, "should work with encoded path names (%5Bboop%5D)", "/about/%5Bboop%5D",
              body="/about/[boop].html"),
        _site(source, "should work with encoded path names (%255Bboop%255D)", "/about/%255Bboop%255D",
              body="/about/%5Bboop%5D.html"),
    )  # fmt: skip


def _not_applicable(source: str, reason: str, *names: str) -> tuple[Case, ...]:
    return tuple(Case(source, name, {}, "/", 200, not_applicable=reason) for name in names)


NO_ASSETS_TEXT = "There were no assets at this route! Hello from the user Worker instead!"
SPA_TESTS = "workers-with-assets-spa/tests/index.test.ts"
ROUTING_TESTS = "workers-with-assets-static-routing/test/index.test.ts"
RWF_TESTS = "workers-with-assets-run-worker-first/tests/index.test.ts"
SERVICE_TESTS = "workers-with-assets-and-service-bindings/tests/index.test.ts"
# What a browser sends with a page load (Playwright's Chromium), and with the page's own fetch().
NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "none",
            "Sec-Fetch-User": "?1", "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # fmt: skip
PAGE_FETCH = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin"}
NODE_FETCH = {"Sec-Fetch-Mode": "cors"}  # what undici's fetch() sends in the upstream tests
SPA_PAGE = "<title>I'm a SPA</title>"
ROUTING_SPA_PAGE = "I'm an index.html for a SPA"


def _spa(name: str, request: str, status: int = 200, **kw: Any) -> Case:
    return _app(SPA_TESTS, SPA, name, request, status, **kw)


def _routing(name: str, request: str, status: int = 200, spa: bool = False, **kw: Any) -> Case:
    return _app(ROUTING_TESTS, STATIC_ROUTING_SPA if spa else STATIC_ROUTING, name, request, status, **kw)


def _service(name: str, request: str, *contains: str, **kw: Any) -> Case:
    return _app(SERVICE_TESTS, SERVICE_BINDINGS, name, request, contains=contains, **kw)


def _binding_cases(binding: str, worker: str, describe: str, assets_name: str) -> tuple[Case, ...]:
    """The tests of a service binding to a default export or a default entrypoint: its fetch()
    meets the target's router (assets first), its RPC methods and properties reach the Worker."""
    say = f"env.{binding}"
    emoji = {"DEFAULT_EXPORT": "✨", "DEFAULT_ENTRYPOINT": "🐜"}[binding]
    bee = (
        f"{say}.bee() response: Hello from {worker} bee()"
        if binding == "DEFAULT_ENTRYPOINT"
        else f"{say}.bee() response: Workers in non-class based syntax do not support RPC functions with "
        "zero or variable number of arguments. They only support RPC functions with strictly one argument."
    )
    pipelining = [f'{say}.foo("{emoji}").bar.buzz() response: You made it! {emoji}']
    if binding == "DEFAULT_ENTRYPOINT":
        pipelining.append(f"{say}.newBeeCounter().value response: 2")
    return (
        _service(f"{describe}: {assets_name} (/)", "/",
                 f'{say}.fetch() response: This is an asset of "{worker}"'),
        _service(f"{describe}: {assets_name} (/busy-bee)", "/busy-bee",
                 f'{say}.fetch() response: All "{worker}" 🐝🐝🐝 are 🐝sy. Please come back later'),
        _service(f"{describe}: should return User Worker response for routes that don't serve static content",
                 "/no-assets-at-this-path", f"{say}.fetch() response: Hello from {worker} fetch()"),
        _service(f"{describe}: should return User Worker response for named functions", "/", bee,
                 f'{say}.busyBee("🐝") response: Hello busy 🐝s from {worker} busyBee(bee)'),
        _service(f"{describe}: should return cron trigger responses", "/",
                 f"{say}.scheduled() response: undefined", output=(f"Hello from {worker} scheduled()",)),
        _service(f"{describe}: should support promise pipelining", "/", *pipelining),
        _service(f"{describe}: should support property access", "/",
                 f"{say}.honey response: Bees make honey in {worker}",
                 f"{say}.honeyBee response: I am {worker}'s honeyBee prop"),
    )  # fmt: skip


NAMED = "Service binding to named entrypoint"
WS = "Service binding to a Worker which handles WebSockets"

CASES: tuple[Case, ...] = (
    *_common(ONLY),
    _site(ONLY, "should resolve '/' to '/index.html'", "/", body="/index.html"),
    _site(ONLY, "should 404 if asset is not found (html)", "/hello.html", 404, body=""),
    _site(ONLY, "should 404 if asset is not found (txt)", "/hello.txt", 404, body=""),
    *(
        _site(ONLY, f"should return 404 for non-GET requests if no asset exists ({m})", "/nope.html", 404,
              method=m, body="")
        for m in ("HEAD", *METHODS)
    ),
    # ---------------------------------------------------------------------- workers-with-assets
    *_common(WITH),
    _site(WITH, "should fallback to the user Worker if there are no assets at a given path",
          "/no-assets-here", contains=(NO_ASSETS_TEXT,)),
    *(
        _site(WITH, f"should forward all request types to the user Worker if there are *not* assets on that "
              f"route ({m})", "/no-assets-here", method=m)
        for m in ("GET", "HEAD", *METHODS)
    ),
    _site(WITH, "should handle content types correctly (no type for an unknown extension)",
          "/totallyinvalidextension.greg", expect_headers={"content-type": None}),
    # the assets answer /binding.html with a 307 to /binding, which the Worker's fetch() follows
    _site(WITH, "should be able to use an ASSETS binding", "/assets-binding",
          expect_headers={"content-type": "text/html; charset=utf-8"},
          contains=("<h1>✨This is from a user Worker binding✨</h1>",)),
    _site(WITH, "should be able to use a binding to a named entrypoint", "/named-entrypoint",
          contains=("hello from a named entrypoint",)),
    _site(WITH, "should apply custom redirects (/foo)", "/foo", 302, location="/bar", body=""),
    _site(WITH, "should apply custom redirects (/pic)", "/pic", body="/lava-lamps.jpg"),
    _site(WITH, "should apply custom headers", "/", expect_headers={"x-header": "Custom-Value"}),
    # The folder holds .assetsignore, ignore-me.txt and the root rule files: the client keeps them
    # all out of the assets, so the Worker answers for each.
    *(
        _site(WITH, f"should apply .assetsignore ({path})", path, contains=(NO_ASSETS_TEXT,),
              absent=(unwanted,))
        for path, unwanted in (
            ("/.assetsignore", "ignore-me.txt"), ("/ignore-me.txt", "SECRET"), ("/_headers", "X-Header")
        )
    ),
    _site(WITH, "should work with files which start with . (/.dot)", "/.dot", follow=True, location="/.dot/",
          body="/.dot/index.html"),
    _site(WITH, "should work with files which start with . (/.dotfile.html)", "/.dotfile.html", follow=True,
          location="/.dotfile", body="/.dotfile.html"),
    *_not_applicable(
        WITH, "wrangler dev's own console output", "should warn of _worker.js (todo upstream)",
        "should log _headers and _redirects parsing",
        "should not log _headers and _redirects parsing when log level set to none",
    ),
    # ------------------------------------------------------------------ workers-with-assets-spa
    _spa("renders the homepage in a browser correctly (page load /)", "/", headers=NAVIGATE,
         contains=(SPA_PAGE,)),
    _spa("renders the homepage in a browser correctly (the page fetches /api/math)", "/api/math",
         headers=PAGE_FETCH, body="1 + 1 = 2"),
    _spa("renders the homepage in a browser correctly (the page fetches /api/json)", "/api/json",
         headers={**PAGE_FETCH, "Accept": "application/json"}, body='{"hello":"world"}'),
    _spa("renders the homepage in a browser correctly (the page fetches /api/html)", "/api/html",
         headers={**PAGE_FETCH, "Accept": "text/html"}, body="<h1>Hello, world!</h1>"),
    # every soft navigation is the page's own (history.pushState): the one request is the page load
    _spa("navigates soft page navigations correctly (page load /)", "/", headers=NAVIGATE,
         contains=(SPA_PAGE,)),
    *(
        _spa(f"navigates hard navigations correctly ({path})", path, headers=NAVIGATE, contains=(SPA_PAGE,))
        for path in ("/", "/blog", "/blog/some-slug-here", "/blog/random", "/shadowed-by-spa", "/api/math")
    ),
    _spa("navigates hard navigations correctly (/shadowed-by-asset.txt)", "/shadowed-by-asset.txt",
         headers=NAVIGATE, body="i'm some text!"),
    *_not_applicable(SPA_TESTS, "wrangler dev's own console output (its log line for a navigation request)",
                     "navigates hard navigations correctly (wrangler dev logs the Sec-Fetch-Mode decision)"),
    _spa("direct fetches don't look like SPA requests (/)", "/", headers=NODE_FETCH, contains=(SPA_PAGE,)),
    _spa("direct fetches don't look like SPA requests (/blog)", "/blog", 404, headers=NODE_FETCH,
         body="nope"),
    _spa("direct fetches don't look like SPA requests (/shadowed-by-asset.txt)", "/shadowed-by-asset.txt",
         headers=NODE_FETCH, body="i'm some text!"),
    _spa("direct fetches don't look like SPA requests (/api/math)", "/api/math", headers=NODE_FETCH,
         body="1 + 1 = 2"),
    # ------------------------------------------------------- workers-with-assets-static-routing
    _routing("should serve assets when they exist for a path", "/static/page",
             contains=("<h1>A normal asset</h1>",)),
    _routing("should run the worker when no assets exist for a path", "/", 404,
             contains=("404 from the User Worker",)),
    _routing("should run the worker when a positive run_worker_first rule matches", "/worker/worker-runs",
             contains=("<h1>Hello, I'm an asset (and was intercepted by the User Worker) at "
                       "/worker/worker-runs.html!</h1>",)),
    _routing("should serve a 404 when a negative run_worker_first rule matches", "/missing-asset", 404,
             body=""),
    _routing("should serve an asset when both a positive and negative (asset) run_worker_first matches",
             "/worker/asset", contains=("<h1>Hello, I'm an asset!</h1>",)),
    *(
        case
        for prefix, headers in (("spa", NAVIGATE), ("spa (non-browser)", NODE_FETCH))
        for case in (
            _routing(f"{prefix}: renders the root with index.html", "/", spa=True, headers=headers,
                     contains=(ROUTING_SPA_PAGE,)),
            _routing(f"{prefix}: renders another path with index.html", "/some/page", spa=True,
                     headers=headers, contains=(ROUTING_SPA_PAGE,)),
            _routing(f"{prefix}: renders an include path with the User worker", "/api/route", spa=True,
                     headers=headers, expect_headers={"content-type": "application/json"},
                     contains=('{"some":["json","response"]}',)),
            _routing(f"{prefix}: renders an exclude path with index.html", "/api/asset", spa=True,
                     headers=headers, contains=(ROUTING_SPA_PAGE,)),
        )
    ),
    # ------------------------------------------------------ workers-with-assets-run-worker-first
    _app(RWF_TESTS, RUN_WORKER_FIRST, "should return a 403 without an Authorization header", "/index.html",
         403),
    # the Worker hands the request to env.ASSETS: /index.html answers 307 to /, which fetch() follows
    _app(RWF_TESTS, RUN_WORKER_FIRST, "should return a 200 with an Authorization header", "/index.html",
         headers={"Authorization": "some auth header"}, follow=True, location="/",
         contains=("<h1>Hello Workers + Assets World 🚀!</h1>",)),
    # ------------------------------------------------ workers-with-assets-and-service-bindings
    *_binding_cases("DEFAULT_EXPORT", "worker-b", "Service binding to default export",
                    "should return Asset Worker response for routes that serve static content"),
    *_binding_cases("DEFAULT_ENTRYPOINT", "worker-c", "Service binding to default entrypoint",
                    "should return Asset Worker response for fetch requests for routes that serve static "
                    "content"),
    # a named entrypoint is the Worker's own: no router, so its fetch() answers on asset routes too
    *(
        _service(f"{NAMED}: should return User Worker response for fetch requests ({path})", path,
                 "env.NAMED_ENTRYPOINT.fetch() response: Hello from worker-d fetch()")
        for path in ("/", "/busy-bee", "/no-assets-at-this-path")
    ),
    _service(f"{NAMED}: should return User Worker response for named functions", "/",
             "env.NAMED_ENTRYPOINT.bee() response: Hello from worker-d bee()",
             'env.NAMED_ENTRYPOINT.busyBee("🐝") response: Hello busy 🐝s from worker-d busyBee(bee)'),
    _service(f"{NAMED}: should support promise pipelining", "/",
             'env.NAMED_ENTRYPOINT.foo("🐙").bar.buzz() response: You made it! 🐙',
             "env.NAMED_ENTRYPOINT.newBeeCounter().value response: 2"),
    _service(f"{NAMED}: should support property access", "/",
             "env.NAMED_ENTRYPOINT.honey response: Bees make honey in worker-d",
             "env.NAMED_ENTRYPOINT.honeyBee response: I am worker-d's honeyBee prop"),
    _service(f"{WS}: should return Asset Worker response for fetch requests for routes that serve static "
             "content (/)", "/", 'env.WS.fetch() response: This is an asset of "worker-ws"'),
    _service(f"{WS}: should return Asset Worker response for fetch requests for routes that serve static "
             "content (/busy-bee)", "/busy-bee",
             'env.WS.fetch() response: All "worker-ws" 🐝🐝🐝 are 🐝sy. Please come back later'),
    _service(f"{WS}: should return User Worker response for fetch requests for routes that do not serve "
             "static content", "/no-assets-at-this-path",
             "env.WS.fetch() response: Hello from worker-ws fetch()"),
    _service(f"{WS}: should be able to communicate over WebSocket", "/no-assets-at-this-path",
             "env.WS.fetch() response: Hello from worker-ws fetch()", output=("pong: hello from client",)),
    *_not_applicable(
        "pages-simple-assets/tests/index.test.ts",
        "Pages (wrangler pages dev), not Workers static assets",
        "renders static pages", "doesn't escape out of the build output directory",
        "doesn't redirect to protocol-less URLs",
    ),
)  # fmt: skip
