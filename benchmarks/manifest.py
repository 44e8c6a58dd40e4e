#!/usr/bin/env python3
"""Benchmark ``assetsync manifest`` against the limits set by the machine.

What it measures, per generated tree, side by side in one run (best wall time of ``--repeat``):

- ``find DIR -type f -printf '%s %T@ %i\\n'``: the stat-walk limit. A warm run (nothing changed)
  reads no file, so it can do little better than walking the tree and stat-ing every file.
- ``find DIR -type f -print0 | xargs -0 -P2 -n500 openssl dgst -sha256``: the hashing limit. A
  cold run reads and SHA-256-hashes every byte; OpenSSL on two processes is the bar to meet.
- ``python -c pass``: bare interpreter start-up, subtracted from the warm time (assetsync's own
  imports are *not* subtracted: they are part of what a user waits for).
- Two "floor" rows: what plain CPython does on this machine, each a ``python -c`` child timed
  like the rest (start-up included), so a reader can judge the targets (informational only):

  * scandir+stat walk: ``os.scandir`` with an explicit stack, ``entry.stat()`` on every entry,
    (name, size, mtime_ns, ctime_ns, ino) appended to a list for each file; nothing else. The
    floor for a warm run, which needs at least that.
  * read+xxh3 (2 procs): ``os.walk`` lists the files, two forked processes each take half (by
    count, in walk order) and read every file with ``os.open``/``os.read`` in 768 KiB chunks
    into ``xxhash.xxh3_128``; the parent waits. The floor for a touched run (every byte read
    once and fingerprinted).
- ``python -m assetsync manifest DIR --cache-dir C --max-files 100000`` (the flag only lifts the
  default 20,000-file refusal for the 100,000-file tree), three ways:

  * cold: C emptied before each run, so every file is read and hashed;
  * warm: C filled by the run just before, nothing changed, so no file should be read;
  * touched: every file's mtime set to a new value (same bytes) before each run, outside the
    timed region, so every file is re-read but only fingerprinted with xxh3.

Why: these are the three situations a deploy tool meets (first deploy / CI without a cache,
re-deploy of an unchanged site, re-deploy after a build that rewrote identical files), and each
has an obvious lower bound. The targets are: cold <= 1.3x openssl, (warm - start-up) <= 3x find,
touched <= 0.4x cold. Each round runs every command once, so drift hits them all alike; each
run's output is checked (a warm run must report every file "from cache", and so on).

Commands are run by ``common.processes.Spawner`` (stdout to /dev/null): wall time from the spawn to
``os.wait4``, and the peak memory of the command's whole process tree (assetsync's forked hash
workers, xargs's openssl processes): the sum of their RSS, sampled every 20 ms
(``common.processes.peak_tree_memory``), the largest over the runs.

The trees (two: a ~700 MiB site of 10,000 mixed files, and 100,000 small files; ``--quick``
shrinks both) are ``common.trees``'s, generated deterministically (seeded) in the work folder.
Without ``--keep`` they are deleted at exit; with it, the next run reuses them if the parameters
still match. Timestamps are set well in the past so no cache entry is "racy" (mtime within 2 s
of the scan start), which would make warm runs re-read.

All numbers are page-cache-hot: dropping the page cache needs root, so instead every tree is
read once before measuring. Cold therefore means "no hash cache", not "cold disk".

Usage::

    python benchmarks/manifest.py [--quick] [--repeat N] [--workdir DIR] [--keep] [--check]
                                  [--tree all|site|small]

Exit status is 0 whatever the results (it is a measurement tool); with ``--check`` it is 1 when
a target is missed or a run did not do what its name says (e.g. a warm run that read files).
The script itself uses only the standard library; the read+xxh3 floor's child imports ``xxhash``
(an assetsync dependency) in the same interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from common import BenchError
from common.lifecycle import guarded, note
from common.machine import tool_version
from common.options import parse, parser
from common.processes import MEMORY_NOTE, Run, Spawner
from common.tables import Row, Target, TargetTable, human, mib, missed, print_warnings, section, verdict
from common.trees import Tree, read_all, set_mtimes, set_past_mtimes, site_spec, small_spec
from common.workdirs import WorkFolder

DESCRIPTION = "Time 'assetsync manifest' cold, warm and touched against find and openssl."
MAX_FILES_FLAG = "100000"  # assetsync refuses more than 20,000 files unless told otherwise
TOUCH_AGE_S = 30  # touched mtimes: new values, yet still far outside the 2 s racy window
TARGETS = TargetTable(value="ratio", value_width=8, limit_width=10)


# --------------------------------------------------------------------------------------------
# Running and timing commands
# --------------------------------------------------------------------------------------------


# The "floor" children: what plain CPython can do, for comparison. Each reports on stderr what it
# did, so that a run that skipped work is noticed like an assetsync run would be.
PY_WALK_FLOOR = r"""
import os, sys

out = []
stack = [sys.argv[1]]
while stack:
    with os.scandir(stack.pop()) as it:
        for entry in it:
            st = entry.stat(follow_symlinks=False)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                out.append((entry.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
print(f"walked {len(out)} files", file=sys.stderr)
"""

PY_READ_FLOOR = r"""
import os, sys, xxhash

CHUNK = 768 * 1024
files = [os.path.join(d, name) for d, _, names in os.walk(sys.argv[1]) for name in names]
half = len(files) // 2
r, w = os.pipe()
pids = []
for part in (files[:half], files[half:]):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            total = 0
            for path in part:
                fd = os.open(path, os.O_RDONLY)
                try:
                    h = xxhash.xxh3_128()
                    while data := os.read(fd, CHUNK):
                        h.update(data)
                        total += len(data)
                finally:
                    os.close(fd)
                h.digest()
            os.write(w, f"part {len(part)} {total}\n".encode())
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(code)
    pids.append(pid)
os.close(w)
with os.fdopen(r) as f:
    parts = f.read()
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
sys.stderr.write(parts)
sys.exit(0 if codes == [0, 0] else 1)
"""

FLOOR_WALK_RE = re.compile(r"^walked (\d+) files$", re.M)
FLOOR_PART_RE = re.compile(r"^part (\d+) (\d+)$", re.M)


def floor_says(key: str, stderr: str) -> tuple[int, int | None, str] | None:
    """(files, bytes or None, a short note) from a floor child's stderr; None if unreadable."""
    if key == "pywalk":
        m = FLOOR_WALK_RE.search(stderr)
        return None if m is None else (int(m.group(1)), None, f"{int(m.group(1)):,} files stat-ed")
    parts = [(int(a), int(b)) for a, b in FLOOR_PART_RE.findall(stderr)]
    if len(parts) != 2:
        return None
    split = " + ".join(f"{n:,} files/{human(b)}" for n, b in parts)
    return sum(n for n, _ in parts), sum(b for _, b in parts), f"2 procs: {split}"


SUMMARY_RE = re.compile(
    r"([\d,]+) files, [^:]*: ([\d,]+) hashed, ([\d,]+) verified unchanged, ([\d,]+) from cache, "
    r"in ([\d.]+)s"
)


@dataclass(frozen=True)
class Summary:
    """assetsync's own summary line, parsed."""

    files: int
    hashed: int
    verified: int
    cached: int
    seconds: float  # time spent inside build(): excludes start-up, imports and JSON output

    @classmethod
    def parse(cls, stderr: str) -> Summary | None:
        m = SUMMARY_RE.search(stderr)
        if m is None:
            return None
        files, hashed, verified, cached = (int(g.replace(",", "")) for g in m.groups()[:4])
        return cls(files, hashed, verified, cached, float(m.group(5)))

    def short(self) -> str:
        return (
            f"{self.hashed:,} hashed, {self.verified:,} verified, {self.cached:,} cached; "
            f"build() {self.seconds:.2f}s"
        )


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def ratio_target(label: str, ratio: float, limit: float | None) -> Target:
    """A ratio judged against its ceiling (``limit`` None: shown, not judged)."""
    if limit is None:
        return Target(label, f"{ratio:.2f}x", "-", None)
    return Target(label, f"{ratio:.2f}x", f"<= {limit:.1f}x", ratio <= limit)


@dataclass
class Report:
    tree: Tree
    rows: dict[str, Row[Run]]
    targets: list[Target]  # with the ratios shown, not judged
    problems: list[str] = field(default_factory=list)


ROW_LABELS = {
    "find": "find -printf '%s %T@ %i\\n'  (stat walk)",
    "openssl": "find | xargs -P2 -n500 openssl dgst",
    "startup": "python -c pass  (start-up)",
    "pywalk": "python floor: scandir+stat walk",
    "pyread": "python floor: read+xxh3 (2 procs)",
    "cold": "assetsync cold  (empty cache)",
    "warm": "assetsync warm  (nothing changed)",
    "touched": "assetsync touched  (new mtimes)",
}
EXPECT = {"cold": "hashed", "warm": "cached", "touched": "verified"}
FLOORS = ("pywalk", "pyread")


def assetsync_argv(root: Path, cache: Path) -> list[str]:
    return [
        sys.executable, "-m", "assetsync", "manifest", str(root),
        "--cache-dir", str(cache), "--max-files", MAX_FILES_FLAG,
    ]  # fmt: skip


def bench_tree(tree: Tree, cache: Path, repeat: int, spawner: Spawner) -> Report:
    root = str(tree.root)
    argv = {
        "find": ["find", root, "-type", "f", "-printf", "%s %T@ %i\\n"],
        "openssl": [
            "sh", "-c", 'find "$1" -type f -print0 | xargs -0 -P2 -n500 openssl dgst -sha256', "sh", root
        ],
        "startup": [sys.executable, "-c", "pass"],
        "pywalk": [sys.executable, "-c", PY_WALK_FLOOR, root],
        "pyread": [sys.executable, "-c", PY_READ_FLOOR, root],
        "assetsync": assetsync_argv(tree.root, cache),
    }  # fmt: skip
    rows: dict[str, Row[Run]] = {key: Row(label) for key, label in ROW_LABELS.items()}

    def empty_cache() -> None:
        if cache.exists():
            shutil.rmtree(cache)
        cache.mkdir(parents=True)

    # Untimed set-up: old mtimes (nothing racy), every byte in the page cache, and one
    # assetsync run so its modules and their .pyc files are hot as well.
    set_past_mtimes(tree.files)
    read_all(tree.files)
    empty_cache()
    spawner.run(argv["assetsync"], stdout=False)
    last_touch = 0

    # Rounds interleave every command, so a slow patch of the machine hits all of them alike.
    # Within a round: cold fills the cache that warm then uses; touched re-reads after a touch.
    for _ in range(repeat):
        for key in ("find", "openssl", "startup", *FLOORS):
            rows[key].runs.append(spawner.run(argv[key], stdout=False))
        empty_cache()
        rows["cold"].runs.append(spawner.run(argv["assetsync"], stdout=False))
        rows["warm"].runs.append(spawner.run(argv["assetsync"], stdout=False))
        last_touch = max(time.time_ns() - TOUCH_AGE_S * 1_000_000_000, last_touch + 1_000_000_000)
        set_mtimes(tree.files, last_touch)
        rows["touched"].runs.append(spawner.run(argv["assetsync"], stdout=False))

    problems: list[str] = []
    n = len(tree.files)
    for key, field_name in EXPECT.items():
        for i, run in enumerate(rows[key].runs, 1):
            s = Summary.parse(run.stderr)
            if s is None:
                problems.append(f"{key} run {i}: no summary line on stderr: {run.stderr.strip()!r}")
            elif s.files != n or getattr(s, field_name) != n:
                problems.append(f"{key} run {i}: expected all {n:,} files {field_name}, got: {s.short()}")
            elif run.stderr.count("\n") > 1:
                problems.append(f"{key} run {i}: unexpected output on stderr: {run.stderr.strip()!r}")

    for key in FLOORS:
        for i, run in enumerate(rows[key].runs, 1):
            said = floor_says(key, run.stderr)
            if said is None:
                problems.append(f"{key} run {i}: unexpected output on stderr: {run.stderr.strip()!r}")
            elif said[0] != n or said[1] not in (None, tree.total_bytes):
                problems.append(f"{key} run {i}: expected all {n:,} files, got: {said[2]}")

    cold, warm, touched = rows["cold"].seconds, rows["warm"].seconds, rows["touched"].seconds
    targets = [
        ratio_target("cold / openssl", cold / rows["openssl"].seconds, 1.3),
        ratio_target(
            "(warm - start-up) / find", (warm - rows["startup"].seconds) / rows["find"].seconds, 3.0
        ),
        ratio_target("touched / cold", touched / cold, 0.4),
        ratio_target("warm / python-walk floor", warm / rows["pywalk"].seconds, None),
        ratio_target("touched / read+xxh3 floor", touched / rows["pyread"].seconds, None),
    ]
    return Report(tree, rows, targets, problems)


# --------------------------------------------------------------------------------------------
# Output

# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def print_header(repeat: int, workdir: Path) -> None:
    print("assetsync manifest benchmark")
    print(
        f"  python {platform.python_version()} ({sys.executable}); {os.cpu_count()} CPUs; "
        f"{platform.system()} {platform.release()}"
    )
    print(f"  {tool_version(['openssl', 'version'])}; {tool_version(['find', '--version'])}")
    print(f"  best of {repeat} runs (interleaved); work folder {workdir}")
    print(f"  {MEMORY_NOTE}")
    print(
        "  ALL NUMBERS ARE PAGE-CACHE-HOT: the page cache cannot be dropped without root, so each\n"
        "  tree is read once before measuring. 'cold' means an empty hash cache, not a cold disk."
    )
    print(
        "  assetsync runs: python -m assetsync manifest DIR --cache-dir C --max-files "
        f"{MAX_FILES_FLAG} > /dev/null"
    )


def print_report(r: Report) -> None:
    t = r.tree
    section(
        f"{t.name}: {t.count:,} files, {human(t.total_bytes)}, {t.folders:,} folders "
        f"({t.description}{'; reused' if t.reused else ''})"
    )
    width = max(len(row.label) for row in r.rows.values())
    print(f"{'':<{width}}  {'best s':>8}  {'tree RSS':>10}  assetsync / floor says (best run)")
    for key, row in r.rows.items():
        said = ""
        if key in EXPECT:
            s = Summary.parse(row.best.stderr)
            said = s.short() if s else "?"
        elif key in FLOORS:
            f = floor_says(key, row.best.stderr)
            said = f[2] if f else "?"
        print(f"{row.label:<{width}}  {row.seconds:8.3f}  {mib(row.peak_rss_kib):>10}  {said}")
    print()
    TARGETS.print(r.targets, width)
    print_warnings(r.problems)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(
        DESCRIPTION, "manifest", "trees and caches", "small trees (1,000 files/70 MiB, 10,000 small files)"
    )
    p.add_argument("--tree", choices=("all", "site", "small"), default="all", help="which tree(s) to run")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    return parse(p, argv)


def compile_assetsync() -> None:
    """Time assetsync as an installed package runs: with its bytecode compiled (pip does that at
    install). PYTHONDONTWRITEBYTECODE would make every run compile every module (~15 ms)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    spec = find_spec("assetsync")
    if spec is None or not spec.submodule_search_locations:
        raise BenchError("python cannot import assetsync")
    package = list(spec.submodule_search_locations)[0]
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True, stdout=subprocess.DEVNULL)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    specs = [s for s in (site_spec(args.quick), small_spec(args.quick)) if args.tree in ("all", s.kind)]
    reports: list[Report] = []

    def measure(stack: contextlib.ExitStack) -> None:
        for tool in ("find", "xargs", "openssl", "sh"):
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} not found on PATH; the baselines need it")
        compile_assetsync()
        kept = "kept the trees and caches in {} (the next run reuses them)"
        work = stack.enter_context(WorkFolder(args.workdir, "manifest", args.keep))
        work.kept = kept.format(work.path)
        work.add_if_empty(work.path / "cache")
        spawner = stack.enter_context(Spawner())
        print_header(args.repeat, work.path)
        for spec in specs:
            tree = spec.ensure(work.path)
            cache = work.path / "cache" / spec.name
            work.add(tree.root, work.path / f"{spec.name}.params.json", cache)
            note(f"measuring {spec.name} ({tree.count:,} files, {human(tree.total_bytes)}) ...")
            report = bench_tree(tree, cache, args.repeat, spawner)
            print_report(report)
            sys.stdout.flush()
            reports.append(report)

    status = guarded(measure)
    if status:
        return status
    failed = [f"{r.tree.name}: {label}" for r in reports for label in missed(r.targets)]
    invalid = [r.tree.name for r in reports if r.problems]
    print()
    says = f"runs that did not do what their name says (see WARNING lines): {', '.join(invalid)}"
    return verdict(failed, args.check, bool(invalid), says)


if __name__ == "__main__":
    sys.exit(main())
