#!/usr/bin/env python3
"""Benchmark the emulator's upload API (``assetsync serve``) against plain loopback HTTP servers.

What it measures, side by side in one run (best of ``--repeat`` interleaved rounds):

- Session latency: ``POST .../assets-upload-session`` with a 10,000-entry manifest, once when
  every hash is missing (the server answers with all of them, in buckets) and once after every
  blob was uploaded (nothing missing, a completion token at once). The site payload's smaller
  manifest is timed as well. The JSON body is encoded before timing; a keep-alive connection
  is already open; the clock stops when the whole answer has been read.
- Ingest throughput through ``POST .../workers/assets/upload?base64=true``, in MiB/s of *raw*
  (decoded) file bytes, for two payloads:

  * site: a mixed site of ~300 MiB, a few hundred files of 100 KiB-8 MiB plus ~2,000 small
    files of 2-50 KiB;
  * small: 10,000 files of ~10 KiB (~98 MiB).

  Every bucket the session asks for becomes one multipart body (one part per hash, the bytes
  base64-encoded, as wrangler sends them), all built in memory before the clock starts. The
  bodies are then POSTed with 3 requests in flight (3 threads sharing one keep-alive
  ``httpx.Client``), timed from the first send to the last response. Each emulator run gets a
  fresh emulator process on a fresh data folder, so nothing is stored yet; every answer must be
  202 except the last, a 201 with the completion token, and a second session must then find
  nothing missing.
- Two baselines, each a separate process started once, fed the very same bodies the same way:

  * uvicorn drain: the emulator's own server stack (uvicorn with the same options, so uvloop and
    httptools when installed) around a trivial ASGI app that reads and discards the body and
    answers 202. The gap to it is the emulator's own work: multipart parsing, base64 decoding,
    writing blob files, SQLite.
  * raw http.server: ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive) reading Content-Length bytes
    in 1 MiB chunks into one buffer, answering 202. The network floor of this client on
    loopback.

  Both answer with the byte count they read, which the client checks against what it sent.
  Their MiB/s are computed over the same raw byte count as the emulator's, so the ratios compare
  like with like (the wire carries ~4/3 of that: base64 plus multipart framing).
- A disk floor (informational): the same files stored the way the emulator stores blobs (new
  temp file, written, renamed into a two-level folder) from one thread of this script, in the
  work folder, with no HTTP, parsing or SQLite. Creating files is what many small files cost.

Before each timed transfer or disk-floor run, ``os.sync()`` flushes what earlier runs wrote
(untimed), so that the kernel's write-back does not compete for the CPUs. Each ingest row also
shows the CPU seconds (user + system, from /proc and getrusage) that the server process and
this client process used during the best run: a server near one CPU second per wall second is
saturated (uvicorn serves from one thread). On loopback, part of the receiving side's TCP work
is charged to the sender, so the client's figure includes some of the network stack's cost.

Target: emulator ingest >= 300 x 10^6 bytes/s (286.1 MiB/s) of raw bytes on the site payload.
The small-files figure is informational. Every size and rate here is binary: KiB = 2^10 bytes,
MiB = 2^20 bytes, MiB/s = 2^20 bytes per second.

Deleting: nothing this script writes is deleted before the end of the run (each emulator run
and each disk-floor run writes into a new folder). On an ext4 file system without a journal,
creating a file skips, one by one, every inode freed in the last 1-6 minutes, so right after
many files were deleted each creation costs up to a millisecond of kernel time (a dozen
microseconds otherwise); deleting one round's blobs would slow down the next round. The header
shows what an empty file's creation costs in the work folder at the start. When it is slow
(something, such as the clean-up of a previous run, deleted many files lately), the script
syncs and waits, up to 120 s, until it is not (``--no-settle``: do not wait); if it still is,
the header says SLOW and the figures for files are pessimistic.

Everything runs on 127.0.0.1; the servers are child processes in their own session (Ctrl-C
reaches only this script), stopped at exit, on error and on Ctrl-C / SIGTERM. Emulator data
folders go under ``<repo>/.bench/emulator`` (git-ignored; else a temp folder) and are deleted
unless ``--keep``. ``--profile DIR`` runs each emulator under cProfile (DIR/<payload>-<round>.prof)
and prints its top functions; the figures are then distorted by the profiler.

What is sent is built in ``emulator_payloads.py``, sent and timed in ``emulator_ingest.py``; the
baselines and the disk floor are in ``emulator_baselines.py``.

Usage::

    python benchmarks/emulator.py [--quick] [--repeat N] [--workdir DIR] [--keep] [--check]
                                  [--payload all|site|small] [--profile DIR] [--no-settle]

Exit status is 0 whatever the results (it is a measurement tool); with ``--check`` it is 1 when
the target is missed or a run did not do what it should (see WARNING lines); 2 when the
benchmark itself could not run. Standard library, httpx and uvicorn only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import pstats
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import uvicorn
from common.lifecycle import guarded, note
from common.machine import filesystem_of
from common.options import parse, parser
from common.servers import Servers
from common.tables import MIB, Target, TargetTable, missed, print_warnings, section, verdict
from common.workdirs import WorkFolder
from emulator_baselines import (
    SLOW_CREATE_US,
    Settle,
    run_baseline,
    run_disk_floor,
    settle_file_system,
    start_baselines,
)
from emulator_ingest import INFLIGHT, PayloadReport, run_emulator
from emulator_payloads import make_payload, pool, site_spec, small_spec

DESCRIPTION = "Time the emulator's upload sessions and ingest against plain loopback HTTP servers."
TARGET_MIBPS = 300e6 / MIB  # emulator ingest of the site payload: 300 x 10^6 bytes/s of raw bytes
TARGETS = TargetTable(value="value", value_width=8, limit_width=10, info="info (no target)")


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def cpu_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def print_header(repeat: int, workdir: Path, quick: bool, settle: Settle) -> None:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    print("assetsync emulator benchmark")
    print(
        f"  python {platform.python_version()} ({sys.executable}); {os.cpu_count()} CPUs; "
        f"{platform.system()} {platform.release()} {platform.machine()}"
    )
    print(f"  uvicorn {uvicorn.__version__} ({loop} + {http}); httpx {httpx.__version__}")
    print(f"  best of {repeat} rounds (interleaved){'; --quick sizes' if quick else ''}")
    print(f"  work folder {workdir} (file system: {filesystem_of(workdir)})")
    print(
        f"  creating an empty file there: {settle.first_us:.0f} us at the start"
        + (
            f", {settle.last_us:.0f} us after waiting {settle.waited_s:.0f} s for it to settle"
            if settle.waited_s
            else ""
        )
        + (" (SLOW: see 'Deleting' in this script's docstring)" if settle.last_us > SLOW_CREATE_US else "")
    )
    print(
        f"  client: multipart bodies built before timing, {INFLIGHT} requests in flight (threads, one\n"
        "  keep-alive httpx.Client), timed from first send to last answer. Each emulator run: a fresh\n"
        "  process on a fresh data folder. MiB = 2^20 bytes; 'raw MiB/s' counts decoded file bytes,\n"
        "  the same count for every row; 'wire MiB/s' counts the request bodies (base64 + multipart).\n"
        "  server / client CPU: user+system seconds of the server process / this process during the\n"
        "  best run (a server at ~1 s of CPU per second of wall time is saturated: uvicorn uses one\n"
        "  core). The disk floor writes the same files in the work folder from this process.\n"
        "  os.sync() before each timed run (untimed): no write-back of earlier runs competes."
    )


def print_sessions(reports: Sequence[PayloadReport]) -> None:
    section("upload session latency (POST .../assets-upload-session)")
    labels = {"missing": "everything missing", "none": "nothing missing (all uploaded)"}
    rows = [
        (f"{len(r.payload.files):,}-entry manifest ({r.payload.spec.kind}), {labels[k]}", row)
        for r in sorted(reports, key=lambda r: -len(r.payload.files))
        for k, row in r.sessions.items()
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'':<{width}}  {'best ms':>8}  {'median':>8}  all runs (ms)")
    for label, row in rows:
        median = statistics.median(r.seconds for r in row.runs)
        times = row.times(" ", ".1f", 1000)
        print(f"{label:<{width}}  {row.seconds * 1000:8.1f}  {median * 1000:8.1f}  {times}")


def print_ingest(r: PayloadReport) -> None:
    p = r.payload
    section(
        f"ingest, {p.spec.kind}: {len(p.files):,} files, {p.raw_bytes / MIB:.1f} MiB raw, "
        f"{p.wire_bytes / MIB:.1f} MiB on the wire in {len(p.bodies)} requests ({p.spec.describe()})"
    )
    rows = [r.emulator, r.drain, r.raw, r.disk]
    width = max(len(row.label) for row in rows)
    print(
        f"{'':<{width}}  {'best s':>7}  {'raw MiB/s':>9}  {'wire MiB/s':>10}  {'server CPU':>10}  "
        f"{'client CPU':>10}  all runs (s)"
    )
    for row in rows:
        best = row.best
        wire = "-" if row is r.disk else format(r.wire_mibps(row), ".1f")
        print(
            f"{row.label:<{width}}  {row.seconds:7.3f}  {r.mibps(row):9.1f}  {wire:>10}  "
            f"{cpu_text(best.server_cpu):>10}  {cpu_text(best.client_cpu):>10}  {row.times()}"
        )
    for label, other in (
        ("emulator / uvicorn drain", r.drain),
        ("emulator / raw http.server", r.raw),
        ("emulator / disk floor", r.disk),
    ):
        print(f"{label:<{width}}  {r.mibps(r.emulator) / r.mibps(other):7.2f}x")


def print_profiles(profile_dir: Path, kinds: Sequence[str], rnd: int, top: int = 15) -> None:
    for kind in kinds:
        path = profile_dir / f"{kind}-{rnd}.prof"
        if not path.is_file():
            print(f"(no profile at {path})")
            continue
        section(f"emulator profile, {kind} payload, round {rnd} ({path})")
        sys.stdout.flush()
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(top)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(
        DESCRIPTION, "emulator", "emulator data", "payloads ~5x smaller (60 MiB site, 2,000 small files)"
    )
    p.add_argument("--payload", choices=("all", "site", "small"), default="all", help="which payload(s)")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run each emulator under cProfile, writing DIR/<payload>-<round>.prof (distorts the figures)",
    )
    p.add_argument(
        "--no-settle",
        action="store_true",
        help="do not wait (up to 120 s) when creating files is slow at the start (recent mass deletes)",
    )
    p.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    return parse(p, argv)


def ingest_target(report: PayloadReport) -> Target:
    """The site payload's ingest against its floor; the small files' is shown, not judged."""
    value = report.mibps(report.emulator)
    if report.payload.spec.kind != "site":
        return Target("emulator ingest, small files (raw MiB/s)", f"{value:.1f}", "-", None)
    return Target(
        "emulator ingest, site (raw MiB/s)", f"{value:.1f}", f">= {TARGET_MIBPS:.1f}", value >= TARGET_MIBPS
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    specs = [s for s in (site_spec(args.quick), small_spec(args.quick)) if args.payload in ("all", s.kind)]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    reports: list[PayloadReport] = []

    def measure(stack: contextlib.ExitStack) -> None:
        work = stack.enter_context(WorkFolder(args.workdir, "emulator", args.keep))
        work.kept = f"kept the emulator data folders in {work.path}"
        servers = stack.enter_context(Servers())
        note("generating payloads ...")
        data = pool()
        reports.extend(PayloadReport(make_payload(spec)) for spec in specs)
        drain, raw = start_baselines(servers)
        probe = work.path / "create-probe"
        work.add(probe)
        settle = settle_file_system(probe, wait=not args.no_settle)
        print_header(args.repeat, work.path, args.quick, settle)
        sys.stdout.flush()
        for rnd in range(1, args.repeat + 1):
            for report in reports:
                kind = report.payload.spec.kind
                note(f"round {rnd}/{args.repeat}: {kind} ...")
                data_dir = work.path / f"data-{kind}-{rnd}"
                floor_dir = work.path / f"disk-floor-{kind}-{rnd}"
                work.add(data_dir, floor_dir)
                run_emulator(report.payload, data, rnd, data_dir, servers, report, args.profile)
                run_baseline(report.payload, drain, report.drain, report)
                run_baseline(report.payload, raw, report.raw, report)
                run_disk_floor(report.payload, data, floor_dir, report.disk)

    status = guarded(measure)
    if status:
        return status
    print_sessions(reports)
    for report in reports:
        print_ingest(report)
    targets = [ingest_target(r) for r in reports]
    print()
    TARGETS.print(targets)
    print_warnings(f"{r.payload.spec.kind}: {p}" for r in reports for p in r.problems)
    if args.profile:
        print_profiles(args.profile, [r.payload.spec.kind for r in reports], args.repeat)
    print()
    return verdict(missed(targets), args.check, any(r.problems for r in reports))


if __name__ == "__main__":
    sys.exit(main())
