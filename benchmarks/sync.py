#!/usr/bin/env python3
"""Benchmark ``assetsync sync`` against ``wrangler deploy``, both deploying to the same emulator.

What it measures, side by side in one run (best wall time of ``--repeat`` runs; the largest peak
memory of the command's whole process tree over those runs):

- The server: ``python -m assetsync serve --host 127.0.0.1 --port 0 --data DIR``, a process of
  its own; its URL comes from the banner it prints on stderr, its token from ``DIR/api-token``.
  Every measured first deploy gets a fresh emulator on a fresh data folder, so neither tool
  benefits from blobs the other (or an earlier round) uploaded. Both tools talk to it over a
  loopback socket, with the same account id, token and API base in their environment.
- assetsync: ``python -m assetsync sync SITE --name bench-site --namespace bench --cache-dir C
  --json``. Its JSON summary must say ``ok`` and the expected number of uploaded files.
- wrangler: the real CLI (``.tools/node_modules/.bin/wrangler``; ``npm install --prefix .tools``)
  as ``wrangler deploy --dispatch-namespace bench`` in a project folder holding only
  ``wrangler.json`` (name, compatibility date, ``assets.directory`` = SITE's absolute path). It
  must exit 0 and say how many assets it uploaded ("Found N new or modified static assets",
  "No updated asset files to upload").

Scenarios, on the 10,000-file ~700 MiB synthetic site of ``common.trees`` (``benchmarks/manifest.py``'s):

1. first deploy: fresh emulator, and for assetsync an empty cache folder;
2. redeploy, nothing changed: the same emulator and cache, right after;
3. redeploy after an edit: one small ``.css``/``.js`` file gets new bytes (same size, a new
   marker each round; mtime set 30 s in the past, so it is never in assetsync's 2 s "racy"
   window), then both tools redeploy; the emulator's preview must then serve the new bytes
   (checked for both tools, outside the timed region);
4. memory: a site of 40 files of exactly 25 MiB of random bytes (1,000 MiB), first deploy.

Then assetsync alone: the first deploy of the 10,000-file site at ``--concurrency`` 1, 2, 3, 4,
6 and 8 (a fresh emulator and empty cache each run), to choose the default by measurement.

CPU seconds are shown too: the client's (its whole process tree, from ``os.wait4``) and the
emulator's (from /proc) during the best run. The emulator is one server process, so a first
deploy on loopback is bound by its ingest rate; the sweep says so when that is what it measured.

Each round runs every command once (alternating which tool goes first), so drift hits all of
them alike; ``os.sync()`` runs before every measured command (untimed), so the write-back of
what the emulator stored in the previous run does not compete with the next one.

Peak memory is of the whole process tree, in every scenario: wrangler is two node processes (a
launcher that spawns the CLI) and assetsync forks hash workers, so the child's own ``ru_maxrss``
would miss most of it. The spawner (``common.processes.Spawner``) sums the RSS of the child and all its
descendants (``/proc/PID/statm``) every 20 ms while it runs and keeps the largest sum
(``common.processes.peak_tree_memory``); shared pages count once per process, so it is an upper bound, and
a spike shorter than 20 ms can be missed. Reading statm costs about 0.3 ms of CPU per sample on
wrangler's two processes (about 1% of a core). In the memory scenario the tree's summed PSS is
sampled too (``smaps_rollup``: shared pages split between their users; informational, it costs
more CPU). The targets use the RSS sum.

Targets (ratio = wrangler time / assetsync time): first deploy >= 3x, no-change redeploy >= 10x,
one-file redeploy >= 10x; assetsync's peak tree RSS on the 1,000 MiB site <= 143.1 MiB (150 x
10^6 bytes) and below wrangler's.

Environment of the measured commands: the emulator, both tools and this script use 127.0.0.1
only. wrangler gets ``WRANGLER_SEND_METRICS=false``, ``NO_COLOR=1``, and a scratch ``HOME`` and
``TMPDIR`` (it writes no state elsewhere); its npm update check is pointed at a closed loopback
port (``npm_config_registry=http://127.0.0.1:9/``), so it fails at once and never leaves the
machine (it is otherwise part of every run: wrangler races it against a short timeout). Python
children get ``PYTHONPYCACHEPREFIX`` in the work folder (and no ``PYTHONDONTWRITEBYTECODE``),
so after an untimed warm-up run they start from compiled bytecode, as an installed package does.
Both the emulator and assetsync run from a copy of ``<repo>/assetsync`` taken at the start (the
copy's folder is their current folder, first on ``sys.path``; checked), so edits made to the
checkout while the benchmark runs cannot mix versions; the header shows the copy's digest.
All numbers are page-cache-hot: every site is read once before measuring.

Data: sites, caches, wrangler projects and emulator folders live under ``<repo>/.bench/sync``
(git-ignored; ``--workdir`` to change). Emulator data folders are kept until the end of the run:
deleting many files on this machine's file system slows down file creation for minutes after,
which would tax the next emulator. Without ``--keep`` everything is deleted at exit; with it,
all is left in place and the next run reuses the generated sites if their parameters match
(emulator folders of a kept run are never reused; delete ``runs/`` when done).

Each tool's checked deploy is in ``sync_deploys.py``, the ``--concurrency`` sweep in
``sync_sweep.py``; the machinery shared with the other benchmarks in ``common/``.

Usage::

    python benchmarks/sync.py [--quick] [--repeat N] [--workdir DIR] [--keep] [--check]
                              [--skip-sweep] [--wrangler PATH]

``--quick``: a 1,000-file site and 8 x 25 MiB. Exit status is 0 whatever the results (it is a
measurement tool); with ``--check`` it is 1 when a target is missed or a run did not do what it
should (WARNING lines); 2 when the benchmark itself could not run; 130 when interrupted. Every
server started is stopped at exit, on error, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common.clients import check_wrangler, open_rig
from common.lifecycle import guarded, note
from common.machine import loadavg, tool_version
from common.options import add_wrangler, parse, parser
from common.processes import MEMORY_NOTE, Run
from common.servers import Emulator, Servers
from common.snapshot import changed_since, git_state
from common.tables import MIB, Row, Target, TargetTable, human, mib, missed, print_warnings, verdict
from common.trees import Tree, ensure_big, read_all, set_past_mtimes, site_spec
from sync_deploys import Deploys, EditedFile, assetsync_says, fmt_cpu, wrangler_says
from sync_sweep import Sweep, bench_sweep, default_concurrency, print_sweep

DESCRIPTION = (
    "Time 'assetsync sync' against 'wrangler deploy' (first deploy, redeploys, memory) on the emulator, "
    "and assetsync's first deploy by --concurrency."
)
RSS_LIMIT_BYTES = 150_000_000
TARGETS = TargetTable()


# --------------------------------------------------------------------------------------------
# The scenarios
# --------------------------------------------------------------------------------------------


@dataclass
class Pair:
    """assetsync and wrangler in one scenario."""

    key: str
    label: str
    a: Row[Run]
    w: Row[Run]

    @property
    def ratio(self) -> float:
        return self.w.seconds / self.a.seconds


@dataclass
class Results:
    site: Tree | None = None
    big: Tree | None = None
    pairs: dict[str, Pair] = field(default_factory=dict)
    startup: Pair | None = None  # bare start-up of each client: informational
    sweep: Sweep = field(default_factory=Sweep)


def pair(key: str, label: str) -> Pair:
    return Pair(key, label, Row(f"assetsync {label}"), Row(f"wrangler {label}"))


@dataclass(frozen=True)
class SiteRound:
    """One round of scenarios 1-3: an emulator per tool, assetsync's cache, wrangler's project."""

    deploys: Deploys
    site: Tree
    r: int
    emu_a: Emulator
    emu_w: Emulator
    cache: Path
    project: Path

    def step(self, p: Pair, tool: str, expect: int) -> None:
        label = f"{self.site.name} r{self.r} {'assetsync' if tool == 'a' else 'wrangler'} {p.label}"
        if tool == "a":
            p.a.runs.append(self.deploys.assetsync(self.emu_a, self.site, self.cache, label, expect))
        else:
            p.w.runs.append(self.deploys.wrangler(self.emu_w, self.project, label, expect))


def bench_site(
    site: Tree, edited: EditedFile, repeat: int, deploys: Deploys, servers: Servers, res: Results
) -> None:
    """Scenarios 1-3: per round, a fresh emulator per tool; first deploy, no change, one edit."""
    first, nochange, edit = (
        pair("first", "first deploy"),
        pair("nochange", "redeploy, nothing changed"),
        pair("edit", "redeploy, one file edited"),
    )
    res.pairs.update({p.key: p for p in (first, nochange, edit)})
    res.startup = startup = Pair("startup", "bare start-up (see below)", Row("python"), Row("wrangler"))
    n = site.count
    for r in range(1, repeat + 1):
        note(f"  {site.name} round {r}/{repeat} ...")
        emu_a = servers.emulator(f"{site.name}-r{r}-assetsync")
        emu_w = servers.emulator(f"{site.name}-r{r}-wrangler")
        cache = emu_a.data.parent / "cache"
        project = deploys.project(site, emu_w)
        tools = ["a", "w"] if r % 2 else ["w", "a"]

        rnd = SiteRound(deploys, site, r, emu_a, emu_w, cache, project)
        for tool in tools:
            rnd.step(first, tool, n)
        for tool in tools:
            rnd.step(nochange, tool, 0)
        edited.edit()
        for tool in tools:
            rnd.step(edit, tool, 1)
        deploys.check_served(emu_a, edited, f"{site.name} r{r} assetsync edit")
        deploys.check_served(emu_w, edited, f"{site.name} r{r} wrangler edit")
        servers.stop(emu_a)
        servers.stop(emu_w)
        py, node = deploys.startup()
        startup.a.runs.append(py)
        startup.w.runs.append(node)


def bench_big(site: Tree, repeat: int, deploys: Deploys, servers: Servers, res: Results) -> None:
    """Scenario 4: first deploy of the 25 MiB-file site, a fresh emulator per run."""
    p = pair("memory", f"first deploy, {site.count} x 25 MiB")
    res.pairs[p.key] = p
    for r in range(1, repeat + 1):
        note(f"  {site.name} round {r}/{repeat} ...")
        for tool in ["assetsync", "wrangler"] if r % 2 else ["wrangler", "assetsync"]:
            emu = servers.emulator(f"{site.name}-r{r}-{tool}")
            try:
                label = f"{site.name} r{r} {tool} first deploy"
                if tool == "assetsync":
                    cache = emu.data.parent / "cache"
                    p.a.runs.append(deploys.assetsync(emu, site, cache, label, site.count, pss=True))
                else:
                    project = deploys.project(site, emu)
                    p.w.runs.append(deploys.wrangler(emu, project, label, site.count, pss=True))
            finally:
                servers.stop(emu)


def warm_up(site: Tree, deploys: Deploys, servers: Servers) -> None:
    """Untimed: compile the .pyc files, load both clients' code into the page cache."""
    emu = servers.emulator("warm-up")
    try:
        deploys.assetsync(emu, site, emu.data.parent / "cache", "warm-up assetsync", site.count)
        deploys.wrangler(emu, deploys.project(site, emu), "warm-up wrangler", site.count)  # other hashes: all
    finally:
        servers.stop(emu)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def pss_text(kib: int) -> str:
    return mib(kib) if kib else "-"


def print_header(
    args: argparse.Namespace, workdir: Path, wrangler: Path, env: dict[str, str], state: str
) -> None:
    print("assetsync sync benchmark: assetsync sync vs wrangler deploy, both to assetsync serve on 127.0.0.1")
    print(
        f"  python {platform.python_version()}; node {tool_version(['node', '--version'])}; "
        f"wrangler {tool_version([str(wrangler), '--version'], env)}; assetsync {state}"
    )
    print(
        f"  {os.cpu_count()} CPUs; {platform.system()} {platform.release()}; "
        f"load average at start {loadavg()}"
    )
    print(f"  times: best of {args.repeat} run(s) (interleaved rounds); work folder {workdir}")
    print(f"  {MEMORY_NOTE}")
    print(
        "  tree PSS: the same tree's summed PSS (shared pages split between their users), sampled\n"
        "  alike in the memory scenario only ('-': not sampled there; it costs more CPU)."
    )
    print("  page-cache-hot: every site is read once before measuring; os.sync() before each run (untimed).")
    print(
        "  wrangler: scratch HOME and TMPDIR, WRANGLER_SEND_METRICS=false, npm update check pointed at a\n"
        "  closed 127.0.0.1 port; python children: PYTHONPYCACHEPREFIX in the work folder (compiled once,\n"
        "  in an untimed warm-up deploy of each client). assetsync (client and emulator) runs from a\n"
        "  snapshot of <repo>/assetsync copied at the start, so edits to the checkout cannot mix in."
    )


def print_pairs(res: Results) -> None:
    pairs = list(res.pairs.values())
    if not pairs:
        return
    sites = [s for s in (res.site, res.big) if s is not None]
    print()
    for s in sites:
        print(
            f"== {s.name}: {s.count:,} files, {human(s.total_bytes)} "
            f"({s.description}{'; reused' if s.reused else ''})"
        )
    shown = [*pairs, *([res.startup] if res.startup and res.startup.a.runs else [])]
    width = max(len(p.label) for p in shown)
    print()
    print(
        f"{'scenario':<{width}}  {'assetsync':>9}  {'wrangler':>9}  {'ratio':>7}  "
        f"{'a tree RSS':>10}  {'w tree RSS':>10}  "
        f"{'a tree PSS':>10}  {'w tree PSS':>10}"
    )
    for p in shown:
        print(
            f"{p.label:<{width}}  {p.a.seconds:8.3f}s  {p.w.seconds:8.3f}s  {p.ratio:6.2f}x  "
            f"{mib(p.a.peak_rss_kib):>10}  {mib(p.w.peak_rss_kib):>10}  "
            f"{pss_text(p.a.peak_pss_kib):>10}  {pss_text(p.w.peak_pss_kib):>10}"
        )
    if res.startup and res.startup.a.runs:
        print("(bare start-up: 'python -c pass' | 'wrangler --version', once per round; informational)")
    print()
    print(f"{'best run says':<{width}}  assetsync (phases in s) | wrangler")
    for p in pairs:
        cpu = [f"{r.best.cpu:.2f}/{fmt_cpu(r.best.server_cpu)}" for r in (p.a, p.w)]
        spread = [r.times("/", ".2f") for r in (p.a, p.w)]
        print(f"{p.label:<{width}}  {assetsync_says(p.a.best)} | {wrangler_says(p.w.best)}")
        print(
            f"{'':<{width}}    all runs (s): assetsync {spread[0]}; wrangler {spread[1]}; "
            f"CPU s client/emulator in best run: {cpu[0]} | {cpu[1]}"
        )


def targets(res: Results) -> list[Target]:
    out: list[Target] = []
    for key, limit in (("first", 3.0), ("nochange", 10.0), ("edit", 10.0)):
        p = res.pairs.get(key)
        if p is not None:
            out.append(
                Target(
                    f"{p.label}: wrangler / assetsync",
                    f"{p.ratio:.2f}x",
                    f">= {limit:.0f}x",
                    p.ratio >= limit,
                )
            )
    p = res.pairs.get("memory")
    if p is not None:
        a_kib, w_kib = p.a.peak_rss_kib, p.w.peak_rss_kib
        out.append(
            Target(
                f"{p.label}: assetsync peak tree RSS",
                f"{a_kib / 1024:.1f} MiB",
                f"<= {RSS_LIMIT_BYTES / MIB:.1f} MiB",
                a_kib * 1024 <= RSS_LIMIT_BYTES,
            )
        )
        out.append(
            Target(
                f"{p.label}: assetsync tree RSS below wrangler's",
                f"{a_kib / 1024:.1f} MiB",
                f"< {w_kib / 1024:.1f} MiB",
                a_kib < w_kib,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(
        DESCRIPTION, "sync", "sites, caches and emulator data", "small sites (1,000 files/70 MiB; 8 x 25 MiB)"
    )
    p.add_argument("--skip-sweep", action="store_true", help="do not run the --concurrency sweep")
    add_wrangler(p)
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed or a run misbehaved")
    return parse(p, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrangler: Path = args.wrangler.absolute()
    res = Results()
    problems: list[str] = []
    digest = ""

    def measure(stack: contextlib.ExitStack) -> None:
        nonlocal digest
        check_wrangler(wrangler)
        rig = open_rig(stack, args.workdir, "sync", args.keep, wrangler)
        work, clients, servers, digest = rig.work, rig.clients, rig.servers, rig.digest
        deploys = Deploys(clients)
        res.sweep.default = default_concurrency(clients)
        print_header(args, work.path, wrangler, clients.node_env, f"{git_state()}, sources {digest}")
        sys.stdout.flush()

        site = site_spec(args.quick).ensure(work.path)
        big = ensure_big(work.path, 8 if args.quick else 40)
        for tree in (site, big):
            work.add(tree.root, work.path / f"{tree.name}.params.json")
        res.site, res.big = site, big
        edited = EditedFile(site)
        stack.callback(edited.restore)
        for s in (site, big):
            set_past_mtimes(s.files)  # nothing is "racy" for assetsync's cache
            read_all(s.files)

        note("warming up (untimed) ...")
        warm_up(site, deploys, servers)
        note(f"measuring {site.name} ({site.count:,} files, {human(site.total_bytes)}) ...")
        read_all(site.files)
        bench_site(site, edited, args.repeat, deploys, servers, res)
        note(f"measuring {big.name} ({big.count} files, {human(big.total_bytes)}) ...")
        read_all(big.files)
        bench_big(big, args.repeat, deploys, servers, res)
        if not args.skip_sweep:
            note("measuring assetsync by --concurrency ...")
            read_all(site.files)
            bench_sweep(site, args.repeat, deploys, servers, res.sweep)
        problems.extend(deploys.problems)

    status = guarded(measure)
    if status:
        return status
    print_pairs(res)
    ts = targets(res)
    if ts:
        print()
        TARGETS.print(ts)
    print_sweep(res.sweep, res.site)
    print_warnings(problems)
    print()
    print(f"load average at the end: {loadavg()}")
    changed = changed_since(digest)
    if changed:
        print(changed)
    says = f"runs that did not do what their name says: {len(problems)} (see WARNING lines)"
    return verdict(missed(ts), args.check, bool(problems), says)


if __name__ == "__main__":
    sys.exit(main())
