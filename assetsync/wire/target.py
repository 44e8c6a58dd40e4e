"""Where requests go: an API base URL, an account and a token, and how to reach them.

A :class:`Target` says nothing of the emulator: the embedded one is a target whose transport
factory mounts the emulator's app in-process, made by :mod:`assetsync.local`, the only library
module that imports the emulator.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ..errors import UsageError
from ..protocol import DEFAULT_API, is_account_id

if TYPE_CHECKING:
    import httpx

    from .client import ApiClient

LOCAL_ACCOUNT = "local"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "api" or "emulator"
    base_url: str
    account_id: str
    token: str
    data_dir: str | None = None  # the emulator's
    # A new transport for each client (the embedded emulator's in-process ASGI app); None: the
    # network, at base_url.
    transport: Callable[[], httpx.AsyncBaseTransport] | None = None

    def __repr__(self) -> str:  # never show the token
        return f"Target({self.kind}, {self.base_url}, account={self.account_id})"

    @property
    def label(self) -> str:
        return f"local emulator ({self.data_dir})" if self.kind == "emulator" else self.base_url

    def client(self, timeout: float = 60.0, max_connections: int = 32) -> ApiClient:
        """An :class:`~assetsync.wire.client.ApiClient` for this target."""
        from .client import ApiClient

        return ApiClient(
            self.base_url,
            self.token,
            self.account_id,
            transport=self.transport() if self.transport is not None else None,
            timeout=timeout,
            max_connections=max_connections,
        )

    def run(
        self, work: Callable[[ApiClient], Awaitable[T]], timeout: float = 60.0, max_connections: int = 32
    ) -> T:
        """``work`` done over a client of its own, from code that is not async."""

        async def run() -> T:
            async with self.client(timeout=timeout, max_connections=max_connections) as client:
                return await work(client)

        return asyncio.run(run())

    def preview_url(self, script: str, namespace: str | None, port: int = 8787) -> str | None:
        if self.kind != "emulator":
            return None
        host = f"{script}.{namespace}.localhost" if namespace else f"{script}.localhost"
        return f"http://{host}:{port}/"


def api_target(
    account_id: str | None = None,
    api_token: str | None = None,
    api_base: str | None = None,
    env: dict[str, str] | None = None,
) -> Target | None:
    """The API target when an account id and token are known (flags, then the environment);
    None when neither is; a :class:`~assetsync.errors.UsageError` for half a set."""
    env = dict(os.environ) if env is None else env
    account_id = account_id or env.get("CLOUDFLARE_ACCOUNT_ID") or None
    api_token = api_token or env.get("CLOUDFLARE_API_TOKEN") or None
    api_base = api_base or env.get("CLOUDFLARE_API_BASE_URL") or None
    if account_id and api_token:
        if not is_account_id(account_id):
            raise UsageError(
                f"account id {account_id!r} (CLOUDFLARE_ACCOUNT_ID or --account-id) cannot be part of "
                "an API path: a Cloudflare account id is 32 hex digits, shown on the dashboard's "
                "Workers overview."
            )
        return Target("api", api_base or DEFAULT_API, account_id, api_token)
    if account_id or api_token or api_base:
        missing = [
            name
            for name, value in (
                ("CLOUDFLARE_ACCOUNT_ID (or --account-id)", account_id),
                ("CLOUDFLARE_API_TOKEN", api_token),
            )
            if not value
        ]
        raise UsageError(
            f"incomplete credentials: {' and '.join(missing)} not set. Give an account id and an API "
            "token to publish to the API (and an API base URL for a compatible server), or none of "
            "them to sync into the local emulator."
        )
    return None
