"""Whether a tenant needs a deploy: its record, what it would deploy now, and the namespace's list.

A tenant is skipped only when all three agree: it has a record (:mod:`assetsync.deployrecords`),
the digests of what it would deploy now equal the record's, and the namespace's script list (one
listing per run, 100 scripts a request, shared by every tenant and by ``--prune``) shows the
script with the recorded etag and modified time. Anything else is a deploy, and the verdict says
why: no record, a changed folder or setting, a script changed by someone else or gone, or a
list that could not be read.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from .deployrecords import DeployRecord, Digests
from .errors import AssetsyncError
from .namespace import ScriptInfo
from .tenantplan import UNCHANGED

PER_PAGE = 100  # scripts per listing request

# UNCHANGED (skipped: the record, the digests and the list agree) is the plan's own word for it.
NO_RECORD = "no-record"  # first run here, or a record that was missing, unusable or foreign
CHANGED = "changed"  # the folder or the settings differ from what was recorded
CHANGED_ELSEWHERE = "changed-elsewhere"  # the live script's etag or modified time is not the recorded one
NOT_LISTED = "not-listed"  # the script is not in the namespace's list (deleted, or never tagged)
UNCHECKED = "unchecked"  # the list could not be read: deployed rather than guessed
VERIFY_FULL = "verify-full"  # --verify full: a session and a deploy whatever the records say
CHECKS = (UNCHANGED, NO_RECORD, CHANGED, CHANGED_ELSEWHERE, NOT_LISTED, UNCHECKED, VERIFY_FULL)


def local_verdict(record: DeployRecord | None, digests: Digests) -> str | None:
    """The verdict the record alone gives, or None when only the list can tell (the record
    matches what would be deployed)."""
    if record is None:
        return NO_RECORD
    if record.digests != digests:
        return CHANGED
    return None


def live_verdict(record: DeployRecord, live: ScriptInfo | None) -> str:
    """The verdict for a tenant whose record matches: the live script must still be the one the
    record saw. Each of etag and modified time is compared when both sides have it, and at least
    one must be."""
    if live is None:
        return NOT_LISTED
    pairs = [(record.etag, live.etag), (record.modified_on, live.modified_on)]
    compared = [(mine, theirs) for mine, theirs in pairs if mine is not None and theirs is not None]
    if not compared or any(mine != theirs for mine, theirs in compared):
        return CHANGED_ELSEWHERE
    return UNCHANGED


def pages_for(scripts: int) -> int:
    """Listing requests for ``scripts`` scripts (an empty list still takes one)."""
    return max(1, math.ceil(scripts / PER_PAGE))


class LiveScripts:
    """The namespace's scripts, listed at most once per run, when first needed; every tenant
    that asks waits for the same listing."""

    def __init__(self, fetch: Callable[[], Awaitable[list[ScriptInfo]]]) -> None:
        self._fetch = fetch
        self._task: asyncio.Future[dict[str, ScriptInfo]] | None = None
        self.pages = 0  # listing requests the list took (retries not counted)
        self.error: AssetsyncError | None = None  # why the list could not be read

    async def scripts(self) -> dict[str, ScriptInfo]:
        """Every listed script by name; raises what the listing raised."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._list())
        return await asyncio.shield(self._task)

    async def find(self, name: str) -> tuple[bool, ScriptInfo | None]:
        """(listed, the script): ``listed`` False when the list could not be read (:attr:`error`)."""
        try:
            found = await self.scripts()
        except AssetsyncError as exc:
            self.error = self.error or exc
            return False, None
        return True, found.get(name)

    async def _list(self) -> dict[str, ScriptInfo]:
        rows = await self._fetch()
        self.pages = pages_for(len(rows))
        return {s.name: s for s in rows}

    def close(self) -> None:
        """Stop a listing still under way (the run ended without waiting for it)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self._task is not None and not self._task.cancelled():
            self._task.exception()  # retrieved: no "never retrieved" warning at exit
