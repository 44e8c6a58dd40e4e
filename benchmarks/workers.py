#!/usr/bin/env python3
"""Benchmark Worker code on workerd behind the preview (``assetsync serve --runtime workerd``): a
Workers for Platforms dispatch Worker routing to 100 user Workers, side by side with the preview
serving assets and with one plain Worker; and how soon a deploy is live.

One ``assetsync serve --runtime workerd`` on 127.0.0.1 (from a snapshot of the package) gets,
through its API and assetsync's own client (``workers_projects.py`` writes the projects, each a
``wrangler.json``, ``worker.js`` and a small ``public/``):

- ``--users`` user Workers (100) in dispatch namespace ``bench``, deployed together by
  ``assetsync sync-all`` (concurrently, one connection pool); each answers ``<name> v1 <path>``;
- ``dispatch``, with a ``dispatch_namespace`` binding to ``bench``: it routes a request whose host
  is ``<user>.tenants.example`` by the hostname's first label, any other by its first path
  segment, and answers with the user Worker's answer;
- ``plain``, a Worker answering as a user Worker does, with no dispatch;
- ``static``, assets only: a 20-byte ``hello.txt``.
Before anything is measured, each route is asked once and its body checked (every user Worker
by both routes: this also loads every isolate).

1. Throughput and latency. Each workload sends ``--requests`` requests per round over
   ``--clients`` keep-alive connections (8; the asyncio HTTP/1.1 client of ``common.rawhttp``),
   all by the preview's path-style address (``/__preview/<script>/...``):
   ``assets``: ``static``'s hello.txt (the preview answers; no Worker runs); ``one plain Worker``:
   ``plain``'s ``/hello``; ``dispatch by path``: ``dispatch``'s ``/<user>/hello``; ``dispatch by
   host``: ``dispatch``'s ``/hello`` with ``Host: <user>.tenants.example``; the dispatch workloads
   spread their requests evenly over every user Worker, shuffled. With wrangler (unless
   ``--no-wrangler``), ``wrangler dev`` on ``plain``'s own ``wrangler.json`` is asked for
   ``/hello`` too: miniflare on workerd, the local baseline for one Worker (wrangler cannot run a
   dispatch namespace locally). The workloads take turns in rotated order over ``--repeat``
   rounds (3); each row shows its best round (highest requests/s: the least disturbed on this
   shared machine). Columns:
   ``req/s``: requests over the wall time from the first send to the last answer;
   ``p50``/``p99``: of each request's latency, first byte sent to last byte read, in ms;
   ``x assets``: req/s as a share of the assets row's (0.25x: a quarter as many);
   ``x plain``: req/s as a share of the plain Worker's; ``p50 x assets``: p50 over the assets
   row's p50; ``server CPU``: CPU ms per request of ``assetsync serve`` and its children, and
   ``workerd``: the part of it workerd spent (the rest is the Python emulator: preview, proxy,
   the bridge workerd calls back); ``client``: this script's CPU seconds per wall second (near 1.0
   it caps what it can measure); ``answers``: statuses seen.
2. Deploy-to-live (``workers_live.py``): ``--deploys`` (10) deploys of new code for a user
   Worker (the first one by the library, the last one by the CLI), each timed from the start of
   the deploy call to the first answer through the dispatch Worker that shows the new code
   (asked back to back over a kept-alive connection, no pause);
   by the library (``resolve`` + ``sync_async`` in this process, from the checkout), and by the
   CLI (``python -m assetsync sync --config ... --namespace bench``, its own process, start-up
   included). One untimed deploy first. Columns, p50 and max over the deploys, in ms:
   ``deploy call``: start to return (the library's call; the CLI's process, to its exit);
   ``return -> live``: from that return to the first answer with the new code: the runtime's own
   cost; ``deploy -> live``: the two together, judged against the 300 ms target (library only; the
   CLI's Python start-up alone is most of it); ``cold request``: the latency of the new version's
   first request, which loads its isolate; ``warm``: the next request's; ``requests``: the most
   requests one deploy needed until live (1: the first request after the return had the new code).

The projects and the emulator's data live under ``<repo>/.bench/workers`` (``--workdir``) and are
deleted at exit unless ``--keep``. ``--quick``: 10 user Workers, 300 requests per round, 2 rounds,
3 deploys.

Usage::

    python benchmarks/workers.py [--quick] [--repeat N] [--clients N] [--requests N] [--users N]
        [--deploys N] [--workerd PATH] [--no-wrangler] [--wrangler PATH] [--workdir DIR] [--keep]
        [--check]

Exit status 0 whatever the figures (a measurement tool); with ``--check``, 1 when the 300 ms
target is missed; 2 when the benchmark could not run (workerd or wrangler missing, a route
answering wrongly); 130 when interrupted.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import BenchError
from common.clients import NAMESPACE, Rig, assetsync_json, check_wrangler, open_rig
from common.lifecycle import guarded, note
from common.machine import REPO, loadavg, tool_version
from common.options import add_wrangler, parse, parser
from common.processes import cpu_seconds, own_cpu_seconds, tree_cpu_seconds
from common.rawhttp import Load, Request, ask_all, load
from common.servers import Emulator
from common.snapshot import git_state
from common.tables import Row, Target, TargetTable, aligned, markdown, missed, section, verdict
from preview import start_wrangler
from workers_live import Summary, cli_deploy, deploy_to_live, library_deploy, summary
from workers_projects import (
    PATH,
    PLAIN as PLAIN_SCRIPT,
    Projects,
    Workload,
    answer,
    expected,
    workloads,
    write_projects,
)

TARGET_MS = 300.0
ASSETS, PLAIN, WRANGLER = "assets (preview, no Worker)", "one plain Worker", "wrangler dev: one plain Worker"


def default_workerd() -> Path:
    """``$ASSETSYNC_WORKERD``, else ``<repo>/.tools/node_modules/.bin/workerd``."""
    return Path(os.environ.get("ASSETSYNC_WORKERD") or REPO / ".tools" / "node_modules" / ".bin" / "workerd")


# -- setup --------------------------------------------------------------------------------------


def deploy_all(rig: Rig, emu: Emulator, projects: Projects, cache: Path) -> float:
    """The user Workers by ``sync-all`` (the wall time of its process is returned), the others by
    ``sync``."""
    args = ["sync-all", str(projects.users_root), "--namespace", NAMESPACE, "--cache-dir", str(cache)]
    run = rig.clients.assetsync(emu, [*args, "--json"], "assetsync sync-all", memory=False)
    doc = assetsync_json(run) or {}
    done = (doc.get("summary") or {}).get("succeeded")
    if doc.get("ok") is not True or done != len(projects.users):
        raise BenchError(
            f"sync-all deployed {done} of {len(projects.users)} user Workers: {run.stdout[-800:]}"
        )
    seconds = run.seconds
    for project in (projects.dispatch, projects.plain, projects.static):
        args = ["sync", "--config", str(project / "wrangler.json"), "--cache-dir", str(cache), "--json"]
        run = rig.clients.assetsync(emu, args, f"assetsync sync {project.name}", memory=False)
        if (assetsync_json(run) or {}).get("ok") is not True:
            raise BenchError(f"assetsync sync did not deploy {project.name}: {run.stdout[-800:]}")
    return seconds


def check_routes(port: int, users: Sequence[str]) -> None:
    """Every route answers what it must; else :class:`BenchError` listing the first misses."""
    cases = expected(users)
    got = ask_all(port, f"127.0.0.1:{port}", [req for _, req, _ in cases])
    wrong = [
        f"  {what}: GET {req.target} {dict(req.headers)} -> {a.status} {a.body[:300]!r}, "
        f"expected 200 {body!r}"
        for (what, req, body), a in zip(cases, got, strict=True)
        if (a.status, a.body) != (200, body)
    ]
    if wrong:
        more = f"\n  ... and {len(wrong) - 8} more" if len(wrong) > 8 else ""
        raise BenchError(
            f"{len(wrong)} of {len(cases)} routes answered wrongly (nothing measured):\n"
            + "\n".join(wrong[:8])
            + more
        )


# -- load ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """Where a workload's requests go, and how to read its server's CPU time (None: not read)."""

    port: int
    host: str
    pid: int | None = None

    def cpu(self) -> tuple[float, float]:
        """(the server's whole process tree, its own process) CPU seconds so far."""
        if self.pid is None:
            return 0.0, 0.0
        return tree_cpu_seconds(self.pid), cpu_seconds(self.pid) or 0.0


@dataclass(frozen=True)
class Round:
    """One workload's round: the load, and the CPU seconds spent meanwhile."""

    load: Load
    client_cpu: float
    server_cpu: float | None  # the server's process tree
    runtime_cpu: float | None  # of it, outside the server's own process (workerd)

    @property
    def seconds(self) -> float:
        return self.load.seconds


def run_round(server: Server, requests: list[Request], clients: int) -> Round:
    c0, (t0, o0) = own_cpu_seconds(), server.cpu()
    got = load(server.port, server.host, requests, clients)
    c1, (t1, o1) = own_cpu_seconds(), server.cpu()
    tree = None if server.pid is None else t1 - t0
    # CPU time is counted in clock ticks: the difference of two readings can dip below zero
    runtime = None if tree is None else max(0.0, tree - (o1 - o0))
    return Round(got, c1 - c0, tree, runtime)


def measure_load(rows: dict[str, tuple[Server, Workload]], args: Any) -> dict[str, Row[Round]]:
    """Every workload ``args.repeat`` rounds, taking turns in rotated order."""
    out = {label: Row[Round](label) for label in rows}
    order = list(rows)
    for r in range(args.repeat):
        shift = r % len(order)
        for label in order[shift:] + order[:shift]:
            server, make = rows[label]
            note(f"  round {r + 1}/{args.repeat}: {label} ({args.requests} requests) ...")
            out[label].runs.append(
                run_round(server, make(random.Random(f"{r}-{label}"), args.requests), args.clients)
            )
    return out


def print_load(rows: dict[str, Row[Round]], clients: int, users: int) -> None:
    section(
        f"throughput and latency: {clients} keep-alive clients, {users} user Workers; best round of each "
        "(req/s; p50, p99 and CPU in ms)"
    )
    base = rows[ASSETS].best.load
    plain = rows[PLAIN].best.load
    head = ["workload", "req/s", "p50", "p99", "x assets", "x plain", "p50 x assets"]
    head += ["server CPU/req", "workerd CPU/req", "client CPU/wall", "answers"]
    table = []
    for label, row in rows.items():
        b = row.best
        n = len(b.load.latencies) or 1
        table.append(
            [
                label,
                f"{b.load.rate:,.0f}",
                f"{b.load.percentile(50) * 1000:.2f}",
                f"{b.load.percentile(99) * 1000:.2f}",
                f"{b.load.rate / base.rate:.2f}x",
                f"{b.load.rate / plain.rate:.2f}x",
                f"{b.load.percentile(50) / base.percentile(50):.1f}x",
                "-" if b.server_cpu is None else f"{b.server_cpu / n * 1000:.2f}",
                "-" if b.runtime_cpu is None else f"{b.runtime_cpu / n * 1000:.2f}",
                f"{b.client_cpu / b.load.seconds:.2f}",
                " ".join(f"{s}x{k}" for s, k in sorted(b.load.statuses.items())),
            ]
        )
    print(markdown(head, table))
    bad = [label for label, row in rows.items() if any(set(r.load.statuses) - {200} for r in row.runs)]
    for label in bad:
        print(f"WARNING: {label}: some answers were not 200 (see the answers column of its best round)")


# -- deploy-to-live -----------------------------------------------------------------------------


def print_live(found: dict[str, Summary]) -> list[Target]:
    section("deploy-to-live: a user Worker's new code, asked for through the dispatch Worker (ms)")
    head = ["client", "deploys", "deploy call p50", "max", "return -> live p50", "max"]
    head += ["deploy -> live p50", "max", "cold request p50", "max", "warm p50", "requests"]
    table = [head]
    for label, s in found.items():
        cells = [f"{x:.1f}" for pair in (s.deploy, s.after, s.total, s.cold) for x in pair]
        table.append([label, str(s.count), *cells, f"{s.warm_p50:.2f}", str(s.most_requests)])
    print(aligned(table, right=range(1, len(head)), rule="  "))
    lib = found["library"]
    cli = found["CLI"]
    limit = f"<= {TARGET_MS:.0f} ms"
    targets = [
        Target("deploy -> live p50 (library)", f"{lib.total[0]:.0f} ms", limit, lib.total[0] <= TARGET_MS),
        Target("deploy -> live max (library)", f"{lib.total[1]:.0f} ms", limit, lib.total[1] <= TARGET_MS),
        Target("deploy -> live p50 (CLI, start-up included)", f"{cli.total[0]:.0f} ms", limit, None),
        Target("cold first request of a new version p50", f"{lib.cold[0]:.1f} ms", "-", None),
    ]
    print()
    TargetTable().print(targets)
    return targets


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Any:
    p = parser(
        "A dispatch Worker routing to user Workers on workerd, beside assets and one plain Worker; "
        "deploy-to-live.",
        "workers",
        "the projects and the emulator's data",
        "10 user Workers, few requests and deploys (well under a minute)",
        ("rounds the workloads take turns in [3]", 3),
    )
    p.add_argument("--clients", type=int, default=8, metavar="N", help="concurrent keep-alive clients [8]")
    p.add_argument(
        "--requests", type=int, metavar="N", help="requests per workload and round [3000; quick 300]"
    )
    p.add_argument("--users", type=int, metavar="N", help="user Workers in the namespace [100; quick 10]")
    p.add_argument("--deploys", type=int, metavar="N", help="timed deploys per client [10; quick 3]")
    p.add_argument(
        "--workerd",
        type=Path,
        default=default_workerd(),
        metavar="PATH",
        help="the workerd binary [default: $ASSETSYNC_WORKERD, else <repo>/.tools/node_modules/.bin/workerd]",
    )
    p.add_argument("--no-wrangler", action="store_true", help="no wrangler dev baseline")
    p.add_argument("--check", action="store_true", help="exit 1 when the deploy-to-live target is missed")
    add_wrangler(p)
    args = parse(p, argv)
    for name, quick, full in (("requests", 300, 3000), ("users", 10, 100), ("deploys", 3, 10)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.quick:
        args.repeat = min(args.repeat, 2)
    if min(args.clients, args.requests, args.users, args.deploys) < 1:
        p.error("--clients, --requests, --users and --deploys must be at least 1")
    return args


def check_workerd(workerd: Path) -> None:
    if not os.access(workerd, os.X_OK):
        raise BenchError(
            f"workerd not found at {workerd}: run 'npm install --prefix {REPO / '.tools'}', "
            "or pass --workerd PATH"
        )


def print_header(args: Any, rig: Rig, workerd: Path) -> None:
    wrangler = (
        "-" if args.no_wrangler else tool_version([str(args.wrangler), "--version"], rig.clients.node_env)
    )
    print("assetsync Workers benchmark: a dispatch Worker and user Workers on workerd, behind the preview")
    print(f"  assetsync {git_state()}, sources {rig.digest}; {tool_version([str(workerd), '--version'])}")
    print(f"  wrangler {wrangler}; {os.cpu_count()} CPUs; load average at start {loadavg()}")
    print(f"  {args.repeat} round(s) of {args.requests} requests per workload; work folder {rig.work.path}")
    sys.stdout.flush()


def wrangler_row(
    stack: contextlib.ExitStack, rig: Rig, args: Any, projects: Projects
) -> tuple[Server, Workload]:
    """``wrangler dev`` on the plain Worker's project, checked to answer as ours does."""
    theirs = start_wrangler(
        stack, rig.servers, args.wrangler.absolute(), projects.plain / "wrangler.json", rig.clients.node_env
    )
    got = theirs.ask([Request("GET", PATH)])[0]
    if (got.status, got.body) != (200, answer(PLAIN_SCRIPT, 1)):
        raise BenchError(f"wrangler dev answered {got.status} {got.body[:300]!r} for {PATH}")
    return Server(theirs.port, theirs.host), lambda rng, count: [Request("GET", PATH)] * count


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    found: dict[str, Any] = {}

    def measure(stack: contextlib.ExitStack) -> None:
        workerd = args.workerd.absolute()
        check_workerd(workerd)
        if not args.no_wrangler:
            check_wrangler(args.wrangler, ", or pass --no-wrangler")
        rig = open_rig(stack, args.workdir, "workers", args.keep, args.wrangler.absolute())
        projects = write_projects(rig.runs / "projects", args.users)
        cache = rig.runs / "cache"
        emu = rig.servers.emulator("workers", options=["--runtime", "workerd", "--workerd", str(workerd)])
        port = int(emu.origin.rsplit(":", 1)[1])
        print_header(args, rig, workerd)
        note(f"deploying {args.users} user Workers with sync-all, and dispatch, plain, static with sync ...")
        seconds = deploy_all(rig, emu, projects, cache)
        print(f"  {args.users} user Workers deployed by one sync-all in {seconds:.2f} s")
        note("checking every route ...")
        check_routes(port, projects.users)
        ours = Server(port, f"127.0.0.1:{port}", emu.pid)
        rows = {label: (ours, make) for label, make in workloads(projects.users).items()}
        if not args.no_wrangler:
            note("starting wrangler dev ...")
            rows[WRANGLER] = wrangler_row(stack, rig, args, projects)
        for server, make in rows.values():  # untimed warm-up
            load(server.port, server.host, make(random.Random(0), min(200, args.requests)), args.clients)
        note("measuring throughput and latency ...")
        found["load"] = measure_load(rows, args)
        note("measuring deploy-to-live ...")
        ways = {"library": library_deploy(emu, cache), "CLI": cli_deploy(emu, rig.clients, cache)}
        found["live"] = {
            label: summary(deploy_to_live(port, deploy, projects.user(user), user, 2, args.deploys))
            for (label, deploy), user in zip(
                ways.items(), (projects.users[0], projects.users[-1]), strict=True
            )
        }

    status = guarded(measure)
    if status:
        return status
    print_load(found["load"], args.clients, args.users)
    targets = print_live(found["live"])
    print(f"\nload average at the end: {loadavg()}")
    return verdict(missed(targets), args.check)


if __name__ == "__main__":
    sys.exit(main())
