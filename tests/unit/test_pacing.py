"""Pacing rules without sockets or sleeps: the measured rate, the write size, what to resend after
a failure mid-body, and how many uploads to keep in flight on simulated links."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from assetsync.pacing import (
    FIRST_PIECE,
    MAX_PIECE,
    MIN_PIECE,
    Governor,
    Meter,
    piece_size,
    resend_from,
)
from assetsync.retry import Concurrency


def test_meter_has_no_rate_until_a_quarter_second_is_measured() -> None:
    m = Meter()
    assert m.rate(0.0) is None
    m.add(1000, 0.0)
    m.add(1000, 0.1)
    assert m.rate(0.2) is None
    assert m.rate(1.0) == pytest.approx(1000 / 1.0)


def test_meter_rate_is_over_its_window_and_a_quiet_link_reads_as_slowing() -> None:
    m = Meter(window=3.0)
    for i in range(100):  # 1 MB/s for 10 s, a sample every 0.1 s
        m.add(100_000, i / 10)
    assert m.rate(9.9) == pytest.approx(1_000_000, rel=0.05)
    assert m.total == 10_000_000
    # Nothing more moves: the window ends now, so the rate falls instead of holding its last value.
    quiet = m.rate(12.0)
    assert quiet is not None and quiet < 500_000


def test_meter_ignores_bytes_taken_back() -> None:
    m = Meter()
    m.add(500, 0.0)
    m.add(-500, 0.5)
    m.add(0, 0.6)
    assert m.total == 500


@pytest.mark.parametrize(
    ("rate", "in_flight", "size"),
    [
        (None, 4, FIRST_PIECE),  # nothing measured yet: small enough for a slow link
        (100_000.0, 4, MIN_PIECE),  # 25 KB/s each: the smallest write
        (1_000_000.0, 1, 250_000),  # a quarter second of the link
        (1_000_000.0, 4, 62_500),  # a quarter second of the request's share
        (500_000_000.0, 4, MAX_PIECE),  # loopback: the largest write
        (1_000_000.0, 0, 250_000),  # none in flight counts as one
    ],
)
def test_piece_size_is_a_quarter_second_of_a_requests_share(
    rate: float | None, in_flight: int, size: int
) -> None:
    assert piece_size(rate, in_flight) == size


def test_resend_from_keeps_parts_that_finished_well_before_the_failure() -> None:
    ends = [100, 200, 300, 400, 500]
    assert resend_from(ends, sent=450, margin=100) == 3  # parts ending at or before 350 arrived
    assert resend_from(ends, sent=450, margin=0) == 4  # the last part is always resent
    assert resend_from(ends, sent=120, margin=50) == 0  # nothing finished early enough
    assert resend_from(ends, sent=10_000, margin=100) == 4  # all sent: only the last one again
    assert resend_from([], sent=0, margin=0) == 0


Link = Callable[[int], float]


def run(governor: Governor, link: Link, seconds: int, busy: Callable[[int], int] | None = None) -> list[int]:
    """The limits a governor sets over ``seconds`` of a link whose rate depends on the limit."""
    sent, limits = 0, []
    c = governor.c
    governor.tick(0, 0.0, c.limit)
    for t in range(1, seconds + 1):
        sent += int(link(c.limit))
        governor.tick(sent, float(t), busy(c.limit) if busy else c.limit)
        limits.append(c.limit)
    return limits


def far(limit: int) -> float:
    """A far link: each request is held back by round trips, so each adds its share (1 MB/s)."""
    return min(6_000_000.0, limit * 1_000_000.0)


def full(limit: int) -> float:
    """A slow link any one request fills: more requests only split it."""
    return 1_000_000.0


def test_governor_adds_requests_while_they_add_throughput() -> None:
    c = Concurrency(4)
    limits = run(Governor(c, ceiling=8), far, 60)
    assert max(limits) >= 6
    assert limits[-1] >= 6  # where more stopped helping, and it stays there
    assert max(limits) <= 8


def test_governor_sheds_requests_that_only_split_a_full_link() -> None:
    c = Concurrency(4)
    limits = run(Governor(c, ceiling=8), full, 120)
    assert limits[-1] == 2  # the floor: one request waiting for its answer leaves the link idle
    assert min(limits) >= 2


def test_governor_never_passes_its_ceiling_nor_judges_a_limit_not_in_use() -> None:
    c = Concurrency(2)
    limits = run(Governor(c, ceiling=3), far, 30)
    assert max(limits) == 3
    c = Concurrency(4)
    limits = run(Governor(c, ceiling=8), far, 30, busy=lambda limit: 1)  # too little work to fill it
    assert set(limits) == {4}


def test_governor_steps_aside_when_the_server_pushes_back() -> None:
    c = Concurrency(4)
    g = Governor(c, ceiling=8)
    g.tick(0, 0.0, 4)
    g.tick(4_000_000, 1.0, 4)  # probes one more
    assert c.limit == 5
    c.on_throttle()  # a 429 halves it before the probe is judged
    assert c.limit == 2
    g.tick(4_000_000, 2.0, 2)  # the throughput fell, but the probe is not what did it
    assert c.limit == 2
    assert c.maximum == 5  # AIMD recovers towards the level the governor had set
