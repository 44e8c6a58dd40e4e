"""The Workers KV REST API (PROTOCOL.md 7), over the emulator's :class:`~assetsync.emulator.kv.KvStore`.

Under ``/accounts/{account}/storage/kv/namespaces``: the account's namespaces (list with
``page``/``per_page``/``order``/``direction``, create, get, rename, delete) and, in each, values
(``GET`` answers the raw bytes, not an envelope; ``PUT`` takes a raw body or a multipart body of a
``value`` and a ``metadata`` part, with ``expiration`` or ``expiration_ttl`` in the query),
metadata, key listings (``prefix``, ``limit``, ``cursor``; ``result_info: {count, cursor}``, the
cursor empty on the last page) and the bulk forms: write, delete (``POST .../bulk/delete`` and
the older ``DELETE .../bulk``) and get.

A key in a URL is percent-encoded and may hold ``/``: it is read from the raw path, so
``a%2Fb`` is the key ``a/b`` and ``a%252F`` the key ``a%2F``. A namespace of another account is
"not found", as if it did not exist. Refusals keep the platform's status, code and wording
(:mod:`assetsync.protocol.kv`).
"""

from __future__ import annotations

import binascii
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

import pybase64
from starlette.requests import Request
from starlette.responses import Response

from ...protocol.kv import (
    KEY_NOT_FOUND,
    MAX_BULK_BODY,
    MAX_BULK_GET_KEYS,
    MAX_BULK_PAIRS,
    MAX_VALUE_BYTES,
    MIN_REST_LIST_KEYS,
    NAMESPACE_NOT_FOUND,
    KvError,
    check_title,
    check_value_size,
    list_limit,
)
from ..envelope import BAD_REQUEST, ApiError, envelope
from ..formdata import read_form
from ..kv import KvNamespace, KvStore, KvWrite
from .base import RouteGroup, parse_json

Handler = Callable[["Kv", Request], Awaitable[Response]]
_MARKER = b"/storage/kv/namespaces/"
_FORM_SLACK = 64 * 1024  # a multipart body's boundaries, headers and metadata part, beyond the value


def answers_kv_errors(handler: Handler) -> Handler:
    """The store's refusals (:class:`KvError`) as API errors in the envelope."""

    @functools.wraps(handler)
    async def run(self: Kv, request: Request) -> Response:
        try:
            return await handler(self, request)
        except KvError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None

    return run


def key_of(request: Request) -> str:
    """The key a ``.../values/{key}`` or ``.../metadata/{key}`` path names, percent-decoded once
    from the raw path (the decoded path has lost which ``/`` were ``%2F``)."""
    raw = request.scope.get("raw_path")
    if not raw or _MARKER not in raw:
        return str(request.path_params["key"])
    rest = raw[raw.index(_MARKER) + len(_MARKER) :]
    parts = rest.split(b"/", 2)
    try:
        return unquote_to_bytes(parts[2] if len(parts) == 3 else b"").decode("utf-8")
    except UnicodeDecodeError:
        raise KvError(400, "the key in the URL is not UTF-8 once percent-decoded") from None


async def read_value(request: Request) -> bytes:
    """A raw PUT body, at most 25 MiB (refused before reading when Content-Length says more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        check_value_size(int(declared))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_VALUE_BYTES:
            check_value_size(len(body))
    return bytes(body)


def _whole_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ApiError(400, BAD_REQUEST, f"{name} must be a whole number, not {raw!r}")
    return min(high, max(low, int(raw)))


def _text(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise KvError(400, f"{what} must be a string")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise KvError(400, f"{what} is not valid UTF-8 (it holds a lone surrogate)") from None


class Kv(RouteGroup):
    """The routes under ``/accounts/{account}/storage/kv/namespaces``."""

    @property
    def kv(self) -> KvStore:
        return self.state.kv

    def _namespace(self, request: Request, op: str) -> KvNamespace:
        """The namespace the path names, once the token is accepted for the account that owns it."""
        account = self.account(request)
        ns = self.kv.namespace(request.path_params["kv_namespace"])
        if ns is None or ns.account != account:
            raise KvError(404, f"{op}: 'namespace not found'", NAMESPACE_NOT_FOUND)
        return ns

    # -- namespaces --------------------------------------------------------------------------------

    @answers_kv_errors
    async def list_namespaces(self, request: Request) -> Response:
        account = self.account(request)
        q = request.query_params
        order, direction = q.get("order", "title"), q.get("direction", "asc")
        if order not in ("id", "title") or direction not in ("asc", "desc"):
            raise ApiError(400, BAD_REQUEST, "order is 'id' or 'title', direction 'asc' or 'desc'")
        page = _whole_param(request, "page", 1, 1, 1 << 31)
        per_page = _whole_param(request, "per_page", 20, 1, 1000)
        found = sorted(
            self.kv.namespaces(account),
            key=lambda n: (n.id,) if order == "id" else (n.title, n.id),
            reverse=direction == "desc",
        )
        chunk = found[(page - 1) * per_page : page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(found)}
        return envelope([n.to_json() for n in chunk], extra={"result_info": info})

    @answers_kv_errors
    async def create_namespace(self, request: Request) -> Response:
        account = self.account(request)
        body = await self.json_body(request)
        title = check_title(body.get("title") if isinstance(body, dict) else None)
        return envelope(self.kv.create_namespace(account, title).to_json())

    @answers_kv_errors
    async def get_namespace(self, request: Request) -> Response:
        return envelope(self._namespace(request, "get namespace").to_json())

    @answers_kv_errors
    async def rename_namespace(self, request: Request) -> Response:
        ns = self._namespace(request, "rename namespace")
        body = await self.json_body(request)
        title = check_title(body.get("title") if isinstance(body, dict) else None)
        return envelope(self.kv.rename_namespace(ns.id, title).to_json())

    @answers_kv_errors
    async def delete_namespace(self, request: Request) -> Response:
        self.kv.delete_namespace(self._namespace(request, "remove namespace").id)
        return envelope({})

    # -- values, metadata, keys --------------------------------------------------------------------

    @answers_kv_errors
    async def get_value(self, request: Request) -> Response:
        ns = self._namespace(request, "get")
        got = self.kv.get(ns.id, key_of(request))
        if got is None:
            raise KvError(404, "get: 'key not found'", KEY_NOT_FOUND)
        headers = {"expiration": str(got.expiration)} if got.expiration is not None else None
        return Response(got.value, 200, headers, media_type="application/octet-stream")

    @answers_kv_errors
    async def put_value(self, request: Request) -> Response:
        ns = self._namespace(request, "put")
        key = key_of(request)
        metadata = None
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parts = {p.name: p for p in await read_form(request, MAX_VALUE_BYTES + _FORM_SLACK)}
            if "value" not in parts:
                raise KvError(
                    400, "the multipart body has no 'value' part: send the value in a part of that name"
                )
            value = bytes(parts["value"].body)
            if "metadata" in parts:
                metadata = parse_json(bytes(parts["metadata"].body), "the 'metadata' part")
        else:
            value = await read_value(request)
        q = request.query_params
        write = KvWrite(key, value, metadata, q.get("expiration"), q.get("expiration_ttl"))
        self.kv.put_many(ns.id, [write], op="put")
        return envelope({})

    @answers_kv_errors
    async def delete_value(self, request: Request) -> Response:
        ns = self._namespace(request, "remove key")
        self.kv.delete(ns.id, key_of(request))
        return envelope({})

    @answers_kv_errors
    async def get_metadata(self, request: Request) -> Response:
        ns = self._namespace(request, "metadata")
        got = self.kv.get(ns.id, key_of(request))
        if got is None:
            raise KvError(404, "metadata: 'key not found'", KEY_NOT_FOUND)
        return envelope(got.metadata)

    @answers_kv_errors
    async def list_keys(self, request: Request) -> Response:
        ns = self._namespace(request, "list keys")
        q = request.query_params
        limit = list_limit(q.get("limit"), MIN_REST_LIST_KEYS)
        page = self.kv.list(ns.id, q.get("prefix", ""), limit, q.get("cursor") or None)
        info = {"count": len(page.keys), "cursor": page.cursor or ""}
        return envelope(page.keys, extra={"result_info": info})

    # -- bulk --------------------------------------------------------------------------------------

    @answers_kv_errors
    async def bulk_put(self, request: Request) -> Response:
        ns = self._namespace(request, "bulk put")
        body = await self.json_body(request, MAX_BULK_BODY)
        if not isinstance(body, list):
            raise KvError(
                400, 'expected a JSON array of {"key", "value", "base64"?, "expiration"?, ...} objects'
            )
        if len(body) > MAX_BULK_PAIRS:
            raise KvError(
                400, f"a bulk write takes at most {MAX_BULK_PAIRS:,} pairs, not {len(body):,}: split it"
            )
        writes = [_pair(i, item) for i, item in enumerate(body)]
        written = self.kv.put_many(ns.id, writes)
        return envelope({"successful_key_count": written, "unsuccessful_keys": []})

    @answers_kv_errors
    async def bulk_delete(self, request: Request) -> Response:
        ns = self._namespace(request, "bulk delete")
        body = await self.json_body(request, MAX_BULK_BODY)
        if not isinstance(body, list) or not all(isinstance(k, str) for k in body):
            raise KvError(400, "expected a JSON array of key names (strings)")
        if len(body) > MAX_BULK_PAIRS:
            raise KvError(
                400, f"a bulk delete takes at most {MAX_BULK_PAIRS:,} keys, not {len(body):,}: split it"
            )
        deleted = self.kv.delete_many(ns.id, body)
        return envelope({"successful_key_count": deleted, "unsuccessful_keys": []})

    @answers_kv_errors
    async def bulk_get(self, request: Request) -> Response:
        """``{"keys": [...], "type"?: "text"|"json", "withMetadata"?: bool}``: text values (or
        parsed JSON), null for a missing key; binary values are refused, as on the platform."""
        ns = self._namespace(request, "bulk get keys")
        body = await self.json_body(request)
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise KvError(
                400, 'expected {"keys": ["key", ...], "type"?: "text" or "json", "withMetadata"?: bool}'
            )
        if not 1 <= len(keys) <= MAX_BULK_GET_KEYS:
            raise KvError(400, f"ask for 1 to {MAX_BULK_GET_KEYS} keys, not {len(keys)}")
        kind = body.get("type") or "text"
        if kind not in ("text", "json"):
            raise KvError(400, f'"{kind}" is not a valid type. Use "json" or "text"')
        with_metadata = bool(body.get("withMetadata") or body.get("with_metadata"))
        values: dict[str, Any] = {}
        for key in keys:
            got = self.kv.get(ns.id, key)
            if got is None:
                values[key] = None
                continue
            try:
                text = got.value.decode("utf-8")
                value: Any = json.loads(text) if kind == "json" else text
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise KvError(
                    400, f"At least one of the requested keys corresponds to a non-{kind} value ({key!r})"
                ) from None
            if with_metadata:
                value = {"value": value, "metadata": got.metadata}
                if got.expiration is not None:
                    value["expiration"] = got.expiration
            values[key] = value
        return envelope({"values": values})


def _pair(i: int, item: Any) -> KvWrite:
    """Pair ``i`` of a bulk write: ``{"key", "value", "base64"?, "expiration"?, "expiration_ttl"?,
    "metadata"?}``, its value base64-decoded when ``base64`` is true."""
    if not isinstance(item, dict) or not isinstance(item.get("key"), str) or "value" not in item:
        raise KvError(400, f'pair {i}: expected {{"key": string, "value": string, ...}}')
    value = _text(item["value"], f"pair {i}'s value")
    if item.get("base64"):
        try:
            value = pybase64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise KvError(400, f"pair {i}'s value is not valid base64 (its base64 is true)") from None
    return KvWrite(
        item["key"], value, item.get("metadata"), item.get("expiration"), item.get("expiration_ttl")
    )
