"""Retries and back-pressure: the rules of :mod:`assetsync.retry` without sockets or sleeps, then
the engine obeying them against the emulator over 127.0.0.1.

The integration tests hold uploads inside the server (:class:`HeldUploads`) and let them go one
decision at a time, so what they count (uploads in the server at once, tries of one upload) never
depends on how fast anything runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import queue
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from assetsync.build import BuildOptions
from assetsync.emulator.api import Limits
from assetsync.engine import Syncer, SyncOptions
from assetsync.errors import ServerError
from assetsync.events import SyncReport
from assetsync.retry import PATIENCE, Backoff, Budget, Concurrency, Verdict, classify, parse_retry_after
from assetsync.target import Target

from .conftest import ACCOUNT
from .helpers import LiveEmulator, envelope_error, make_tree

HOLD = 30.0  # seconds a held request or a policy waits before the test fails: a hang guard only

# -- what a failure means ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "upload", "verdict"),
    [
        (None, False, Verdict.RETRY),  # reset, timeout, truncated answer
        (429, False, Verdict.SLOW_DOWN),
        (503, True, Verdict.SLOW_DOWN),
        (524, False, Verdict.SLOW_DOWN),
        (500, False, Verdict.RETRY),
        (502, True, Verdict.RETRY),
        (408, False, Verdict.RETRY),
        (599, False, Verdict.RETRY),
        (200, False, Verdict.RETRY),  # a 2xx that is not the API's answer (a gateway's page)
        (401, True, Verdict.NEW_SESSION),  # the upload token expired or was refused
        (401, False, Verdict.FATAL),  # the API token is wrong: asking again will not help
        (400, True, Verdict.FATAL),
        (403, False, Verdict.FATAL),
        (404, False, Verdict.FATAL),
    ],
)
def test_classify(status: int | None, upload: bool, verdict: Verdict) -> None:
    assert classify(status, upload=upload) is verdict


# -- how long to wait ----------------------------------------------------------------------


def test_parse_retry_after_seconds_and_http_dates() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 2.5 ", now) == 2.5
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    assert [parse_retry_after(v, now) for v in (None, "", "soon")] == [None, None, None]


def test_backoff_is_jittered_exponential_and_capped() -> None:
    backoff, rng = Backoff(base=0.25, cap=20.0), random.Random(1)
    for attempt in range(1, 12):
        ceiling = min(20.0, 0.25 * 2 ** (attempt - 1))
        delays = [backoff.delay(attempt, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert len(set(delays)) == 50  # jittered: retries of many requests do not line up


def test_backoff_waits_at_least_retry_after_up_to_its_cap() -> None:
    backoff, rng = Backoff(), random.Random(2)
    assert backoff.delay(1, retry_after=7.0, rng=rng) == 7.0
    assert backoff.delay(1, retry_after=86_400.0, rng=rng) == backoff.retry_after_cap == 120.0
    # A Retry-After shorter than the back-off does not shorten it.
    assert 8.0 <= backoff.delay(7, retry_after=1.0, rng=rng) <= 16.0  # 0.25 x 2^6, jittered


# -- how many uploads at once --------------------------------------------------------------


def test_concurrency_halves_on_each_throttle_down_to_one() -> None:
    c = Concurrency(8)
    limits = []
    for _ in range(5):
        c.on_throttle()
        limits.append(c.limit)
    assert limits == [4, 2, 1, 1, 1]


def test_concurrency_grows_back_one_per_run_of_successes_never_past_the_start() -> None:
    c = Concurrency(4, grow_after=4)
    c.on_throttle()
    c.on_throttle()
    assert c.limit == 1
    seen = []
    for _ in range(20):
        c.on_success()
        seen.append(c.limit)
    assert seen == [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4] + [4] * 8
    # A throttle restarts the run: three successes, a throttle, three more do not grow it.
    c = Concurrency(4, grow_after=4)
    c.on_throttle()
    for _ in range(3):
        c.on_success()
    c.on_throttle()
    for _ in range(3):
        c.on_success()
    assert c.limit == 1


# -- when one request gives up -------------------------------------------------------------


def test_budget_gives_up_after_attempts_in_a_row_while_nothing_else_succeeds() -> None:
    budget = Budget(attempts=6, successes=10)
    assert [budget.failed(successes=10) for _ in range(6)] == [False] * 5 + [True]
    assert budget.tries == 6


def test_budget_keeps_trying_while_others_succeed_up_to_patience_times_attempts() -> None:
    budget = Budget(attempts=2, successes=0, patience=3)
    # Another request succeeds between every two failures: the stall count never reaches 2...
    gave_up = [budget.failed(successes=n) for n in range(1, 7)]
    # ...but the request stops after 2 x 3 tries all the same.
    assert gave_up == [False] * 5 + [True] and budget.tries == 6


def test_budget_counts_a_stall_from_the_last_success_elsewhere() -> None:
    budget = Budget(attempts=3, successes=0, patience=PATIENCE)
    assert budget.failed(1) is False  # someone succeeded since this request started
    assert budget.failed(2) is False
    assert budget.failed(2) is False  # 2 in a row with nothing else through
    assert budget.failed(2) is True  # 3 in a row: the API is down
    assert budget.tries == 4


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


def replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    """An ASGI ``receive`` that hands over ``body`` once (the server already read it)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


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
