"""A Worker's secrets, on the account or in a dispatch namespace: set, list, delete; and its settings.

Each secret is a ``secret_text`` binding of the script, set with ``PUT .../secrets`` (the platform
makes a new version and deploys it). Values travel in request bodies only: no result, message or
error of this module holds one. Each request is retried as :mod:`assetsync.retry` decides; a
script or secret that does not exist is a :class:`~assetsync.errors.RequestRefused` saying so.
Deploys keep the secrets (``keep_bindings``), so setting them once is enough.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import ApiError, RequestRefused, UsageError
from .protocol import DISPATCH_SCRIPT_NOT_FOUND, SCRIPT_NOT_FOUND
from .retry import Retrier, Retries
from .wire.client import ApiClient
from .wire.target import Target

T = TypeVar("T")
SECRET_NOT_FOUND = 10056  # the API's "Binding 'X' not found."
SECRET_NAME_RULE = "1-255 characters, none of them '/', whitespace or a control character"


def check_secret_name(name: str) -> str:
    """``name`` if it can name a secret (it becomes a path segment to delete it), else a UsageError."""
    if not 0 < len(name) <= 255 or any(c == "/" or c.isspace() or not c.isprintable() for c in name):
        raise UsageError(f"{name!r} cannot name a secret: use {SECRET_NAME_RULE}")
    return name


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """One secret of a script, as the API lists it: its name and type, never its value."""

    name: str
    type: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


def _where(script: str, namespace: str | None) -> str:
    return f"Worker {script!r} in namespace {namespace!r}" if namespace else f"Worker {script!r}"


async def _call(
    retrying: Retrier, what: str, script: str, namespace: str | None, call: Callable[[], Awaitable[T]]
) -> T:
    """``call()`` retried; a missing script is said as such, with what to do."""
    try:
        return await retrying(what, call)
    except ApiError as exc:
        if exc.status == 404 and exc.code in (SCRIPT_NOT_FOUND, DISPATCH_SCRIPT_NOT_FOUND):
            raise _refused(
                exc,
                f"{what}: there is no {_where(script, namespace)} (HTTP 404, code {exc.code}, on "
                f"{exc.request}). Secrets belong to a deployed Worker: deploy it first (assetsync sync "
                "--name ...), or check --name, --namespace and the account.",
            ) from None
        raise


def _refused(exc: ApiError, message: str) -> RequestRefused:
    """``exc`` said for what it means here."""
    return RequestRefused(message, status=exc.status, code=exc.code, request=exc.request)


async def put_secrets(
    client: ApiClient,
    script: str,
    namespace: str | None,
    values: Mapping[str, str],
    retries: Retries | None = None,
) -> list[str]:
    """Set each of ``values`` (name -> value) as a secret of the script, in order; the names set.

    Every name and value is checked before the first request. The API sets secrets one at a
    time: when one fails, the error names those already set.
    """
    for name, value in values.items():
        check_secret_name(name)
        if not isinstance(value, str) or not value:
            raise UsageError(f"secret {name!r}: the value must be a non-empty string")
    retrying, done = Retrier(retries), list[str]()
    for name, value in values.items():

        async def put(name: str = name, value: str = value) -> None:
            await client.put_secret(script, namespace, name, value)

        try:
            await _call(retrying, f"setting secret {name}", script, namespace, put)
        except ApiError as exc:
            if done:
                raise type(exc)(
                    f"{exc} Already set before this failure: {', '.join(done)}.",
                    status=exc.status,
                    code=exc.code,
                    request=exc.request,
                ) from None
            raise
        done.append(name)
    return done


async def list_secrets(
    client: ApiClient, script: str, namespace: str | None, retries: Retries | None = None
) -> list[SecretInfo]:
    """The script's secrets, sorted by name."""

    async def get() -> list[dict[str, Any]]:
        return await client.list_secrets(script, namespace)

    rows = await _call(Retrier(retries), "listing secrets", script, namespace, get)
    found = [SecretInfo(str(r.get("name", "")), str(r.get("type", "secret_text"))) for r in rows]
    return sorted((s for s in found if s.name), key=lambda s: s.name)


async def delete_secret(
    client: ApiClient, script: str, namespace: str | None, name: str, retries: Retries | None = None
) -> None:
    """Remove one secret of the script; a secret it does not have is a RequestRefused."""
    check_secret_name(name)

    async def delete() -> None:
        await client.delete_secret(script, namespace, name)

    try:
        await _call(Retrier(retries), f"deleting secret {name}", script, namespace, delete)
    except RequestRefused as exc:
        if exc.status == 404 and exc.code == SECRET_NOT_FOUND:
            raise _refused(
                exc,
                f"{_where(script, namespace)} has no secret {name!r} (HTTP 404, code {exc.code}, on "
                f"{exc.request}): `assetsync secret list` shows those it has.",
            ) from None
        raise


async def script_settings(
    client: ApiClient, script: str, namespace: str | None, retries: Retries | None = None
) -> dict[str, Any]:
    """The script's settings as the API shows them: bindings (secrets without values),
    compatibility date and flags, tags..."""

    async def get() -> dict[str, Any]:
        return await client.script_settings(script, namespace)

    return await _call(Retrier(retries), "reading settings", script, namespace, get)


# -- blocking forms, each over a client of its own ------------------------------------------------


def put_secrets_to(
    target: Target,
    script: str,
    namespace: str | None,
    values: Mapping[str, str],
    retries: Retries | None = None,
    timeout: float = 60.0,
) -> list[str]:
    return target.run(lambda c: put_secrets(c, script, namespace, values, retries), timeout)


def list_secrets_of(
    target: Target, script: str, namespace: str | None, retries: Retries | None = None, timeout: float = 60.0
) -> list[SecretInfo]:
    return target.run(lambda c: list_secrets(c, script, namespace, retries), timeout)


def delete_secret_from(
    target: Target,
    script: str,
    namespace: str | None,
    name: str,
    retries: Retries | None = None,
    timeout: float = 60.0,
) -> None:
    target.run(lambda c: delete_secret(c, script, namespace, name, retries), timeout)


def settings_of(
    target: Target, script: str, namespace: str | None, retries: Retries | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    return target.run(lambda c: script_settings(c, script, namespace, retries), timeout)
