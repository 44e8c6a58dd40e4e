"""Retry decisions, one rule at a time: what a status means, how long to wait, how many in flight,
when one request gives up."""

from __future__ import annotations

import email.utils
import random

import pytest

from assetsync.retry import PATIENCE, Backoff, Budget, Concurrency, Verdict, classify, parse_retry_after


class Top(random.Random):
    """Jitter pinned to the top of its range, and every range asked for kept, so a delay is exact."""

    def __init__(self) -> None:
        super().__init__(0)
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.asked.append((a, b))
        return b


@pytest.mark.parametrize(
    ("status", "upload", "verdict"),
    [
        (None, False, Verdict.RETRY),  # a network error
        (None, True, Verdict.RETRY),
        (429, False, Verdict.SLOW_DOWN),
        (429, True, Verdict.SLOW_DOWN),
        (503, False, Verdict.SLOW_DOWN),
        (524, False, Verdict.SLOW_DOWN),
        (408, False, Verdict.RETRY),
        (500, False, Verdict.RETRY),
        (501, False, Verdict.RETRY),  # any 5xx, listed or not
        (502, False, Verdict.RETRY),
        (530, False, Verdict.RETRY),
        (599, False, Verdict.RETRY),
        (200, False, Verdict.RETRY),  # a success that was no envelope: a gateway's page
        (204, True, Verdict.RETRY),
        (299, False, Verdict.RETRY),
        (199, False, Verdict.FATAL),
        (300, False, Verdict.FATAL),
        (401, True, Verdict.NEW_SESSION),  # the upload token expired
        (401, False, Verdict.FATAL),  # the API token is wrong: asking again will not help
        (403, True, Verdict.FATAL),
        (400, False, Verdict.FATAL),
        (404, True, Verdict.FATAL),
        (413, False, Verdict.FATAL),
        (499, False, Verdict.FATAL),
    ],
)
def test_classify(status: int | None, upload: bool, verdict: Verdict) -> None:
    assert classify(status, upload=upload) is verdict


def test_classify_is_not_an_upload_unless_told() -> None:
    assert classify(401) is Verdict.FATAL


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("5", 5.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),  # never a negative wait
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a date in the past: go now
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_parse_retry_after_date_counts_from_the_given_now() -> None:
    date = email.utils.formatdate(NOW + 60, usegmt=True)
    assert parse_retry_after(f"  {date}  ", NOW + 15) == 45.0


def test_backoff_doubles_from_base_up_to_the_cap_with_jitter_down_to_half() -> None:
    rng = Top()
    b = Backoff(base=1.0, cap=5.0)
    assert [b.delay(n, rng=rng) for n in (0, 1, 2, 3, 4, 10)] == [1.0, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert rng.asked == [(0.5, 1.0), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.5, 5.0), (2.5, 5.0)]


def test_backoff_defaults() -> None:
    rng = Top()
    b = Backoff()
    assert (b.delay(1, rng=rng), b.delay(100, rng=rng)) == (0.25, 20.0)
    assert b.delay(1, retry_after=1000.0, rng=rng) == 120.0


def test_backoff_never_waits_less_than_retry_after_and_caps_it() -> None:
    rng = Top()
    b = Backoff(base=1.0, cap=5.0, retry_after_cap=60.0)
    assert b.delay(1, retry_after=30.0, rng=rng) == 30.0
    assert b.delay(1, retry_after=600.0, rng=rng) == 60.0  # a server asking for more is "down"
    assert b.delay(3, retry_after=0.5, rng=rng) == 4.0  # the back-off itself is longer
    assert b.delay(3, retry_after=0.0, rng=rng) == 4.0


def test_backoff_without_an_rng_stays_in_its_range() -> None:
    b = Backoff(base=2.0, cap=8.0)
    delays = [b.delay(2) for _ in range(50)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 1  # jittered


def test_concurrency_starts_at_initial_and_halves_on_throttle_down_to_the_minimum() -> None:
    c = Concurrency(8)
    assert (c.limit, c.minimum, c.maximum) == (8, 1, 8)
    seen = []
    for _ in range(5):
        c.on_throttle()
        seen.append(c.limit)
    assert seen == [4, 2, 1, 1, 1]
    c = Concurrency(9, minimum=3)
    c.on_throttle()
    assert c.limit == 4  # 9 // 2
    c.on_throttle()
    assert c.limit == 3


def test_concurrency_grows_by_one_after_a_run_of_successes_up_to_the_maximum() -> None:
    c = Concurrency(4, maximum=6)  # grows after 4 successes by default
    limits = []
    for _ in range(12):
        c.on_success()
        limits.append(c.limit)
    assert limits == [4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6]
    c = Concurrency(2, maximum=3, grow_after=1)
    c.on_success()
    assert c.limit == 3


def test_a_throttle_restarts_the_run_of_successes() -> None:
    c = Concurrency(4, maximum=16, grow_after=3)
    c.on_success()
    c.on_success()
    c.on_throttle()
    assert c.limit == 2
    c.on_success()
    c.on_success()
    assert c.limit == 2
    c.on_success()
    assert c.limit == 3


def test_concurrency_bounds_are_made_consistent() -> None:
    c = Concurrency(8, maximum=4)  # a maximum below the start is raised to it
    assert (c.limit, c.maximum) == (8, 8)
    c = Concurrency(2, minimum=5)  # a minimum above the start is lowered to it
    assert (c.limit, c.minimum) == (2, 2)
    c = Concurrency(3, minimum=0)
    assert c.minimum == 1
    c.on_throttle()
    c.on_throttle()
    assert c.limit == 1  # never 0 in flight
    c = Concurrency(0)
    assert (c.limit, c.minimum) == (1, 1)


# -- when one request gives up -------------------------------------------------------------


def test_budget_gives_up_after_attempts_in_a_row_while_nothing_else_succeeds() -> None:
    budget = Budget(attempts=6)
    assert [budget.failed(successes=10) for _ in range(6)] == [False] * 5 + [True]
    assert budget.tries == 6


def test_budget_keeps_trying_while_others_succeed_up_to_patience_times_attempts() -> None:
    budget = Budget(attempts=2, patience=3)
    # Another request succeeds between every two failures: the stall count never reaches 2...
    gave_up = [budget.failed(successes=n) for n in range(1, 7)]
    # ...but the request stops after 2 x 3 tries all the same.
    assert gave_up == [False] * 5 + [True] and budget.tries == 6


def test_budget_counts_a_stall_from_the_last_success_elsewhere() -> None:
    budget = Budget(attempts=3, patience=PATIENCE)
    assert budget.failed(1) is False  # someone succeeded since this request started
    assert budget.failed(2) is False
    assert budget.failed(2) is False  # 2 in a row with nothing else through
    assert budget.failed(2) is True  # 3 in a row: the API is down
    assert budget.tries == 4
