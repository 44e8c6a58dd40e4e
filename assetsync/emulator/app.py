"""The emulator as one ASGI app: the API under ``/client/v4``, previews by host or path.

:func:`create_app` is what ``assetsync serve`` runs under uvicorn and what the sync command
mounts in-process (through httpx's ASGI transport) when no account is configured.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from ..protocol import API_PREFIX, TOKEN_LIFETIME
from ..protocol.previews import PreviewAddress
from ..protocol.ratelimit import RateLimit
from .api import Api, Limits
from .api.base import DEFAULT_SUBDOMAIN
from .envelope import (
    BAD_REQUEST,
    HEADERS_TOO_LARGE,
    METHOD_NOT_ALLOWED,
    NO_ROUTE,
    UNKNOWN_ERROR,
    URL_TOO_LONG,
    ApiError,
    error_response,
)
from .kv import KvStore
from .preview.app import Preview, preview_target
from .preview.livereload import PATH as LIVERELOAD_PATH, ReloadHub, inject, site_key
from .ratelimit import RateLimiter, limited
from .store import Store
from .tokens import Tokens

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("assetsync.emulator")


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything that shapes one emulator instance."""

    data_dir: str
    api_tokens: dict[str, str | None] | None = None  # token -> account it may use (None: any)
    api_keys: dict[str, str] | None = None  # email -> its global API key (every account)
    dev: bool = False  # live reload: HTML gets a script that reloads on each new deploy
    token_ttl: float = TOKEN_LIFETIME
    limits: Limits = field(default_factory=Limits)
    workers_subdomain: str | None = DEFAULT_SUBDOMAIN  # None: the account has none (GET .../subdomain is 404)
    default_account: str | None = None  # whose script a preview address without an account means first
    runtime: str = "none"  # Worker code on workerd: auto (if found), workerd (required) or none
    workerd: str | None = None  # the workerd binary, when not looked for
    say: Callable[[str], None] | None = field(default=None, compare=False)  # runtime lines; None: stderr
    rate_limit: RateLimit | None = None  # the API's budget per credential (serve --rate-limit); None: none


class Emulator:
    """The ASGI application, with its store and token keeper reachable for tests and tools."""

    def __init__(self, config: EmulatorConfig) -> None:
        os.makedirs(config.data_dir, exist_ok=True)
        self.config = config
        self.store = Store(config.data_dir)
        self.kv = KvStore(config.data_dir)  # the REST routes write it, Workers' KV bindings read it
        self.tokens = Tokens(config.data_dir, config.api_tokens, config.token_ttl, config.api_keys)
        self.api = Api(self.store, self.tokens, config.limits, config.workers_subdomain, kv=self.kv)
        self.reload = ReloadHub()
        self.api.on_deploy = self._deployed
        self.preview = Preview(
            self.store, on_html=inject if config.dev else None, default_account=config.default_account
        )
        self.runtime: Runtime | None = None  # started by start_runtime, once the server listens
        # Every call under /client/v4 counts against its credential's budget; previews do not.
        self.ratelimit = RateLimiter(config.rate_limit) if config.rate_limit is not None else None
        self._api_app = Starlette(
            routes=[Mount(API_PREFIX, routes=self.api.routes())],
            exception_handlers={
                ApiError: self._api_error,
                HTTPException: self._http_error,
                ClientDisconnect: self._client_gone,
                Exception: self._crash,
            },
        )

    @property
    def api_token(self) -> str | None:
        """A token that works for every account (the generated one), if there is one."""
        if self.config.api_tokens is None:
            from .tokens import load_api_token

            return load_api_token(self.config.data_dir)
        return next((t for t, acct in self.config.api_tokens.items() if acct is None), None)

    def start_runtime(self) -> None:
        """Start workerd for the deployed Workers, as ``config.runtime`` says (a server calls this
        once its socket is bound, so a port that is taken is said before any runtime starts).
        ``workerd`` required but missing is :class:`~.runtime.WorkerdMissing` (a usage error)."""
        if self.config.runtime == "none" or self.runtime is not None:
            return
        from .runtime import make_runtime, say_stderr

        self.runtime = make_runtime(
            self.config.runtime,
            self.store,
            self.preview.assets_only,
            self.preview.front,
            self.kv,
            self.config.workerd,
            say=self.config.say or say_stderr,
        )
        self.preview.runtime = self.runtime

    @property
    def sockets(self) -> list[Any]:
        """Sockets besides the public one that the server must serve (the runtime's bridge)."""
        return self.runtime.sockets if self.runtime is not None else []

    def close(self) -> None:
        """Stop what runs beside the server (workerd)."""
        if self.runtime is not None:
            self.runtime.stop()

    def _deployed(self, account: str, script: str, namespace: str) -> None:
        self.reload.publish(site_key(account, script, namespace))

    def _oversized(self, scope: Scope) -> ApiError | None:
        """The 414 or 431 for a request past the platform's URL and header limits, or None."""
        lim = self.config.limits
        url = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url > lim.max_url:
            return ApiError(
                414, URL_TOO_LONG, f"the URL is {url:,} bytes, over the {lim.max_url:,}-byte limit"
            )
        total = 0
        for name, value in scope["headers"]:
            size = len(name) + len(value)
            total += size
            if size > lim.max_header:
                return ApiError(
                    431,
                    HEADERS_TOO_LARGE,
                    f"the {name.decode('latin-1')[:64]!r} header is {size:,} bytes, over the "
                    f"{lim.max_header:,}-byte limit for one header",
                )
        if total > lim.max_headers:
            return ApiError(
                431,
                HEADERS_TOO_LARGE,
                f"the request headers are {total:,} bytes, over the {lim.max_headers:,}-byte limit",
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self.runtime is not None and self.runtime.is_bridge(scope):
                await self.runtime.bridge(scope, receive, send)
                return
            refused = self._oversized(scope)
            if refused is not None:
                if scope["path"].startswith(API_PREFIX + "/"):
                    response = error_response(refused)
                else:
                    response = Response(refused.message.encode(), refused.status, media_type="text/plain")
                await response(scope, receive, send)
                return
            if scope["path"] == LIVERELOAD_PATH:
                await self.reload.response()(scope, receive, send)
                return
            target = preview_target(scope)
            if target is not None:
                await self._preview(scope, receive, send, target)
                return
            if scope["path"] in ("/", "/__preview", "/__preview/"):
                await self.preview.index(Request(scope))(scope, receive, send)
                return
            if self.ratelimit is not None and _is_api(scope["path"]):
                admitted, send = await limited(self.ratelimit, scope, receive, send)
                if not admitted:
                    return
        # Starlette answers a crash with the 500 envelope (_crash, which logs it) and then
        # re-raises for the server's sake; it must not take an in-process client down with it.
        with contextlib.suppress(Exception):
            await self._api_app(scope, receive, send)

    async def _preview(
        self, scope: Scope, receive: Receive, send: Send, target: tuple[PreviewAddress, str, str]
    ) -> None:
        request = Request(scope, receive)
        address, path, base = target
        try:
            response = await self.preview.serve(request, address, path, base)
        except Exception:
            log.exception("preview of %s failed", path)
            response = Response(b"Internal error in the emulator's preview", 500)
        await response(scope, receive, send)

    @staticmethod
    async def _api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    @staticmethod
    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return error_response(
                ApiError(405, METHOD_NOT_ALLOWED, f"method {request.method} not allowed here")
            )
        if exc.status_code == 404:
            return error_response(
                ApiError(
                    404,
                    NO_ROUTE,
                    f"Could not route to {request.url.path}, perhaps your object identifier is invalid?",
                )
            )
        return error_response(ApiError(exc.status_code, NO_ROUTE, str(exc.detail)))

    @staticmethod
    async def _client_gone(request: Request, exc: Exception) -> Response:
        """A client that hangs up mid-request (a timeout, a reset, Ctrl-C) is no emulator crash:
        what it sent in full was kept, the part cut short was dropped; nobody reads this answer."""
        log.info("client went away during %s %s", request.method, request.url.path)
        return error_response(ApiError(400, BAD_REQUEST, "the client closed the connection mid-request"))

    @staticmethod
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            ApiError(500, UNKNOWN_ERROR, f"internal error in the emulator: {type(exc).__name__}")
        )


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def create_app(data_dir: str, **kw: Any) -> Emulator:
    """An emulator over ``data_dir``; keyword arguments as :class:`EmulatorConfig`."""
    return Emulator(EmulatorConfig(data_dir, **kw))
