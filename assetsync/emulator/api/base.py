"""What every group of API routes stands on: the emulator's state and the checks a handler opens with.

A handler first checks the request's credentials and the names in its path, then reads a JSON
body no larger than its cap; each failure is an :class:`~assetsync.emulator.envelope.ApiError`
that says what to fix. The names are checked by the protocol's own rules, so the emulator takes
exactly the names the client sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from ...protocol import NAMESPACE_RULE, SCRIPT_NAME_RULE, is_namespace, is_script_name
from ..envelope import BAD_REQUEST, BODY_TOO_LARGE, INVALID_SCRIPT_NAME, ApiError
from ..kv import KvStore
from ..store import Store
from ..tokens import Tokens
from .limits import Limits

DEFAULT_SUBDOMAIN = "assetsync-local"  # the emulated account's workers.dev subdomain


class ApiState:
    """The one store, KV store, token keeper and set of limits that all route groups of an
    emulator share."""

    def __init__(
        self,
        store: Store,
        tokens: Tokens,
        limits: Limits | None = None,
        subdomain: str | None = DEFAULT_SUBDOMAIN,
        *,
        kv: KvStore,
    ) -> None:
        self.store = store
        self.kv = kv  # Workers KV: the REST routes and the runtime's bindings share it
        self.tokens = tokens
        self.limits = limits or Limits()
        self.subdomain = subdomain  # the account's workers.dev subdomain; None: it has none
        # (account, script, namespace) of each script that went live
        self.on_deploy: Callable[[str, str, str], None] | None = None


class RouteGroup:
    """Handlers for one part of the API, over the shared :class:`ApiState`."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def limits(self) -> Limits:
        return self.state.limits

    def account(self, request: Request) -> str:
        """The account the request's path names, once its API token is accepted for it."""
        account = request.path_params["account"]
        headers = request.headers
        self.state.tokens.check_api(
            headers.get("authorization"), account, headers.get("x-auth-key"), headers.get("x-auth-email")
        )
        return str(account)

    def addressed(self, request: Request) -> tuple[str, str | None, str]:
        """The account (credentials checked), dispatch namespace (None outside one) and script
        the request's path names, each a valid name."""
        account = self.account(request)
        ns = request.path_params.get("namespace")
        script = request.path_params["script"]
        check_namespace(ns)
        check_script_name(script)
        return account, ns, script

    async def json_body(self, request: Request, cap: int | None = None) -> Any:
        """The parsed JSON body, at most ``cap`` bytes (by default the limit for JSON bodies)."""
        return (await read_json(request, self.limits.max_json_body if cap is None else cap))[0]


def check_script_name(name: str) -> None:
    if not is_script_name(name):
        raise ApiError(400, INVALID_SCRIPT_NAME, f"invalid Worker name {name!r}: use {SCRIPT_NAME_RULE}")


def check_namespace(ns: str | None) -> None:
    if ns is not None and not is_namespace(ns):
        raise ApiError(400, BAD_REQUEST, f"invalid dispatch namespace name {ns!r}: use {NAMESPACE_RULE}")


async def read_json(request: Request, cap: int) -> tuple[Any, bytes]:
    """The parsed JSON body and its raw bytes; 413 past ``cap`` bytes, before reading when
    Content-Length says so."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise ApiError(
            413, BODY_TOO_LARGE, f"request body of {int(declared):,} bytes is over the {cap:,}-byte limit"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise ApiError(413, BODY_TOO_LARGE, f"request body is over the {cap:,}-byte limit")
    return parse_json(bytes(body), "the request body"), bytes(body)


def parse_json(raw: bytes, what: str) -> Any:
    """``raw`` parsed as JSON, or a 400 that says why not (nesting past the parser's depth too)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, BAD_REQUEST, f"{what} is not valid JSON ({exc})") from None
    except RecursionError:
        raise ApiError(400, BAD_REQUEST, f"{what} is nested too deeply to be read as JSON") from None
