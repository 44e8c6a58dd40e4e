"""Scripts in a dispatch namespace: list them (every page, filtered by tag) and delete them.

PROTOCOL.md section 5. Each request is retried as :mod:`assetsync.retry` decides, like the
sync engine's. Deleting works name by name, on exactly the scripts that were listed and
confirmed: the bulk ``DELETE ?tags=`` form would also take a script tagged after the listing,
one nobody saw. A script that is already gone counts as deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, AssetsyncError, UsageError
from .events import DeletionJSON, error_json
from .protocol import DISPATCH_SCRIPT_NOT_FOUND
from .retry import Retrier, Retries
from .wire.client import ApiClient
from .wire.target import Target

DELETES_AT_ONCE = 8


@dataclass(frozen=True, slots=True)
class ScriptInfo:
    """One script of a namespace, as the list call reports it."""

    name: str
    tags: tuple[str, ...]
    created_on: str | None
    modified_on: str | None
    has_assets: bool | None
    has_modules: bool | None
    etag: str | None = None  # of the live version: a deploy by anyone changes it

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ScriptInfo:
        tags = raw.get("tags")
        return cls(
            name=str(raw.get("id", "")),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            created_on=_str_or_none(raw.get("created_on")),
            modified_on=_str_or_none(raw.get("modified_on")),
            has_assets=raw.get("has_assets") if isinstance(raw.get("has_assets"), bool) else None,
            has_modules=raw.get("has_modules") if isinstance(raw.get("has_modules"), bool) else None,
            etag=_str_or_none(raw.get("etag")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tags": list(self.tags),
            "created_on": self.created_on,
            "modified_on": self.modified_on,
            "has_assets": self.has_assets,
            "has_modules": self.has_modules,
            "etag": self.etag,
        }


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def tag_filter(with_tags: Iterable[str] = (), without_tags: Iterable[str] = ()) -> str | None:
    """The server-side ``tags`` filter: ``a:yes,b:no``. Tags holding a comma cannot be expressed."""
    items = [(t, "yes") for t in with_tags] + [(t, "no") for t in without_tags]
    for tag, _ in items:
        if not tag or "," in tag:
            raise UsageError(f"tag {tag!r} cannot be filtered on: tags must be non-empty and hold no comma")
    return ",".join(f"{t}:{want}" for t, want in items) or None


async def list_scripts(
    client: ApiClient,
    namespace: str,
    with_tags: Iterable[str] = (),
    without_tags: Iterable[str] = (),
    retries: Retries | None = None,
) -> list[ScriptInfo]:
    """Every script of ``namespace`` (all pages) carrying all of ``with_tags`` and none of
    ``without_tags``, sorted by name; each page is retried as ``retries`` says.

    The filter goes to the server and is applied again here, so a server that ignores it on
    listing cannot widen a deletion.
    """
    with_tags, without_tags = tuple(with_tags), tuple(without_tags)
    rows = await client.list_scripts(namespace, tag_filter(with_tags, without_tags), Retrier(retries))
    found = {info.name: info for info in map(ScriptInfo.from_api, rows) if info.name}
    keep = [
        s
        for s in found.values()
        if all(t in s.tags for t in with_tags) and not any(t in s.tags for t in without_tags)
    ]
    return sorted(keep, key=lambda s: s.name)


@dataclass(frozen=True, slots=True)
class Deletion:
    """What became of one script to delete: ``error`` is None when it is gone."""

    name: str
    existed: bool = True
    error: AssetsyncError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> DeletionJSON:
        out: DeletionJSON = {"script": self.name, "ok": self.ok, "existed": self.existed}
        if self.error is not None:
            out["error"] = error_json(self.error)
        return out


async def delete_scripts(
    client: ApiClient,
    namespace: str,
    names: Iterable[str],
    retries: Retries | None = None,
    at_once: int = DELETES_AT_ONCE,
    on_done: Callable[[Deletion], None] | None = None,
) -> list[Deletion]:
    """Delete each of ``names`` from ``namespace``; one failure does not stop the others.

    Results come back in the order of ``names``.
    """
    retrying = Retrier(retries)  # one for all: a deletion that fails while others succeed keeps trying
    gate = asyncio.Semaphore(max(1, at_once))

    async def one(name: str) -> Deletion:
        async with gate:

            async def call() -> None:
                await client.delete_script(namespace, name)

            try:
                await retrying(f"deleting {name}", call)
                result = Deletion(name)
            except ApiError as exc:
                if exc.status == 404 and exc.code in (DISPATCH_SCRIPT_NOT_FOUND, None):
                    result = Deletion(name, existed=False)
                else:
                    result = Deletion(name, error=exc)
            if on_done is not None:
                on_done(result)
            return result

    return list(await asyncio.gather(*(one(n) for n in names)))


def list_namespace(
    target: Target,
    namespace: str,
    with_tags: Iterable[str] = (),
    without_tags: Iterable[str] = (),
    retries: Retries | None = None,
    timeout: float = 60.0,
) -> list[ScriptInfo]:
    """The blocking form of :func:`list_scripts`, over a client of its own."""
    return target.run(
        lambda client: list_scripts(client, namespace, with_tags, without_tags, retries), timeout
    )


def delete_from_namespace(
    target: Target,
    namespace: str,
    names: Iterable[str],
    retries: Retries | None = None,
    timeout: float = 60.0,
    on_done: Callable[[Deletion], None] | None = None,
) -> list[Deletion]:
    """The blocking form of :func:`delete_scripts`, over a client of its own."""
    return target.run(
        lambda client: delete_scripts(client, namespace, names, retries, on_done=on_done),
        timeout,
        max_connections=DELETES_AT_ONCE,
    )
