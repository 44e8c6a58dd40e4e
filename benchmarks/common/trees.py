"""The fixture trees the benchmarks deploy or scan, generated deterministically (seeded) in the
work folder and reused by the next run whose parameters match:

- a synthetic static site of mixed sizes (10,000 files, ~700 MiB; 1,000 and 70 MiB quick);
- many small files (100,000 of 100-2,000 bytes; 10,000 quick);
- big files of exactly 25 MiB of random bytes, the platform's per-file limit;
- a platform of tenants, each a folder of small files whose bytes are its own.

Timestamps can be set well in the past, so that no assetsync cache entry is "racy" (an mtime
within 2 s of the scan), and every byte read once, so that measurements start page-cache-hot.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from common.lifecycle import note
from common.tables import KIB, MIB, human

GENERATOR_VERSION = 1  # bump when the generated trees change, so stale ones are not reused
PAST_S = 3600  # mtimes set this far back before measuring: nothing is racy
SEED = 20240601
BIG_FILE_BYTES = 25 * MIB  # exactly the platform's per-file limit (26,214,400 bytes)
BIG_SEED = 20240602
BIG_VERSION = 1  # bump when the generated big-file site changes
PLATFORM_SEED = 20240603
PLATFORM_VERSION = 1  # bump when the generated platform changes
TENANT_WORDS = ("index", "about", "blog", "shop", "team", "faq", "contact", "news", "docs", "help")


@dataclass
class Tree:
    """A generated tree on disk."""

    name: str
    root: Path
    description: str
    files: list[str]  # absolute paths, sorted
    total_bytes: int
    folders: int
    reused: bool

    @property
    def count(self) -> int:
        return len(self.files)


def walk(root: Path) -> tuple[list[str], int, int]:
    """(absolute file paths, sorted; total bytes; folder count) under ``root``."""
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


def ensure(
    workdir: Path, name: str, params: dict[str, object], description: str, make: Callable[[Path], None]
) -> Tree:
    """The tree ``name`` in ``workdir``, reused if it was made with the same ``params`` and still
    holds as many files and bytes as then; else made afresh by ``make`` (into a folder it must
    create, renamed into place once complete). ``NAME.params.json`` beside it records them."""
    root = workdir / name
    params_file = workdir / f"{name}.params.json"
    if root.is_dir() and params_file.is_file():
        try:
            recorded = json.loads(params_file.read_text())
        except (OSError, ValueError):
            recorded = {}
        if recorded.get("spec") == params:
            files, total, folders = walk(root)
            if len(files) == recorded.get("files") and total == recorded.get("bytes"):
                return Tree(name, root, description, files, total, folders, reused=True)
    note(f"generating {name} ({description}) in {root} ...")
    t0 = time.perf_counter()
    partial = workdir / f"{name}.partial"
    for stale in (root, partial):
        if stale.exists():
            shutil.rmtree(stale)
    params_file.unlink(missing_ok=True)
    make(partial)
    partial.rename(root)
    files, total, folders = walk(root)
    params_file.write_text(json.dumps({"spec": params, "files": len(files), "bytes": total}, indent=1))
    note(f"  generated {len(files):,} files, {human(total)} in {time.perf_counter() - t0:.1f}s")
    return Tree(name, root, description, files, total, folders, reused=False)


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

    def ensure(self, workdir: Path) -> Tree:
        """The tree for this spec in ``workdir``: reused if generated before with the same spec."""
        return ensure(workdir, self.name, asdict(self), self.describe(), lambda dest: generate(self, dest))

    def describe(self) -> str:
        if self.kind == "site":
            return f"synthetic site, mixed sizes, ~{self.total_bytes / MIB:.0f} MiB"
        return f"small files of {self.min_size}-{self.max_size} bytes"


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


def log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    """A size between ``lo`` and ``hi``, as many of each order of magnitude."""
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _site_plan(spec: TreeSpec, rng: random.Random) -> list[tuple[int, str]]:
    """(size, extension) for each file of the synthetic site, summing to about the target."""
    n_large = max(1, round(spec.files * 0.002))
    n_medium = max(1, round(spec.files * 0.05))
    n_small = spec.files - n_large - n_medium
    small = [(log_uniform(rng, 1 * KIB, 50 * KIB), rng.choice(SMALL_TEXT_EXTS)) for _ in range(n_small)]
    large = [(rng.randint(5 * MIB, 20 * MIB), rng.choice(LARGE_EXTS)) for _ in range(n_large)]
    medium_raw = [log_uniform(rng, 100 * KIB, 2 * MIB) for _ in range(n_medium)]
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


def ensure_big(workdir: Path, count: int) -> Tree:
    """``count`` files of exactly 25 MiB of seeded random bytes."""

    def make(dest: Path) -> None:
        rng = random.Random(BIG_SEED)
        for i in range(count):
            folder = dest / ("media" if i % 2 else "downloads")
            folder.mkdir(parents=True, exist_ok=True)
            _write(str(folder / f"clip-{i:03d}.{'mp4' if i % 2 else 'zip'}"), rng.randbytes(BIG_FILE_BYTES))

    params: dict[str, object] = {
        "kind": "big",
        "files": count,
        "size": BIG_FILE_BYTES,
        "seed": BIG_SEED,
        "version": BIG_VERSION,
    }
    return ensure(workdir, f"big-{count}", params, f"{count} files of exactly 25 MiB, random bytes", make)


def tenant_name(i: int) -> str:
    return f"tenant-{i:04d}"


def ensure_platform(workdir: Path, tenants: int, files: int) -> Tree:
    """``tenants`` folders (:func:`tenant_name`) of ``files`` small files each (html, css, js,
    svg, json; 1-8 KiB), every tenant's bytes its own; mtimes an hour back."""

    def make(dest: Path) -> None:
        rng = random.Random(PLATFORM_SEED)
        past = time.time() - PAST_S
        exts = ("html", "css", "js", "svg", "json")
        for tenant in map(tenant_name, range(tenants)):
            for j in range(files):
                ext = exts[j % len(exts)]
                sub = "" if ext == "html" else f"{ext}/"
                path = dest / tenant / f"{sub}{TENANT_WORDS[j % len(TENANT_WORDS)]}-{j}.{ext}"
                path.parent.mkdir(parents=True, exist_ok=True)
                size = rng.randint(1024, 8192)
                head = f"{tenant} {j}\n".encode()
                path.write_bytes(
                    head + rng.randbytes(max(0, size - len(head))).hex().encode()[: size - len(head)]
                )
                os.utime(path, (past, past))

    params: dict[str, object] = {
        "tenants": tenants,
        "files": files,
        "seed": PLATFORM_SEED,
        "version": PLATFORM_VERSION,
    }
    return ensure(workdir, f"platform-{tenants}x{files}", params, f"{tenants} tenants x {files} files", make)


def set_mtimes(files: Sequence[str], when_ns: int) -> None:
    for path in files:
        os.utime(path, ns=(when_ns, when_ns))


def set_past_mtimes(files: Sequence[str]) -> None:
    """Every mtime :data:`PAST_S` back: no assetsync cache entry is racy."""
    set_mtimes(files, time.time_ns() - PAST_S * 1_000_000_000)


def read_all(files: Sequence[str]) -> int:
    """Read every file once, so that all measurements start page-cache-hot."""
    buf = bytearray(1 * MIB)
    total = 0
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                total += n
    return total
