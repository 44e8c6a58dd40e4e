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

Commands are run by ``common.Spawner`` (stdout to /dev/null): wall time from the spawn to
``os.wait4``, and the peak memory of the command's whole process tree (assetsync's forked hash
workers, xargs's openssl processes): the sum of their RSS, sampled every 20 ms
(``common.peak_tree_memory``), the largest over the runs.

The trees (two: a ~700 MiB site of 10,000 mixed files, and 100,000 small files; ``--quick``
shrinks both) are generated deterministically (seeded) in the work folder. Without ``--keep``
they are deleted at exit; with it, the next run reuses them if the parameters still match.
Timestamps are set well in the past so no cache entry is "racy" (mtime within 2 s of the scan
start), which would make warm runs re-read.

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
import json
import math
import os
import platform
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)
from common import MEMORY_NOTE, BenchError, Run, Spawner, default_workdir, mib  # noqa: E402

GENERATOR_VERSION = 1  # bump when the generated trees change, so stale ones are not reused
KIB = 1024
MIB = 1024 * KIB
MAX_FILES_FLAG = "100000"  # assetsync refuses more than 20,000 files unless told otherwise
PAST_S = 3600  # mtimes set this far back before measuring: nothing is racy
TOUCH_AGE_S = 30  # touched mtimes: new values, yet still far outside the 2 s racy window
SEED = 20240601

REPO = Path(__file__).resolve().parent.parent

# Folder names for the generated trees: a static site's vocabulary.
WORDS = (
    "assets", "static", "img", "images", "css", "js", "fonts", "media", "blog", "docs", "guides",
    "reference", "api", "v1", "v2", "posts", "en", "de", "fr", "ja", "components", "chunks", "pages",
    "_next", "build", "dist", "vendor", "icons", "logos", "team", "about", "products", "pricing",
    "changelog", "tags", "authors", "archive", "2021", "2022", "2023", "2024", "tutorials", "examples",
    "legal", "help", "search"
)  # fmt: skip

SMALL_TEXT_EXTS = ("html", "html", "html", "css", "js", "js", "mjs", "json", "svg", "xml", "txt", "map")
MEDIUM_EXTS = ("png", "png", "jpg", "jpg", "webp", "gif", "avif", "woff2", "pdf")
LARGE_EXTS = ("mp4", "webm", "zip", "wasm", "mp3", "pdf")
TINY_EXTS = ("html", "css", "js", "json", "svg", "txt", "md", "xml")


# --------------------------------------------------------------------------------------------
# Tree generation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeSpec:
    """What to generate; every field goes into the reuse check."""

    kind: Literal["site", "small"]
    files: int
    seed: int
    total_bytes: int = 0  # site: target total (approximate)
    min_size: int = 0  # small: uniform size range
    max_size: int = 0
    version: int = GENERATOR_VERSION

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.files}"

    def describe(self) -> str:
        if self.kind == "site":
            return f"synthetic site, mixed sizes, ~{self.total_bytes / MIB:.0f} MiB"
        return f"small files of {self.min_size}-{self.max_size} bytes"


@dataclass
class Tree:
    """A generated tree on disk."""

    spec: TreeSpec
    root: Path
    files: list[str] = field(default_factory=list)  # absolute paths
    total_bytes: int = 0
    folders: int = 0
    reused: bool = False


def site_spec(quick: bool) -> TreeSpec:
    files, total = (1_000, 70 * MIB) if quick else (10_000, 700 * MIB)
    return TreeSpec("site", files, SEED, total_bytes=total)


def small_spec(quick: bool) -> TreeSpec:
    return TreeSpec("small", 10_000 if quick else 100_000, SEED + 1, min_size=100, max_size=2000)


def _folders(rng: random.Random, count: int, max_depth: int) -> list[str]:
    """``count`` nested relative folder paths plus the root (``""``), as a random tree."""
    folders = [""]
    depth = {"": 0}
    while len(folders) <= count:
        parent = rng.choice(folders)
        if depth[parent] >= max_depth:
            continue
        path = f"{parent}/{rng.choice(WORDS)}" if parent else rng.choice(WORDS)
        if path in depth:
            path = f"{path}-{len(folders)}"
        folders.append(path)
        depth[path] = depth[parent] + 1
    return folders


def _text_pool(rng: random.Random, size: int = 4 * MIB) -> bytes:
    """Pseudo-text to slice text files from: cheap to make, looks like markup/code to a human."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 10))) for _ in range(4096)]
    punct = ("<div>", "</div>", "{", "}", ";", "=", "()", '"', ":", ",")
    lines: list[str] = []
    n = 0
    while n < size:
        line = " ".join(rng.choices(words, k=10)) + " " + rng.choice(punct) + "\n"
        lines.append(line)
        n += len(line)
    return "".join(lines).encode("ascii")[:size]


def _log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _site_plan(spec: TreeSpec, rng: random.Random) -> list[tuple[int, str]]:
    """(size, extension) for each file of the synthetic site, summing to about the target."""
    n_large = max(1, round(spec.files * 0.002))
    n_medium = max(1, round(spec.files * 0.05))
    n_small = spec.files - n_large - n_medium
    small = [(_log_uniform(rng, 1 * KIB, 50 * KIB), rng.choice(SMALL_TEXT_EXTS)) for _ in range(n_small)]
    large = [(rng.randint(5 * MIB, 20 * MIB), rng.choice(LARGE_EXTS)) for _ in range(n_large)]
    medium_raw = [_log_uniform(rng, 100 * KIB, 2 * MIB) for _ in range(n_medium)]
    # Medium files absorb the difference, within their own size range.
    budget = spec.total_bytes - sum(s for s, _ in small) - sum(s for s, _ in large)
    scale = max(budget, 1) / sum(medium_raw)
    medium = [(min(2 * MIB, max(100 * KIB, int(s * scale))), rng.choice(MEDIUM_EXTS)) for s in medium_raw]
    plan = small + medium + large
    rng.shuffle(plan)
    return plan


def _write(path: str, data: bytes) -> None:
    with open(path, "wb", buffering=0) as f:
        f.write(data)


def generate(spec: TreeSpec, dest: Path) -> None:
    """Write the tree described by ``spec`` at ``dest`` (which must not exist)."""
    rng = random.Random(spec.seed)
    pool = _text_pool(rng)
    if spec.kind == "site":
        plan = _site_plan(spec, rng)
        folders = _folders(rng, max(4, spec.files // 25), max_depth=6)
    else:
        plan = [(rng.randint(spec.min_size, spec.max_size), rng.choice(TINY_EXTS)) for _ in range(spec.files)]
        folders = _folders(rng, max(4, spec.files // 100), max_depth=5)
    for folder in folders:
        os.makedirs(dest / folder, exist_ok=True)
    text_exts = set(SMALL_TEXT_EXTS) | set(TINY_EXTS)
    for i, (size, ext) in enumerate(plan):
        folder = rng.choice(folders)
        name = f"{rng.choice(WORDS)}-{i:06d}.{ext}"
        rel = f"{folder}/{name}" if folder else name
        if ext in text_exts:
            header = f"/* {rel} */\n".encode()  # makes every file's content unique
            body = size - len(header)
            start = rng.randrange(len(pool) - max(body, 0))
            data = (header + pool[start : start + body])[:size]
        else:
            data = rng.randbytes(size)
        _write(str(dest / rel), data)


def _walk(root: Path) -> tuple[list[str], int, int]:
    """(absolute file paths, total bytes, folder count) under ``root``."""
    files: list[str] = []
    total = 0
    folders = 0
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        folders += 1
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    files.append(entry.path)
                    total += entry.stat(follow_symlinks=False).st_size
    files.sort()
    return files, total, folders - 1


def ensure_tree(spec: TreeSpec, workdir: Path) -> Tree:
    """The tree for ``spec`` in ``workdir``: reused if generated before with the same spec."""
    root = workdir / spec.name
    params_file = workdir / f"{spec.name}.params.json"
    wanted = asdict(spec)
    if root.is_dir() and params_file.is_file():
        try:
            recorded = json.loads(params_file.read_text())
        except (OSError, ValueError):
            recorded = {}
        if recorded.get("spec") == wanted:
            files, total, folders = _walk(root)
            if len(files) == recorded.get("files") and total == recorded.get("bytes"):
                return Tree(spec, root, files, total, folders, reused=True)
    note(f"generating {spec.name} ({spec.files:,} files, {spec.describe()}) in {root} ...")
    t0 = time.perf_counter()
    for stale in (root, workdir / f"{spec.name}.partial"):
        if stale.exists():
            shutil.rmtree(stale)
    params_file.unlink(missing_ok=True)
    partial = workdir / f"{spec.name}.partial"
    generate(spec, partial)
    partial.rename(root)
    files, total, folders = _walk(root)
    params_file.write_text(json.dumps({"spec": wanted, "files": len(files), "bytes": total}, indent=1))
    note(f"  generated {len(files):,} files, {human(total)} in {time.perf_counter() - t0:.1f}s")
    return Tree(spec, root, files, total, folders)


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


Row = common.Row[Run]


def set_mtimes(files: Sequence[str], when_ns: int) -> None:
    for path in files:
        os.utime(path, ns=(when_ns, when_ns))


def read_all(files: Sequence[str]) -> int:
    """Read every file once, so that all measurements start page-cache-hot."""
    buf = bytearray(1 * MIB)
    total = 0
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                total += n
    return total


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    label: str
    ratio: float
    limit: float

    @property
    def ok(self) -> bool:
        return self.ratio <= self.limit


@dataclass
class Report:
    tree: Tree
    rows: dict[str, Row]
    targets: list[Target]
    problems: list[str]
    info: list[tuple[str, float]] = field(default_factory=list)  # ratios shown, not judged


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
    rows = {key: Row(label) for key, label in ROW_LABELS.items()}

    def empty_cache() -> None:
        if cache.exists():
            shutil.rmtree(cache)
        cache.mkdir(parents=True)

    # Untimed set-up: old mtimes (nothing racy), every byte in the page cache, and one
    # assetsync run so its modules and their .pyc files are hot as well.
    set_mtimes(tree.files, time.time_ns() - PAST_S * 1_000_000_000)
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
        Target("cold / openssl", cold / rows["openssl"].seconds, 1.3),
        Target("(warm - start-up) / find", (warm - rows["startup"].seconds) / rows["find"].seconds, 3.0),
        Target("touched / cold", touched / cold, 0.4),
    ]
    info = [
        ("warm / python-walk floor", warm / rows["pywalk"].seconds),
        ("touched / read+xxh3 floor", touched / rows["pyread"].seconds),
    ]
    return Report(tree, rows, targets, problems, info)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tool_version(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "?"
    return out.splitlines()[0].strip() if out else "?"


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
    print()
    print(
        f"== {t.spec.name}: {len(t.files):,} files, {human(t.total_bytes)}, {t.folders:,} folders "
        f"({t.spec.describe()}{'; reused' if t.reused else ''}) =="
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
    print(f"{'target':<{width}}  {'ratio':>8}  {'limit':>10}  result")
    for tg in r.targets:
        print(f"{tg.label:<{width}}  {tg.ratio:7.2f}x  {'<= ' + format(tg.limit, '.1f') + 'x':>10}  "
              f"{'PASS' if tg.ok else 'FAIL'}")  # fmt: skip
    for label, ratio in r.info:
        print(f"{label:<{width}}  {ratio:7.2f}x  {'-':>10}  info (not a target)")
    for p in r.problems:
        print(f"WARNING: {p}")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time 'assetsync manifest' cold, warm and touched against find and openssl.",
    )
    p.add_argument(
        "--quick", action="store_true", help="small trees (1,000 files/70 MiB, 10,000 small files)"
    )
    p.add_argument("--repeat", type=int, default=3, metavar="N", help="runs per measurement; best is kept")
    p.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="where trees and caches live [default: <repo>/.bench/manifest, else a temp folder]",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the trees (else deleted at exit) for the next run to reuse"
    )
    p.add_argument("--tree", choices=("all", "site", "small"), default="all", help="which tree(s) to run")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Time assetsync as an installed package runs: with its bytecode compiled (pip does that at
    # install). PYTHONDONTWRITEBYTECODE would make every run compile every module (~15 ms).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", "import assetsync.cli, assetsync.folder.build"], check=True)
    for tool in ("find", "xargs", "openssl", "sh"):
        if shutil.which(tool) is None:
            note(f"error: {tool} not found on PATH; the baselines need it")
            return 2
    chosen: Path | None = args.workdir or default_workdir("manifest")
    workdir = chosen or Path(tempfile.mkdtemp(prefix="assetsync-bench-"))
    made_workdir = chosen is None or not chosen.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    specs = [s for s in (site_spec(args.quick), small_spec(args.quick)) if args.tree in ("all", s.kind)]

    reports: list[Report] = []
    created: list[Path] = []
    spawner = Spawner()
    try:
        print_header(args.repeat, workdir)
        for spec in specs:
            tree = ensure_tree(spec, workdir)
            created += [tree.root, workdir / f"{spec.name}.params.json"]
            cache = workdir / "cache" / spec.name
            created.append(cache)
            note(f"measuring {spec.name} ({len(tree.files):,} files, {human(tree.total_bytes)}) ...")
            report = bench_tree(tree, cache, args.repeat, spawner)
            print_report(report)
            sys.stdout.flush()
            reports.append(report)
    except BenchError as exc:
        note(f"error: {exc}")
        return 2
    finally:
        spawner.close()
        if args.keep:
            note(f"kept the trees and caches in {workdir} (the next run reuses them)")
        else:
            for path in created:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            for leftover in (workdir / "cache", workdir):
                if leftover == workdir and not made_workdir:
                    continue
                with contextlib.suppress(OSError):
                    leftover.rmdir()  # only if empty

    failed = [f"{r.tree.spec.name}: {t.label}" for r in reports for t in r.targets if not t.ok]
    invalid = [r.tree.spec.name for r in reports if r.problems]
    print()
    print(f"targets missed: {', '.join(failed) if failed else 'none'}")
    if invalid:
        print(f"runs that did not do what their name says (see WARNING lines): {', '.join(invalid)}")
    return 1 if args.check and (failed or invalid) else 0


if __name__ == "__main__":
    sys.exit(main())
