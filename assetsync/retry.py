"""Retry decisions without I/O: what a failure means, how long to wait, how many requests to run.

Values in, decisions out (in the manner of h11), so every rule is tested without sockets or
sleeps. The sync engine feeds it what each request ended with.

- :func:`classify`: network errors, 5xx, 408 and 429 are worth retrying; 429, 503 and 524 also
  mean "slow down"; a success status whose answer is not one (an HTML page from a gateway) is
  worth retrying too; 401 on an upload means the upload token expired or was refused, so a fresh
  session is needed; any other 4xx will not get better by asking again.
- :class:`Backoff`: exponential with full jitter, capped, and never shorter than ``Retry-After``.
- :class:`Concurrency`: additive increase, multiplicative decrease (TCP's AIMD): halve on a
  throttle signal, creep back up by one after a run of successes.
- :class:`Budget`: when one request gives up, from its failures and the run's successes.
"""

from __future__ import annotations

import email.utils
import enum
import random
from dataclasses import dataclass


class Verdict(enum.Enum):
    RETRY = "retry"  # transient: try the same request again after a back-off
    SLOW_DOWN = "slow down"  # transient and the server is overloaded: retry, with less concurrency
    NEW_SESSION = "new session"  # the upload token is no longer good: open a fresh session
    FATAL = "fatal"  # asking again will not help


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
