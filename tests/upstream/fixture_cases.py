"""Cloudflare's folder-based asset fixtures, as data: a site, the requests its tests make, the answers.

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a, each fixture's
``public/`` folder, ``wrangler.jsonc`` and test file (``tests/index.test.ts``, or ``test/`` for
static routing). The tests run ``wrangler dev`` and ``fetch``, which follows redirects: those cases
set ``follow`` and name the final path in ``location``. Each file's content here is its own path
(the upstream tests look for a marker in the content; here the path is the marker), except where a
case compares bytes with another file.

Only what the asset worker answers on its own can apply: every case that runs the fixture's user
Worker (a fallback, a binding, ``run_worker_first``, static routing, service bindings) is kept with
its reason, as are Pages and ``wrangler dev``'s own logging.
"""

from __future__ import annotations

from .asset_worker_cases import NEEDS_WORKER, Case

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
# fixtures/workers-with-assets/public: the assets the asset worker can answer from (.assetsignore
# keeps ignore-me.txt back; _worker.js, _headers and _redirects are not served).
WITH_SITE: dict[str, str | None] = dict.fromkeys(
    [
        "/.dot/index.html", "/.dotfile.html", "/README.md", "/about/%5Bboop%5D.html",
        "/about/%5Bwomp%5D.html", "/about/[boop].html", "/about/[fünky].txt", "/about/index.html",
        "/bar.html", "/binding.html",
        "/foo.html", "/index.html", "/lava-lamps.jpg", "/totallyinvalidextension.greg", "/yay.txt",
    ]
)  # fmt: skip
WITH_REDIRECTS = "/foo /bar\n/pic /lava-lamps.jpg 200\n"
WITH_HEADERS = "/\n\tX-Header: Custom-Value"
METHODS = ("POST", "PUT", "DELETE", "OPTIONS", "PATCH")


def _site(source: str, name: str, request: str, status: int = 200, **kw: object) -> Case:
    files = ONLY_SITE if source == ONLY else WITH_SITE
    if source == WITH:
        kw |= {"redirects": WITH_REDIRECTS, "headers_file": WITH_HEADERS}
    return Case(source, name, files, request, status, html_handling="auto-trailing-slash", **kw)  # type: ignore[arg-type]


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


_SERVICE_TESTS = (
    "should return Asset Worker response for routes that serve static content",
    "should return User Worker response for routes that don't serve static content",
    "should return User Worker response for named functions",
    "should return cron trigger responses",
    "should support promise pipelining",
    "should support property access",
)


def _not_applicable(source: str, reason: str, *names: str) -> tuple[Case, ...]:
    return tuple(Case(source, name, {}, "/", 200, not_applicable=reason) for name in names)


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
    *_common(WITH),
    _site(WITH, "should handle content types correctly (no type for an unknown extension)",
          "/totallyinvalidextension.greg", expect_headers={"content-type": None}),
    _site(WITH, "should apply custom redirects (/foo)", "/foo", 302, location="/bar", body=""),
    _site(WITH, "should apply custom redirects (/pic)", "/pic", body="/lava-lamps.jpg"),
    _site(WITH, "should apply custom headers", "/", expect_headers={"x-header": "Custom-Value"}),
    _site(WITH, "should work with files which start with . (/.dot)", "/.dot", follow=True, location="/.dot/",
          body="/.dot/index.html"),
    _site(WITH, "should work with files which start with . (/.dotfile.html)", "/.dotfile.html", follow=True,
          location="/.dotfile", body="/.dotfile.html"),
    *_not_applicable(
        WITH, f"{NEEDS_WORKER}: the answer comes from the fixture's Worker",
        "should fallback to the user Worker if there are no assets at a given path",
        "should forward all request types to the user Worker if there are *not* assets on that route",
        "should be able to use an ASSETS binding",
        "should be able to use a binding to a named entrypoint",
    ),
    *_not_applicable(
        WITH, "upload side: .assetsignore decides what is uploaded, which the client does before any "
        "preview (the site here already lacks the ignored files)", "should apply .assetsignore"),
    *_not_applicable(
        WITH, "wrangler dev's own console output", "should warn of _worker.js (todo upstream)",
        "should log _headers and _redirects parsing",
        "should not log _headers and _redirects parsing when log level set to none",
    ),
    *_not_applicable(
        "workers-with-assets-spa/tests/index.test.ts",
        f"{NEEDS_WORKER}: the fixture's Worker and Sec-Fetch-Mode navigation, checked in a browser",
        "renders the homepage in a browser correctly", "navigates soft page navigations correctly",
        "navigates hard navigations correctly", "direct fetches don't look like SPA requests",
    ),
    *_not_applicable(
        "workers-with-assets-static-routing/test/index.test.ts",
        f"{NEEDS_WORKER}: run_worker_first rules choose between the Worker and the assets",
        "should serve assets when they exist for a path", "should run the worker when no assets exist",
        "should run the worker when a positive run_worker_first rule matches",
        "should serve a 404 when a negative run_worker_first rule matches",
        "should serve an asset when both a positive and negative (asset) run_worker_first matches",
        "spa: renders the root with index.html", "spa: renders another path with index.html",
        "spa: renders an include path with the User worker", "spa: renders an exclude path with index.html",
        "spa (navigate): renders the root with index.html",
        "spa (navigate): renders another path with index.html",
        "spa (navigate): renders an include path with the User worker",
        "spa (navigate): renders an exclude path with index.html",
    ),
    *_not_applicable(
        "workers-with-assets-run-worker-first/tests/index.test.ts",
        f"{NEEDS_WORKER}: run_worker_first sends every request to the Worker",
        "should return a 403 without an Authorization header",
        "should return a 200 with an Authorization header",
    ),
    *_not_applicable(
        "workers-with-assets-and-service-bindings/tests/index.test.ts",
        f"{NEEDS_WORKER}: service bindings between Workers (fetch, RPC, cron, WebSockets)",
        *(
            f"{binding}: {test}"
            for binding, tests in (
                ("to default export", _SERVICE_TESTS),
                ("to default entrypoint", _SERVICE_TESTS),
                ("to named entrypoint", _SERVICE_TESTS[2:]),
            )
            for test in tests
        ),
        "to a Worker which handles WebSockets: should return Asset Worker response for routes that serve "
        "static content",
        "to a Worker which handles WebSockets: should return User Worker response for routes that do not "
        "serve static content",
        "to a Worker which handles WebSockets: should be able to communicate over WebSocket",
    ),
    *_not_applicable(
        "pages-simple-assets/tests/index.test.ts",
        "Pages (wrangler pages dev), not Workers static assets",
        "renders static pages", "doesn't escape out of the build output directory",
        "doesn't redirect to protocol-less URLs",
    ),
)  # fmt: skip
