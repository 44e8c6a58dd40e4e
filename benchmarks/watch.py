"""Watch mode, measured: save-to-live latency and where it goes, beside the floor; a 1,000-file
burst; and the idle watcher's CPU.

Runs ``assetsync serve`` and a watcher as separate processes on this machine, over a copy (hard
links) of the 10,000-file synthetic site of ``common.trees``. The watcher is the library's
:func:`assetsync.watcher.watch` with its default settings (what ``assetsync watch`` runs), the
idle rescan every 30 s included (``--rescan`` changes it), started as this script with
``--watcher``: it prints one line per deploy with the watcher's timestamps of each phase.

- **save-to-live**: 50 single-file edits, one after the other; each is timed from the moment
  the file is written (replaced, as editors do) to the moment the preview serves the new bytes
  (polled every 2 ms). Reported as p50 and p95 of that run's edits, and broken down into phases
  (the p50 of each; clocks are CLOCK_MONOTONIC, shared by both processes): event delivery (the
  write to the watcher's first event), debounce (the quiet window), build (patching the
  manifest), the session, upload and deploy requests, the engine's own work between them, and the
  preview noticing (the deploy answered to the new bytes served).
- **floor**: in the same run, against the same emulator, exactly the three requests a one-file
  change needs (the session with the 10,000-entry manifest, one upload, one deploy), timed with a
  warm keep-alive client (assetsync's own) on another script: save-to-live can not beat it.
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

Targets: p50 <= 50 ms, p95 <= 150 ms, burst in <= 2 deploys, idle CPU < 1% of a core.

    python benchmarks/watch.py [--quick] [--repeat 3] [--edits 50] [--burst 1000] [--idle 65]
                               [--rescan S] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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

from assetsync.engine import SyncOptions, sync
from assetsync.folder.build import BuildOptions, build
from assetsync.folder.hashing import HashScheme, digest_bytes
from assetsync.protocol import WorkerSpec, deploy_metadata
from assetsync.protocol.contenttypes import content_type
from assetsync.wire.body import MultipartBody, PartSource
from assetsync.wire.target import Target, api_target

DEFAULT_RESCAN_S = 30.0  # the watcher's own default, stated here for the report only
IDLE_STEP_S = 0.25
DEPLOYED = " deployed: "
TIMES = ", times "  # what follows it on a deploy line: the phases' timestamps, as JSON
PHASES = ("delivery", "debounce", "build", "session", "upload", "deploy", "engine", "preview")


def run_watcher(argv: list[str]) -> int:
    """The watcher process: ``--watcher SITE CACHE_DIR [RESCAN]``. One stderr line per deploy:
    ``HH:MM:SS deployed: +A ~C -R, times {...}`` with the watcher's clock (``time.monotonic``)."""
    from assetsync.settings import Settings, resolve
    from assetsync.watcher import DeployLine, watch

    site, cache_dir, *rest = argv

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def deployed(line: DeployLine) -> None:
        t, d = line.times, line.report.durations
        assert t is not None
        times = {"noticed": t.noticed, "taken": t.taken, "built": t.built, "done": t.deployed}
        times |= {k: d.get(k, 0.0) for k in ("session", "upload", "deploy")}
        counts = f"+{line.added} ~{line.changed} -{line.removed}"
        say(f"{time.strftime('%H:%M:%S')}{DEPLOYED}{counts}{TIMES}{json.dumps(times)}")

    _, options = resolve(Settings(folder=site, name="site", cache_dir=cache_dir), say)
    watch(site, options=options, say=say, on_deploy=deployed, rescan=float(rest[0]) if rest else 30.0)
    return 0


def phases_of(written: float, served: float, line: str) -> dict[str, float]:
    """One edit's phases in seconds, from its deploy line and the benchmark's own two times."""
    t = json.loads(line.split(TIMES, 1)[1])
    requests = t["session"] + t["upload"] + t["deploy"]
    return {
        "delivery": t["noticed"] - written,
        "debounce": t["taken"] - t["noticed"],
        "build": t["built"] - t["taken"],
        "session": t["session"],
        "upload": t["upload"],
        "deploy": t["deploy"],
        "engine": t["done"] - t["built"] - requests,
        "preview": served - t["done"],
    }


def replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".assetsync-bench-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def wait_served(client: httpx.Client, url_path: str, want: bytes, deadline: float) -> float:
    while True:
        r = client.get(url_path)
        if r.status_code == 200 and r.content == want:
            return time.monotonic()
        if time.monotonic() > deadline:
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
    phases: list[dict[str, float]]  # per edit, :data:`PHASES`
    split_edits: int  # edits that took more than one deploy (the save's events fell into two batches)
    floor: list[float]  # the three requests, per try
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

    def phase(self, name: str) -> float:
        return statistics.median(p[name] for p in self.phases)


def measure(tree: Tree, edits: int, burst: int, idle_s: float, rescan: float | None) -> Result:
    """Start an emulator and a watcher on a fresh copy of ``tree``; edit, burst, idle; stop both."""
    scratch = Path(tempfile.mkdtemp(prefix="assetsync-watch-bench-"))
    site = scratch / "site"
    try:
        subprocess.run(["cp", "-al", str(tree.root), str(site)], check=True)  # edits replace files
        with Servers() as servers:
            emu = servers.emulator("emulator", scratch / "data")
            argv = [sys.executable, __file__, "--watcher", str(site), str(scratch / "cache")]
            if rescan is not None:
                argv += [str(rescan)]
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
                for i in range(edits):
                    editor.edit(i)
                settle(watch.pid)
                floor = measure_floor(emu.credentials(), site, scratch, editor.picks[:edits])
                deploys_before = len(lines.matching(DEPLOYED))
                written, burst_live = write_burst(client, site / "burst", burst)
                settle(watch.pid)  # any trailing deploy is done before the deploys are counted
                burst_deploys = lines.matching(DEPLOYED)[deploys_before:]
            idle = idle_window(watch.pid, idle_s)
            errors = lines.matching("error")
            if errors:
                raise BenchError("the watcher reported errors:\n" + "\n".join(errors[-10:]))
            return Result(
                initial_s,
                editor.latencies,
                editor.phases,
                editor.split,
                floor,
                written,
                burst_live,
                burst_deploys,
                idle,
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class Editor:
    """Single-file edits of the site's copy, each timed until the preview serves the new bytes."""

    def __init__(self, client: httpx.Client, tree: Tree, site: Path, lines: Output) -> None:
        self.client, self.tree, self.site, self.lines = client, tree, site, lines
        rng = random.Random(7)
        small = [p for p in tree.files if os.path.getsize(p) < 64 * 1024 and not p.endswith(".html")]
        self.picks = [os.path.relpath(rng.choice(small), tree.root) for _ in range(1000)]
        self.latencies: list[float] = []
        self.phases: list[dict[str, float]] = []
        self.split = 0

    def edit(self, i: int) -> None:
        """Replace one small file (not a page) with new bytes; time until they are served, and its
        phases. Returns once the watcher has said it deployed."""
        rel = self.picks[i % len(self.picks)]
        data = f"edit {i} {time.time()} ".encode() * 8
        deploys_before = len(self.lines.matching(DEPLOYED))
        start = time.monotonic()
        replace_file(self.site / rel, data)
        done = wait_served(self.client, "/" + rel.replace(os.sep, "/"), data, start + 30)
        wait_deployed(self.lines, deploys_before, 30)
        mine = self.lines.matching(DEPLOYED)[deploys_before:]
        self.split += len(mine) > 1
        self.latencies.append(done - start)
        serving = [x for x in mine if json.loads(x.split(TIMES, 1)[1])["done"] <= done] or mine
        self.phases.append(phases_of(start, done, serving[-1]))


def measure_floor(credentials: dict[str, str], site: Path, scratch: Path, picks: list[str]) -> list[float]:
    """The three requests of a one-file change, each try timed alone: a session with the site's
    whole manifest (one entry new), the one upload, the deploy, over one warm keep-alive client.
    On the script ``floor``: a first untimed sync puts the site there (its blobs are stored)."""
    target = api_target(env=credentials)
    assert target is not None
    sync(str(site), SyncOptions("floor", build=BuildOptions(cache_dir=str(scratch / "floor-cache"))), target)
    manifest = json.loads(
        build(str(site), BuildOptions(cache_dir=str(scratch / "floor-cache"))).manifest.to_json()
    )
    blob = scratch / "floor-blob"
    return asyncio.run(_floor_tries(target, manifest, blob, picks))


async def _floor_tries(
    target: Target, manifest: dict[str, dict[str, object]], blob: Path, picks: list[str]
) -> list[float]:
    spec = WorkerSpec()
    scheme = HashScheme()
    out: list[float] = []
    async with target.client() as client:
        for i, rel in enumerate(["warm-up", *picks]):
            key = "/" + (rel if i else picks[0]).replace(os.sep, "/")
            data = f"floor {i} {time.time()} ".encode() * 8
            ctype = content_type(key)
            digest = digest_bytes(data, scheme, key, ctype)
            blob.write_bytes(data)
            st = blob.stat()
            manifest["manifest"][key] = {"hash": digest, "size": len(data)}
            body = json.dumps(manifest, separators=(",", ":"))
            part = PartSource(digest, str(blob), key, len(data), st.st_mtime_ns, st.st_ctime_ns, ctype)
            start = time.monotonic()
            session = await client.open_session("floor", None, body)
            if session.buckets != [[part.hash]]:
                raise BenchError(f"the floor's session asked for {session.buckets}, not the one new blob")
            completion = await client.upload(session.jwt, MultipartBody([part]))
            assert completion is not None
            await client.deploy("floor", None, deploy_metadata(spec, completion))
            if i:
                out.append(time.monotonic() - start)
    return out


def write_burst(client: httpx.Client, folder: Path, burst: int) -> tuple[float, float]:
    """Write ``burst`` new files into a new folder in one loop: how long the writing took, and
    how long until the last one is served; then a sample of them must be served too."""
    start = time.monotonic()
    folder.mkdir()
    for i in range(burst):
        (folder / f"page-{i:04d}.txt").write_bytes(f"burst file {i}\n".encode())
    written = time.monotonic() - start
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
            "<= 50 ms",
            lambda v: v <= 0.050,
        ),
        ("save-to-live p95", [r.p95 for r in results], ms, "<= 150 ms", lambda v: v <= 0.150),
        (
            "floor p50 (session + upload + deploy)",
            [statistics.median(r.floor) for r in results],
            ms,
            "-",
            None,
        ),
        ("floor p95", [pct(r.floor, 0.95) for r in results], ms, "-", None),
        (
            "save-to-live p50 / floor p50",
            [r.p50 / statistics.median(r.floor) for r in results],
            lambda v: f"{v:.2f}x",
            "-",
            None,
        ),
        (
            "edits deployed in two batches",
            [float(r.split_edits) for r in results],
            lambda v: f"{v:g}",
            "0",
            None,
        ),
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
    print("Where save-to-live goes: the p50 of each phase over a run's edits (ms)")
    print()
    phase_head = ["run", *PHASES, "sum of p50s", "save-to-live p50", "floor p50"]
    phase_rows = [
        [
            str(i),
            *(f"{r.phase(name) * 1000:.1f}" for name in PHASES),
            f"{sum(r.phase(name) for name in PHASES) * 1000:.1f}",
            f"{r.p50 * 1000:.1f}",
            f"{statistics.median(r.floor) * 1000:.1f}",
        ]
        for i, r in enumerate(results, 1)
    ]
    print(markdown(phase_head, phase_rows))
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
    sys.exit(run_watcher(sys.argv[2:]) if sys.argv[1:2] == ["--watcher"] else main())
