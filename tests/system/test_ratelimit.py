"""Runs against ``serve --rate-limit`` over 127.0.0.1: larger than the budget, they pace themselves
and are never refused; shards on one token stay within it together; and a refusal caused by
another client of the token costs one shared pause, not a retry storm.

The windows are compressed (40 requests per 2 s), and what is asserted is what the server saw
(its counts, the budget left in its answers, the order of arrivals), never how long a run took.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assetsync.emulator.api import Limits
from assetsync.emulator.app import Emulator
from assetsync.emulator.ratelimit import credential_of
from assetsync.namespace import list_namespace
from assetsync.protocol.ratelimit import RateLimit, parse_remaining
from assetsync.settings import Settings
from assetsync.tenantplan import RateBudget
from assetsync.tenants import Shard, SyncAllOptions, sync_all
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, child_env, json_document, make_tree, run_cli

NS = "platform"
LIMIT = RateLimit(40, 2)


@dataclass
class Call:
    arrived: float
    api_token: bool  # made with the run's API token (not an upload token)
    credential: bytes
    status: int = 0
    left: int | None = None  # the budget left, as the answer's Ratelimit header says


@dataclass
class Watched:
    """ASGI middleware over the emulator: notes every API call as it arrives and is answered.
    With ``burn_at``, that call of the API token is held until ``in_flight`` calls of the token
    are in the server at once (the token's other calls wait meanwhile); then another client of
    the token (the test) spends the token's whole budget, so the limiter refuses those calls and
    blocks the token for a window."""

    emulator: Emulator
    token: str
    burn_at: int | None = None
    in_flight: int = 1
    calls: list[Call] = field(default_factory=list)
    burnt_at: float | None = None  # when the other client went over: the block ends a window later
    _pending: int = 0
    _changed: asyncio.Condition | None = None
    _burnt: asyncio.Event | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/client/v4/"):
            await self.emulator(scope, receive, send)
            return
        credential = credential_of(scope)
        call = Call(time.monotonic(), credential.endswith(f"Bearer {self.token}".encode()), credential)
        self.calls.append(call)
        self._changed = self._changed or asyncio.Condition()
        async with self._changed:
            self._pending += call.api_token
            self._changed.notify_all()
        try:
            await self._burn(call)
            await self._answer(call, scope, receive, send)
        finally:
            async with self._changed:
                self._pending -= call.api_token

    async def _burn(self, call: Call) -> None:
        assert self._changed is not None
        if not call.api_token:
            return
        if self._burnt is not None:
            await self._burnt.wait()  # a call of the token that came while the burning one was held
        elif sum(c.api_token for c in self.calls) == self.burn_at:
            self._burnt = asyncio.Event()
            try:
                async with self._changed:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self._pending >= self.in_flight), 10
                    )
                limiter = self.emulator.ratelimit
                assert limiter is not None
                self.burnt_at = time.monotonic()
                limiter.spend(call.credential, limiter.quota + 1)
            finally:
                self._burnt.set()  # a test that failed to hold them must not hang the run

    async def _answer(self, call: Call, scope: Any, receive: Any, send: Any) -> None:

        async def answered(message: Any) -> None:
            if message["type"] == "http.response.start":
                call.status = message["status"]
                headers = {k.decode(): v.decode() for k, v in message["headers"]}
                left = parse_remaining(headers.get("ratelimit"))
                call.left = left.requests if left is not None else None
            await send(message)

        await self.emulator(scope, receive, answered)

    def api_calls(self) -> list[Call]:
        return [c for c in self.calls if c.api_token]


def watched(tmp_path: Path, limit: RateLimit = LIMIT, **kw: Any) -> tuple[LiveEmulator, Watched]:
    live = LiveEmulator(tmp_path / "emulator-data", rate_limit=limit, **kw)
    live.app = watch = Watched(live.emulator, live.token)
    return live, watch


def tenants(root: Path, count: int) -> Path:
    for i in range(count):
        make_tree(root / f"t{i:02d}", {"index.html": f"<h1>tenant {i}</h1>"})
    return root


def env_for(live: LiveEmulator) -> dict[str, str]:
    return {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_API_BASE_URL": live.api,
        "CI": "1",
    }


def deployed(live: LiveEmulator) -> list[str]:
    return [s.name for s in list_namespace(Target("api", live.api, ACCOUNT, live.token), NS)]


def test_a_run_larger_than_the_budget_completes_without_a_429(tmp_path: Path) -> None:
    root = tenants(tmp_path / "tenants", 30)
    live, watch = watched(tmp_path)
    with live:
        proc = run_cli(
            "sync-all", str(root), "--namespace", NS, "--cache-dir", str(tmp_path / "cache"), "--json",
            env=env_for(live),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        doc = json_document(proc.stdout)
        assert doc["summary"]["succeeded"] == 30
        assert sorted(deployed(live)) == [f"t{i:02d}" for i in range(30)]
    api = watch.api_calls()
    assert len(api) > 1.5 * LIMIT.requests  # a session and a deploy per tenant: well past one window
    assert [c.status for c in watch.calls if c.status == 429] == []
    assert live.emulator.ratelimit is not None and live.emulator.ratelimit.refused == 0
    assert min(c.left for c in api if c.left is not None) >= 1  # never down to the last request


def test_shards_sharing_a_token_stay_within_it_together(tmp_path: Path) -> None:
    """Two CI jobs at once, --shard 1/2 and 2/2 on one token: each takes half of the budget the
    server states, so together they are never refused."""
    root = tenants(tmp_path / "tenants", 30)
    live, watch = watched(tmp_path)
    with live:
        args = [sys.executable, "-m", "assetsync", "sync-all", str(root), "--namespace", NS, "--json"]
        shards = [
            subprocess.Popen(
                [*args, "--cache-dir", str(tmp_path / f"cache-{i}"), "--shard", f"{i}/2"],
                env=child_env(env_for(live)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in (1, 2)
        ]
        outputs = [p.communicate(timeout=60) for p in shards]
        for proc, (_, err) in zip(shards, outputs, strict=True):
            assert proc.returncode == 0, err
        counts = [json.loads(out)["summary"]["succeeded"] for out, _ in outputs]
        assert sum(counts) == 30 and min(counts) > 0
        assert sorted(deployed(live)) == [f"t{i:02d}" for i in range(30)]
    assert len(watch.api_calls()) > 1.5 * LIMIT.requests
    assert live.emulator.ratelimit is not None and live.emulator.ratelimit.refused == 0


def test_a_refusal_costs_one_shared_pause_not_a_retry_storm(tmp_path: Path) -> None:
    """Another client of the token goes over the budget mid-run: the limiter blocks the token for
    a window. Only requests already in flight are refused; each is sent again once, after the
    block, spending none of its attempts (there is only one); nothing else goes meanwhile."""
    root = tenants(tmp_path / "tenants", 30)
    live, watch = watched(tmp_path)
    watch.burn_at, watch.in_flight = 20, 3
    tenants_at_once, uploads = 4, 2
    settings = Settings(namespace=NS, cache_dir=str(tmp_path / "cache"), attempts=1, concurrency=uploads)
    with live:
        report = sync_all(
            str(root),
            SyncAllOptions(settings, tenants_at_once=tenants_at_once),
            Target("api", live.api, ACCOUNT, live.token),
        )
    assert [t.tenant for t in report.failed] == [] and len(report.tenants) == 30
    assert watch.burnt_at is not None
    refused = [c for c in watch.calls if c.status == 429]
    assert 3 <= len(refused) <= tenants_at_once + uploads  # those in flight, no more
    retries = sum(t.report.retries for t in report.tenants if t.report is not None)
    assert retries == len(refused)  # each sent again once
    block_end = watch.burnt_at + LIMIT.seconds  # the block ends a window after the burn, or later
    during = [c for c in watch.calls if watch.burnt_at <= c.arrived < block_end]
    assert len(during) <= tenants_at_once + uploads  # only what was sent before the first 429 came back
    assert live.emulator.ratelimit is not None and live.emulator.ratelimit.blocks == 1


def test_sync_keeps_within_its_rate_limit_flag(tmp_path: Path) -> None:
    """--rate-limit 20/2 against a server allowing 60/2 (a token other tools use too): no window
    of the server ever sees more than 20 of the run's requests, uploads included."""
    site = make_tree(tmp_path / "site", {f"page{i:02d}.html": f"<p>{i}</p>" for i in range(30)})
    live, watch = watched(tmp_path, RateLimit(60, 2), limits=Limits(bucket_files=1))
    with live:
        proc = run_cli(
            "sync", str(site), "--name", "site", "--cache-dir", str(tmp_path / "cache"),
            "--rate-limit", "20/2", "--json", env=env_for(live),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert json_document(proc.stdout)["uploaded"] == 30
    uploads = [c for c in watch.calls if not c.api_token]
    assert len(uploads) == 30 and len({c.credential for c in uploads}) == 1  # one upload token
    assert min(c.left for c in uploads if c.left is not None) >= 60 - 20
    assert live.emulator.ratelimit is not None and live.emulator.ratelimit.refused == 0


def test_a_dry_runs_plan_counts_with_the_budget_the_server_states(tmp_path: Path) -> None:
    """The plan's time is at the tightest of --rate-limit and what the server's answers state
    (here 40/2, not Cloudflare's 1,200/300), and a shard's plan at its share of it."""
    root = tenants(tmp_path / "tenants", 4)
    live, _ = watched(tmp_path)
    target = Target("api", live.api, ACCOUNT, live.token)

    def plan(**kw: Any) -> RateBudget:
        shard = kw.pop("shard", None)
        settings = Settings(namespace=NS, cache_dir=str(tmp_path / "cache"), dry_run=True, **kw)
        report = sync_all(str(root), SyncAllOptions(settings, shard=shard), target)
        assert report.plan is not None and report.plan.tenants == len(report.tenants)
        return report.plan.budget

    with live:
        assert plan() == RateBudget(40, 2)
        assert plan(rate_limit=RateLimit(1000, 2)) == RateBudget(40, 2)
        assert plan(rate_limit=RateLimit(10, 2)) == RateBudget(10, 2)
        assert plan(shard=Shard(1, 2)) == RateBudget(40, 2, share=2)
