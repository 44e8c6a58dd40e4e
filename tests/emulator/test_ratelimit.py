"""The emulator's model of the API's rate limit (``serve --rate-limit``): fixed windows per
credential, the platform's headers on every API answer, and once over, 429 for every call until
a whole window has passed. The limiter's clock is the test's, so no test waits out a window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assetsync.emulator.ratelimit import PRUNE_AT, RateLimiter
from assetsync.protocol.ratelimit import RATE_LIMITED, RATE_LIMITED_MESSAGE, RateLimit

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, cli_running, run_cli

LIST = f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns/scripts"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_admits_its_quota_then_blocks_for_a_whole_window() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(3, 10), clock)
    a, b = b"auth\0Bearer a", b"auth\0Bearer b"
    assert [(d.allowed, d.remaining, d.reset) for d in (limiter.take(a) for _ in range(3))] == [
        (True, 2, 10),
        (True, 1, 10),
        (True, 0, 10),
    ]
    clock.now += 4
    refused = limiter.take(a)  # the fourth call, 4 s into the window: blocked for 10 s from now
    assert (refused.allowed, refused.remaining, refused.reset) == (False, 0, 10)
    assert limiter.take(b).allowed  # another credential has its own budget
    clock.now += 9.5
    during = limiter.take(a)
    assert (during.allowed, during.remaining) == (False, 0)
    assert during.reset == pytest.approx(0.5)  # refused calls do not lengthen the block
    clock.now += 0.5
    fresh = limiter.take(a)  # the block is over: a fresh window opens with this call
    assert (fresh.allowed, fresh.remaining, fresh.reset) == (True, 2, 10)
    assert (limiter.refused, limiter.blocks) == (2, 1)
    limiter.spend(a, 3)  # another client of the credential goes over: a second block
    assert not limiter.take(a).allowed and (limiter.refused, limiter.blocks) == (4, 2)


def test_a_budget_below_one_request_still_admits_one() -> None:
    for requests in (1, 0.5):
        limiter = RateLimiter(RateLimit(requests, 10), Clock())
        assert [limiter.take(b"k").allowed for _ in range(2)] == [True, False]


def test_credentials_whose_window_and_block_are_over_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(1, 10), clock)
    limiter.spend(b"blocked", 2)  # blocked until 1010
    for i in range(PRUNE_AT - 2):
        limiter.take(b"%d" % i)
    clock.now += 9
    limiter.take(b"late")  # its window ends at 1019
    clock.now += 1  # 1010: every window but the late one is over, and so is the block
    assert len(limiter) == PRUNE_AT  # as many as are kept before a prune
    limiter.take(b"new")
    assert len(limiter) == 2  # the late one and the new one


def test_a_window_opens_with_the_first_call_after_the_last_one_ended() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(2, 10), clock)
    assert limiter.take(b"k").allowed
    clock.now += 10  # the window is over; the next call opens the next one
    assert [limiter.take(b"k").allowed for _ in range(3)] == [True, True, False]


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[LiveEmulator, Clock]]:
    clock = Clock()
    with LiveEmulator(tmp_path / "data", rate_limit=RateLimit(3, 60)) as live:
        assert live.emulator.ratelimit is not None
        live.emulator.ratelimit.clock = clock
        yield live, clock


def test_every_api_answer_carries_the_headers_and_the_fourth_call_is_refused(
    limited: tuple[LiveEmulator, Clock],
) -> None:
    live, clock = limited
    with httpx.Client(base_url=live.api, headers={"Authorization": f"Bearer {live.token}"}) as api:
        answers = [api.get(LIST) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert [r.headers["ratelimit"] for r in answers] == [f'"default";r={n};t=60' for n in (2, 1, 0)]
        assert {r.headers["ratelimit-policy"] for r in answers} == {'"burst";q=3;w=60'}
        assert all("retry-after" not in r.headers for r in answers)
        clock.now += 20
        body = b"x" * 300_000  # a body the refusal reads first, so the connection stays usable
        refused = api.post(f"/accounts/{ACCOUNT}/workers/assets/upload", content=body)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
        assert refused.headers["ratelimit"] == '"default";r=0;t=60'
        assert refused.json() == {
            "success": False,
            "errors": [{"code": RATE_LIMITED, "message": RATE_LIMITED_MESSAGE}],
            "messages": [],
            "result": None,
        }
        clock.now += 59
        assert api.get(LIST).headers["retry-after"] == "1"  # every call, until the block is over
        assert api.get("/nowhere/at/all").status_code == 429  # any route under /client/v4
        clock.now += 1
        assert api.get(LIST).status_code == 200
    # A wrong token is a credential of its own (refused by the API, not by the limiter), and
    # previews are no API calls: neither counts, nor carries the headers.
    wrong = httpx.get(live.api + LIST, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code in (401, 403) and wrong.headers["ratelimit"] == '"default";r=2;t=60'
    preview = httpx.get(live.origin + "/")
    assert preview.status_code == 200 and "ratelimit" not in preview.headers
    assert live.emulator.ratelimit is not None and live.emulator.ratelimit.refused == 3


def test_a_global_key_is_counted_with_its_email(tmp_path: Path) -> None:
    key, clock = "k" * 37, Clock()
    with LiveEmulator(
        tmp_path / "data", rate_limit=RateLimit(1, 60), api_keys={"a@example.com": key, "b@example.com": key}
    ) as live:
        assert live.emulator.ratelimit is not None
        live.emulator.ratelimit.clock = clock

        def get(email: str) -> int:
            headers = {"X-Auth-Key": key, "X-Auth-Email": email}
            return httpx.get(live.api + LIST, headers=headers).status_code

        assert [get("a@example.com"), get("b@example.com"), get("a@example.com")] == [200, 200, 429]


def test_without_the_option_there_is_no_limit_and_no_header(emulator: LiveEmulator) -> None:
    r = httpx.get(emulator.api + LIST, headers={"Authorization": f"Bearer {emulator.token}"})
    assert r.status_code == 200 and "ratelimit" not in r.headers and emulator.emulator.ratelimit is None


def test_serve_says_its_limit_and_refuses_a_bad_one(tmp_path: Path) -> None:
    args = ["serve", "--port", "0", "--data", str(tmp_path / "data"), "--token", "tok", "--runtime", "none"]
    with cli_running(*args, "--rate-limit", "20/2", env={}) as (_, lines):
        base = lines.expect(lambda line: "API base:" in line).split("API base:")[1].strip()
        assert "20 API calls per 2 s per credential" in lines.expect(lambda line: "limit:" in line)
        r = httpx.get(base + LIST, headers={"Authorization": "Bearer tok"}, timeout=20)
        assert r.status_code == 200 and r.headers["ratelimit-policy"] == '"burst";q=20;w=2'
    proc = run_cli("serve", "--port", "0", "--rate-limit", "20 per 2")
    assert proc.returncode == 2
    assert "Invalid value for '--rate-limit'" in proc.stderr and "REQUESTS/SECONDS" in proc.stderr
