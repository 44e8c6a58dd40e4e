"""The emulator's side of the runtime: what the host Worker in workerd asks of it.

Served on a loopback socket of its own (never the public port), under ``/__runtime/``:

- ``GET worker/<version>``: the version's code and bindings (:func:`.spec.worker_spec`);
- ``GET live?account=&namespace=&script=``: the script's live version id, or null;
- ``assets/<version>/<path>``: ``env.ASSETS.fetch()``, the preview's asset layer for that version;
- ``front/<version>/<path>``: a dispatch or service binding's ``fetch()`` reaching a Worker with
  assets: the assets' (or the router's own) answer when they take the request, else an empty
  answer marked ``X-Assetsync-To-Worker`` (the request's body stays with the host, which runs the
  Worker): ``1``, or ``always`` and ``image`` as :meth:`~assetsync.emulator.preview.app.Preview.front` says;
- ``kv/<namespace id>/value?key=`` (GET, PUT, DELETE) and ``kv/<id>/keys``: a ``kv_namespace``
  binding, on the same store as the KV REST API. Metadata travels URI-encoded JSON in
  ``X-KV-Metadata``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ...protocol.kv import KvError
from ..kv import KvStore
from ..preview.compose import TO_WORKER  # the front's mark: the Worker, not the assets, answers
from ..store import Store, Version
from .spec import NotRunnable, worker_spec

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

PREFIX = "/__runtime/"
AssetServer = Callable[[Request, Version, str], Awaitable[Response]]
FrontDoor = Callable[[Request, Version, str], Awaitable[Response | None]]


class Bridge:
    """Answers the host Worker's requests from the store, the KV store and the preview."""

    def __init__(
        self,
        store: Store,
        assets: AssetServer,
        front: FrontDoor,
        newest_date: str,
        kv: KvStore | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.assets = assets
        self.front = front
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
            elif kind in ("assets", "front"):
                vid, _, asset_path = rest.partition("/")
                response = await self._assets(request, unquote(vid), "/" + asset_path, kind == "front")
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

    async def _assets(self, request: Request, vid: str, path: str, front: bool) -> Response:
        version = self.store.version(vid)
        if version is None:
            return PlainTextResponse(f"no version {vid}", 404)
        if front:  # a dispatch or service call: the assets first, as the platform's router decides
            answer = await self.front(request, version, path)
            return answer if answer is not None else Response(b"", 200, {TO_WORKER: "1"})
        return await self.assets(request, version, path)

    async def _kv(self, request: Request, ns_id: str, op: str) -> Response:
        if self.kv is None or self.kv.namespace(ns_id) is None:
            return PlainTextResponse(f"KV namespace {ns_id!r} does not exist in this emulator", 404)
        try:
            return await self._kv_op(request, ns_id, op)
        except KvError as exc:  # the binding throws this message, as the platform's would
            return PlainTextResponse(exc.message, exc.status)

    async def _kv_op(self, request: Request, ns_id: str, op: str) -> Response:
        assert self.kv is not None
        q = request.query_params
        if op == "keys":
            limit = _whole(q.get("limit", "1000"), "limit")
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
                headers["x-kv-metadata"] = quote(json.dumps(got.metadata), safe="")
            return Response(got.value, 200, headers)
        if request.method == "PUT":
            raw_md = request.headers.get("x-kv-metadata")
            self.kv.put(
                ns_id,
                key,
                await request.body(),
                metadata=json.loads(unquote(raw_md)) if raw_md else None,
                expiration=_whole(q["expiration"], "expiration") if "expiration" in q else None,
                expiration_ttl=_whole(q["expiration_ttl"], "expirationTtl")
                if "expiration_ttl" in q
                else None,
            )
            return Response(b"", 200)
        if request.method == "DELETE":
            self.kv.delete(ns_id, key)
            return Response(b"", 200)
        return PlainTextResponse("method not allowed", 405)


def _whole(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise KvError(400, f"{what} must be a whole number, not {text!r}") from None
