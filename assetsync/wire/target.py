"""Where requests go: an API base URL, an account and its credentials, and how to reach them.

A :class:`Target` says nothing of the emulator: the embedded one is a target whose transport
factory mounts the emulator's app in-process, made by :mod:`assetsync.local`, the only library
module that imports the emulator.

Credentials come as wrangler reads them: ``CLOUDFLARE_API_KEY`` with ``CLOUDFLARE_EMAIL`` (the
global API key, sent as ``X-Auth-Key`` / ``X-Auth-Email``) when both are set, else
``CLOUDFLARE_API_TOKEN`` (a bearer token). A variable set to nothing but whitespace counts as
unset, since that is what CI gives a job whose secrets are withheld (a fork's pull request).
No message built here shows a credential.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from ..errors import UsageError
from ..protocol import DEFAULT_API, is_account_id
from ..protocol.previews import PreviewAddress
from ..protocol.ratelimit import API_RATE_LIMIT, RateLimit
from ..ratepacer import Pacer

if TYPE_CHECKING:
    import httpx

    from .client import ApiClient

LOCAL_ACCOUNT = "local"
T = TypeVar("T")

ACCOUNT_SETTING = "CLOUDFLARE_ACCOUNT_ID (or --account-id)"
TOKEN_SETTING = "CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL)"
BASE_SETTING = "--api-base / CLOUDFLARE_API_BASE_URL"


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "api" or "emulator"
    base_url: str
    account_id: str
    token: str  # the API token; with ``email``, the global API key
    data_dir: str | None = None  # the emulator's
    # A new transport for each client (the embedded emulator's in-process ASGI app); None: the
    # network, at base_url.
    transport: Callable[[], httpx.AsyncBaseTransport] | None = None
    email: str | None = None  # set: ``token`` is a global API key, sent with this email

    def __repr__(self) -> str:  # never show the token (nor the email that goes with a key)
        return f"Target({self.kind}, {self.base_url}, account={self.account_id})"

    @property
    def label(self) -> str:
        return f"local emulator ({self.data_dir})" if self.kind == "emulator" else self.base_url

    def pacer(self, rate_limit: RateLimit | None = None, share: int = 1) -> Pacer:
        """How a run paces its requests here: within ``rate_limit`` (``--rate-limit``) and the
        budget the server states, ``share`` being how many runs (shards) split it. Cloudflare's
        own API is assumed to keep its documented limit until an answer says otherwise; another
        server gets a few requests until its first answer shows whether it has one;
        the embedded emulator has none unless it says so."""
        cloudflare = self.kind == "api" and self.base_url.rstrip("/") == DEFAULT_API
        return Pacer(
            rate_limit,
            share=share,
            assumed=API_RATE_LIMIT if cloudflare else None,
            probe=self.kind == "api",
        )

    def client(
        self,
        timeout: float = 60.0,
        max_connections: int = 32,
        rate_limit: RateLimit | None = None,
        share: int = 1,
    ) -> ApiClient:
        """An :class:`~assetsync.wire.client.ApiClient` for this target, its requests paced as
        :meth:`pacer` says."""
        from .client import ApiClient

        return ApiClient(
            self.base_url,
            self.token,
            self.account_id,
            email=self.email,
            transport=self.transport() if self.transport is not None else None,
            timeout=timeout,
            max_connections=max_connections,
            pacer=self.pacer(rate_limit, share),
        )

    def run(
        self, work: Callable[[ApiClient], Awaitable[T]], timeout: float = 60.0, max_connections: int = 32
    ) -> T:
        """``work`` done over a client of its own, from code that is not async."""

        async def run() -> T:
            async with self.client(timeout=timeout, max_connections=max_connections) as client:
                return await work(client)

        return asyncio.run(run())

    def preview_address(self, script: str, namespace: str | None) -> PreviewAddress | None:
        """Where the emulator's preview server shows this script (None: not the emulator). The local
        account is the one the preview server's short addresses mean first, so it needs none."""
        if self.kind != "emulator":
            return None
        account = None if self.account_id == LOCAL_ACCOUNT else self.account_id
        return PreviewAddress(script, namespace or "", account)

    def preview_url(self, script: str, namespace: str | None, port: int = 8787) -> str | None:
        """The host-style preview URL, else (a name no host label can hold) the path-style one."""
        address = self.preview_address(script, namespace)
        if address is None:
            return None
        host_url, path_url = address.urls(f"http://127.0.0.1:{port}", port)
        return host_url or path_url


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    """Whether this runs in CI: ``CI`` is set to anything but ``false`` or ``0`` (any case).

    GitHub Actions, GitLab, CircleCI, Travis, Buildkite, Cloudflare's own builds and most others
    set ``CI=true``. wrangler (ci-info) also reads ``CI`` first, and only ``false`` opts out there;
    ``0`` does here too, as the usual way to say "not CI" by hand.
    """
    value = (os.environ if env is None else env).get("CI", "").strip().lower()
    return value not in ("", "false", "0")


def _describe_char(ch: str) -> str:
    names = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a carriage return"}
    if ch in names:
        return names[ch]
    if ch.isspace():
        return f"the white space U+{ord(ch):04X}"
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"the control character U+{ord(ch):04X}"
    return f"the character U+{ord(ch):04X}, which an HTTP header cannot carry"


def credential(value: str | None, name: str) -> str | None:
    """``value`` without the white space around it (a token saved with ``echo`` ends in a line
    break), None when nothing is left; a :class:`UsageError` for any other white space, control
    character or non-ASCII character in it. The message says which character and where, never
    the value."""
    value = (value or "").strip()
    for i, ch in enumerate(value, 1):
        if not "\x21" <= ch <= "\x7e":
            raise UsageError(
                f"{name} holds {_describe_char(ch)} at character {i} of {len(value)} (white space "
                "around it is trimmed; inside, a credential has none). Set it again to exactly the "
                "value Cloudflare gave you (the value is not shown here)."
            )
    return value or None


def check_api_base(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; else a :class:`UsageError`, at once (a base
    URL that cannot work is no reason to retry). One that holds an ``@`` is never shown: it may
    carry a password."""
    shown = repr(url) if "@" not in url else "(not shown: it holds an '@')"
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing it is the check
        port_ok = True
    except ValueError:
        port_ok = False
    if any(not "\x21" <= ch <= "\x7e" for ch in url) or parts.scheme.lower() not in ("http", "https"):
        hint = f": write it whole, as in http://{url}" if "://" not in url and "@" not in url else ""
        raise UsageError(
            f"the API base URL {shown} ({BASE_SETTING}) is not an http:// or https:// URL{hint}. "
            f"Cloudflare's is {DEFAULT_API}."
        )
    if not parts.hostname or not port_ok:
        raise UsageError(f"the API base URL {shown} ({BASE_SETTING}) has no valid host and port.")
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"the API base URL {shown} ({BASE_SETTING}) holds a user name or password: credentials "
            f"go in {TOKEN_SETTING}, never in the URL."
        )
    return url


def api_target(
    account_id: str | None = None,
    api_token: str | None = None,
    api_base: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    api_key: str | None = None,
    email: str | None = None,
) -> Target | None:
    """The API target when an account id and credentials are known (arguments, then the
    environment); None when none of them is; a :class:`~assetsync.errors.UsageError` for half a
    set, a malformed credential or base URL."""
    env = os.environ if env is None else env
    account = (account_id or env.get("CLOUDFLARE_ACCOUNT_ID") or "").strip() or None
    token = credential(api_token or env.get("CLOUDFLARE_API_TOKEN"), "CLOUDFLARE_API_TOKEN")
    key = credential(api_key or env.get("CLOUDFLARE_API_KEY"), "CLOUDFLARE_API_KEY")
    mail = credential(email or env.get("CLOUDFLARE_EMAIL"), "CLOUDFLARE_EMAIL")
    base = (api_base or env.get("CLOUDFLARE_API_BASE_URL") or "").strip() or None
    if base is not None:
        check_api_base(base)
    if (key is None) != (mail is None) and token is None:
        given, missing = (
            ("CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL") if key else ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY")
        )
        raise UsageError(
            f"incomplete credentials: {given} is set but {missing} is not. The global API key goes "
            "with the email of its user: set both, or use an API token (CLOUDFLARE_API_TOKEN) instead."
        )
    # wrangler's order: the global key and email when both are there, else the token.
    secret, sender = (key, mail) if key and mail else (token, None)
    if account and secret:
        if not is_account_id(account):
            raise UsageError(
                f"account id {account!r} (CLOUDFLARE_ACCOUNT_ID or --account-id) cannot be part of an API "
                "path: a Cloudflare account id is 32 hex digits, shown on the dashboard's Workers overview."
            )
        return Target("api", base or DEFAULT_API, account, secret, email=sender)
    if account or secret or base:
        unset = [name for name, value in ((ACCOUNT_SETTING, account), (TOKEN_SETTING, secret)) if not value]
        raise UsageError(
            f"incomplete credentials: {' and '.join(unset)} not set. Give an account id and an API "
            "token to publish to the API (and an API base URL for a compatible server), or none of "
            "them to sync into the local emulator."
        )
    return None


def no_credentials_in_ci() -> str:
    """Why a run in CI without credentials stops rather than publish into the local emulator."""
    return (
        f"CI is set, but no credentials are: {ACCOUNT_SETTING} and {TOKEN_SETTING} are missing "
        "(set to an empty value counts as missing: that is what a pull request from a fork gets). "
        "Without them assetsync would publish into the local emulator and nothing would reach "
        "Cloudflare. Set them as the job's secrets, or pass --local to publish into the local "
        "emulator on purpose."
    )
