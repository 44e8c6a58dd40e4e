#!/usr/bin/env python3
"""Benchmark ``assetsync sync-all`` at platform scale, in two parts, each against the emulator.

``--part loops`` (the default): sync-all against a loop of one deploy per tenant. A platform of
500 tenants x 40 small files (about 4 KiB each, every tenant's bytes its own) is published into
one dispatch namespace, side by side in one run:

- ``sync-all``: ``python -m assetsync sync-all ROOT --namespace bench --cache-dir C --json``;
- ``sync`` loop: a bash ``for`` loop running ``python -m assetsync sync TENANT --name T
  --namespace bench --tag assetsync --tag tenant:T --cache-dir C --json`` once per tenant (what a
  platform's CI does without sync-all: a start-up, a connection and a cache load per tenant);
- ``wrangler`` loop (first 50 tenants only; about 2.5 s each): a bash loop of ``wrangler deploy
  --dispatch-namespace bench`` in one project folder per tenant (``wrangler.json``: name,
  compatibility date, ``assets.directory``), with sync-all and the sync loop on the same 50.

Scenarios: first deploy (a fresh emulator and empty caches for each command), then a redeploy
with nothing changed (same emulator and caches, right after). Target: sync-all at least 10x
faster than the sync loop on 500 tenants.

``--part limit``: the platform within the API's rate limit (``tenants_limit.py`` says how).
10,000 tenants x 2 small files by default, published through ``assetsync serve --rate-limit
120/3`` (Cloudflare's 1,200 requests per 300 s, scaled) with a counting proxy in front: the first
deploy, the same again with nothing changed, again with one tenant changed, then today's way
(``--verify full``, unpaced) on the unchanged platform and on a fresh emulator. Targets: no 429
and wall time within 1.1x of (requests / rate) on the first deploy; at most ceil(N / 100) + 10
requests and none for one tenant when nothing changed; only the list pages and that tenant's
requests when one changed. The full run takes about 40 minutes (30,000 requests at 40/s for the
first deploy alone); ``--quick`` (300 tenants) about a minute.

Each command's output is checked (every tenant deployed, the expected number of files uploaded);
a miss is a WARNING line. The machinery is ``benchmarks/sync.py``'s, imported: the emulator is
``assetsync serve`` in a process of its own on 127.0.0.1 (a fresh data folder per first deploy),
commands run through ``common.Spawner`` (wall time up to ``os.wait4``; no memory figure), with
the same environment for each tool (scratch HOME for wrangler, its update check pointed at a
closed loopback port, compiled bytecode for python), and assetsync runs from a snapshot of
``<repo>/assetsync`` taken at the start.

Data lives under ``<repo>/.bench/tenants`` (git-ignored; ``--workdir``): the generated platform is
kept and reused by the next run with the same parameters (delete the folder when done); emulator
data and caches are deleted at exit unless ``--keep``.

Usage::

    python benchmarks/tenants.py [--part loops] [--tenants N] [--files N] [--wrangler-tenants N]
                                 [--repeat N] [--skip-wrangler] [--quick] [--workdir DIR] [--keep]
                                 [--check]
    python benchmarks/tenants.py --part limit [--tenants N] [--files N] [--rate-limit 120/3]
                                 [--quick] [--workdir DIR] [--keep] [--check]

Exit status 0 whatever the figures (a measurement tool); with ``--check``, 1 when a target is
missed or a run misbehaved; 2 when the benchmark itself could not run; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.clients import NAMESPACE, Clients, assetsync_json, check_wrangler, write_project
from common.lifecycle import guarded, note
from common.machine import loadavg, tool_version
from common.options import add_repeat, add_workdir, add_wrangler, parse
from common.processes import Run, Spawner
from common.servers import Emulator, Servers
from common.snapshot import git_state, take_snapshot
from common.tables import Row, human, markdown, print_warnings, verdict
from common.trees import ensure_platform, tenant_name
from common.workdirs import WorkFolder
from tenants_limit import (
    DEFAULT_FILES,
    DEFAULT_RATE,
    DEFAULT_TENANTS,
    QUICK_TENANTS,
    LimitPlatform,
    Outcome,
    Rate,
    measure_limit,
    report,
)

TARGET_RATIO = 10.0
WAYS = (("all", "sync-all"), ("loop", "sync loop"), ("wrangler", "wrangler loop"))
PHASES = (("first", "first deploy"), ("again", "redeploy, nothing changed"))


# -- the platform -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    root: Path
    tenants: list[str]
    files: int  # per tenant
    total_bytes: int


def subset(workdir: Path, full: Platform, count: int) -> Platform:
    """The first ``count`` tenants, as symlinks in a root of their own (sync-all follows them)."""
    root = workdir / f"first-{count}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    names = full.tenants[:count]
    for name in names:
        (root / name).symlink_to(full.root / name, target_is_directory=True)
    per = full.total_bytes // max(1, len(full.tenants))
    return Platform(root, names, full.files, per * count)


# -- the three ways to publish ------------------------------------------------------------------


class Bench:
    """Each way to publish a platform, run against an emulator and checked."""

    def __init__(self, clients: Clients, servers: Servers, work: Path):
        self.clients = clients
        self.servers = servers
        self.work = work
        self.problems = clients.problems
        self._projects: dict[Path, Path] = {}

    def way(self, key: str) -> Callable[[Emulator, Platform, str, int], Run]:
        return {"all": self.sync_all, "loop": self.sync_loop, "wrangler": self.wrangler_loop}[key]

    def sync_all(self, emu: Emulator, p: Platform, label: str, expect: int) -> Run:
        args = [
            "sync-all",
            str(p.root),
            "--namespace",
            NAMESPACE,
            "--cache-dir",
            str(emu.data.parent / "cache"),
        ]
        # Wall time only: no memory figure is reported here, so the tree is not sampled.
        run = self.clients.assetsync(emu, [*args, "--json"], label, memory=False)
        doc = assetsync_json(run) or {}
        summary = doc.get("summary") or {}
        if doc.get("ok") is not True or summary.get("succeeded") != len(p.tenants):
            self.problems.append(f"{label}: not every tenant deployed: {json.dumps(summary)[:300]}")
        elif summary.get("uploaded") != expect:
            self.problems.append(
                f"{label}: expected {expect:,} files uploaded, got {summary.get('uploaded')}"
            )
        return run

    def sync_loop(self, emu: Emulator, p: Platform, label: str, expect: int) -> Run:
        cache = shlex.quote(str(emu.data.parent / "cache"))
        script = (
            f'for d in {shlex.quote(str(p.root))}/*/; do n=$(basename "$d"); '
            f'{shlex.quote(sys.executable)} -m assetsync sync "$d" --name "$n" --namespace {NAMESPACE} '
            f'--tag assetsync --tag "tenant:$n" --cache-dir {cache} --json || exit 1; done'
        )
        c = self.clients
        run = c.run(emu, ["bash", "-c", script], c.python_env, c.snapshot, label, memory=False)
        docs = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        ok = [d for d in docs if d.get("ok") is True and d.get("deployment_id")]
        uploaded = sum(int(d.get("uploaded", 0)) for d in ok)
        if len(ok) != len(p.tenants) or uploaded != expect:
            self.problems.append(
                f"{label}: {len(ok)} of {len(p.tenants)} tenants deployed, "
                f"{uploaded:,} of {expect:,} uploaded"
            )
        return run

    def projects(self, p: Platform) -> Path:
        """One wrangler project folder per tenant, made once per platform."""
        folder = self._projects.get(p.root)
        if folder is None:
            folder = self._projects[p.root] = self.work / f"wrangler-projects-{p.root.name}"
            for name in p.tenants:
                write_project(folder / name, name, p.root / name)
        return folder

    def wrangler_loop(self, emu: Emulator, p: Platform, label: str, expect: int) -> Run:
        wrangler = shlex.quote(str(self.clients.wrangler))
        script = (
            f"for d in {shlex.quote(str(self.projects(p)))}/*/; do "
            f'(cd "$d" && {wrangler} deploy --dispatch-namespace {NAMESPACE}) || exit 1; done'
        )
        c = self.clients
        run = c.run(emu, ["bash", "-c", script], c.node_env, self.work, label, memory=False)
        deployed = (run.stdout + run.stderr).count("Current Version ID")
        if deployed != len(p.tenants):
            self.problems.append(f"{label}: wrangler deployed {deployed} of {len(p.tenants)} tenants")
        return run


def measure_platform(bench: Bench, p: Platform, repeat: int, wrangler: bool) -> dict[str, Row[Run]]:
    """First deploy and no-change redeploy of each way, ``repeat`` interleaved rounds: a fresh
    emulator (and empty caches) for each way's first deploy, the same one for its redeploy."""
    n, expect = len(p.tenants), len(p.tenants) * p.files
    out: dict[str, Row[Run]] = {
        f"{key}-{phase}": Row(f"{key}-{phase}") for key, _ in WAYS for phase, _ in PHASES
    }
    ways = WAYS if wrangler else WAYS[:2]
    for r in range(repeat):
        for key, name in ways:
            note(f"  {n} tenants, round {r + 1}/{repeat}: {name} ...")
            emu = bench.servers.emulator(f"{key}-{n}-{r}")
            try:
                for phase, uploads in (("first", expect), ("again", 0)):
                    label = f"{name} {phase} ({n})"
                    out[f"{key}-{phase}"].runs.append(bench.way(key)(emu, p, label, uploads))
            finally:
                bench.servers.stop(emu)
    return {k: m for k, m in out.items() if m.runs}


def print_table(results: dict[int, dict[str, Row[Run]]]) -> list[tuple[str, float]]:
    """The Markdown table of every platform and phase; each phase's sync loop / sync-all ratio."""
    head = ["tenants", "scenario", "sync-all", "sync loop", "loop / sync-all", "wrangler loop"]
    rows: list[list[str]] = []
    ratios: list[tuple[str, float]] = []
    for n, ms in sorted(results.items(), reverse=True):
        for phase, label in PHASES:
            a, loop, w = ms.get(f"all-{phase}"), ms.get(f"loop-{phase}"), ms.get(f"wrangler-{phase}")
            if a is None or loop is None:
                continue
            ratio = loop.seconds / a.seconds
            ratios.append((f"{n} tenants, {label}", ratio))
            rows.append(
                [
                    f"{n:,}",
                    label,
                    f"{a.seconds:.2f} s ({a.seconds / n * 1000:.1f} ms/tenant)",
                    f"{loop.seconds:.2f} s ({loop.seconds / n * 1000:.0f} ms/tenant)",
                    f"{ratio:.1f}x",
                    f"{w.seconds:.2f} s ({w.seconds / n * 1000:.0f} ms/tenant)" if w else "-",
                    f"{w.seconds / a.seconds:.1f}x" if w else "-",
                ]
            )
    print()
    print(markdown([*head, "wrangler / sync-all"], rows))
    return ratios


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time sync-all against per-tenant loops of sync and wrangler (--part loops), or "
        "publish a platform within the API's rate limit (--part limit)."
    )
    p.add_argument(
        "--part",
        choices=("loops", "limit"),
        default="loops",
        help="loops: sync-all against loops of sync and wrangler; limit: the rate-limit targets [loops]",
    )
    p.add_argument(
        "--tenants",
        type=int,
        metavar="N",
        help=f"tenants [loops: 500; limit: {DEFAULT_TENANTS:,}, {QUICK_TENANTS} with --quick]",
    )
    p.add_argument(
        "--files",
        type=int,
        metavar="N",
        help=f"files per tenant [loops: 40, 10 with --quick; limit: {DEFAULT_FILES}]",
    )
    p.add_argument(
        "--wrangler-tenants", type=int, metavar="N", help="tenants for wrangler [50, 5 with --quick]"
    )
    p.add_argument(
        "--rate-limit",
        type=Rate.parse,
        default=Rate.parse(DEFAULT_RATE),
        metavar="REQUESTS/SECONDS",
        help=f"--part limit: the emulator's serve --rate-limit [{DEFAULT_RATE}: 1,200/300 s scaled]",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smaller: limit {QUICK_TENANTS} tenants (about a minute); loops 50 x 10 files, 5 for wrangler",
    )
    add_repeat(p, "rounds of --part loops; the best is kept [1]", default=1)
    add_workdir(p, "tenants", "the platform, caches and emulator data")
    p.add_argument("--keep", action="store_true", help="keep the generated platform and emulator data")
    p.add_argument("--skip-wrangler", action="store_true", help="do not run the wrangler loop")
    add_wrangler(p)
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed or a run misbehaved")
    args = parse(p, argv)
    limit = args.part == "limit"
    if args.tenants is None:
        args.tenants = (
            (QUICK_TENANTS if args.quick else DEFAULT_TENANTS) if limit else (50 if args.quick else 500)
        )
    if args.files is None:
        args.files = DEFAULT_FILES if limit else (10 if args.quick else 40)
    if args.wrangler_tenants is None:
        args.wrangler_tenants = 0 if limit else min(args.tenants, 5 if args.quick else 50)
    if min(args.tenants, args.files) < 1 or not 0 <= args.wrangler_tenants <= args.tenants:
        p.error("--repeat, --tenants and --files must be at least 1; --wrangler-tenants at most --tenants")
    if limit and args.tenants < 2:
        p.error("--part limit needs --tenants 2 or more (one of them is changed)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    limit = args.part == "limit"
    wrangler_wanted = not limit and not args.skip_wrangler and args.wrangler_tenants > 0
    results: dict[int, dict[str, Row[Run]]] = {}
    limited: list[tuple[list[Outcome], LimitPlatform]] = []
    problems: list[str] = []

    def measure(stack: contextlib.ExitStack) -> None:
        if wrangler_wanted:
            check_wrangler(args.wrangler, ", or pass --skip-wrangler")
        work = stack.enter_context(WorkFolder(args.workdir, "tenants", args.keep))
        runs = work.runs()
        scratch = Path(tempfile.mkdtemp(prefix="assetsync-tenants-bench-", dir=work.path))
        work.add(scratch)
        spawner = stack.enter_context(Spawner())
        snapshot = scratch / "snapshot"
        clients = Clients(scratch, spawner, args.wrangler.absolute(), snapshot)
        digest = take_snapshot(snapshot, clients.python_env)
        servers = stack.enter_context(Servers(runs, clients.python_env, snapshot))
        bench = Bench(clients, servers, scratch)
        if limit:
            print("assetsync tenants benchmark, the rate limit: sync-all within assetsync serve --rate-limit")
            print(f"{args.rate_limit} on 127.0.0.1, and today's unpaced client; a proxy in front counts them")
        else:
            print("assetsync tenants benchmark: sync-all vs a loop of sync vs a loop of wrangler deploy,")
            print("all into one dispatch namespace of assetsync serve on 127.0.0.1")
        wv = tool_version([str(args.wrangler), "--version"], clients.node_env) if wrangler_wanted else "-"
        print(f"  assetsync {git_state()}, sources {digest}; wrangler {wv}; {os.cpu_count()} CPUs")
        rounds = "one round" if limit else f"best of {args.repeat} round(s)"
        print(f"  load average at start {loadavg()}; {rounds}; work folder {work.path}")
        tree = ensure_platform(work.path, args.tenants, args.files)
        full = Platform(
            tree.root, [tenant_name(i) for i in range(args.tenants)], args.files, tree.total_bytes
        )
        print(
            f"  platform: {len(full.tenants):,} tenants x {full.files} files, "
            f"{human(full.total_bytes)} in all"
        )
        sys.stdout.flush()
        small = subset(scratch, full, args.wrangler_tenants) if wrangler_wanted else None
        note("warming up (untimed): compiling, loading both tools' code ...")
        warm = small or subset(scratch, full, 1)
        emu = servers.emulator("warm-up")
        bench.sync_all(emu, warm, "warm-up", len(warm.tenants) * warm.files)
        if wrangler_wanted:
            bench.wrangler_loop(emu, subset(scratch, full, 1), "warm-up wrangler", 0)
        servers.stop(emu)
        if limit:
            note(f"measuring {len(full.tenants):,} tenants within {args.rate_limit} ...")
            limited.append(
                measure_limit(clients, servers, scratch, full.root, full.tenants, full.files, args.rate_limit)
            )
        else:
            note(f"measuring {len(full.tenants)} tenants ...")
            results[len(full.tenants)] = measure_platform(bench, full, args.repeat, wrangler=False)
            if small is not None:
                note(f"measuring {len(small.tenants)} tenants, with wrangler ...")
                results[len(small.tenants)] = measure_platform(bench, small, args.repeat, wrangler=True)
        problems.extend(bench.problems)

    status = guarded(measure)
    if status:
        return status
    if limit:
        failed = report(*limited[0], args.rate_limit)
        print_warnings(problems)
        print()
        print(f"load average at the end: {loadavg()}")
        return verdict(failed, args.check, bool(problems), "some runs misbehaved (WARNING lines above)")
    ratios = print_table(results)
    print_warnings(problems)
    first = next((r for label, r in ratios if label.endswith("first deploy")), None)
    print()
    print(f"load average at the end: {loadavg()}")
    if first is not None:
        met = "met" if first >= TARGET_RATIO else "MISSED"
        print(f"target sync-all >= {TARGET_RATIO:g}x the sync loop on first deploy: {first:.1f}x, {met}")
    missed_loops = first is None or first < TARGET_RATIO
    return 1 if args.check and (missed_loops or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
