"""Retries and back-pressure on the wire: the engine obeying :mod:`assetsync.retry`'s rules (tested
alone in tests/unit/test_retry.py) against the emulator over 127.0.0.1.

The integration tests hold uploads inside the server (:class:`HeldUploads`) and let them go one
decision at a time, so what they count (uploads in the server at once, tries of one upload) never
depends on how fast anything runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from assetsync.emulator.api import Limits
from assetsync.engine import Syncer, SyncOptions
from assetsync.errors import ServerError
from assetsync.events import SyncReport
from assetsync.folder.build import BuildOptions
from assetsync.retry import PATIENCE
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, envelope_error, make_tree, replay

HOLD = 30.0  # seconds a held request or a policy waits before the test fails: a hang guard only

# -- over a real socket --------------------------------------------------------------------


@dataclass
class Upload:
    """One upload request the server holds: its body, how many uploads were in the server when it
    arrived (itself included), and what to answer: None passes it on to the emulator."""

    body: bytes
    in_flight: int
    answer: asyncio.Future[tuple[int, list[tuple[str, str]], bytes] | None]


Policy = Callable[["HeldUploads"], Awaitable[None]]


class HeldUploads:
    """ASGI middleware that holds every upload until ``policy``, a coroutine run on the server's
    loop, answers it; other requests pass. An upload counts as in the server from its arrival
    until its answer is handed over, so the count is never lower than the client's own."""

    def __init__(self, app: Any, policy: Policy) -> None:
        self.app = app
        self.policy = policy
        self.uploads: list[Upload] = []
        self.in_flight = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Future[None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds; it is checked at every arrival and every answer."""
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), HOLD)

    async def _changes(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    def _refuse_held(self) -> None:
        """Once the policy has ended (it failed, or the test is over), refuse every held upload:
        a 400, which the client does not retry, ends the sync at once instead of at a timeout."""
        for upload in self.uploads:
            if not upload.answer.done():
                upload.answer.set_result(envelope_error(400, 10021, "the test's policy has ended"))

    def stop(self) -> None:
        """From the test's thread: end the policy, raising whatever made it fail."""
        assert self.loop is not None and self._task is not None
        task = self._task

        async def cancel() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        asyncio.run_coroutine_threadsafe(cancel(), self.loop).result(HOLD)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/workers/assets/upload"):
            await self.app(scope, receive, send)
            return
        if self._changed is None:
            self.loop, self._changed = asyncio.get_running_loop(), asyncio.Condition()
            self._task = asyncio.ensure_future(self.policy(self))
            self._task.add_done_callback(lambda _: self._refuse_held())
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        self.in_flight += 1
        upload = Upload(b"".join(chunks), self.in_flight, asyncio.get_running_loop().create_future())
        self.uploads.append(upload)
        if self._task is not None and self._task.done():
            self._refuse_held()
        await self._changes()
        counted = False

        async def answer(message: dict[str, Any]) -> None:
            nonlocal counted
            if message["type"] == "http.response.body" and not message.get("more_body") and not counted:
                counted = True
                self.in_flight -= 1  # before the answer leaves: the client cannot see it sooner
                await self._changes()
            await send(message)

        gone = asyncio.ensure_future(receive())  # http.disconnect, once the client drops it
        try:
            await asyncio.wait([upload.answer, gone], return_when=asyncio.FIRST_COMPLETED)
            if not upload.answer.done():
                return
            fault = upload.answer.result()
            if fault is None:
                await self.app(scope, replay(upload.body), answer)
                return
            status, headers, body = fault
            start = [(k.encode(), v.encode()) for k, v in headers]
            await answer({"type": "http.response.start", "status": status, "headers": start})
            await answer({"type": "http.response.body", "body": body})
        finally:
            gone.cancel()
            if not counted:
                self.in_flight -= 1
                await self._changes()


def one_request_per_file(tmp_path: Path, policy: Policy) -> tuple[LiveEmulator, HeldUploads]:
    """An emulator whose sessions ask for each file in its own upload, behind ``policy``."""
    live = LiveEmulator(tmp_path / "emulator-data", limits=Limits(bucket_files=1))
    gate = HeldUploads(live.emulator, policy)
    live.app = gate
    return live, gate


def run_syncer(
    site: Path,
    options: SyncOptions,
    live: LiveEmulator,
    sleep: Callable[[Syncer, float], None],
) -> SyncReport:
    """Sync ``site`` with the engine's back-offs handed to ``sleep`` (with the syncer) instead of
    slept: no test waits for one."""
    target = Target("api", live.api, ACCOUNT, live.token)

    async def main() -> SyncReport:
        client = target.client(timeout=HOLD)

        async def no_wait(delay: float) -> None:
            sleep(syncer, delay)

        syncer = Syncer(str(site), options, target, client, sleep=no_wait)
        try:
            return await syncer.run()
        finally:
            await client.aclose()

    return asyncio.run(main())


def sync_options(**kw: Any) -> SyncOptions:
    return SyncOptions(script="site", build=BuildOptions(use_cache=False), timeout=HOLD, **kw)


@pytest.mark.parametrize("status", [429, 503, 524])
def test_uploads_in_flight_halve_when_the_server_pushes_back(tmp_path: Path, status: int) -> None:
    """4 uploads in the server at once; one is answered ``status``. From then on the client keeps
    at most 2 in flight: its retry goes out only once two of the other three have come back."""
    site = make_tree(tmp_path / "site", {f"f{i}.txt": f"file {i}" for i in range(4)})
    admitted: queue.Queue[int] = queue.Queue()

    async def policy(gate: HeldUploads) -> None:
        await gate.until(lambda: gate.in_flight == 4)
        gate.uploads[0].answer.set_result(envelope_error(status, 10429, "slow down"))
        # The uploads the client let in once it had the answer: all of them must arrive.
        n = await asyncio.to_thread(admitted.get, True, HOLD)
        await gate.until(lambda: gate.in_flight == n)
        while True:  # then everything goes through
            for upload in gate.uploads:
                if not upload.answer.done():
                    upload.answer.set_result(None)
            await gate.until(lambda: not gate.uploads[-1].answer.done())

    def after_the_throttle(syncer: Syncer, delay: float) -> None:
        # The throttled upload's task calls this, then at once asks for a slot again (a free slot
        # is taken without yielding to the loop): the count scheduled here runs once that task
        # is either parked by the limit or let in, so it is what the client let in after the
        # throttle, and the server waits for all of those before it answers anything.
        asyncio.get_running_loop().call_soon(lambda: admitted.put(syncer.slots.busy))

    live, gate = one_request_per_file(tmp_path, policy)
    with live:
        report = run_syncer(site, sync_options(concurrency=4), live, after_the_throttle)
        gate.stop()
    assert report.deployment_id and report.retries == 1
    arrivals = [u.in_flight for u in gate.uploads]
    assert arrivals[:4] == [1, 2, 3, 4]  # --concurrency 4: four at once before the throttle
    assert len(arrivals) == 5 and arrivals[4] <= 2  # the retry: 2 at most in flight after it


def test_a_request_failing_while_others_succeed_stops_at_patience_times_attempts(tmp_path: Path) -> None:
    """One upload always fails with a 500 while another succeeds between any two of its tries: it
    keeps trying past --attempts (the API is up), and stops at PATIENCE times --attempts."""
    files = {f"f{i:02d}.txt": f"file {i}" for i in range(16)}
    site = make_tree(tmp_path / "site", files)
    attempts = 2
    doomed: list[str] = []  # the hash of the upload that always fails: the first to arrive

    async def policy(gate: HeldUploads) -> None:
        def held(failing: bool) -> list[Upload]:
            return [u for u in gate.uploads if (part(u) == doomed[0]) == failing and not u.answer.done()]

        def no_other_to_come() -> bool:  # all others arrived and answered (only if it never gives up)
            return sum(part(u) != doomed[0] for u in gate.uploads) == len(files) - 1 and not held(False)

        def another_since(n: int) -> bool:  # another upload arrived after the first n
            return any(part(u) != doomed[0] for u in gate.uploads[n:]) or no_other_to_come()

        await gate.until(lambda: bool(gate.uploads))
        doomed.append(part(gate.uploads[0]))
        while True:
            await gate.until(lambda: bool(held(True)))
            try_ = held(True)[0]
            # While this try is in the server, another upload succeeds...
            await gate.until(lambda: bool(held(False)) or no_other_to_come())
            if held(False):
                n = len(gate.uploads)
                held(False)[0].answer.set_result(None)
                # ...and the client has counted it: it sends the next upload only after that.
                await gate.until(partial(another_since, n))
            try_.answer.set_result(envelope_error(500, 10013, "internal error"))

    live, gate = one_request_per_file(tmp_path, policy)
    options = sync_options(concurrency=2, attempts=attempts)
    with live:
        with pytest.raises(ServerError, match=f"Gave up after {attempts * PATIENCE} attempts"):
            run_syncer(site, options, live, lambda syncer, delay: None)
        gate.stop()
        assert live.emulator.store.all_live() == []  # nothing deployed
    assert [part(u) for u in gate.uploads].count(doomed[0]) == attempts * PATIENCE


def part(upload: Upload) -> str:
    """The hash of the one file an upload carries (each file is its own upload here)."""
    names: set[bytes] = set(re.findall(rb'name="([0-9a-f]{32})"', upload.body))  # name and filename
    (name,) = names
    return name.decode()
