"""Deploy-to-live, measured for ``workers.py``: how long from the start of a user Worker's deploy
until a request through the dispatch Worker gets the new code, and which part of that comes
after the deploy call returned (the runtime's own cost: the new version's first request loads
its isolate).

Each deploy writes a new ``worker.js`` (code version N answers ``<name> vN ...``), deploys it,
then asks the dispatch Worker for that user Worker over one kept-alive connection, request after
request (no pause), until an answer starts with ``<name> vN``; then once more, warm.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common import BenchError
from common.clients import NAMESPACE, Clients, assetsync_json
from common.rawhttp import Connection
from common.servers import ACCOUNT, Emulator
from workers_projects import by_path, marker, write_worker

from assetsync.engine import sync_async
from assetsync.settings import Settings, resolve
from assetsync.wire.target import Target

LIVE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Live:
    """One deploy, timed."""

    deploy_s: float  # the deploy call, from its start to its return
    after_s: float  # from that return to the first answer with the new code
    requests: int  # requests sent until then (1: the first one after the return had it)
    cold_s: float  # that answer's own latency: the new version's first request, which loads it
    warm_s: float  # the next request's latency, the version loaded

    @property
    def total_s(self) -> float:
        return self.deploy_s + self.after_s


# One way to deploy: (project folder, script name) -> seconds the deploy call took.
Deploy = Callable[[Path, str], Awaitable[float]]


def library_deploy(emu: Emulator, cache_dir: Path) -> Deploy:
    """The library, in this process: :func:`assetsync.settings.resolve` of the project's
    ``wrangler.json`` (what ``sync`` resolves), then :func:`assetsync.engine.sync_async`."""
    target = Target("api", emu.api, ACCOUNT, emu.token)

    async def deploy(project: Path, name: str) -> float:
        t0 = time.perf_counter()
        settings = Settings(project_dir=str(project), namespace=NAMESPACE, cache_dir=str(cache_dir))
        folder, options = resolve(settings)
        report = await sync_async(folder, options, target)
        seconds = time.perf_counter() - t0
        if not report.version_id:
            raise BenchError(f"the library's deploy of {name} returned no version id")
        return seconds

    return deploy


def cli_deploy(emu: Emulator, clients: Clients, cache_dir: Path) -> Deploy:
    """``python -m assetsync sync --config PROJECT/wrangler.json --namespace NS --json``, a process
    of its own (from the snapshot): the wall time to its exit, start-up included."""

    async def deploy(project: Path, name: str) -> float:
        args = ["sync", "--config", str(project / "wrangler.json"), "--namespace", NAMESPACE]
        args += ["--cache-dir", str(cache_dir), "--json"]
        run = await asyncio.to_thread(clients.assetsync, emu, args, f"assetsync sync {name}", memory=False)
        doc = assetsync_json(run) or {}
        if doc.get("ok") is not True or doc.get("script") != name:
            raise BenchError(f"assetsync sync did not deploy {name}: {run.stdout[-500:]}")
        return run.seconds

    return deploy


async def _until_live(conn: Connection, name: str, version: int) -> tuple[float, int, float]:
    """(when, requests, latency): the first answer of code ``version``, asked back to back."""
    mark = marker(name, version)
    deadline = time.perf_counter() + LIVE_TIMEOUT_S
    sent = 0
    while True:
        answer = await conn.send(by_path(name, "/live"))
        sent += 1
        if answer.status == 200 and answer.body.startswith(mark):
            return time.perf_counter(), sent, answer.seconds
        if time.perf_counter() > deadline:
            raise BenchError(
                f"{name} v{version} not live {LIVE_TIMEOUT_S:.0f}s after its deploy returned; the "
                f"dispatch Worker answers {answer.status} {answer.body[:200]!r}"
            )


async def _deploys(
    port: int, deploy: Deploy, project: Path, name: str, versions: Sequence[int]
) -> list[Live]:
    conn = Connection(port, f"127.0.0.1:{port}")
    out = []
    try:
        for version in versions:
            write_worker(project, name, version)
            seconds = await deploy(project, name)
            returned = time.perf_counter()
            live_at, sent, cold = await _until_live(conn, name, version)
            warm = await conn.send(by_path(name, "/live"))
            out.append(Live(seconds, live_at - returned, sent, cold, warm.seconds))
    finally:
        await conn.close()
    return out


def deploy_to_live(port: int, deploy: Deploy, project: Path, name: str, first: int, count: int) -> list[Live]:
    """``count`` deploys of ``name`` (code versions ``first`` ...), each timed to live; one
    untimed deploy before them (the client's imports, the connection)."""
    timed = asyncio.run(_deploys(port, deploy, project, name, range(first, first + count + 1)))
    return timed[1:]


@dataclass(frozen=True)
class Summary:
    """p50 and max of each figure, in ms."""

    count: int
    deploy: tuple[float, float]
    after: tuple[float, float]
    total: tuple[float, float]
    cold: tuple[float, float]
    warm_p50: float
    most_requests: int


def summary(lives: Sequence[Live]) -> Summary:
    def p50_max(xs: Sequence[float]) -> tuple[float, float]:
        return statistics.median(xs) * 1000, max(xs) * 1000

    return Summary(
        len(lives),
        p50_max([x.deploy_s for x in lives]),
        p50_max([x.after_s for x in lives]),
        p50_max([x.total_s for x in lives]),
        p50_max([x.cold_s for x in lives]),
        statistics.median(x.warm_s for x in lives) * 1000,
        max(x.requests for x in lives),
    )
