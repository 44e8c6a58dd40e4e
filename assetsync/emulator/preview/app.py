"""The preview server: deployed sites served as the platform would serve them.

A site is addressed by host, ``<script>[.<namespace>][.<account>].localhost``, or, for clients
that cannot resolve ``*.localhost``, by path, ``/__preview/<script>[.<namespace>][@<account>]/...``
(the grammar: :mod:`assetsync.protocol.previews`). An address without the account means the
default account's script, else the only one; when several accounts have it, the answer is a 300
listing each one's full address, so no account's script ever stands in for another's. The
request path is read as the platform's URL parser reads it
(:func:`~assetsync.protocol.assetrules.urls.request_pathname`) and looked up only in the deployed
manifest: no request path ever reaches the filesystem.

Cloudflare facts this relies on
-------------------------------
From workers-sdk ``packages/workers-shared`` (commit f8308360283f97d33e188aee2e19c1ef9c09524a):
``asset-worker/src/handler.ts`` decides the answer (see :mod:`.resolve`); ``utils/responses.ts``
gives 404 (no intent), 405, 500 and every redirect a null body, and 304 a null body with the
asset's headers; ``asset-worker/src/utils/headers.ts`` adds to an asset (200, a 404 page, 304):
``ETag`` (the quoted content hash), ``Content-Type`` when the asset has one, ``Cache-Control:
public, max-age=0, must-revalidate`` (``constants.ts``) only when the request has neither
``Authorization`` nor ``Range``, and ``CF-Cache-Status`` (see :data:`CACHE_STATUS`); then
``_headers`` rules apply to every response, redirects included. ``If-None-Match`` that is exactly
the asset's ETag (strong or ``W/``; a list or ``*`` is not) gets 304, for a 404 page too. A HEAD
is a GET without the body.
Byte ranges are answered as Cloudflare's cache answers them (:mod:`.ranges`); in dev mode an HTML
page with the live-reload script injected is always sent whole.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from ...protocol import HTML_HANDLING, NOT_FOUND_HANDLING
from ...protocol.assetrules.staticrouting import StaticRoutingError
from ...protocol.assetrules.urls import request_pathname
from ...protocol.contenttypes import UNKNOWN
from ...protocol.previews import PREVIEW_PREFIX as PREFIX, PreviewAddress, parse_host, parse_segment
from ..store import Script, Store, Version, scope_of
from .compose import TO_WORKER, Route, Router, image_allowed
from .livereload import site_key
from .pages import INDEX_PAGE, address_of, bad_page_key, choices_page, index_page, key_of, page_key
from .ranges import Unsatisfiable, byte_range
from .resolve import Resolution, Site, SiteConfig

if TYPE_CHECKING:
    from ..runtime import Runtime

CHUNK = 256 * 1024
# Where wrangler dev fires a Worker's Cron Trigger by hand (the second is its older name).
SCHEDULED_PATHS = frozenset({"/cdn-cgi/local/scheduled", "/cdn-cgi/handler/scheduled"})
CACHE_CONTROL = "public, max-age=0, must-revalidate"  # asset-worker/src/constants.ts
# The asset worker reports HIT when reading the asset took at most 100 ms, else MISS; the preview
# reads a local file, so it always says HIT (a fixed value keeps responses independent of timing).
CACHE_STATUS = "HIT"


async def _file_chunks(path: str, start: int, length: int) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0 and (chunk := f.read(min(CHUNK, length))):
            length -= len(chunk)
            yield chunk


class Preview:
    """Serves the live version of each deployed script."""

    def __init__(
        self,
        store: Store,
        on_html: Callable[[bytes, str], bytes] | None = None,
        default_account: str | None = None,
    ) -> None:
        self.store = store
        self.on_html = on_html  # dev mode injects its live-reload script here
        self.default_account = default_account  # what a short address means first
        self.runtime: Runtime | None = None  # runs a version's Worker code, when there is one
        self._sites: dict[str, Site] = {}
        self._routers: dict[str, Router | str] = {}  # a version's router, or why it has none

    def _site(self, version: Version) -> Site:
        site = self._sites.get(version.id)
        if site is None:
            assets = version.metadata.get("assets") or {}
            config = assets.get("config") or {}
            manifest = version.manifest or {}
            site = Site(
                manifest.keys(),
                SiteConfig(
                    html_handling=config.get("html_handling", HTML_HANDLING[0]),
                    not_found_handling=config.get("not_found_handling", NOT_FOUND_HANDLING[0]),
                    redirects=config.get("_redirects"),
                    headers=config.get("_headers"),
                ),
                etags={path: entry[0] for path, entry in manifest.items()},
            )
            if len(self._sites) > 256:
                self._sites.clear()
            self._sites[version.id] = site
        return site

    def _router(self, version: Version) -> Router | str:
        """How the platform's router fronts ``version``, or why this version cannot be routed."""
        router = self._routers.get(version.id)
        if router is None:
            try:
                router = Router.of(version.metadata)
            except StaticRoutingError as exc:
                router = f"its assets.config.run_worker_first is one the API refuses: {exc}"
            if len(self._routers) > 256:
                self._routers.clear()
            self._routers[version.id] = router
        return router

    def route(self, request: Request, version: Version, pathname: str) -> Route | str:
        """Who answers ``request`` (for ``pathname``, as the URL parser reads it) of ``version``:
        the assets unless its Worker runs here; a string says why it cannot be answered."""
        if self.runtime is None or not version.metadata.get("main_module"):
            return Route.ASSETS
        router = self._router(version)
        if isinstance(router, str):
            return router
        return router.route(
            self._site(version),
            request.method,
            pathname,
            request.url.query,
            request.headers,
            host=_host(request),
        )

    def candidates(self, address: PreviewAddress) -> list[Script]:
        """The live scripts ``address`` may mean: one, none, or (a short one) several accounts'."""
        live = self.store.live_for_preview(address.script, address.namespace)
        if address.account is not None:
            return [s for s in live if s.account == address.account]
        return [s for s in live if s.account == self.default_account] or live

    async def serve(self, request: Request, address: PreviewAddress, path: str, base: str = "") -> Response:
        """Answer ``path`` (as on the wire: percent-encoded or raw UTF-8) for the addressed script."""
        live = self.candidates(address)
        if len(live) > 1:
            return _choices(request, live, path, base)
        version = self.store.version(live[0].version) if live and live[0].version else None
        runs = version is not None and self.runtime is not None and bool(version.metadata.get("main_module"))
        if version is None or (version.manifest is None and not runs):
            return _not_found(address)
        if path in SCHEDULED_PATHS:
            return await self._scheduled(request, version, path)
        route = self._answer_or_route(request, version, path, base)
        if isinstance(route, Response):
            return route
        return await self._worker(request, version, path, route)

    def _answer_or_route(self, request: Request, version: Version, path: str, base: str) -> Response | Route:
        """The router's own answer (the assets', a 403, a 500 for what cannot be served), or the
        Worker route the request takes."""
        pathname = request_pathname((path or "/").encode("latin-1"))
        query = f"?{request.url.query}" if request.url.query else ""
        if pathname.startswith("/cdn-cgi/") and "/cdn-cgi\\" in path + query:
            # The router's guard: a /cdn-cgi\ path got past the edge's own /cdn-cgi/ handling;
            # it is sent to the URL as parsed, where that handling takes it.
            host = _host(request) or "localhost"
            return Response(b"", 307, {"location": f"{request.url.scheme}://{host}{base}{pathname}{query}"})
        route = self.route(request, version, pathname)
        if isinstance(route, str):
            return PlainTextResponse(f"Worker {version.script!r} cannot be served: {route}\n", 500)
        if route is Route.BLOCKED:
            return PlainTextResponse("Blocked", 403)
        if route is Route.ASSETS:
            return self._respond(request, version, self._resolve(request, version, pathname), base)
        return route

    async def _scheduled(self, request: Request, version: Version, path: str) -> Response:
        """Fire the Worker's scheduled() handler, as ``wrangler dev`` does at these paths."""
        if not version.metadata.get("main_module"):
            return PlainTextResponse(
                f"{version.script!r} has no Worker (assets only), so no scheduled() handler to run.\n", 404
            )
        if self.runtime is None:
            return PlainTextResponse(
                f"The Worker of {version.script!r} does not run here: serve or dev runs Workers on "
                "workerd (--runtime workerd, or auto with workerd installed).\n",
                503,
                headers={"x-assetsync-error": "runtime"},
            )
        return await self.runtime.forward(request, version, _worker_url(request, path), event="scheduled")

    async def _worker(self, request: Request, version: Version, path: str, route: Route) -> Response:
        """The version's Worker answers; for a remote ``/_next/image``, only with an image."""
        assert self.runtime is not None
        site_id = site_key(version.account, version.script, version.namespace)
        inject = (lambda page: self.on_html(page, site_id)) if self.on_html is not None else None  # type: ignore[misc]
        response = await self.runtime.forward(request, version, _worker_url(request, path), on_html=inject)
        blocked = route is Route.WORKER_IMAGE and response.status_code != 304
        if blocked and not image_allowed(response.headers.get("content-type")):
            if response.background is not None:
                await response.background()  # close the Worker's answer unread
            return PlainTextResponse("Blocked", 403)
        return response

    async def front(self, request: Request, version: Version, path: str, base: str = "") -> Response | None:
        """What the platform's router answers when ``version`` is reached through a binding (a
        service binding's or a dispatch namespace's ``fetch``): the assets' answer or the router's
        own 403, or None when the Worker takes the request; an empty answer marked
        ``X-Assetsync-To-Worker`` says how: ``always`` (every request of this version: the caller
        need not ask again) or ``image`` (only an image or plain text may come back). The request's
        ``Host`` is the one the Worker would see (the caller's ``X-Assetsync-Host``)."""
        route = self._answer_or_route(request, version, path, base)
        if isinstance(route, Response):
            return route
        router = self._router(version)
        if isinstance(router, Router) and router.always_worker(self._site(version)):
            return Response(b"", 200, {TO_WORKER: "always"})
        return Response(b"", 200, {TO_WORKER: "image"}) if route is Route.WORKER_IMAGE else None

    def _resolve(self, request: Request, version: Version, pathname: str) -> Resolution:
        host = _host(request)
        return self._site(version).resolve(request.method, pathname, query=request.url.query, host=host)

    async def assets_only(self, request: Request, version: Version, path: str) -> Response:
        """``env.ASSETS.fetch()``: what the asset layer alone answers for ``path`` of ``version``."""
        pathname = request_pathname((path or "/").encode("latin-1"))
        return self._respond(request, version, self._resolve(request, version, pathname), "")

    def _respond(self, request: Request, version: Version, res: Resolution, base: str) -> Response:
        headers: dict[str, str] = {}
        if res.location is not None:
            location = res.location  # already percent-encoded ASCII
            if base and location.startswith("/"):
                location = base + location
            headers["location"] = location
        # Redirects, 404 without a 404 page, 405: the platform sends no body and no asset headers.
        response = (
            Response(b"", res.status, headers) if res.asset is None else self._asset(request, version, res)
        )
        for name in res.remove:
            if name.lower() in response.headers:
                del response.headers[name.lower()]
        for name, value in res.headers:
            response.headers.append(name, value)
        return response

    def _asset(self, request: Request, version: Version, res: Resolution) -> Response:
        """The asset ``res`` names, with the headers the platform's asset worker and cache add."""
        digest, size, ctype = version.manifest[res.asset]  # type: ignore[index]
        etag = f'"{digest}"'
        headers = {"etag": etag}
        if ctype and ctype != UNKNOWN:  # the platform serves no Content-Type then
            headers["content-type"] = ctype
        if "authorization" not in request.headers and "range" not in request.headers:
            headers["cache-control"] = CACHE_CONTROL
        headers["cf-cache-status"] = CACHE_STATUS
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(b"", 304, headers)
        blob = self.store.blob_path(scope_of(version.account, version.namespace or None), digest)
        head = request.method.upper() == "HEAD"
        if not head and self.on_html is not None and ctype.startswith("text/html"):
            with open(blob, "rb") as f:
                site = site_key(version.account, version.script, version.namespace)
                return Response(self.on_html(f.read(), site), res.status, headers)
        status, start, length = res.status, 0, size
        wanted = (
            byte_range(
                request.headers.get("range"), size, etag=etag, if_range=request.headers.get("if-range")
            )
            if res.status == 200
            else None
        )
        if isinstance(wanted, Unsatisfiable):
            return Response(b"", 416, {"content-range": wanted.content_range})
        if wanted is not None:
            status, start, length = 206, wanted.start, wanted.length
            headers["content-range"] = wanted.content_range
        headers["content-length"] = str(length)
        if head:
            return Response(b"", status, headers)
        return StreamingResponse(_file_chunks(blob, start, length), status, headers)

    def index(self, request: Request) -> HTMLResponse:
        """A page of the deployed sites (account, namespace, script, and their addresses), by
        account, namespace and name: the first ones, or those just after (``?after=``) or just
        before (``?before=``) a site named ``account/namespace/script``. A platform's namespace
        holds 100,000 of them: each page is found by key and links to the pages beside it."""
        port = _port(request.headers.get("host", ""), None)
        try:
            key, before = page_key(request.query_params)
        except ValueError as exc:
            return bad_page_key(str(exc))
        live = self.store.live_beside(key, INDEX_PAGE, before)
        if before and len(live) < INDEX_PAGE:
            live = self.store.live_beside(None, INDEX_PAGE)  # reached the start: the first page
        elif key is not None and not live:
            live = self.store.live_beside(None, INDEX_PAGE, before=True)  # past the end: the last
        older = live and self.store.live_beside(key_of(live[0]), 1, before=True)
        newer = live and self.store.live_beside(key_of(live[-1]), 1)
        return index_page(
            live,
            [self._short_reaches(s) for s in live],
            port,
            key_of(live[0]) if older else None,
            key_of(live[-1]) if newer else None,
        )

    def _short_reaches(self, script: Script) -> bool:
        """Whether the script's short address means it (and no other account's)."""
        return self.candidates(address_of(script).short()) == [script]


def _host(request: Request) -> str | None:
    """The ``Host`` a request was sent to, as its Worker sees it (a binding's call says it in
    ``X-Assetsync-Host``: the bridge's own Host is the emulator's)."""
    return request.headers.get("x-assetsync-host") or request.headers.get("host")


def _worker_url(request: Request, path: str) -> str:
    """The URL a Worker sees for a preview request: its host, and the path without any
    ``/__preview/<site>`` prefix."""
    query = f"?{request.url.query}" if request.url.query else ""
    host = request.headers.get("host") or "localhost"
    return f"{request.url.scheme}://{host}{path or '/'}{query}"


def _etag_matches(header: str | None, etag: str) -> bool:
    """As the asset worker compares: the whole header against the strong or the weak ETag (a list
    or ``*`` gets the asset, not 304; a browser sends the one ETag it holds)."""
    return header in (etag, f"W/{etag}")


def _port(host: str, server: tuple[str, int] | None) -> str:
    """The port a request's ``Host`` header names, else the one it arrived on."""
    if ":" in host.rsplit("]", 1)[-1]:
        return host.rsplit(":", 1)[1]
    return str(server[1]) if server else "80"


def _not_found(address: PreviewAddress) -> HTMLResponse:
    where = f" in namespace {address.namespace!r}" if address.namespace else ""
    if address.account is not None:
        where += f" of account {address.account!r}"
    return HTMLResponse(
        f"<h1>404</h1><p>No Worker with assets called {html.escape(address.script)}{html.escape(where)} "
        "has been deployed to this emulator (a Worker without assets is reached only when its code "
        "runs: workerd, with --runtime). <a href='/'>Every deployed site</a>.</p>",
        404,
    )


def _choices(request: Request, live: list[Script], path: str, base: str) -> HTMLResponse:
    """300 Multiple Choices: the short address is several accounts' script; each full address."""
    server = request.scope.get("server")
    port = _port(request.headers.get("host", ""), server)
    if base:  # came by path: the same origin serves the full path-style addresses
        origin = ""
    else:  # came by host: the address the connection reached (a *.localhost host would mean a site)
        ip = server[0] if server else "127.0.0.1"
        origin = f"http://{f'[{ip}]' if ':' in ip else ip}:{port}"
    query = f"?{request.url.query}" if request.url.query else ""
    return choices_page(live, path + query, origin, port)


def preview_target(scope: MutableMapping[str, Any]) -> tuple[PreviewAddress, str, str] | None:
    """For an ASGI request scope: (address, path, base) if it is a preview request."""
    host = ""
    for key, value in scope.get("headers", []):
        if key == b"host":
            host = value.decode("latin-1")
            break
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.split(b"?", 1)[0].decode("latin-1")  # bytes kept 1:1; decoded as UTF-8 later
    address = parse_host(host)
    if address is not None:
        return address, path, ""
    if path.startswith(PREFIX) and path != PREFIX:  # "/__preview/" alone is the index
        segment, _, rest = path[len(PREFIX) :].partition("/")
        return parse_segment(segment), "/" + rest, PREFIX + segment
    return None
