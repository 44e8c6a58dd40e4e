"""Pacing a run under the API's rate limit, rule by rule, with a clock the test moves: the
headers' grammar, the token bucket, what the server's answers teach it, the shared pause after
a refusal, and the Retrier spending no attempt on one. No sockets, no sleeps."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from assetsync.errors import ApiError, RateLimited, RequestRefused, ServerError, UsageError
from assetsync.protocol.ratelimit import (
    API_RATE_LIMIT,
    RateLimit,
    Remaining,
    format_policy,
    format_remaining,
    parse_policy,
    parse_remaining,
)
from assetsync.ratepacer import MAX_PAUSE, PROBE, Pacer, RateGate, bucket_of
from assetsync.retry import PAUSES, Backoff, Retrier, Retries, Retry, Verdict

# -- the limit and its headers -------------------------------------------------------------------


def test_rate_limit_parses_requests_per_seconds() -> None:
    assert RateLimit.parse(" 1200/300 ") == RateLimit(1200, 300) == API_RATE_LIMIT
    assert RateLimit.parse("20 / 2.5") == RateLimit(20, 2.5)
    assert RateLimit.parse("1/0.5") == RateLimit(1, 0.5)
    assert RateLimit(40, 4).per_second == 10 and str(RateLimit(40, 4)) == "40/4"
    assert RateLimit(1200, 300).share(4) == RateLimit(300, 300)
    assert RateLimit(10, 4).share(4).requests == 2.5  # a share may be fractional


@pytest.mark.parametrize(
    "text", ["", "120", "120/", "/10", "0/10", "10/0", "-1/10", "1.5/10", "a/b", "10/1/2"]
)
def test_a_malformed_rate_limit_says_the_form_and_names_the_option(text: str) -> None:
    with pytest.raises(UsageError) as err:
        RateLimit.parse(text)
    assert str(err.value) == (
        f"--rate-limit {text!r}: use REQUESTS/SECONDS, a whole number of requests per a number of "
        "seconds, both above 0; e.g. 1200/300 (the API's own limit: 1,200 per five minutes)"
    )


@pytest.mark.parametrize(
    ("requests", "seconds"), [(0, 1), (1, 0), (-1, 1), (math.inf, 1), (1, math.inf), (math.nan, 1)]
)
def test_a_rate_limit_is_a_finite_budget(requests: float, seconds: float) -> None:
    with pytest.raises(ValueError, match="a finite number above 0 of requests and of seconds"):
        RateLimit(requests, seconds)


def test_headers_round_trip_as_the_platform_writes_them() -> None:
    assert format_policy(RateLimit(1200, 300)) == '"burst";q=1200;w=300'
    assert format_remaining(50, 29.2) == '"default";r=50;t=30'  # the reset rounded up
    assert format_remaining(-3, -1) == '"default";r=0;t=0'
    assert parse_policy(format_policy(RateLimit(120, 10))) == RateLimit(120, 10)
    assert parse_remaining(format_remaining(7, 3)) == Remaining(7, 3)


@pytest.mark.parametrize(
    ("header", "policy"),
    [
        ('"burst";q=100;w=60', RateLimit(100, 60)),
        ("burst;w=60;q=100", RateLimit(100, 60)),  # a token name, parameters in any order
        ('"burst";q=100;w=60, "daily";q=1000;w=86400', RateLimit(1000, 86400)),  # the tightest
        ('"a";q=10;w=1,"b";q=100;w=60', RateLimit(100, 60)),
        ('"burst";q=100', None),  # no window
        ('"burst";q=0;w=60', None),
        ("nonsense ,,, here", None),
        ("", None),
        (None, None),
    ],
)
def test_policy_header(header: str | None, policy: RateLimit | None) -> None:
    assert parse_policy(header) == policy


@pytest.mark.parametrize(
    ("header", "left"),
    [
        ('"default";r=50;t=30', Remaining(50, 30)),
        ('"default";r=50;t=30, "other";r=3;t=5', Remaining(3, 5)),  # the scarcest
        ('"a";r=3;t=5, "b";r=3;t=9', Remaining(3, 9)),  # of two as scarce, the later reset
        ('"a";r="3";t=5', None),  # a string is no number
        ('"default";r=0;t=12.5', Remaining(0, 12.5)),
        ('"default";r=50', None),
        ('"default";r=x;t=3', None),
        (None, None),
    ],
)
def test_remaining_header(header: str | None, left: Remaining | None) -> None:
    assert parse_remaining(header) == left


# -- the bucket ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limit", [RateLimit(1200, 300), RateLimit(120, 3), RateLimit(40, 4), RateLimit(3, 10)]
)
def test_no_span_of_one_window_holds_more_than_the_budget(limit: RateLimit) -> None:
    """Requests sent as fast as the pacer allows, for three windows: every span of one window
    (wherever the server's windows begin) holds fewer than the budget, with a margin."""
    pacer, now, times = Pacer(limit), 0.0, []
    while now < 3 * limit.seconds:
        delay = pacer.delay(now)
        assert delay is not None
        if delay > 0:
            now += delay
            continue
        pacer.sent(now)
        pacer.answered(now, pacer.sent_total, 200, {}, None)
        times.append(now)
    busiest = max(sum(1 for t in times if s <= t < s + limit.seconds) for s in times)
    assert busiest <= limit.requests - 1
    rate, burst = bucket_of(limit)
    assert busiest >= min(limit.requests * 0.9, limit.requests - 3)  # and close to it: no waste
    assert pacer.rate == rate and burst <= 10


@pytest.mark.parametrize(
    ("limit", "rate", "burst"),
    [
        (RateLimit(1200, 300), (1200 - 10 - 13) / 300, 10),  # 98% of the nominal rate
        (RateLimit(120, 3), (120 - 3 - 2.2) / 3, 3),  # the benchmark's compressed window: 95.7%
        (RateLimit(40, 4), (40 - 1 - 1.4) / 4, 1),
        (RateLimit(3, 10), 1.5 / 10, 1),  # a tiny budget keeps half its rate, not a negative one
    ],
)
def test_the_bucket_of_a_budget(limit: RateLimit, rate: float, burst: float) -> None:
    assert bucket_of(limit) == pytest.approx((rate, burst))


def test_tokens_accrue_by_the_clock_however_often_the_pacer_is_asked() -> None:
    pacer = Pacer(API_RATE_LIMIT)
    rate, burst = bucket_of(API_RATE_LIMIT)
    for _ in range(int(burst)):
        pacer.sent(0.0)
    assert pacer.delay(1.0) == 0.0  # asked in between: nothing is lost
    sent = 0
    while pacer.delay(2.0) == 0.0:
        pacer.sent(2.0)
        sent += 1
    assert sent == math.floor(2 * rate)


def test_the_rate_is_the_smallest_budget_shared_by_the_shards() -> None:
    assert Pacer(probe=False).rate is None and Pacer(probe=False).seconds_for(50) == 0.0  # unpaced
    assert Pacer(RateLimit(40, 4)).rate == bucket_of(RateLimit(40, 4))[0]
    assert Pacer(RateLimit(40, 4), share=2).budget == RateLimit(20, 4)
    pacer = Pacer(RateLimit(600, 300), share=4, assumed=API_RATE_LIMIT)
    assert pacer.budget == RateLimit(150, 300)
    pacer.answered(0.0, 0, 200, {"Ratelimit-Policy": '"burst";q=120;w=300'}, None)
    assert pacer.budget == RateLimit(30, 300)  # the server's is tighter than --rate-limit
    assert pacer.seconds_for(1) == 0.0 and pacer.seconds_for(101) == pytest.approx(
        (101 - bucket_of(RateLimit(30, 300))[1]) / bucket_of(RateLimit(30, 300))[0]
    )


def test_cloudflares_documented_budget_holds_until_an_answer_states_one() -> None:
    pacer = Pacer(assumed=API_RATE_LIMIT)
    rate, burst = bucket_of(API_RATE_LIMIT)
    assert pacer.rate == rate and pacer.budget == API_RATE_LIMIT
    for _ in range(int(burst)):  # no probing: the burst goes at once, past PROBE
        assert pacer.delay(0.0) == 0.0
        pacer.sent(0.0)
    assert pacer.delay(0.0) == pytest.approx(1 / rate)


def test_without_probing_an_unknown_server_is_not_paced() -> None:
    pacer = Pacer(probe=False)
    for _ in range(100):
        assert pacer.delay(0.0) == 0.0
        pacer.sent(0.0)


def test_an_unknown_server_gets_a_few_requests_until_it_answers() -> None:
    pacer = Pacer()
    for _ in range(PROBE):
        assert pacer.delay(0.0) == 0.0
        pacer.sent(0.0)
    assert pacer.delay(0.0) is None  # wait for an answer
    pacer.failed()  # no answer, but one fewer in flight: another may go (a dead probe never stalls)
    assert pacer.delay(0.1) == 0.0
    pacer.sent(0.1)
    assert pacer.delay(0.1) is None
    for _ in range(PROBE):
        pacer.failed()
    for _ in range(PROBE):  # all of them failed: as many again may go, and no more
        assert pacer.delay(0.1) == 0.0
        pacer.sent(0.1)
    assert pacer.delay(0.1) is None
    # An upload token's answer says nothing of the budget, but it is one fewer in flight.
    for _ in range(PROBE):
        pacer.answered(0.1, 1, 200, {}, None, learn=False)
    for _ in range(PROBE):
        assert pacer.delay(0.1) == 0.0
        pacer.sent(0.1)
    assert pacer.delay(0.1) is None
    pacer.answered(0.2, 1, 200, {}, None)  # an answer with no rate-limit headers: no limit
    assert pacer.rate is None and all(pacer.delay(0.2) == 0.0 for _ in range(3))


def test_requests_sent_before_the_budget_was_known_count_against_it() -> None:
    pacer = Pacer()
    for _ in range(PROBE):
        pacer.sent(0.0)
    pacer.answered(0.0, 1, 200, {"Ratelimit-Policy": '"burst";q=40;w=4'}, None)
    rate, burst = bucket_of(RateLimit(40, 4))
    assert pacer.delay(0.0) == pytest.approx((1 - (burst - PROBE)) / rate)


# -- what the answers say is left ------------------------------------------------------------------


def answer(pacer: Pacer, now: float, left: int, reset: float, ticket: int | None = None) -> None:
    headers = {"Ratelimit": f'"default";r={left};t={reset:g}', "Ratelimit-Policy": '"burst";q=1000;w=10'}
    pacer.answered(now, pacer.sent_total if ticket is None else ticket, 200, headers, None)


def test_what_other_clients_used_holds_the_run_until_the_window_resets() -> None:
    pacer = Pacer(probe=False)
    pacer.sent(0.0)
    answer(pacer, 0.0, left=3, reset=5)  # others used the token: 3 left for 5 s
    assert pacer.remaining == Remaining(3, 5)  # as a progress line may show it
    for _ in range(3):
        assert pacer.delay(0.0) == 0.0
        pacer.sent(0.0)
    assert pacer.delay(1.0) == pytest.approx(4.0)  # until the reset, not a token's worth
    assert pacer.delay(5.0) == 0.0  # a fresh window, paced by the bucket alone
    _, burst = bucket_of(RateLimit(1000, 10))
    for _ in range(int(burst)):
        pacer.sent(5.0)
    assert pacer.delay(5.0) == pytest.approx(1 / bucket_of(RateLimit(1000, 10))[0])


def test_requests_sent_after_the_answered_one_are_taken_off_what_is_left() -> None:
    pacer = Pacer(probe=False)
    first = pacer.sent(0.0)
    for _ in range(4):
        pacer.sent(0.0)
    answer(pacer, 0.0, left=5, reset=5, ticket=first)  # the 4 sent after it may be uncounted
    assert pacer.delay(0.0) == 0.0
    pacer.sent(0.0)
    assert pacer.delay(0.0) == pytest.approx(5.0)


def test_an_answer_that_overtook_another_cannot_raise_what_is_left() -> None:
    pacer = Pacer(probe=False)
    old, new = pacer.sent(0.0), pacer.sent(0.0)
    answer(pacer, 0.1, left=1, reset=5, ticket=new)
    answer(pacer, 0.2, left=9, reset=5, ticket=old)  # counted earlier by the server, answered later
    assert pacer.delay(0.2) == 0.0
    pacer.sent(0.2)
    assert pacer.delay(0.2) == pytest.approx(4.9)


def test_shards_split_what_is_left() -> None:
    pacer = Pacer(share=2, probe=False)
    pacer.sent(0.0)
    answer(pacer, 0.0, left=4, reset=5)
    pacer.sent(0.0)
    pacer.sent(0.0)
    assert pacer.delay(0.0) == pytest.approx(5.0)


# -- the refusal: one shared pause ---------------------------------------------------------------------


REFUSAL = {"Ratelimit": '"default";r=0;t=7', "Ratelimit-Policy": '"burst";q=40;w=4'}


def test_a_refusal_pauses_every_request_once() -> None:
    pacer = Pacer(RateLimit(40, 4))
    *tickets, late = [pacer.sent(0.0) for _ in range(6)]
    # Five in flight, all refused as they arrive: one pause, to the latest Retry-After's end.
    for i, t in enumerate(tickets):
        assert pacer.answered(1.0 + i * 0.01, t, 429, REFUSAL, 7.0)
    assert pacer.refusals == 5 and pacer.pauses == 1
    assert pacer.paused_until == pytest.approx(8.04)
    assert pacer.delay(3.0) == pytest.approx(5.04)
    # The sixth is answered during the pause and states a smaller budget: when the pause ends,
    # requests go one at a time at that budget's pace (the bucket starts empty, no burst).
    pacer.answered(5.0, late, 200, {"Ratelimit-Policy": '"burst";q=20;w=4'}, None)
    assert pacer.delay(8.04) == pytest.approx(1 / bucket_of(RateLimit(20, 4))[0])
    assert pacer.answered(20.0, pacer.sent(20.0), 429, REFUSAL, 7.0) and pacer.pauses == 2


def test_only_the_limiters_429_pauses_the_run() -> None:
    pacer = Pacer(probe=False)
    assert not pacer.answered(0.0, pacer.sent(0.0), 429, {}, 3.0)  # an overload, not the limit
    assert not pacer.answered(0.0, pacer.sent(0.0), 429, REFUSAL, None)  # no Retry-After
    assert not pacer.answered(0.0, pacer.sent(0.0), 503, REFUSAL, 3.0)
    assert pacer.paused_until == 0.0 and pacer.refusals == 0
    assert pacer.answered(0.0, pacer.sent(0.0), 429, {"Ratelimit": '"default";r=0;t=3'}, 3.0)
    assert pacer.answered(3.0, pacer.sent(3.0), 429, {"Ratelimit-Policy": '"burst";q=9;w=3'}, 3.0)
    assert pacer.pauses == 2  # a refusal at the very end of a pause starts another
    assert pacer.answered(6.0, pacer.sent(6.0), 429, REFUSAL, 1e9)
    assert pacer.paused_until == 6.0 + MAX_PAUSE  # a day is cut to the longest block worth waiting for


def test_an_upload_tokens_answers_teach_nothing_of_the_runs_budget() -> None:
    pacer = Pacer(probe=False)
    pacer.answered(0.0, pacer.sent(0.0), 200, {"Ratelimit-Policy": '"burst";q=4;w=10'}, None, learn=False)
    assert pacer.rate is None and pacer.remaining is None
    assert pacer.answered(0.0, pacer.sent(0.0), 429, REFUSAL, 2.0, learn=False)  # but its refusal pauses


# -- the gate, on an event loop with a clock the test moves ---------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_gate_waits_out_the_pace_and_the_pause() -> None:
    t = FakeTime()
    gate = RateGate(Pacer(RateLimit(40, 4)), t.clock, t.sleep)
    rate, burst = bucket_of(RateLimit(40, 4))

    async def main() -> None:
        for _ in range(int(burst) + 2):
            gate.answered(await gate.acquire(), 200, {}, None)
        assert t.slept == [pytest.approx(1 / rate)] * 2
        assert gate.answered(await gate.acquire(), 429, REFUSAL, 7.0)
        t.slept.clear()
        await gate.acquire()
        assert sum(t.slept) == pytest.approx(7.0 + 1 / rate)

    asyncio.run(main())


def test_a_gate_on_its_own_paces_nothing_until_told_and_learns_from_answers() -> None:
    t = FakeTime()
    gate = RateGate(clock=t.clock, sleep=t.sleep)

    async def main() -> None:
        tickets = [await gate.acquire() for _ in range(50)]
        gate.answered(tickets[0], 200, {"Ratelimit-Policy": '"burst";q=4;w=4'}, None, learn=False)
        assert gate.pacer.budget is None  # an upload token's answer
        gate.answered(tickets[1], 200, {"Ratelimit-Policy": '"burst";q=40;w=4'}, None)
        assert gate.pacer.budget == RateLimit(40, 4)
        gate.failed()
        assert gate.pacer.in_flight == 47 and t.slept == []

    asyncio.run(main())


def test_a_request_waiting_for_the_first_answer_wakes_when_it_comes() -> None:
    t = FakeTime()
    gate = RateGate(Pacer(), t.clock, t.sleep)

    async def main() -> None:
        tickets = [await gate.acquire() for _ in range(PROBE)]
        waiting = asyncio.ensure_future(gate.acquire())
        await asyncio.sleep(0)
        assert not waiting.done()
        gate.answered(tickets[0], 200, {}, None)  # no limit, says the server
        await asyncio.wait_for(waiting, 5)
        assert t.slept == []

    asyncio.run(main())


# -- the Retrier: a refusal spends no attempt ------------------------------------------------------------


def refusal() -> RateLimited:
    exc = RateLimited("rate limited (HTTP 429, code 971)", status=429, code=971, retry_after=2.0)
    exc.paced = True
    return exc


def test_a_paced_refusal_is_sent_again_without_an_attempt_or_a_backoff() -> None:
    bare = refusal()
    bare.retry_after = None
    answers: list[ApiError | str] = [refusal(), refusal(), bare, "done"]
    retries: list[Retry] = []
    slept: list[float] = []

    async def call() -> str:
        result = answers.pop(0)
        if isinstance(result, ApiError):
            raise result
        return result

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    retrier = Retrier(Retries(attempts=1), on_retry=retries.append, sleep=sleep)
    assert asyncio.run(retrier("deploying", call)) == "done"  # with a single attempt
    assert [r.verdict for r in retries] == [Verdict.WAIT] * 3 and slept == []
    assert [(r.what, r.attempt, r.delay) for r in retries] == [
        ("deploying", 1, 2.0),
        ("deploying", 2, 2.0),
        ("deploying", 3, 0.0),
    ]
    assert retries[2].error is bare


def test_a_limiter_that_never_lets_go_still_ends_the_run() -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise refusal()

    async def sleep(seconds: float) -> None:
        pass

    with pytest.raises(RateLimited, match="Gave up after 2 attempts"):
        asyncio.run(Retrier(Retries(attempts=2), sleep=sleep)("deploying", call))
    assert calls == PAUSES + 2


def test_an_unpaced_429_still_spends_attempts() -> None:
    async def call() -> None:
        raise RateLimited("slow down", status=429, retry_after=0.0)

    async def sleep(seconds: float) -> None:
        pass

    with pytest.raises(RateLimited, match="Gave up after 2 attempts"):
        asyncio.run(Retrier(Retries(attempts=2), sleep=sleep)("x", call))
    assert not ServerError("x").paced and math.isfinite(MAX_PAUSE)


def test_an_ordinary_failure_is_reported_then_waited_out_and_successes_are_counted() -> None:
    """The Retrier's other path, beside the paced one: each retry is reported with what failed,
    how, which attempt and the back-off, which is then slept; the run's successes are counted
    (a request gives up sooner while none come, see Budget)."""
    errors = [RateLimited("slow down", status=429, retry_after=3.0), ServerError("boom", status=502)]
    answers: list[ApiError | str] = [*errors, "done"]
    retries: list[Retry] = []
    slept: list[float] = []

    async def call() -> str:
        result = answers.pop(0)
        if isinstance(result, ApiError):
            raise result
        return result

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    backoff = Backoff(base=1.0, cap=10.0)
    retrier = Retrier(Retries(attempts=3, backoff=backoff), on_retry=retries.append, sleep=sleep, rng=Top())
    assert asyncio.run(retrier("uploading", call)) == "done"
    assert [(r.what, r.error, r.verdict, r.attempt, r.delay) for r in retries] == [
        ("uploading", errors[0], Verdict.SLOW_DOWN, 1, 3.0),  # the Retry-After, over a 1 s back-off
        ("uploading", errors[1], Verdict.RETRY, 2, 2.0),
    ]
    assert slept == [3.0, 2.0] and retrier.successes == 1
    assert asyncio.run(retrier("again", lambda: asyncio.sleep(0, "ok"))) == "ok" and retrier.successes == 2


def test_a_fatal_failure_is_raised_at_once_and_a_request_gives_up_sooner_while_none_succeed() -> None:
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise RequestRefused("bad name", status=400)

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ServerError("down", status=503)

    async def sleep(seconds: float) -> None:
        pass

    retrier = Retrier(Retries(attempts=2, patience=2), sleep=sleep)
    with pytest.raises(RequestRefused, match="bad name"):
        asyncio.run(retrier("x", refused))
    assert calls == 1
    calls = 0
    with pytest.raises(ServerError, match="Gave up after 2 attempts"):
        asyncio.run(retrier("x", down))
    assert calls == 2  # nothing else got through meanwhile: the API is down
    calls = 0

    async def unlucky() -> None:
        retrier.successes += 1  # other requests get through meanwhile: the API is up
        await down()

    with pytest.raises(ServerError, match="Gave up after 4 attempts"):
        asyncio.run(retrier("x", unlucky))
    assert calls == 2 * 2  # attempts x patience
