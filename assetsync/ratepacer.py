"""Staying under the API's rate limit: one pacer for every request of a run.

The platform blocks a credential that goes over its budget (1,200 requests per five minutes),
every call answered 429 for the next five minutes (:mod:`assetsync.protocol.ratelimit`). A run
of thousands of tenants is far past that budget, so it must pace itself rather than retry its
way through: a blocked run loses whole windows, and each request retrying on its own keeps the
block going.

Values in, decisions out, with the clock passed in (as in :mod:`assetsync.retry`):

- :class:`Pacer`: a token bucket at the run's share of the budget, so that no span of one window
  holds more requests than the budget allows, whatever the server's windows are aligned to. The
  budget is the smallest of ``--rate-limit`` (a token shared with other tools) and what the
  server's ``Ratelimit-Policy`` states (or, before any answer, the platform's documented limit
  for Cloudflare's own API); a shard of ``N`` takes ``1/N`` of it. Each answer's ``Ratelimit``
  (requests left, seconds to the reset) also caps what is sent before the reset, so requests
  made by other clients with the same token are accounted for. A 429 of the rate limiter pauses
  every request until its ``Retry-After`` has passed: one shared wait, after which the bucket
  starts empty.
- :class:`RateGate`: the pacer for the requests of one event loop, which
  :class:`~assetsync.wire.client.ApiClient` passes every request through. The retry of a request
  the limiter refused goes through it too (:class:`~assetsync.retry.Retrier` spends none of the
  request's attempts on it), so it waits out the same pause as every other request.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .protocol.ratelimit import (
    RATELIMIT,
    RATELIMIT_POLICY,
    RateLimit,
    Remaining,
    parse_policy,
    parse_remaining,
)

MAX_BURST = 10  # requests the bucket holds at most: sent at once after a quiet spell
BURST_SHARE = 40  # ...and at most this fraction of the budget (3 of 120)
PROBE = 4  # requests in flight before an answer says whether there is a budget (any budget has room for them)
MAX_PAUSE = 900.0  # the longest Retry-After a pause honours (the platform blocks for 300 s)
EPSILON = 1e-9  # a token short by less is there (float rounding must not leave a wait of nothing)
SAME_WINDOW = 1.0  # two answers whose reset times differ by less speak of one window (t is rounded up)


def bucket_of(limit: RateLimit) -> tuple[float, float]:
    """(requests per second, burst) that keep every span of ``limit.seconds`` within ``limit``:
    at most ``burst + rate * seconds`` requests go out in such a span. A margin of 1% (at least one
    request) covers requests sent apart that arrive together."""
    burst = max(1.0, min(float(MAX_BURST), limit.requests / BURST_SHARE))
    margin = 1.0 + limit.requests / 100
    usable = max(limit.requests / 2, limit.requests - burst - margin)
    return usable / limit.seconds, burst


class Pacer:
    """When the next request of a run may go, from the budget and the server's answers."""

    def __init__(
        self,
        limit: RateLimit | None = None,
        *,
        share: int = 1,
        assumed: RateLimit | None = None,
        probe: bool = True,
    ) -> None:
        """``limit``: ``--rate-limit``, the most a run may use of its token (None: what the server
        allows). ``share``: this run's part of it (a shard of ``share``). ``assumed``: the server's
        budget until an answer states one. ``probe``: with neither known, at most :data:`PROBE`
        requests go before the first answer says whether there is a limit (a server that says
        nothing has none); without it, requests go unpaced until an answer states a budget."""
        self.limit = limit
        self.share = max(1, share)
        self.server = assumed  # the budget the server states (or is assumed to)
        self.known = limit is not None or assumed is not None or not probe
        self.in_flight = 0
        self.sent_total = 0
        self.refusals = 0  # answers of the rate limiter refusing a request (429)
        self.pauses = 0  # shared waits those caused (refusals in flight together make one)
        self.paused_until = 0.0
        self.remaining: Remaining | None = None  # the server's last word on the budget left
        self._allowance: float | None = None  # requests this run may still send before _reset_at
        self._reset_at = 0.0
        self._tokens = 0.0
        self._filled_at: float | None = None
        self._rate, self._burst = 0.0, 0.0
        self._set_budget()

    # -- what the pacing is -------------------------------------------------------------

    @property
    def budget(self) -> RateLimit | None:
        """This run's share of the tightest known budget; None: unpaced."""
        known = [b for b in (self.limit, self.server) if b is not None]
        tightest = min(known, key=lambda b: b.per_second, default=None)
        return tightest.share(self.share) if tightest is not None else None

    @property
    def rate(self) -> float | None:
        """Requests per second this run is paced to; None: unpaced (no budget known)."""
        return self._rate if self.budget is not None else None

    def seconds_for(self, requests: int) -> float:
        """How long ``requests`` take at this pace, from a full bucket (0 when unpaced)."""
        if self.rate is None or requests <= self._burst:
            return 0.0
        return (requests - self._burst) / self._rate

    def _set_budget(self) -> None:
        budget = self.budget
        if budget is None:
            return
        rate, burst = bucket_of(budget)
        if (rate, burst) != (self._rate, self._burst):
            if self._filled_at is None:  # the first requests go at once, less those sent unpaced
                self._tokens = burst - self.sent_total
            self._rate, self._burst = rate, burst
            self._tokens = min(self._tokens, burst)

    # -- decisions ----------------------------------------------------------------------

    def delay(self, now: float) -> float | None:
        """Seconds before the next request may go (0: now); None: not until an answer comes."""
        if now < self.paused_until:
            return self.paused_until - now
        if not self.known:
            return 0.0 if self.in_flight < PROBE else None
        if self._allowance is not None:
            if now >= self._reset_at:
                self._allowance = None  # a fresh window
            elif self._allowance < 1:
                return self._reset_at - now
        if self.budget is None:
            return 0.0
        self._refill(now)
        short = 1 - self._tokens
        return 0.0 if short <= EPSILON else short / self._rate

    def sent(self, now: float) -> int:
        """A request goes now (after :meth:`delay` said 0); returns its ticket for :meth:`answered`."""
        self.in_flight += 1
        self.sent_total += 1
        if self._allowance is not None:
            self._allowance -= 1
        if self.budget is not None:
            self._refill(now)
            self._tokens -= 1
        return self.sent_total

    def failed(self) -> None:
        """A request that went got no answer (the connection failed)."""
        self.in_flight = max(0, self.in_flight - 1)

    def answered(
        self,
        now: float,
        ticket: int,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        *,
        learn: bool = True,
    ) -> bool:
        """An answer to the request of ``ticket`` came: learn the budget from its headers (with
        ``learn``: only answers to the run's own credential speak of its budget, not those to an
        upload token). True when it is the rate limiter's refusal, a 429 with ``Retry-After`` and
        the limiter's headers: every request then pauses until ``Retry-After`` has passed, and
        this one is to be sent again then."""
        self.in_flight = max(0, self.in_flight - 1)
        policy_text, left_text = headers.get(RATELIMIT_POLICY), headers.get(RATELIMIT)
        if learn:
            self.known = True
            policy = parse_policy(policy_text)
            if policy is not None:
                self.server = policy
                self._set_budget()
            left = parse_remaining(left_text)
            if left is not None:
                self.remaining = left
                self._heard(now, left, self.sent_total - ticket)
        if status != 429 or retry_after is None or (policy_text is None and left_text is None):
            return False
        self.refusals += 1
        until = now + min(retry_after, MAX_PAUSE)
        if now >= self.paused_until:
            self.pauses += 1
        self.paused_until = max(self.paused_until, until)
        self._tokens = 0.0  # after the pause the bucket refills from empty: no burst into a new block
        self._filled_at = self.paused_until
        self._allowance = None
        return True

    def _heard(self, now: float, left: Remaining, since: int) -> None:
        """What the server says is left of the window, shared among this run's peers (shards), less
        the ``since`` requests this run sent after the answered one (the server may not have
        counted them in it)."""
        allowance = math.floor(left.requests / self.share) - since
        reset_at = now + left.reset
        if self._allowance is not None and abs(reset_at - self._reset_at) < SAME_WINDOW:
            self._allowance = min(self._allowance, allowance)  # an answer that overtook another
            self._reset_at = min(self._reset_at, reset_at)
        else:
            self._allowance, self._reset_at = allowance, reset_at

    def _refill(self, now: float) -> None:
        if self._filled_at is None:
            self._filled_at = now
        elapsed = now - self._filled_at
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._filled_at = now


class RateGate:
    """A :class:`Pacer` for the requests of one event loop: :meth:`acquire` before each request
    waits until the pacer lets it go; :meth:`answered` or :meth:`failed` after it. A request
    waiting for an answer (the first one, while the budget is unknown) wakes when one comes.

    ``clock`` and ``sleep`` are injectable, so tests step through a pace without waiting it out.
    """

    def __init__(
        self,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pacer = pacer or Pacer(probe=False)
        self.clock = clock
        self.sleep = sleep
        self._news: asyncio.Event | None = None  # set (and replaced) when an answer comes

    async def acquire(self) -> int:
        """Wait until the request may go; its ticket for :meth:`answered`."""
        while True:
            now = self.clock()
            delay = self.pacer.delay(now)
            if delay is not None and delay <= 0:
                return self.pacer.sent(now)
            await self._until(delay)

    async def _until(self, delay: float | None) -> None:
        """Wait ``delay`` seconds, or until an answer comes if that is sooner (None: only that)."""
        if self._news is None:
            self._news = asyncio.Event()
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._news.wait())}
        if delay is not None:
            waits.add(asyncio.ensure_future(self.sleep(delay)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def answered(
        self,
        ticket: int,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        *,
        learn: bool = True,
    ) -> bool:
        """:meth:`Pacer.answered`, now; and wake the requests waiting for news."""
        refused = self.pacer.answered(self.clock(), ticket, status, headers, retry_after, learn=learn)
        self._wake()
        return refused

    def failed(self) -> None:
        self.pacer.failed()
        self._wake()

    def _wake(self) -> None:
        if self._news is not None:
            self._news.set()
            self._news = None
