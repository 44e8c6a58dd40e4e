"""Retry decisions: what a failure means, how long to wait, how many requests to run, when to stop.

Values in, decisions out (in the manner of h11), so every rule is tested without sockets or
sleeps; :class:`Retrier` is the one loop that applies them, for the sync engine and for the
namespace's listing and deleting alike (its waits go through a ``sleep`` the caller may replace).

- :func:`classify`: network errors, 5xx, 408 and 429 are worth retrying; 429, 503 and 524 also
  mean "slow down"; a success status whose answer is not one (an HTML page from a gateway) is
  worth retrying too; 401 on an upload means the upload token expired or was refused, so a fresh
  session is needed; any other 4xx will not get better by asking again.
- :class:`Backoff`: exponential with full jitter, capped, and never shorter than ``Retry-After``.
- :class:`Concurrency`: additive increase, multiplicative decrease (TCP's AIMD): halve on a
  throttle signal, creep back up by one after a run of successes.
- :class:`Budget`: when one request gives up, from its failures and the run's successes.
- :class:`Retries`: the policy a run is given (attempts, back-off), and :class:`Retrier` applying it.

A refusal of the API's rate limiter (:attr:`~assetsync.errors.ApiError.paced`) is no failure of
the request: the run's pacer holds every request until the limiter's ``Retry-After`` has passed,
so the Retrier sends it again at once (into that shared wait), spending no attempt, up to
:data:`PAUSES` times.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import ApiError

T = TypeVar("T")


class Verdict(enum.Enum):
    RETRY = "retry"  # transient: try the same request again after a back-off
    SLOW_DOWN = "slow down"  # transient and the server is overloaded: retry, with less concurrency
    NEW_SESSION = "new session"  # the upload token is no longer good: open a fresh session
    FATAL = "fatal"  # asking again will not help
    WAIT = "wait"  # the rate limiter refused it: sent again once the run's shared pause is over


THROTTLE_STATUSES = frozenset({429, 503, 524})
RETRY_STATUSES = frozenset({408, 500, 502, 504, 520, 521, 522, 523, 525, 526, 527, 530})


def classify(status: int | None, *, upload: bool = False) -> Verdict:
    """What a failed request means. ``status`` None is a network error (reset, timeout, truncated)."""
    if status is None:
        return Verdict.RETRY
    if status in THROTTLE_STATUSES:
        return Verdict.SLOW_DOWN
    if status in RETRY_STATUSES or status >= 500:
        return Verdict.RETRY
    if 200 <= status < 300:
        # Only an unusable answer makes a 2xx an error: a captive or gateway page, a body cut
        # to something that is not the envelope. Nothing says the request was wrong.
        return Verdict.RETRY
    if status == 401 and upload:
        return Verdict.NEW_SESSION
    return Verdict.FATAL


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before attempt ``n`` (1 = the first retry)."""

    base: float = 0.25
    cap: float = 20.0
    retry_after_cap: float = 120.0  # the longest Retry-After honoured: a longer one is cut to this

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        jittered = (rng or random).uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            return max(jittered, min(retry_after, self.retry_after_cap))
        return jittered


class Concurrency:
    """How many uploads may be in flight: AIMD between ``minimum`` and ``maximum``."""

    __slots__ = ("limit", "minimum", "maximum", "_streak", "_grow_after")

    def __init__(
        self, initial: int, minimum: int = 1, maximum: int | None = None, grow_after: int = 4
    ) -> None:
        self.maximum = max(initial, maximum or initial)
        self.minimum = max(1, min(minimum, initial))
        self.limit = max(self.minimum, initial)
        self._streak = 0
        self._grow_after = grow_after

    def on_success(self) -> None:
        self._streak += 1
        if self._streak >= self._grow_after and self.limit < self.maximum:
            self.limit += 1
            self._streak = 0

    def on_throttle(self) -> None:
        self.limit = max(self.minimum, self.limit // 2)
        self._streak = 0


# While other requests get through, a failing one keeps trying up to this many times ``attempts``.
PATIENCE = 3
# Refusals of the rate limiter one request waits out for free; beyond, each is a failure (a limiter
# that blocks for ever must still end the run).
PAUSES = 10


class Budget:
    """When one request gives up: after ``attempts`` failures in a row during which no other
    request of the run got through (the API is down), or after ``attempts * patience`` failures
    in all (the API is up, but this request never gets through, and the run must end).

    A budget per request alone fails big syncs on a flaky link: at a 30% fault rate, the chance
    that one of 200 requests draws 6 faults in a row is 14%.
    """

    __slots__ = ("attempts", "patience", "tries", "stalled", "_seen")

    def __init__(self, attempts: int, patience: int = PATIENCE) -> None:
        self.attempts = attempts
        self.patience = patience
        self.tries = 0  # failures of this request
        self.stalled = 0  # of which in a row with no success elsewhere in between
        self._seen: int | None = None  # the run's successes at the last failure (the first one stalls)

    def failed(self, successes: int) -> bool:
        """Count one failure, ``successes`` being the run's successes by now; True: give up."""
        self.tries += 1
        self.stalled = 1 if successes != self._seen else self.stalled + 1
        self._seen = successes
        return self.stalled >= self.attempts or self.tries >= self.attempts * self.patience


@dataclass(frozen=True, slots=True)
class Retries:
    """How hard a run tries each request: see :class:`Budget` for ``attempts`` and ``patience``,
    :class:`Backoff` for the waits in between."""

    attempts: int = 6
    backoff: Backoff = field(default_factory=Backoff)
    patience: int = PATIENCE


@dataclass(frozen=True, slots=True)
class Retry:
    """A failed request about to be tried again, after ``delay`` seconds."""

    what: str
    error: ApiError
    verdict: Verdict  # RETRY, SLOW_DOWN, or WAIT (for the run's pause, spending no attempt)
    attempt: int  # failures of this request so far (for WAIT: the rate limiter's refusals of it)
    delay: float  # for WAIT, the Retry-After the pause honours


class Retrier:
    """Runs each request of one run until it succeeds or its :class:`Budget` gives up.

    One per run, so that every request's budget sees the run's successes. A failure that is not
    worth retrying (FATAL, or NEW_SESSION for ``upload`` requests) is raised as it is; one whose
    budget ran out is raised saying how many attempts it took. ``on_retry`` hears of each retry
    before its back-off (to report it, or to slow down); ``sleep`` waits the back-off out.
    """

    def __init__(
        self,
        retries: Retries | None = None,
        *,
        on_retry: Callable[[Retry], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.retries = retries or Retries()
        self.on_retry = on_retry
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.successes = 0  # requests of this run that succeeded: the API is up while it grows

    async def __call__(self, what: str, call: Callable[[], Awaitable[T]], *, upload: bool = False) -> T:
        """``call()``'s result, once a try of it succeeds; ``what`` names it in :class:`Retry`."""
        budget = Budget(self.retries.attempts, self.retries.patience)
        pauses = 0
        while True:
            try:
                result = await call()
            except ApiError as exc:
                if exc.paced and pauses < PAUSES:
                    pauses += 1
                    if self.on_retry is not None:
                        self.on_retry(Retry(what, exc, Verdict.WAIT, pauses, exc.retry_after or 0.0))
                    continue  # the client holds the next try until the run's pause is over
                verdict = classify(exc.status, upload=upload)
                if verdict in (Verdict.FATAL, Verdict.NEW_SESSION):
                    raise
                if budget.failed(self.successes):
                    raise exc.gave_up(budget.tries) from None
                delay = self.retries.backoff.delay(budget.tries, exc.retry_after, self.rng)
                if self.on_retry is not None:
                    self.on_retry(Retry(what, exc, verdict, budget.tries, delay))
                await self.sleep(delay)
            else:
                self.successes += 1
                return result
