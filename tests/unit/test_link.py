"""The link simulator's pure rules: the spec grammar, the shared bottleneck's arithmetic, and which
requests a reset cuts. No sockets, no clocks: times are numbers the tests pass in."""

from __future__ import annotations

import heapq

import pytest

from assetsync.emulator.link import CHUNK, LOOKAHEAD, RESET_SPAN, Bottleneck, LinkSpec, Resets

MBIT = 125_000.0  # bytes/s


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("8mbit/40ms", LinkSpec(8 * MBIT, 8 * MBIT, 0.04)),
        ("2Mbit/100ms", LinkSpec(2 * MBIT, 2 * MBIT, 0.1)),
        ("100kB/200ms", LinkSpec(100_000, 100_000, 0.2)),
        ("800kbit/0", LinkSpec(100_000, 100_000, 0.0)),
        ("1gbit/0.5s", LinkSpec(125_000_000, 125_000_000, 0.5)),
        ("64KiB/1s", LinkSpec(65_536, 65_536, 1.0)),
        ("1.5MiB/10ms", LinkSpec(1.5 * 1024 * 1024, 1.5 * 1024 * 1024, 0.01)),
        ("3MB", LinkSpec(3e6, 3e6, 0.0)),
        ("unlimited/80ms", LinkSpec(None, None, 0.08)),
        ("8mbit/40ms,reset=1%,seed=7", LinkSpec(8 * MBIT, 8 * MBIT, 0.04, 0.01, 7)),
        ("8mbit/40ms, up=1mbit", LinkSpec(MBIT, 8 * MBIT, 0.04)),
        ("up=2mbit,down=unlimited,rtt=80ms,reset=0.5", LinkSpec(2 * MBIT, None, 0.08, 0.5)),
        ("reset=100%", LinkSpec(reset=1.0)),
    ],
)
def test_parse_accepts(text: str, spec: LinkSpec) -> None:
    got = LinkSpec.parse(text)
    assert got.up == pytest.approx(spec.up) and got.down == pytest.approx(spec.down)
    assert (got.rtt, got.reset, got.seed) == pytest.approx((spec.rtt, spec.reset, spec.seed))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("8mb/40ms", "unknown unit 'mb'"),
        ("8/40ms", "'8' needs a unit"),
        ("8mbit/40", "round trip '40' needs a unit: ms or s"),
        ("fast", "'fast' is not a number"),
        ("0mbit/40ms", "must be above zero"),
        ("8mbit/40ms,reset=2", "between 0 and 1"),
        ("8mbit/40ms,reset=1ms", "is a probability"),
        ("8mbit/40ms,colour=red", "unknown key 'colour'"),
        ("8mbit/40ms,rtt=1ms,rtt=2ms", "rtt= is given twice"),
        ("8mbit/40ms,seed=x", "seed 'x' is not a whole number"),
        ("8mbit/40ms,", "'' is neither RATE/RTT"),
        ("8mbit/40ms,2mbit", "'2mbit' is neither RATE/RTT (first) nor KEY=VALUE"),
    ],
)
def test_parse_rejects_saying_what_and_showing_examples(text: str, says: str) -> None:
    with pytest.raises(ValueError) as info:
        LinkSpec.parse(text)
    message = str(info.value)
    assert message.startswith(f"link {text!r}: ") and says in message
    assert "Examples: 8mbit/40ms; 100kB/200ms,reset=1%" in message


def test_a_spec_built_directly_is_checked_too() -> None:
    for bad in ({"up": 0.0}, {"down": -1.0}, {"rtt": -0.1}, {"reset": 1.5}, {"up": float("inf")}):
        with pytest.raises(ValueError):
            LinkSpec(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("8mbit/40ms,reset=1%", "8 Mbit/s up, 8 Mbit/s down, 40 ms RTT, 1% requests reset"),
        ("100kB/200ms", "800 kbit/s up, 800 kbit/s down, 200 ms RTT"),
        ("up=1MiB,down=unlimited", "8.39 Mbit/s up, unlimited down, 0 ms RTT"),
        ("1gbit/0.5ms,reset=0.001", "1 Gbit/s up, 1 Gbit/s down, 0.5 ms RTT, 0.1% requests reset"),
        ("50B/1s", "400 bit/s up, 400 bit/s down, 1000 ms RTT"),
    ],
)
def test_describe(text: str, description: str) -> None:
    assert LinkSpec.parse(text).describe() == description


def test_a_chunk_occupies_the_bottleneck_len_over_rate() -> None:
    link = Bottleneck(rate=CHUNK)  # one chunk a second
    assert link.grant(CHUNK, now=10.0) == 11.0
    assert link.grant(CHUNK, now=10.5) == 12.0  # queued behind the first, not sent at once
    assert link.grant(CHUNK // 4, now=12.0) == 12.25
    assert link.grant(CHUNK, now=20.0) == 21.0  # an idle link saves no credit for a burst
    assert link.carried == 3 * CHUNK + CHUNK // 4


def _share(link: Bottleneck, senders: int, chunks: int, lookahead: float) -> list[list[float]]:
    """When each of ``senders`` connections' chunks leave ``link``, each sender asking for its
    next chunk ``lookahead`` before its last one leaves, as the proxy's pumps do."""
    left: list[list[float]] = [[] for _ in range(senders)]
    asks = [(0.0, i) for i in range(senders)]  # (time, sender): all start together
    while asks:
        now, i = heapq.heappop(asks)
        left[i].append(link.grant(CHUNK, now))
        if len(left[i]) < chunks:
            heapq.heappush(asks, (max(now, left[i][-1] - lookahead), i))
    return left


@pytest.mark.parametrize("lookahead", [0.0, LOOKAHEAD])
@pytest.mark.parametrize("senders", [1, 2, 5])
def test_connections_share_one_bottleneck_each_getting_one_nth(senders: int, lookahead: float) -> None:
    chunk_time = 0.016  # a 16 KiB chunk at 8 Mbit/s
    link = Bottleneck(rate=CHUNK / chunk_time)
    left = _share(link, senders, chunks=50, lookahead=lookahead)
    # The link never idles: the last chunk leaves when all of them took their len/rate.
    assert max(t for times in left for t in times) == pytest.approx(senders * 50 * chunk_time)
    for times in left:  # and they take turns: each sender's k-th chunk within one round of k N
        for k, t in enumerate(times, 1):
            assert (k - 1) * senders * chunk_time < t <= (k * senders + 1) * chunk_time + 1e-9


def test_resets_forced_first_then_drawn_per_request_from_the_seed() -> None:
    never = Resets(0.0, seed=1)
    assert [never.next_request() for _ in range(1000)] == [None] * 1000
    always = Resets(1.0, seed=1)
    cuts = [always.next_request() for _ in range(1000)]
    assert all(c is not None and 0 <= c < RESET_SPAN for c in cuts)
    assert len(set(cuts)) > 900  # uniformly spread over the first MiB, not one point

    def draws(seed: int) -> list[int | None]:
        resets = Resets(0.25, seed)
        return [resets.next_request() for _ in range(4000)]

    assert draws(3) == draws(3) and draws(3) != draws(4)
    assert 900 < sum(c is not None for c in draws(3)) < 1100

    forced = Resets(0.0, seed=1)
    forced.force(after=100, count=2)
    forced.force(after=0)
    assert [forced.next_request() for _ in range(4)] == [100, 100, 0, None]
    with pytest.raises(ValueError):
        forced.force(after=-1)
