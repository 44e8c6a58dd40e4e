"""The emulator's side of the runtime: what the host Worker in workerd asks of it.

Served on a loopback socket of its own (never the public port), under ``/__runtime/``:

- ``GET worker/<version>``: the version's code and bindings (:func:`.spec.worker_spec`);
- ``GET live?account=&namespace=&script=``: the script's live version id, or null;
- ``assets/<version>/<path>``: ``env.ASSETS.fetch()``, the preview's asset layer for that version;
- ``route/<version>/<path>``: a request reaching that version through a binding (a service
  binding's or dispatch namespace's ``fetch``), asked without its body: what the platform's router
  answers (the assets' answer, or its own 403), or an empty answer whose ``X-Assetsync-Route``
  hands it to the Worker (see :meth:`~assetsync.emulator.preview.app.Preview.front`);
- ``kv/<namespace id>/value?key=`` (GET, PUT, DELETE) and ``kv/<id>/keys``: a ``kv_namespace``
  binding, on the same store as the KV REST API. Metadata travels URI-encoded JSON in
  ``X-KV-Metadata``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..store import Store, Version
from .spec import NotRunnable, worker_spec

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

PREFIX = "/__runtime/"
AssetServer = Callable[[Request, Version, str], Awaitable[Response]]


class Bridge:
    """Answers the host Worker's requests from the store, the KV store and the preview."""

    def __init__(
        self,
        store: Store,
        assets: AssetServer,
        newest_date: str,
        kv: Any = None,
        say: Callable[[str], None] | None = None,
        front: AssetServer | None = None,
    ) -> None:
        self.store = store
        self.assets = assets
        self.front = front  # the router in front of a version's Worker and assets
        self.newest_date = newest_date
        self.kv = kv
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self._said: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0].decode("latin-1")
        path = raw[len(PREFIX) :] if raw.startswith(PREFIX) else ""
        kind, _, rest = path.partition("/")
        try:
            if kind == "worker":
                response = self._worker(unquote(rest))
            elif kind == "live":
                response = self._live(request)
            elif kind == "assets":
                vid, _, asset_path = rest.partition("/")
                response = await self._assets(request, unquote(vid), "/" + asset_path)
            elif kind == "route":
                vid, _, asset_path = rest.partition("/")
                response = await self._route(request, unquote(vid), "/" + asset_path)
            elif kind == "kv":
                ns_id, _, op = rest.partition("/")
                response = await self._kv(request, unquote(ns_id), op)
            else:
                response = PlainTextResponse(f"no runtime route {raw}", 404)
        except Exception as exc:  # the host shows this to the Worker as an exception
            response = PlainTextResponse(f"the emulator failed: {type(exc).__name__}: {exc}", 500)
        await response(scope, receive, send)

    def _worker(self, vid: str) -> Response:
        version = self.store.version(vid)
        if version is None:
            return PlainTextResponse(f"no version {vid}", 404)
        try:
            spec, left_out = worker_spec(version, self.store.modules(vid), self.newest_date)
        except NotRunnable as exc:
            return PlainTextResponse(f"Worker {version.script!r} cannot run locally: {exc}", 422)
        for item in left_out:
            self._once(
                f"{version.script}:{item}",
                f"assetsync: binding {item} of Worker {version.script!r} is not emulated locally; "
                "it is left out of env",
            )
        if spec["compatibilityDate"] != (
            version.metadata.get("compatibility_date") or spec["compatibilityDate"]
        ):
            self._once(
                f"date:{version.script}",
                f"assetsync: Worker {version.script!r} asks for compatibility date "
                f"{version.metadata.get('compatibility_date')}, newer than this workerd knows; "
                f"it runs with {spec['compatibilityDate']}",
            )
        return JSONResponse(spec)

    def _once(self, key: str, line: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self.say(line)

    def _live(self, request: Request) -> Response:
        q = request.query_params
        script = self.store.script(q.get("account", ""), q.get("namespace", ""), q.get("script", ""))
        return JSONResponse({"version": script.version if script else None})

    async def _assets(self, request: Request, vid: str, path: str) -> Response:
        version = self.store.version(vid)
        if version is None:
            return PlainTextResponse(f"no version {vid}", 404)
        return await self.assets(request, version, path)

    async def _route(self, request: Request, vid: str, path: str) -> Response:
        version = self.store.version(vid)
        if version is None:
            return PlainTextResponse(f"no version {vid}", 404)
        if self.front is None:  # no router: the Worker takes every request
            return Response(b"", 200, {"x-assetsync-route": "always"})
        return await self.front(request, version, path)

    async def _kv(self, request: Request, ns_id: str, op: str) -> Response:
        if self.kv is None or self.kv.namespace(ns_id) is None:
            return PlainTextResponse(f"KV namespace {ns_id!r} does not exist in this emulator", 404)
        q = request.query_params
        if op == "keys":
            limit = int(q.get("limit", "1000"))
            page = self.kv.list(
                ns_id, prefix=q.get("prefix", ""), limit=limit, cursor=q.get("cursor") or None
            )
            body: dict[str, Any] = {"keys": page.keys, "list_complete": page.list_complete}
            if page.cursor:
                body["cursor"] = page.cursor
            return JSONResponse(body)
        key = q.get("key", "")
        if request.method == "GET":
            got = self.kv.get(ns_id, key)
            if got is None:
                return Response(b"", 404)
            headers = {}
            if got.metadata is not None:
                headers["x-kv-metadata"] = _uri_json(got.metadata)
            return Response(got.value, 200, headers)
        if request.method == "PUT":
            raw_md = request.headers.get("x-kv-metadata")
            metadata = json.loads(unquote(raw_md)) if raw_md else None
            expiration = int(q["expiration"]) if "expiration" in q else None
            if "expiration_ttl" in q:
                expiration = (
                    int(self.kv.now()) + int(q["expiration_ttl"]) if hasattr(self.kv, "now") else None
                )
            try:
                self.kv.put(ns_id, key, await request.body(), metadata=metadata, expiration=expiration)
            except ValueError as exc:
                return PlainTextResponse(str(exc), 400)
            return Response(b"", 200)
        if request.method == "DELETE":
            self.kv.delete(ns_id, key)
            return Response(b"", 200)
        return PlainTextResponse("method not allowed", 405)


def _uri_json(value: Any) -> str:
    from urllib.parse import quote

    return quote(json.dumps(value), safe="")
