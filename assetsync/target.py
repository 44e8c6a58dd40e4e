"""Where a sync goes: the real API when credentials are given, else the embedded emulator.

The embedded emulator runs in-process (httpx's ASGI transport: no socket, no server to start)
over the same data folder ``assetsync serve`` uses by default, so a later ``assetsync serve``
previews what was synced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .protocol import is_account_id

DEFAULT_API = "https://api.cloudflare.com/client/v4"
LOCAL_ACCOUNT = "local"


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "api" or "emulator"
    base_url: str
    account_id: str
    token: str
    data_dir: str | None = None  # the emulator's
    in_process: bool = True  # the emulator: mounted in-process, or reached at base_url (dev mode)

    def __repr__(self) -> str:  # never show the token
        return f"Target({self.kind}, {self.base_url}, account={self.account_id})"

    @property
    def label(self) -> str:
        return f"local emulator ({self.data_dir})" if self.kind == "emulator" else self.base_url

    def client(self, timeout: float = 60.0, max_connections: int = 32) -> Any:
        """An :class:`~assetsync.client.ApiClient` for this target."""
        from .client import ApiClient

        transport = None
        if self.kind == "emulator" and self.in_process:
            import httpx

            from .emulator.app import create_app

            assert self.data_dir is not None
            transport = httpx.ASGITransport(app=create_app(self.data_dir))
        return ApiClient(
            self.base_url,
            self.token,
            self.account_id,
            transport=transport,
            timeout=timeout,
            max_connections=max_connections,
        )

    def preview_url(self, script: str, namespace: str | None, port: int = 8787) -> str | None:
        if self.kind != "emulator":
            return None
        host = f"{script}.{namespace}.localhost" if namespace else f"{script}.localhost"
        return f"http://{host}:{port}/"


def resolve_target(
    account_id: str | None = None,
    api_token: str | None = None,
    api_base: str | None = None,
    local_data: str | None = None,
    env: dict[str, str] | None = None,
) -> Target:
    """The API when an account id and token are known (flags or environment), else the emulator."""
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
    from .emulator.server import default_data_dir
    from .emulator.tokens import load_api_token

    data_dir = local_data or default_data_dir()
    os.makedirs(data_dir, exist_ok=True)
    return Target(
        "emulator", "http://emulator.invalid/client/v4", LOCAL_ACCOUNT, load_api_token(data_dir), data_dir
    )
