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

Scenarios, on the 10,000-file ~700 MiB synthetic site of ``benchmarks/manifest.py`` (imported):

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
would miss most of it. The spawner (``common.Spawner``) sums the RSS of the child and all its
descendants (``/proc/PID/statm``) every 20 ms while it runs and keeps the largest sum
(``common.peak_tree_memory``); shared pages count once per process, so it is an upper bound, and
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
import dataclasses
import hashlib
import json
import os
import platform
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import common  # noqa: E402  (benchmarks/ is not a package)
from common import (  # noqa: E402
    MEMORY_NOTE,
    BenchError,
    Run,
    Spawner,
    cpu_seconds,
    default_workdir,
    loadavg,
    mib,
    stop_process,
)
from manifest import (  # noqa: E402  (benchmarks/ is not a package: the generator is imported by path)
    MIB,
    PAST_S,
    ensure_tree,
    human,
    note,
    read_all,
    set_mtimes,
    site_spec,
)

REPO = BENCH_DIR.parent
ACCOUNT = "0123456789abcdef0123456789abcdef"
NAMESPACE = "bench"
SCRIPT = "bench-site"
COMPAT_DATE = "2025-01-01"
CONCURRENCIES = (1, 2, 3, 4, 6, 8)
BIG_FILE_BYTES = 25 * MIB  # exactly the platform's per-file limit (26,214,400 bytes)
BIG_SEED = 20240602
BIG_VERSION = 1  # bump when the generated big-file site changes
TOUCH_AGE_S = 30  # the edited file's mtime: new each round, yet far outside the 2 s racy window
RSS_LIMIT_BYTES = 150_000_000
READY_TIMEOUT_S = 60.0
CLOSED_LOOPBACK = "http://127.0.0.1:9/"  # nothing listens there: wrangler's update check fails at once
API_BASE_RE = re.compile(r"^\s*API base:\s*(http://127\.0\.0\.1:\d+/client/v4)\s*$")
WRANGLER_FOUND_RE = re.compile(r"Found (\d+) new or modified static assets? to upload")
WRANGLER_NOTHING = "No updated asset files to upload"
WRANGLER_UPLOADED_RE = re.compile(
    r"Success! Uploaded (\d+) files? (?:\(\d+ already uploaded\) )?\(([\d.]+) sec\)"
)
DEFAULT_CONCURRENCY_RE = re.compile(r"--concurrency.*?\[default:\s*(\d+)", re.S)


# --------------------------------------------------------------------------------------------
# Sites
# --------------------------------------------------------------------------------------------


@dataclass
class Site:
    """A generated folder to deploy."""

    name: str
    root: Path
    files: list[str]  # absolute paths, sorted
    total_bytes: int
    description: str
    reused: bool

    @property
    def count(self) -> int:
        return len(self.files)


def _walk_files(root: Path) -> list[str]:
    return sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names)


def ensure_site(workdir: Path, quick: bool) -> Site:
    """The mixed site of ``benchmarks/manifest.py`` (generated there, reused if kept)."""
    spec = site_spec(quick)
    tree = ensure_tree(spec, workdir)
    return Site(spec.name, tree.root, tree.files, tree.total_bytes, spec.describe(), tree.reused)


def ensure_big(workdir: Path, count: int) -> Site:
    """``count`` files of exactly 25 MiB of seeded random bytes, reused if generated alike before."""
    name = f"big-{count}"
    root = workdir / name
    params_file = workdir / f"{name}.params.json"
    wanted = {"kind": "big", "files": count, "size": BIG_FILE_BYTES, "seed": BIG_SEED, "version": BIG_VERSION}
    desc = f"{count} files of exactly 25 MiB, random bytes"
    if root.is_dir() and params_file.is_file():
        try:
            recorded = json.loads(params_file.read_text())
        except (OSError, ValueError):
            recorded = {}
        files = _walk_files(root)
        if (
            recorded == wanted
            and len(files) == count
            and all(os.path.getsize(f) == BIG_FILE_BYTES for f in files)
        ):
            return Site(name, root, files, count * BIG_FILE_BYTES, desc, True)
    note(f"generating {name} ({desc}) in {root} ...")
    t0 = time.perf_counter()
    partial = workdir / f"{name}.partial"
    for stale in (root, partial):
        if stale.exists():
            shutil.rmtree(stale)
    params_file.unlink(missing_ok=True)
    rng = random.Random(BIG_SEED)
    for i in range(count):
        folder = partial / ("media" if i % 2 else "downloads")
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"clip-{i:03d}.{'mp4' if i % 2 else 'zip'}", "wb", buffering=0) as f:
            f.write(rng.randbytes(BIG_FILE_BYTES))
    partial.rename(root)
    params_file.write_text(json.dumps(wanted, indent=1))
    files = _walk_files(root)
    note(
        f"  generated {len(files)} files, {human(count * BIG_FILE_BYTES)} in {time.perf_counter() - t0:.1f}s"
    )
    return Site(name, root, files, count * BIG_FILE_BYTES, desc, False)


class EditedFile:
    """One small text file of a site, rewritten with new bytes (same size) on each :meth:`edit`."""

    def __init__(self, site: Site) -> None:
        candidates = [
            f for f in site.files if f.endswith((".css", ".js")) and 1024 <= os.path.getsize(f) <= 8192
        ]
        if not candidates:
            raise BenchError(f"{site.name}: no .css/.js file of 1-8 KiB to edit")
        self.path = candidates[0]
        self.rel = os.path.relpath(self.path, site.root)
        with open(self.path, "rb") as f:
            self.original = f.read()
        st = os.stat(self.path)
        self._original_ns = (st.st_atime_ns, st.st_mtime_ns)
        self.current = self.original
        self._last_mtime_ns = 0
        self.edits = 0

    def edit(self) -> bytes:
        self.edits += 1
        marker = f"/* edit {self.edits} {time.time_ns()} */\n".encode()
        data = marker + self.original[len(marker) :]
        with open(self.path, "wb") as f:
            f.write(data)
        when = max(time.time_ns() - TOUCH_AGE_S * 1_000_000_000, self._last_mtime_ns + 1_000_000_000)
        os.utime(self.path, ns=(when, when))
        self._last_mtime_ns = when
        self.current = data
        return data

    def restore(self) -> None:
        if self.edits:
            with open(self.path, "wb") as f:
                f.write(self.original)
            os.utime(self.path, ns=self._original_ns)
            self.edits = 0


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class Emulator:
    """``assetsync serve`` on a port of its own choosing, in its own session (Ctrl-C spares it)."""

    def __init__(self, data: Path, env: dict[str, str], cwd: Path) -> None:
        self.data = data
        self.tail: deque[str] = deque(maxlen=40)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ready = threading.Event()
        argv = [sys.executable, "-m", "assetsync", "serve", "--host", "127.0.0.1", "--port", "0"]
        self.proc = subprocess.Popen(
            [*argv, "--data", str(data)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._read_stderr, name="emulator-stderr", daemon=True)
        self._pump.start()
        self.api = ""
        self.token = ""

    def _read_stderr(self) -> None:
        # Keeps draining after the banner, so a chatty server never blocks on a full pipe.
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.tail.append(line.rstrip("\n"))
            if not self._ready.is_set():
                self._lines.put(line)
        self._lines.put(None)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise BenchError(f"emulator: no 'API base' line within {READY_TIMEOUT_S:.0f}s") from None
            if line is None:
                code = self.proc.wait()
                raise BenchError(f"emulator exited with {code} before it was ready:\n" + "\n".join(self.tail))
            m = API_BASE_RE.match(line.rstrip("\n"))
            if m:
                self._ready.set()
                self.api = m.group(1)
                break
        self.token = (self.data / "api-token").read_text().strip()

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.api)
        return f"{parts.scheme}://{parts.netloc}"

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.proc.pid)

    def preview(self, rel: str) -> bytes:
        """The deployed bytes of ``rel`` (the emulator's preview of the namespaced script)."""
        url = f"{self.origin}/__preview/{SCRIPT}.{NAMESPACE}/{urllib.parse.quote(rel)}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
        with opener.open(url, timeout=30) as r:
            data: bytes = r.read()
        return data

    def stop(self) -> None:
        stop_process(self.proc)
        self._pump.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class Servers:
    """Every emulator started, so that all of them are stopped whatever happens."""

    def __init__(self, runs_dir: Path, env: dict[str, str], cwd: Path) -> None:
        self.runs_dir = runs_dir
        self.env = env
        self.cwd = cwd
        self._live: list[Emulator] = []
        self._seq = 0

    def start(self, label: str) -> Emulator:
        self._seq += 1
        data = self.runs_dir / f"{self._seq:03d}-{label}" / "emulator"
        data.mkdir(parents=True)
        emu = Emulator(data, self.env, self.cwd)
        self._live.append(emu)
        emu.wait_ready()
        return emu

    def stop(self, emu: Emulator) -> None:
        emu.stop()
        if emu in self._live:
            self._live.remove(emu)

    def stop_all(self) -> None:
        while self._live:
            self._live.pop().stop()


# --------------------------------------------------------------------------------------------
# The two clients
# --------------------------------------------------------------------------------------------


Row = common.Row[Run]


def assetsync_json(run: Run) -> dict[str, Any] | None:
    for line in reversed(run.stdout.strip().splitlines()):
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            return doc if isinstance(doc, dict) else None
    return None


class Clients:
    """Runs assetsync and wrangler against an emulator through the spawner, and checks them."""

    def __init__(self, workdir: Path, spawner: Spawner, wrangler: Path, snapshot: Path) -> None:
        self.workdir = workdir
        self.snapshot = snapshot  # holds the copy of the assetsync package that is run; the cwd
        self.spawner = spawner
        self.wrangler = wrangler
        self.problems: list[str] = []
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "WRANGLER_"))}
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["NO_PROXY"] = base["no_proxy"] = "127.0.0.1,localhost"
        self.python_env = {**base, "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}
        for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            self.python_env[var] = str(workdir / "xdg" / var.lower())
        home, tmp = workdir / "home", workdir / "tmp"
        home.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(parents=True, exist_ok=True)
        self.node_env = {
            **base,
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "WRANGLER_SEND_METRICS": "false",
            "NO_COLOR": "1",
            "npm_config_registry": CLOSED_LOOPBACK,
        }

    def _creds(self, emu: Emulator) -> dict[str, str]:
        return {
            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
            "CLOUDFLARE_API_TOKEN": emu.token,
            "CLOUDFLARE_API_BASE_URL": emu.api,
        }

    def _measured(
        self, emu: Emulator, argv: Sequence[str], env: dict[str, str], cwd: Path, label: str, pss: bool
    ) -> Run:
        os.sync()  # untimed: what earlier runs wrote is on disk, no write-back competes
        cpu0 = emu.cpu_seconds()
        run = self.spawner.run(argv, env, cwd, label, pss=pss)
        cpu1 = emu.cpu_seconds()
        server_cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
        return dataclasses.replace(run, server_cpu=server_cpu)

    def assetsync(
        self,
        emu: Emulator,
        site: Site,
        cache: Path,
        label: str,
        expect: int,
        concurrency: int | None = None,
        pss: bool = False,
    ) -> Run:
        argv = [
            sys.executable, "-m", "assetsync", "sync", str(site.root), "--name", SCRIPT,
            "--namespace", NAMESPACE, "--cache-dir", str(cache), "--json",
        ]  # fmt: skip
        if concurrency is not None:
            argv += ["--concurrency", str(concurrency)]
        env = {**self.python_env, **self._creds(emu)}
        run = self._measured(emu, argv, env, self.snapshot, label, pss)
        doc = assetsync_json(run)
        if doc is None:
            self.problems.append(f"{label}: no JSON summary on stdout: {run.stdout.strip()[-300:]!r}")
        elif doc.get("ok") is not True:
            self.problems.append(f"{label}: ok is not true: {doc.get('error')!r}")
        elif doc.get("files") != site.count or doc.get("uploaded") != expect:
            self.problems.append(
                f"{label}: expected {expect:,} of {site.count:,} files uploaded, got "
                f"{doc.get('uploaded')} of {doc.get('files')}"
            )
        elif not doc.get("deployment_id"):
            self.problems.append(f"{label}: no deployment id in the summary")
        return run

    def project(self, site: Site, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        config = {"name": SCRIPT, "compatibility_date": COMPAT_DATE, "assets": {"directory": str(site.root)}}
        (folder / "wrangler.json").write_text(json.dumps(config, indent=1) + "\n")
        return folder

    def wrangler_deploy(
        self, emu: Emulator, project: Path, site: Site, label: str, expect: int, pss: bool = False
    ) -> Run:
        argv = [str(self.wrangler), "deploy", "--dispatch-namespace", NAMESPACE]
        run = self._measured(emu, argv, {**self.node_env, **self._creds(emu)}, project, label, pss)
        out = run.stdout + run.stderr
        m = WRANGLER_FOUND_RE.search(out)
        found = int(m.group(1)) if m else (0 if WRANGLER_NOTHING in out else None)
        if found is None:
            self.problems.append(f"{label}: wrangler did not say what it uploaded: {out.strip()[-300:]!r}")
        elif found != expect:
            self.problems.append(f"{label}: expected {expect:,} assets uploaded, wrangler found {found:,}")
        elif expect and not WRANGLER_UPLOADED_RE.search(out):
            self.problems.append(f"{label}: no 'Success! Uploaded' line: {out.strip()[-300:]!r}")
        if "Current Version ID" not in out:
            self.problems.append(f"{label}: wrangler printed no 'Current Version ID' (no deploy?)")
        return run

    def check_served(self, emu: Emulator, edited: EditedFile, label: str) -> None:
        try:
            got = emu.preview(edited.rel)
        except OSError as exc:
            self.problems.append(f"{label}: preview of /{edited.rel} failed: {exc}")
            return
        if got != edited.current:
            self.problems.append(f"{label}: the emulator does not serve the edited /{edited.rel}")

    def startup(self) -> tuple[Run, Run]:
        """Bare start-up of each client (informational): ``python -c pass``, ``wrangler --version``."""
        py = self.spawner.run(
            [sys.executable, "-c", "pass"], self.python_env, self.snapshot, "python -c pass"
        )
        node = self.spawner.run([str(self.wrangler), "--version"], self.node_env, REPO, "wrangler --version")
        return py, node


def assetsync_says(run: Run) -> str:
    doc = assetsync_json(run)
    if not doc:
        return "?"
    d = doc.get("durations") or {}
    phases = " ".join(f"{k} {d[k]:.2f}" for k in ("build", "session", "upload", "deploy") if k in d)
    return f"{doc.get('uploaded', 0):,} up, {doc.get('requests', 0)} req; {phases}"


def wrangler_says(run: Run) -> str:
    out = run.stdout + run.stderr
    m = WRANGLER_UPLOADED_RE.search(out)
    if m:
        return f"{int(m.group(1)):,} up, upload {float(m.group(2)):.2f}"
    if WRANGLER_NOTHING in out:
        return "0 up (nothing to upload)"
    return "?"


# --------------------------------------------------------------------------------------------
# The scenarios
# --------------------------------------------------------------------------------------------


@dataclass
class Pair:
    """assetsync and wrangler in one scenario."""

    key: str
    label: str
    a: Row
    w: Row

    @property
    def ratio(self) -> float:
        return self.w.seconds / self.a.seconds


@dataclass
class Results:
    site: Site | None = None
    big: Site | None = None
    pairs: dict[str, Pair] = field(default_factory=dict)
    startup: Pair | None = None  # bare start-up of each client: informational
    sweep: dict[int, Row] = field(default_factory=dict)
    default_concurrency: int | None = None


def pair(key: str, label: str) -> Pair:
    return Pair(key, label, Row(f"assetsync {label}"), Row(f"wrangler {label}"))


@dataclass(frozen=True)
class SiteRound:
    """One round of scenarios 1-3: an emulator per tool, assetsync's cache, wrangler's project."""

    clients: Clients
    site: Site
    r: int
    emu_a: Emulator
    emu_w: Emulator
    cache: Path
    project: Path

    def step(self, p: Pair, tool: str, expect: int) -> None:
        label = f"{self.site.name} r{self.r} {'assetsync' if tool == 'a' else 'wrangler'} {p.label}"
        if tool == "a":
            p.a.runs.append(self.clients.assetsync(self.emu_a, self.site, self.cache, label, expect))
        else:
            p.w.runs.append(self.clients.wrangler_deploy(self.emu_w, self.project, self.site, label, expect))


def bench_site(
    site: Site, edited: EditedFile, repeat: int, clients: Clients, servers: Servers, res: Results
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
        emu_a = servers.start(f"{site.name}-r{r}-assetsync")
        emu_w = servers.start(f"{site.name}-r{r}-wrangler")
        cache = emu_a.data.parent / "cache"
        project = clients.project(site, emu_w.data.parent / "project")
        tools = ["a", "w"] if r % 2 else ["w", "a"]

        rnd = SiteRound(clients, site, r, emu_a, emu_w, cache, project)
        for tool in tools:
            rnd.step(first, tool, n)
        for tool in tools:
            rnd.step(nochange, tool, 0)
        edited.edit()
        for tool in tools:
            rnd.step(edit, tool, 1)
        clients.check_served(emu_a, edited, f"{site.name} r{r} assetsync edit")
        clients.check_served(emu_w, edited, f"{site.name} r{r} wrangler edit")
        servers.stop(emu_a)
        servers.stop(emu_w)
        py, node = clients.startup()
        startup.a.runs.append(py)
        startup.w.runs.append(node)


def bench_big(site: Site, repeat: int, clients: Clients, servers: Servers, res: Results) -> None:
    """Scenario 4: first deploy of the 25 MiB-file site, a fresh emulator per run."""
    p = pair("memory", f"first deploy, {site.count} x 25 MiB")
    res.pairs[p.key] = p
    for r in range(1, repeat + 1):
        note(f"  {site.name} round {r}/{repeat} ...")
        for tool in ["a", "w"] if r % 2 else ["w", "a"]:
            emu = servers.start(f"{site.name}-r{r}-{'assetsync' if tool == 'a' else 'wrangler'}")
            try:
                if tool == "a":
                    label = f"{site.name} r{r} assetsync first deploy"
                    p.a.runs.append(
                        clients.assetsync(emu, site, emu.data.parent / "cache", label, site.count, pss=True)
                    )
                else:
                    label = f"{site.name} r{r} wrangler first deploy"
                    project = clients.project(site, emu.data.parent / "project")
                    p.w.runs.append(clients.wrangler_deploy(emu, project, site, label, site.count, pss=True))
            finally:
                servers.stop(emu)


def bench_sweep(site: Site, repeat: int, clients: Clients, servers: Servers, res: Results) -> None:
    """assetsync's first deploy at each --concurrency; the order rotates from round to round."""
    res.sweep = {c: Row(f"--concurrency {c}") for c in CONCURRENCIES}
    for r in range(1, repeat + 1):
        note(f"  concurrency sweep round {r}/{repeat} ...")
        k = (r - 1) % len(CONCURRENCIES)
        for c in CONCURRENCIES[k:] + CONCURRENCIES[:k]:
            emu = servers.start(f"sweep-r{r}-c{c}")
            try:
                label = f"{site.name} r{r} assetsync --concurrency {c}"
                res.sweep[c].runs.append(
                    clients.assetsync(emu, site, emu.data.parent / "cache", label, site.count, c)
                )
            finally:
                servers.stop(emu)


def warm_up(site: Site, clients: Clients, servers: Servers) -> None:
    """Untimed: compile the .pyc files, load both clients' code into the page cache."""
    emu = servers.start("warm-up")
    try:
        clients.assetsync(emu, site, emu.data.parent / "cache", "warm-up assetsync", site.count)
        project = clients.project(site, emu.data.parent / "project")
        clients.wrangler_deploy(emu, project, site, "warm-up wrangler", site.count)  # other hashes: all
    finally:
        servers.stop(emu)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def tool_version(argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, cwd=cwd)
    except OSError:
        return "?"
    out = (proc.stdout or proc.stderr).strip()
    return out.splitlines()[0].strip() if out else "?"


def source_digest(package: Path) -> str:
    """A digest of a package folder's files (``__pycache__`` aside), to tell versions apart."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def git_state() -> str:
    head = tool_version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = tool_version(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    return f"{head}{' + uncommitted changes' if dirty not in ('', '?') else ''}"


def take_snapshot(dest: Path, env: dict[str, str]) -> str:
    """Copy ``<repo>/assetsync`` to ``dest/assetsync``: every run uses that copy (run with ``dest``
    as the current folder, which comes first on ``sys.path`` with ``-m``), so edits made to the
    checkout while the benchmark runs cannot mix versions. Returns the copy's digest."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(REPO / "assetsync", dest / "assetsync", ignore=shutil.ignore_patterns("__pycache__"))
    where = tool_version([sys.executable, "-c", "import assetsync; print(assetsync.__file__)"], env, dest)
    if where != str(dest / "assetsync" / "__init__.py"):
        raise BenchError(f"the snapshot in {dest} is not what python imports (it imports {where})")
    return source_digest(dest / "assetsync")


def pss_text(kib: int) -> str:
    return mib(kib) if kib else "-"


def fmt_cpu(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.2f}"


def spread(row: Row) -> str:
    return "/".join(f"{r.seconds:.2f}" for r in row.runs)


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
        print(f"{p.label:<{width}}  {assetsync_says(p.a.best)} | {wrangler_says(p.w.best)}")
        print(
            f"{'':<{width}}    all runs (s): assetsync {spread(p.a)}; wrangler {spread(p.w)}; "
            f"CPU s client/emulator in best run: {cpu[0]} | {cpu[1]}"
        )


@dataclass(frozen=True)
class Target:
    label: str
    value: str
    limit: str
    ok: bool


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


def print_targets(ts: list[Target]) -> None:
    if not ts:
        return
    width = max(len(t.label) for t in ts)
    print()
    print(f"{'target':<{width}}  {'measured':>9}  {'limit':>12}  result")
    for t in ts:
        print(f"{t.label:<{width}}  {t.value:>9}  {t.limit:>12}  {'PASS' if t.ok else 'FAIL'}")


def print_sweep(res: Results) -> None:
    if not res.sweep or not all(r.runs for r in res.sweep.values()):
        return
    best_c = min(res.sweep, key=lambda c: res.sweep[c].seconds)
    best_s = res.sweep[best_c].seconds
    site = res.site
    print()
    print(
        f"== assetsync first deploy by --concurrency ({site.name if site else '?'}; "
        "fresh emulator, empty cache)"
    )
    print(
        f"{'concurrency':>11}  {'best s':>8}  {'vs best':>7}  {'upload s':>8}  {'client CPU':>10}  "
        f"{'emu CPU':>8}  {'emu busy':>8}  {'peak RSS':>10}  all runs (s)"
    )
    busy: list[float] = []
    for c, row in res.sweep.items():
        doc = assetsync_json(row.best) or {}
        upload = (doc.get("durations") or {}).get("upload")
        server = row.best.server_cpu
        load = server / upload if server is not None and upload else None
        if load is not None:
            busy.append(load)
        marks = []
        if c == best_c:
            marks.append("fastest")
        if c == res.default_concurrency:
            marks.append("default")
        print(
            f"{c:>11}  {row.seconds:8.3f}  {row.seconds / best_s:6.2f}x  "
            f"{upload if upload is not None else float('nan'):8.2f}  {row.best.cpu:9.2f}s  "
            f"{fmt_cpu(server):>7}s  {'?' if load is None else format(load, '.0%'):>8}  "
            f"{mib(row.peak_rss_kib):>10}  "
            f"{spread(row)}{'  <- ' + ', '.join(marks) if marks else ''}"
        )
    print("  (emu busy: the emulator's CPU seconds during the run / assetsync's upload phase)")
    print(f"fastest: --concurrency {best_c} ({best_s:.3f}s)", end="")
    if res.default_concurrency in res.sweep and res.default_concurrency != best_c:
        d = res.sweep[res.default_concurrency].seconds
        print(f"; the default {res.default_concurrency} is {100 * (d / best_s - 1):.1f}% slower ({d:.3f}s)")
    else:
        print(" (the current default)" if res.default_concurrency == best_c else "")
    spreads = sorted(max(r.seconds for r in row.runs) / row.seconds - 1 for row in res.sweep.values())
    if all(len(row.runs) > 1 for row in res.sweep.values()):
        print(
            f"run-to-run spread of one setting (slowest / best - 1): median "
            f"{spreads[len(spreads) // 2]:.0%}, largest {spreads[-1]:.0%}; differences between best times\n"
            "smaller than that are noise"
        )
    if busy and min(busy) >= 0.85:
        print(
            f"the emulator was busy {min(busy):.0%}-{max(busy):.0%} of the upload phase at every setting: "
            "uploads are bound by its\ningest (one server process), so on loopback more requests in "
            "flight cannot go faster; against\nthe real API, round-trip latency decides (not measured here)."
        )


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time 'assetsync sync' against 'wrangler deploy' (first deploy, redeploys, memory) "
        "on the emulator, and assetsync's first deploy by --concurrency.",
    )
    p.add_argument("--quick", action="store_true", help="small sites (1,000 files/70 MiB; 8 x 25 MiB)")
    p.add_argument("--repeat", type=int, default=3, metavar="N", help="runs per measurement; best is kept")
    p.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="where sites, caches and emulator data live [default: <repo>/.bench/sync, else a temp folder]",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep everything (else deleted at exit); the next run reuses the generated sites",
    )
    p.add_argument("--skip-sweep", action="store_true", help="do not run the --concurrency sweep")
    p.add_argument(
        "--wrangler",
        type=Path,
        metavar="PATH",
        default=Path(
            os.environ.get("ASSETSYNC_WRANGLER") or REPO / ".tools" / "node_modules" / ".bin" / "wrangler"
        ),
        help="the wrangler CLI [default: $ASSETSYNC_WRANGLER, else <repo>/.tools/node_modules/.bin/wrangler]",
    )
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed or a run misbehaved")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrangler: Path = args.wrangler.absolute()
    if not os.access(wrangler, os.X_OK):
        note(f"error: wrangler not found at {wrangler}: run 'npm install --prefix {REPO / '.tools'}'")
        return 2
    if shutil.which("node") is None:
        note("error: node not found on PATH; wrangler needs it")
        return 2
    chosen: Path | None = args.workdir or default_workdir("sync")
    workdir = (chosen or Path(tempfile.mkdtemp(prefix="assetsync-sync-bench-"))).absolute()
    made_workdir = chosen is None or not chosen.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    runs_dir = workdir / "runs" / time.strftime("%Y%m%d-%H%M%S")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)

    res = Results()
    created: list[Path] = []
    edited: EditedFile | None = None
    spawner: Spawner | None = None
    clients: Clients | None = None
    servers: Servers | None = None
    status = 0
    start_state = digest = ""
    try:
        spawner = Spawner()
        snapshot = workdir / "snapshot"
        clients = Clients(workdir, spawner, wrangler, snapshot)
        created += [
            workdir / "home",
            workdir / "tmp",
            workdir / "pycache",
            workdir / "xdg",
            runs_dir,
            snapshot,
        ]
        digest = take_snapshot(snapshot, clients.python_env)
        servers = Servers(runs_dir, clients.python_env, snapshot)
        help_full = subprocess.run(
            [sys.executable, "-m", "assetsync", "sync", "--help"],
            capture_output=True,
            text=True,
            check=False,
            env=clients.python_env,
            cwd=snapshot,
        ).stdout
        m = DEFAULT_CONCURRENCY_RE.search(help_full)
        if "--concurrency" not in help_full:
            raise BenchError("python -m assetsync sync --help failed, or has no --concurrency option")
        res.default_concurrency = int(m.group(1)) if m else None
        start_state = f"{git_state()}, sources {digest}"
        print_header(args, workdir, wrangler, clients.node_env, start_state)
        sys.stdout.flush()

        site = ensure_site(workdir, args.quick)
        created += [site.root, workdir / f"{site.name}.params.json"]
        big = ensure_big(workdir, 8 if args.quick else 40)
        created += [big.root, workdir / f"{big.name}.params.json"]
        res.site, res.big = site, big
        edited = EditedFile(site)
        past = time.time_ns() - PAST_S * 1_000_000_000
        for s in (site, big):
            set_mtimes(s.files, past)  # nothing is "racy" for assetsync's cache
            read_all(s.files)

        note("warming up (untimed) ...")
        warm_up(site, clients, servers)
        note(f"measuring {site.name} ({site.count:,} files, {human(site.total_bytes)}) ...")
        read_all(site.files)
        bench_site(site, edited, args.repeat, clients, servers, res)
        note(f"measuring {big.name} ({big.count} files, {human(big.total_bytes)}) ...")
        read_all(big.files)
        bench_big(big, args.repeat, clients, servers, res)
        if not args.skip_sweep:
            note("measuring assetsync by --concurrency ...")
            read_all(site.files)
            bench_sweep(site, args.repeat, clients, servers, res)
    except BenchError as exc:
        note(f"error: {exc}")
        status = 2
    except KeyboardInterrupt:
        note("interrupted: stopping the servers")
        status = 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish cleaning up
        if spawner is not None:
            spawner.close()
        if servers is not None:
            servers.stop_all()
        if edited is not None:
            edited.restore()
        if args.keep:
            note(
                f"kept everything in {workdir} (the next run reuses the sites; "
                f"delete {runs_dir.parent} when done)"
            )
        else:
            note("deleting the data ...")
            for path in created:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            for leftover in (runs_dir.parent, workdir):
                if leftover == workdir and not made_workdir:
                    continue
                with contextlib.suppress(OSError):
                    leftover.rmdir()  # only if empty
        signal.signal(signal.SIGTERM, previous)

    if status:
        return status
    print_pairs(res)
    ts = targets(res)
    print_targets(ts)
    print_sweep(res)
    problems = clients.problems if clients is not None else []
    for p in problems:
        print(f"WARNING: {p}")
    print()
    print(f"load average at the end: {loadavg()}")
    live = source_digest(REPO / "assetsync")
    if live != digest:
        print(
            f"note: the checkout's assetsync changed during the run (sources {live} now); every run used\n"
            f"the snapshot taken at the start (sources {digest})"
        )
    failed = [t.label for t in ts if not t.ok]
    print(f"targets missed: {', '.join(failed) if failed else 'none'}")
    if problems:
        print(f"runs that did not do what their name says: {len(problems)} (see WARNING lines)")
    return 1 if args.check and (failed or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
