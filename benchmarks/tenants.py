#!/usr/bin/env python3
"""Benchmark ``assetsync sync-all`` against a loop of one deploy per tenant, all to the same emulator.

A platform of 500 tenants x 40 small files (about 4 KiB each, every tenant's bytes its own) is
published into one dispatch namespace, side by side in one run:

- ``sync-all``: ``python -m assetsync sync-all ROOT --namespace bench --cache-dir C --json``;
- ``sync`` loop: a bash ``for`` loop running ``python -m assetsync sync TENANT --name T
  --namespace bench --tag assetsync --tag tenant:T --cache-dir C --json`` once per tenant (what a
  platform's CI does without sync-all: a start-up, a connection and a cache load per tenant);
- ``wrangler`` loop (first 50 tenants only; about 2.5 s each): a bash loop of ``wrangler deploy
  --dispatch-namespace bench`` in one project folder per tenant (``wrangler.json``: name,
  compatibility date, ``assets.directory``), with sync-all and the sync loop on the same 50.

Scenarios: first deploy (a fresh emulator and empty caches for each command), then a redeploy
with nothing changed (same emulator and caches, right after). Each command's output is checked
(every tenant deployed, the expected number of files uploaded); a miss is a WARNING line.

The machinery is ``benchmarks/sync.py``'s, imported: the emulator is ``assetsync serve`` in a
process of its own on 127.0.0.1 (a fresh data folder per first deploy), commands run through
``common.Spawner`` (wall time up to ``os.wait4``; no memory figure), with the same environment
for each tool (scratch HOME for wrangler, its update check pointed at a closed loopback port,
compiled bytecode for python), and assetsync runs from a snapshot of ``<repo>/assetsync`` taken at
the start.

Data lives under ``<repo>/.bench/tenants`` (git-ignored; ``--workdir``): the generated platform is
kept and reused by the next run with the same parameters (delete the folder when done); emulator
data and caches are deleted at exit unless ``--keep``. Target: sync-all at least 10x faster than
the sync loop on 500 tenants.

Usage::

    python benchmarks/tenants.py [--tenants N] [--files N] [--wrangler-tenants N] [--repeat N]
                                 [--workdir DIR] [--keep] [--skip-wrangler] [--check]

Exit status 0 whatever the figures (a measurement tool); with ``--check``, 1 when the target is
missed or a run misbehaved; 2 when the benchmark itself could not run; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from common import BenchError, Run, Spawner, loadavg  # noqa: E402  (benchmarks/ is not a package)
from manifest import human, note  # noqa: E402
from sync import (  # noqa: E402
    COMPAT_DATE,
    Clients,
    Emulator,
    Servers,
    _raise_interrupt,
    assetsync_json,
    git_state,
    take_snapshot,
    tool_version,
)

REPO = BENCH_DIR.parent
NAMESPACE = "bench"
SEED = 20240603
VERSION = 1  # bump when the generated platform changes
TARGET_RATIO = 10.0
WORDS = ("index", "about", "blog", "shop", "team", "faq", "contact", "news", "docs", "help")


# -- the platform -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    root: Path
    tenants: list[str]
    files: int  # per tenant
    total_bytes: int


def tenant_name(i: int) -> str:
    return f"tenant-{i:04d}"


def ensure_platform(workdir: Path, name: str, tenants: int, files: int) -> Platform:
    """``tenants`` folders of ``files`` small files each (html, css, js, svg, json; 1-8 KiB),
    seeded, every tenant's bytes its own; reused when generated alike before."""
    root = workdir / name
    params = workdir / f"{name}.params.json"
    wanted = {"tenants": tenants, "files": files, "seed": SEED, "version": VERSION}
    names = [tenant_name(i) for i in range(tenants)]
    if root.is_dir() and params.is_file():
        with contextlib.suppress(OSError, ValueError):
            if json.loads(params.read_text()) == wanted:
                total = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
                return Platform(root, names, files, total)
    note(f"generating {tenants} tenants x {files} files in {root} ...")
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(SEED)
    past = time.time() - 3600  # nothing is in assetsync's 2 s "racy" window
    total = 0
    exts = ("html", "css", "js", "svg", "json")
    for tenant in names:
        folder = root / tenant
        for j in range(files):
            ext = exts[j % len(exts)]
            sub = "" if ext == "html" else f"{ext}/"
            path = folder / f"{sub}{WORDS[j % len(WORDS)]}-{j}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            size = rng.randint(1024, 8192)
            head = f"{tenant} {j}\n".encode()
            data = head + rng.randbytes(max(0, size - len(head))).hex().encode()[: size - len(head)]
            path.write_bytes(data)
            os.utime(path, (past, past))
            total += len(data)
    params.write_text(json.dumps(wanted))
    return Platform(root, names, files, total)


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


@dataclass
class Measure:
    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return min(r.seconds for r in self.runs)


class Bench:
    def __init__(self, clients: Clients, servers: Servers, spawner: Spawner, snapshot: Path, work: Path):
        self.clients = clients
        self.servers = servers
        self.spawner = spawner
        self.snapshot = snapshot
        self.work = work
        self.problems: list[str] = []

    def creds(self, emu: Emulator) -> dict[str, str]:
        return {
            "CLOUDFLARE_ACCOUNT_ID": "0123456789abcdef0123456789abcdef",
            "CLOUDFLARE_API_TOKEN": emu.token,
            "CLOUDFLARE_API_BASE_URL": emu.api,
        }

    def run(self, emu: Emulator, argv: Sequence[str], env: dict[str, str], cwd: Path, label: str) -> Run:
        os.sync()  # untimed: what earlier runs wrote is on disk, no write-back competes
        # Wall time only: no memory figure is reported here, so the tree is not sampled.
        return self.spawner.run(argv, {**env, **self.creds(emu)}, cwd, label, memory=False)

    def sync_all(self, emu: Emulator, p: Platform, cache: Path, label: str, expect: int) -> Run:
        argv = [
            sys.executable, "-m", "assetsync", "sync-all", str(p.root), "--namespace", NAMESPACE,
            "--cache-dir", str(cache), "--json",
        ]  # fmt: skip
        run = self.run(emu, argv, self.clients.python_env, self.snapshot, label)
        doc = assetsync_json(run) or {}
        summary = doc.get("summary") or {}
        if doc.get("ok") is not True or summary.get("succeeded") != len(p.tenants):
            self.problems.append(f"{label}: not every tenant deployed: {json.dumps(summary)[:300]}")
        elif summary.get("uploaded") != expect:
            self.problems.append(
                f"{label}: expected {expect:,} files uploaded, got {summary.get('uploaded')}"
            )
        return run

    def sync_loop(self, emu: Emulator, p: Platform, cache: Path, label: str, expect: int) -> Run:
        script = (
            f'for d in {shlex.quote(str(p.root))}/*/; do n=$(basename "$d"); '
            f'{shlex.quote(sys.executable)} -m assetsync sync "$d" --name "$n" --namespace {NAMESPACE} '
            f'--tag assetsync --tag "tenant:$n" --cache-dir {shlex.quote(str(cache))} --json || exit 1; done'
        )
        run = self.run(emu, ["bash", "-c", script], self.clients.python_env, self.snapshot, label)
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
        folder = self.work / f"wrangler-projects-{len(p.tenants)}"
        if folder.exists():
            shutil.rmtree(folder)
        for name in p.tenants:
            project = folder / name
            project.mkdir(parents=True)
            config = {
                "name": name,
                "compatibility_date": COMPAT_DATE,
                "assets": {"directory": str(p.root / name)},
            }
            (project / "wrangler.json").write_text(json.dumps(config) + "\n")
        return folder

    def wrangler_loop(self, emu: Emulator, p: Platform, projects: Path, label: str) -> Run:
        wrangler = shlex.quote(str(self.clients.wrangler))
        script = (
            f"for d in {shlex.quote(str(projects))}/*/; do "
            f'(cd "$d" && {wrangler} deploy --dispatch-namespace {NAMESPACE}) || exit 1; done'
        )
        run = self.run(emu, ["bash", "-c", script], self.clients.node_env, self.work, label)
        deployed = (run.stdout + run.stderr).count("Current Version ID")
        if deployed != len(p.tenants):
            self.problems.append(f"{label}: wrangler deployed {deployed} of {len(p.tenants)} tenants")
        return run


def measure_platform(bench: Bench, p: Platform, repeat: int, wrangler: bool) -> dict[str, Measure]:
    """First deploy and no-change redeploy of each way, ``repeat`` interleaved rounds."""
    n, expect = len(p.tenants), len(p.tenants) * p.files
    out = {
        key: Measure(key)
        for key in ("all-first", "all-again", "loop-first", "loop-again", "wrangler-first", "wrangler-again")
    }
    projects = bench.projects(p) if wrangler else None
    for r in range(repeat):
        note(f"  {n} tenants, round {r + 1}/{repeat}: sync-all ...")
        emu = bench.servers.start(f"all-{n}-{r}")
        cache = emu.data.parent / "cache"
        out["all-first"].runs.append(bench.sync_all(emu, p, cache, f"sync-all first ({n})", expect))
        out["all-again"].runs.append(bench.sync_all(emu, p, cache, f"sync-all again ({n})", 0))
        bench.servers.stop(emu)
        note(f"  {n} tenants, round {r + 1}/{repeat}: sync loop ...")
        emu = bench.servers.start(f"loop-{n}-{r}")
        cache = emu.data.parent / "cache"
        out["loop-first"].runs.append(bench.sync_loop(emu, p, cache, f"sync loop first ({n})", expect))
        out["loop-again"].runs.append(bench.sync_loop(emu, p, cache, f"sync loop again ({n})", 0))
        bench.servers.stop(emu)
        if projects is not None:
            note(f"  {n} tenants, round {r + 1}/{repeat}: wrangler loop ...")
            emu = bench.servers.start(f"wrangler-{n}-{r}")
            out["wrangler-first"].runs.append(
                bench.wrangler_loop(emu, p, projects, f"wrangler loop first ({n})")
            )
            out["wrangler-again"].runs.append(
                bench.wrangler_loop(emu, p, projects, f"wrangler loop again ({n})")
            )
            bench.servers.stop(emu)
    return {k: m for k, m in out.items() if m.runs}


def print_table(results: dict[int, dict[str, Measure]]) -> list[tuple[str, float]]:
    print()
    print(
        "| tenants | scenario | sync-all | sync loop | loop / sync-all | wrangler loop "
        "| wrangler / sync-all |"
    )
    print("|---|---|---|---|---|---|---|")
    ratios: list[tuple[str, float]] = []
    for n, ms in sorted(results.items(), reverse=True):
        for phase, label in (("first", "first deploy"), ("again", "redeploy, nothing changed")):
            a, loop, w = ms.get(f"all-{phase}"), ms.get(f"loop-{phase}"), ms.get(f"wrangler-{phase}")
            if a is None or loop is None:
                continue
            ratio = loop.seconds / a.seconds
            ratios.append((f"{n} tenants, {label}", ratio))
            wtext = f"{w.seconds:.2f} s ({w.seconds / n * 1000:.0f} ms/tenant)" if w else "-"
            wratio = f"{w.seconds / a.seconds:.1f}x" if w else "-"
            print(
                f"| {n:,} | {label} | {a.seconds:.2f} s ({a.seconds / n * 1000:.1f} ms/tenant) | "
                f"{loop.seconds:.2f} s ({loop.seconds / n * 1000:.0f} ms/tenant) | {ratio:.1f}x | "
                f"{wtext} | {wratio} |"
            )
    return ratios


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Time sync-all against per-tenant loops of sync and wrangler.")
    p.add_argument("--tenants", type=int, default=500, metavar="N", help="tenants in the platform [500]")
    p.add_argument("--files", type=int, default=40, metavar="N", help="files per tenant [40]")
    p.add_argument("--wrangler-tenants", type=int, default=50, metavar="N", help="tenants for wrangler [50]")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="rounds; the best is kept [1]")
    p.add_argument("--workdir", type=Path, metavar="DIR", help="[default: <repo>/.bench/tenants]")
    p.add_argument("--keep", action="store_true", help="keep the generated platform and emulator data")
    p.add_argument("--skip-wrangler", action="store_true", help="do not run the wrangler loop")
    p.add_argument(
        "--wrangler",
        type=Path,
        default=Path(
            os.environ.get("ASSETSYNC_WRANGLER") or REPO / ".tools" / "node_modules" / ".bin" / "wrangler"
        ),
        help="the wrangler CLI [default: <repo>/.tools/node_modules/.bin/wrangler]",
    )
    p.add_argument("--check", action="store_true", help=f"exit 1 if sync-all is under {TARGET_RATIO:g}x")
    args = p.parse_args(argv)
    if min(args.repeat, args.tenants, args.files) < 1 or not 0 <= args.wrangler_tenants <= args.tenants:
        p.error("--repeat, --tenants and --files must be at least 1; --wrangler-tenants at most --tenants")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrangler_wanted = not args.skip_wrangler and args.wrangler_tenants > 0
    if wrangler_wanted and not os.access(args.wrangler, os.X_OK):
        note(
            f"error: wrangler not found at {args.wrangler} (npm install --prefix .tools, or --skip-wrangler)"
        )
        return 2
    workdir = (args.workdir or REPO / ".bench" / "tenants").absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    runs_dir = workdir / "runs" / time.strftime("%Y%m%d-%H%M%S")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    spawner: Spawner | None = None
    servers: Servers | None = None
    bench: Bench | None = None
    results: dict[int, dict[str, Measure]] = {}
    status = 0
    scratch = Path(tempfile.mkdtemp(prefix="assetsync-tenants-bench-", dir=workdir))
    try:
        spawner = Spawner()
        snapshot = scratch / "snapshot"
        clients = Clients(scratch, spawner, args.wrangler.absolute(), snapshot)
        digest = take_snapshot(snapshot, clients.python_env)
        servers = Servers(runs_dir, clients.python_env, snapshot)
        bench = Bench(clients, servers, spawner, snapshot, scratch)
        print("assetsync tenants benchmark: sync-all vs a loop of sync vs a loop of wrangler deploy,")
        print("all into one dispatch namespace of assetsync serve on 127.0.0.1")
        wv = tool_version([str(args.wrangler), "--version"], clients.node_env) if wrangler_wanted else "-"
        print(f"  assetsync {git_state()}, sources {digest}; wrangler {wv}; {os.cpu_count()} CPUs")
        print(f"  load average at start {loadavg()}; best of {args.repeat} round(s); work folder {workdir}")
        full = ensure_platform(workdir, f"platform-{args.tenants}x{args.files}", args.tenants, args.files)
        print(
            f"  platform: {len(full.tenants):,} tenants x {full.files} files, "
            f"{human(full.total_bytes)} in all"
        )
        sys.stdout.flush()
        small = subset(scratch, full, args.wrangler_tenants) if wrangler_wanted else None
        note("warming up (untimed): compiling, loading both tools' code ...")
        warm = small or subset(scratch, full, 1)
        emu = servers.start("warm-up")
        bench.sync_all(emu, warm, emu.data.parent / "cache", "warm-up", len(warm.tenants) * warm.files)
        if wrangler_wanted:
            one = subset(scratch, full, 1)
            bench.wrangler_loop(emu, one, bench.projects(one), "warm-up wrangler")
        servers.stop(emu)
        note(f"measuring {len(full.tenants)} tenants ...")
        results[len(full.tenants)] = measure_platform(bench, full, args.repeat, wrangler=False)
        if small is not None:
            note(f"measuring {len(small.tenants)} tenants, with wrangler ...")
            results[len(small.tenants)] = measure_platform(bench, small, args.repeat, wrangler=True)
    except BenchError as exc:
        note(f"error: {exc}")
        status = 2
    except KeyboardInterrupt:
        note("interrupted: stopping the servers")
        status = 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if spawner is not None:
            spawner.close()
        if servers is not None:
            servers.stop_all()
        if not args.keep:
            note("deleting the data ...")
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(runs_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                runs_dir.parent.rmdir()
        signal.signal(signal.SIGTERM, previous)
    if status:
        return status
    ratios = print_table(results)
    problems = bench.problems if bench is not None else []
    for problem in problems:
        print(f"WARNING: {problem}")
    first = next((r for label, r in ratios if label.endswith("first deploy")), None)
    print()
    print(f"load average at the end: {loadavg()}")
    if first is not None:
        verdict = "met" if first >= TARGET_RATIO else "MISSED"
        print(f"target sync-all >= {TARGET_RATIO:g}x the sync loop on first deploy: {first:.1f}x, {verdict}")
    missed = first is None or first < TARGET_RATIO
    return 1 if args.check and (missed or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
