"""Watch mode, measured: save-to-live latency, a 1,000-file burst, and the idle watcher's CPU.

Runs ``assetsync serve`` and ``assetsync watch`` as separate processes on this machine, over a
copy (hard links) of the 10,000-file synthetic site of ``common.trees``. The watcher
runs with its default settings, the idle rescan every 30 s included (``--rescan`` changes it):

- **save-to-live**: 50 single-file edits, one after the other; each is timed from the moment
  the file is written (replaced, as editors do) to the moment the preview serves the new bytes
  (polled every 2 ms). Reported as p50 and p95 of that run's edits.
- **burst**: 1,000 new files written into a new folder in one loop, as fast as Python writes
  them; how long the writing took, the time until the last file is served, and how many
  deploys the watcher made (counted once its CPU time has stood still for a second after that).
- **idle CPU**: the CPU time of the watcher's process tree over an idle window (``--idle``,
  65 s: longer than two rescan periods, so it holds two rescans), as a share of one core. The
  CPU time is read every 0.25 s, and the bursts of activity in the window (the rescans) are
  listed with their CPU time, so a reader can see the rescans were in it.

Each of the ``--repeat`` runs (3) starts afresh: a new copy of the site, a new emulator, a new
watcher with an empty cache. Nothing is a best-of: the table shows every run in a column, then
the median of the runs.

Targets: p50 <= 100 ms, p95 <= 250 ms, burst in <= 2 deploys, idle CPU < 1% of a core.

    python benchmarks/watch.py [--quick] [--repeat 3] [--edits 50] [--burst 1000] [--idle 65]
                               [--rescan S] [--check]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import BenchError
from common.lifecycle import guarded, note
from common.machine import REPO, loadavg
from common.options import add_repeat, parse
from common.processes import tree_cpu_seconds
from common.servers import Output, Servers
from common.tables import markdown
from common.trees import Tree, site_spec

DEFAULT_RESCAN_S = 30.0  # the watcher's own default, stated here for the report only
IDLE_STEP_S = 0.25
DEPLOYED = " deployed: "


def replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".assetsync-bench-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def wait_served(client: httpx.Client, url_path: str, want: bytes, deadline: float) -> float:
    while True:
        r = client.get(url_path)
        if r.status_code == 200 and r.content == want:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise BenchError(f"{url_path} never served the new bytes")
        time.sleep(0.002)


def wait_deployed(lines: Output, before: int, timeout: float) -> None:
    """Until the watcher has said it deployed more than ``before`` times."""
    lines.wait_for(lambda ls: sum(DEPLOYED in x for x in ls) > before, timeout, "a deploy")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def settle(pid: int, still_s: float = 1.0, limit_s: float = 30.0) -> None:
    """Wait until the tree's CPU time has not moved for ``still_s`` (at most ``limit_s``): the
    watcher has finished what the last changes started (a follow-up check of late events)."""
    end = time.monotonic() + limit_s
    last = tree_cpu_seconds(pid)
    while time.monotonic() < end:
        time.sleep(still_s)
        now = tree_cpu_seconds(pid)
        if now == last:
            return
        last = now


@dataclass
class Idle:
    """The idle window: its length, the tree's CPU seconds in it, and its bursts of activity
    as (seconds into the window, CPU seconds)."""

    seconds: float
    cpu: float
    bursts: list[list[float]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.cpu / self.seconds


def idle_window(pid: int, seconds: float) -> Idle:
    """Read the tree's CPU time every 0.25 s for ``seconds``; consecutive reads that moved form
    one burst."""
    start = time.monotonic()
    first = prev = tree_cpu_seconds(pid)
    idle = Idle(0.0, 0.0)
    current: list[float] | None = None
    while (now := time.monotonic()) < start + seconds:
        time.sleep(min(IDLE_STEP_S, start + seconds - now))
        cpu = tree_cpu_seconds(pid)
        if cpu > prev:
            if current is None:
                current = [time.monotonic() - start, 0.0]
                idle.bursts.append(current)
            current[1] += cpu - prev
        else:
            current = None
        prev = cpu
    idle.seconds = time.monotonic() - start
    idle.cpu = prev - first
    return idle


@dataclass
class Result:
    """One run of the whole measurement."""

    initial_s: float
    latencies: list[float]
    burst_write_s: float
    burst_live_s: float
    burst_deploys: list[str]  # the watcher's deploy lines for the burst
    idle: Idle

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        return pct(self.latencies, 0.95)


def measure(tree: Tree, edits: int, burst: int, idle_s: float, rescan: float | None) -> Result:
    """Start an emulator and a watcher on a fresh copy of ``tree``; edit, burst, idle; stop both."""
    scratch = Path(tempfile.mkdtemp(prefix="assetsync-watch-bench-"))
    site = scratch / "site"
    try:
        subprocess.run(["cp", "-al", str(tree.root), str(site)], check=True)  # edits replace files
        with Servers() as servers:
            emu = servers.emulator("emulator", scratch / "data")
            argv = [sys.executable, "-m", "assetsync", "watch", str(site), "--name", "site"]
            argv += ["--cache-dir", str(scratch / "cache")]
            if rescan is not None:
                argv += ["--rescan", str(rescan)]
            t0 = time.perf_counter()
            watch = servers.start("watcher", argv, None, env={**os.environ, **emu.credentials(), "CI": "1"})
            lines = watch.output
            got = lines.wait_for(
                lambda ls: any(DEPLOYED in x or x.startswith("error") for x in ls), 900, "its first sync"
            )
            if not any(DEPLOYED in x for x in got):
                raise BenchError("the first sync failed:\n" + "\n".join(got[-10:]))
            initial_s = time.perf_counter() - t0
            with httpx.Client(base_url=emu.origin, headers={"Host": "site.localhost"}, timeout=30) as client:
                editor = Editor(client, tree, site, lines)
                latencies = [editor.edit(i) for i in range(edits)]
                settle(watch.pid)
                deploys_before = len(lines.matching(DEPLOYED))
                written, burst_live = write_burst(client, site / "burst", burst)
                settle(watch.pid)  # any trailing deploy is done before the deploys are counted
                burst_deploys = lines.matching(DEPLOYED)[deploys_before:]
            idle = idle_window(watch.pid, idle_s)
            errors = lines.matching("error")
            if errors:
                raise BenchError("the watcher reported errors:\n" + "\n".join(errors[-10:]))
            return Result(initial_s, latencies, written, burst_live, burst_deploys, idle)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class Editor:
    """Single-file edits of the site's copy, each timed until the preview serves the new bytes."""

    def __init__(self, client: httpx.Client, tree: Tree, site: Path, lines: Output) -> None:
        self.client, self.tree, self.site, self.lines = client, tree, site, lines
        self.rng = random.Random(7)
        self.small = [p for p in tree.files if os.path.getsize(p) < 64 * 1024 and not p.endswith(".html")]

    def edit(self, i: int) -> float:
        """Replace one small file (not a page) with new bytes; the seconds until they are served.
        Returns once the watcher has said it deployed."""
        rel = os.path.relpath(self.rng.choice(self.small), self.tree.root)
        data = f"edit {i} {time.time()} ".encode() * 8
        deploys_before = len(self.lines.matching(DEPLOYED))
        start = time.perf_counter()
        replace_file(self.site / rel, data)
        done = wait_served(self.client, "/" + rel.replace(os.sep, "/"), data, start + 30)
        wait_deployed(self.lines, deploys_before, 30)
        return done - start


def write_burst(client: httpx.Client, folder: Path, burst: int) -> tuple[float, float]:
    """Write ``burst`` new files into a new folder in one loop: how long the writing took, and
    how long until the last one is served; then a sample of them must be served too."""
    start = time.perf_counter()
    folder.mkdir()
    for i in range(burst):
        (folder / f"page-{i:04d}.txt").write_bytes(f"burst file {i}\n".encode())
    written = time.perf_counter() - start
    last_bytes = f"burst file {burst - 1}\n".encode()
    live = wait_served(client, f"/{folder.name}/page-{burst - 1:04d}.txt", last_bytes, start + 120) - start
    for i in range(0, burst, max(1, burst // 20)):
        if client.get(f"/{folder.name}/page-{i:04d}.txt").content != f"burst file {i}\n".encode():
            raise BenchError(f"/{folder.name}/page-{i:04d}.txt is not served after the burst")
    return written, live


def print_table(results: list[Result], edits: int, burst: int, rescan_s: float) -> bool:
    """A Markdown table, one column per run, then the median; False if a target was missed."""
    n = len(results)

    def ms(x: float) -> str:
        return f"{x * 1000:.0f} ms"

    def sec(x: float) -> str:
        return f"{x:.1f} s"

    def pct_text(x: float) -> str:
        return f"{x * 100:.2f}%"

    window = statistics.median(r.idle.seconds for r in results)
    rows: list[tuple[str, list[float], Callable[[float], str], str, Callable[[float], bool] | None]] = [
        (
            f"save-to-live p50 ({edits} edits)",
            [r.p50 for r in results],
            ms,
            "<= 100 ms",
            lambda v: v <= 0.100,
        ),
        ("save-to-live p95", [r.p95 for r in results], ms, "<= 250 ms", lambda v: v <= 0.250),
        (
            f"{burst:,}-file burst: deploys",
            [float(len(r.burst_deploys)) for r in results],
            lambda v: f"{v:g}",
            "<= 2",
            lambda v: v <= 2,
        ),
        (f"{burst:,}-file burst: written in", [r.burst_write_s for r in results], sec, "-", None),
        (f"{burst:,}-file burst: last file live after", [r.burst_live_s for r in results], sec, "-", None),
        (
            f"idle CPU over {window:.0f} s, rescan every {rescan_s:g} s (% of a core)",
            [r.idle.share for r in results],
            pct_text,
            "< 1%",
            lambda v: v < 0.01,
        ),
        (
            "rescans seen in the idle window",
            [float(len(r.idle.bursts)) for r in results],
            lambda v: f"{v:g}",
            "-",
            None,
        ),
    ]
    head = ["measure", *(f"run {i}" for i in range(1, n + 1)), f"median of {n}", "target", "met in"]
    ok = True
    cells: list[list[str]] = []
    for name, values, fmt, target, judge in rows:
        met = "-" if judge is None else f"{sum(judge(v) for v in values)}/{n}"
        ok = ok and (judge is None or all(judge(v) for v in values))
        cells.append([name, *(fmt(v) for v in values), fmt(statistics.median(values)), target, met])
    print(markdown(head, cells))
    print()
    for i, r in enumerate(results, 1):
        bursts = ", ".join(f"{b[1] * 1000:.0f} ms CPU at {b[0]:.1f} s" for b in r.idle.bursts) or "none"
        adds = ", ".join(line.split(DEPLOYED, 1)[1].split(",", 1)[0] for line in r.burst_deploys)
        print(
            f"run {i}: initial sync {r.initial_s:.1f} s; save-to-live min {min(r.latencies) * 1000:.0f} ms, "
            f"max {max(r.latencies) * 1000:.0f} ms; burst deploys {adds or 'none'}; "
            f"idle: {r.idle.cpu:.2f} s CPU in {r.idle.seconds:.1f} s, activity: {bursts}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the 1,000-file site, 20 edits, 200-file burst")
    add_repeat(ap, "runs, each from scratch [3]")
    ap.add_argument("--edits", type=int, default=0, help="single-file edits to time [50]")
    ap.add_argument("--burst", type=int, default=0, help="files in the burst [1000]")
    ap.add_argument("--idle", type=float, default=65.0, help="seconds of idle CPU measurement [65]")
    ap.add_argument(
        "--rescan", type=float, default=None, metavar="S", help="the watcher's --rescan [its default, 30]"
    )
    ap.add_argument("--workdir", type=Path, default=REPO / ".bench" / "manifest")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parse(ap, argv)
    edits = args.edits or (20 if args.quick else 50)
    burst = args.burst or (200 if args.quick else 1000)
    rescan_s = args.rescan if args.rescan is not None else DEFAULT_RESCAN_S

    args.workdir.mkdir(parents=True, exist_ok=True)
    tree = site_spec(args.quick).ensure(args.workdir)
    load_start = loadavg()
    results: list[Result] = []

    def runs(stack: contextlib.ExitStack) -> None:
        for i in range(1, args.repeat + 1):
            note(f"run {i}/{args.repeat} ...")
            results.append(measure(tree, edits, burst, args.idle, args.rescan))

    status = guarded(runs)
    if status:
        return status
    print(
        f"\nassetsync watch on {len(tree.files):,} files ({tree.total_bytes / 2**20:.0f} MiB); "
        f"{args.repeat} run(s), each from scratch; {os.cpu_count()} CPUs; emulator over a socket "
        f"on 127.0.0.1; rescan every {rescan_s:g} s{'' if args.rescan is not None else ' (the default)'};\n"
        f"load average (1, 5, 15 min) {load_start} at the start, {loadavg()} at the end: these are\n"
        "absolute times, with no baseline run beside them, so they move with the machine's load\n"
    )
    ok = print_table(results, edits, burst, rescan_s)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
