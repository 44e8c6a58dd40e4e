"""How fast to send: the throughput measured on this link in this run, and what follows from it.

Values in, decisions out, with the clock passed in (as in :mod:`assetsync.retry`), so every rule
is tested without sockets or sleeps:

- :class:`Meter`: the run's aggregate upload rate over the last few seconds, from the bytes each
  request hands to its connection.
- :class:`Governor`: how many uploads to keep in flight. It adds one while the extra request adds
  throughput (on a far link, requests in flight hide the round trips between them) and sheds it
  when it only splits a link that is already full (each request then takes longer, and a reset
  costs more). The AIMD limit of :class:`~assetsync.retry.Concurrency` stays in charge of a
  server that pushes back; ``--concurrency`` is the ceiling of both.
- :func:`piece_size`: how many bytes a request hands to its connection at a time, so that on any
  link a write completes within a fraction of a second; a request then counts as stalled only
  when no bytes moved for the whole ``--timeout``, never because a shared link is slow.
- :func:`resend_from`: after a request failed mid-body, which of its parts to send again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from .retry import Concurrency

# Uploads in flight: a run starts at START_CONCURRENCY and follows the measured throughput up to
# the ceiling (--concurrency, default DEFAULT_CONCURRENCY): on a far link, requests in flight hide
# the round trips; on a full one they only split it. benchmarks/sync.py on loopback cannot tell 1
# from 8 (the emulator's ingest is the limit at every setting). The AIMD limit backs off by itself
# when the server pushes back. wrangler keeps 3.
START_CONCURRENCY = 4
DEFAULT_CONCURRENCY = 8
MIN_PIECE = 16 << 10
MAX_PIECE = 1 << 20
FIRST_PIECE = 64 << 10  # before anything is measured: small enough for a 100 KB/s link
PIECE_SECONDS = 0.25  # a write should take about this long at the measured rate
RESEND_MARGIN = 256 << 10  # bytes a failed request may have handed over that never arrived
RESEND_SECONDS = 0.5  # ...and this much link time at its measured rate (a far link's bytes in flight)


class Meter:
    """Bytes handed to connections over time; :meth:`rate` is the recent aggregate rate."""

    __slots__ = ("window", "total", "_samples")

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self.total = 0
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, n: int, now: float) -> None:
        """Count ``n`` more bytes sent by ``now``. Zero or less is ignored: a failed request's
        bytes taken back from what a run shows as uploaded still went over the link."""
        if n <= 0:
            return
        self.total += n
        samples = self._samples
        if samples and now - samples[-1][0] < 0.05:
            samples[-1] = (samples[-1][0], self.total)  # one sample per 50 ms is plenty
        else:
            samples.append((now, self.total))
        while len(samples) > 2 and now - samples[1][0] > self.window:
            samples.popleft()

    def rate(self, now: float) -> float | None:
        """Bytes/s over the window, or None until a quarter second has been measured. A link that
        went quiet reads as slowing down: the window ends at ``now``, not at the last byte."""
        samples = self._samples
        if len(samples) < 2:
            return None
        t0, n0 = samples[0]
        for t, n in samples:  # the last sample at the window's start, once the window has passed
            if t > now - self.window:
                break
            t0, n0 = t, n
        span = now - t0
        if span < 0.25:
            return None
        return (self.total - n0) / span


def piece_size(rate: float | None, in_flight: int) -> int:
    """Bytes per write for one of ``in_flight`` requests sharing a link measured at ``rate``."""
    if rate is None:
        return FIRST_PIECE
    share = rate / max(1, in_flight)
    return int(min(MAX_PIECE, max(MIN_PIECE, share * PIECE_SECONDS)))


def resend_from(finished_at: Sequence[int], sent: int, margin: int) -> int:
    """The index of the first part to send again after a request failed with ``sent`` body bytes
    handed to its connection: parts that finished at least ``margin`` bytes earlier are taken as
    received (``finished_at[i]`` is where part ``i`` ended in the body). The last part is always
    sent again, so that the retry's answer can carry the completion token.

    Taken as received is a guess: the server may have dropped them with the failed request. If so,
    no answer carries the completion token, and the engine opens a new session, whose buckets list
    exactly what is missing; nothing is ever deployed on the guess.
    """
    keep = len(finished_at) - 1 if finished_at else 0
    for i, end in enumerate(finished_at):
        if end > sent - margin:
            return min(i, keep)
    return keep


class Governor:
    """Steers a :class:`~assetsync.retry.Concurrency` by measured throughput, between ``floor`` and
    ``ceiling`` (``--concurrency``).

    Every ``interval`` seconds of uploading with every slot busy, it tries one step: up when the
    last step up paid, else down, alternately. A step up is kept when it brought at least
    ``gain`` more throughput; a step down when it cost less than half that (the link was full,
    the extra request only split it). A step not kept is taken back, and the limit then holds for
    ``hold`` intervals. It moves the limit and the level that AIMD recovers to after the server
    pushed back (the Concurrency's ``maximum``) together; a step the server's push-back
    overtook is not judged.
    """

    __slots__ = ("c", "ceiling", "floor", "interval", "gain", "hold", "_t", "_n", "_probe", "_held", "_up")

    def __init__(
        self,
        concurrency: Concurrency,
        ceiling: int,
        floor: int = 2,
        interval: float = 1.0,
        gain: float = 0.1,
        hold: int = 8,
    ) -> None:
        self.c = concurrency
        self.ceiling = max(1, ceiling)
        self.floor = max(1, min(floor, self.ceiling))
        self.interval = interval
        self.gain = gain
        self.hold = hold
        self._t: float | None = None
        self._n = 0  # bytes sent by the start of this interval
        self._probe: tuple[int, float, int] | None = None  # (step, rate before, limit after)
        self._held = 0
        self._up = True  # the direction of the next step

    def tick(self, sent: int, now: float, busy: int) -> None:
        """Look at the link once an interval has passed: ``sent`` bytes were handed to connections
        by ``now`` in all, and ``busy`` uploads are in flight (a limit not used in full says
        nothing about the link, so nothing is tried then)."""
        if self._t is None:
            self._t, self._n = now, sent
            return
        if now - self._t < self.interval:
            return
        rate = (sent - self._n) / (now - self._t)  # over this interval alone: since the last step
        self._t, self._n = now, sent
        c = self.c
        if self._probe is not None:
            step, before, limit = self._probe
            self._probe = None
            if c.limit != limit:
                return  # the server pushed back meanwhile: AIMD has the say
            paid = rate >= before * (1 + self.gain) if step > 0 else rate >= before * (1 - self.gain / 2)
            if not paid:
                self._set(limit - step)
                self._held = self.hold
                self._up = step < 0  # try the other way next time
            else:
                self._up = step > 0  # keep going the way that paid
            return
        if self._held:
            self._held -= 1
            return
        if busy < c.limit:
            return
        step = 1 if (self._up and c.limit < self.ceiling) or c.limit <= self.floor else -1
        if not self.floor <= c.limit + step <= self.ceiling:
            return
        self._set(c.limit + step)
        self._probe = (step, rate, c.limit)

    def _set(self, limit: int) -> None:
        self.c.limit = limit
        self.c.maximum = limit
