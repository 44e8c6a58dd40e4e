#!/usr/bin/env python3
"""Benchmark deploys over shaped links: ``assetsync sync`` and ``wrangler deploy`` through the same
simulated link to the emulator, side by side with the least time that link allows.

Every other benchmark runs on loopback, where bandwidth is free and a round trip takes
microseconds; a deploy from a home uplink or a CI runner far from the API is bound by the link.
Here ``assetsync serve --link SPEC`` (``common.servers.Emulator`` with ``link``) puts the link
simulator of ``assetsync/emulator/link.py`` in front of the emulator: one FIFO bottleneck per
direction shared by every connection, rtt/2 of delay each way, one more rtt before a new
connection's first byte (its handshake), and with ``reset=p`` requests cut by a TCP reset. Both
tools deploy through the shaped API base its banner prints, with sync.py's credentials,
environments and snapshot of the package (``common.clients``, ``common.snapshot``: wrangler with a
scratch HOME, no metrics, its update check on a closed 127.0.0.1 port), and are checked as there
(``sync_deploys.Deploys``: assetsync's ``--json`` says ok and the expected uploaded count,
wrangler's output how many assets it uploaded and that it deployed).

Rows (links; ``--rows`` picks some by key, in this order):

- ``loopback``: no link, the direct API base; best of max(3, ``--repeat``) runs per cell;
- ``100mbit``: 100 Mbit/s, 20 ms; ``8mbit``: 8 Mbit/s, 40 ms; ``2mbit``: 2 Mbit/s, 100 ms;
- ``20mbit-reset``: 20 Mbit/s, 150 ms, 1% of requests reset (the proxy's seeded draw: the same
  sequence in every emulator, so both tools meet the same luck by request number). With the
  default seed 0 the first cut falls on an emulator's 41st request, and a run here sends each
  emulator fewer (a first deploy gets a fresh one), so at ``--repeat 1`` no request is cut: the
  row measures the far link; the retries columns show whether a reset was met;
- ``survival``: 100 kB/s, 100 ms, only the first deploy of a ~4 MiB site with default flags; it
  must succeed.

Every rate is both ways. Shaped rows run each cell ``--repeat`` times (default 1: the proxy makes
them repeatable enough, and the slowest cells take minutes); the best run counts.

Scenarios (columns), each for both tools:

1. first deploy of a 48 MiB site of 300 files of random bytes (12 of 1-4 MiB, the rest up to a few
   hundred KiB), into a fresh emulator (and for assetsync an empty cache) per run, so neither tool
   benefits from blobs the other uploaded;
2. unchanged redeploy of the 10,000-file synthetic site of ``common.trees`` (sync.py's);
3. redeploy after one small file changed (``sync_deploys.EditedFile``); the emulator must then
   serve its new bytes.

For 2 and 3 each tool has one emulator data folder, filled once by an untimed first deploy over the
direct API base; each row then starts an emulator on that folder (its state lives on disk) with the
row's link and measures through it, so 700 MiB are not uploaded again for every link.

The link floor of a deploy: request bytes / up rate + round trips x rtt. Request bytes: the session
request's manifest JSON (computed as PROTOCOL.md 4.1 writes it: both tools' hashes are 32 hex
digits, so it is the same length for both), for every missing blob its multipart part (~130 B of
head, 4*ceil(n/3) of base64, CRLF), ~1 KB of deploy body and ~300 B of HTTP head per request. Round
trips: 1 for the connection, 1 for the session, 1 for the uploads (if any), 1 for the deploy.
Answers (the down direction) are not counted: no client can beat it. Loopback has no floor.

Targets: the first deploy within 1.15x of the floor on every shaped row but survival; assetsync
never slower than wrangler in any cell; the unchanged redeploy at 150 ms within 3 round trips of
the floor of sending the manifest (connection + manifest / rate + 1 round trip), as measured and
with assetsync's loopback time (its local work: start-up, scan) subtracted; the survival deploy
succeeds (wrangler's outcome is shown, not judged).

A run that fails, or takes more than 10 minutes + 5x its floor (it is then stopped), is a failed
cell and a WARNING, and the benchmark goes on. How many requests the link reset is not shown:
``serve`` keeps its link's counters (``LinkProxy.stats``) to itself; assetsync's retries count the
failures it met, and wrangler's "Asset upload failed" lines the failed uploads it met.

Data as in sync.py: under ``<repo>/.bench/network`` (``--workdir``), deleted at exit unless
``--keep``, when the next run reuses the generated sites.

Usage::

    python benchmarks/network.py [--quick] [--rows KEY,...] [--repeat N] [--skip-wrangler]
                                 [--workdir DIR] [--keep] [--check] [--wrangler PATH]

``--quick``: a 6 MiB first deploy, a 2,000-file site, a 1 MiB survival site, rows loopback,
100mbit, 20mbit-reset and survival: a smoke run of a few minutes. The full run takes 20-30
minutes (2 Mbit/s x 64 MiB of base64 is ~270 s per tool). Exit status as sync.py's: 0 whatever
the results; with ``--check`` 1 when a target is missed or a run misbehaved; 2 when the benchmark
could not run; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import BenchError
from common.clients import Clients, assetsync_json, check_wrangler, open_rig
from common.lifecycle import guarded, note
from common.machine import loadavg, tool_version
from common.options import add_wrangler, parse, parser
from common.processes import Run, Spawner
from common.servers import Emulator, Servers
from common.snapshot import changed_since, git_state
from common.tables import (
    KIB,
    MIB,
    Target,
    TargetTable,
    aligned,
    human,
    markdown,
    missed,
    print_warnings,
    verdict as exit_status,
)
from common.trees import SEED, WORDS, Tree, TreeSpec, ensure, log_uniform, read_all, set_past_mtimes
from sync_deploys import WRANGLER_UPLOADED_RE, Deploys, EditedFile

DESCRIPTION = (
    "Time 'assetsync sync' and 'wrangler deploy' through simulated network links, against the link's floor."
)
TOOLS = ("assetsync", "wrangler")
SCENARIOS = {"first": "first deploy", "nochange": "unchanged redeploy", "edit": "one file changed"}
PART_HEAD = 130  # bytes of a multipart part's head (boundary, Content-Disposition, Content-Type)
HTTP_HEAD = 300  # bytes of a request's line and headers
DEPLOY_BODY = 1000  # bytes of the deploy request's multipart metadata
LOOPBACK_REPEAT = 3
DEADLINE_S = 600.0  # a run is stopped after this + 5x its floor: a client hung on a link is a failure
FIRST_LIMIT = 1.15  # first deploy / floor
NOCHANGE_RTTS = 3  # round trips over the floor of sending the manifest
RANDOM_SEED = SEED + 3
RANDOM_VERSION = 1  # bump when the random-bytes sites change
WRANGLER_RETRY = "Asset upload failed. Retrying"
EXIT_RE = re.compile(r"exited with (-?\d+)")


# --------------------------------------------------------------------------------------------
# Links, sites, floors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One row: the link both tools deploy through (``up`` None: loopback, no link)."""

    key: str
    up: float | None = None  # bytes/s, both ways
    rtt_ms: int = 0
    reset: float = 0.0  # probability that a request is cut

    @property
    def rtt(self) -> float:
        return self.rtt_ms / 1000

    @property
    def spec(self) -> str | None:
        """``serve --link``'s SPEC (in B/s, so the rate is exact)."""
        if self.up is None:
            return None
        return f"{self.up:.0f}B/{self.rtt_ms}ms" + (f",reset={self.reset:.0%}" if self.reset else "")

    @property
    def label(self) -> str:
        if self.up is None:
            return "loopback"
        rate = f"{self.up * 8 / 1e6:g} Mbit/s" if self.up * 8 >= 1e6 else f"{self.up / 1e3:g} kB/s"
        return f"{rate}, {self.rtt_ms} ms" + (f", {self.reset:.0%} reset" if self.reset else "")

    def floor(self, traffic: Traffic) -> float | None:
        return None if self.up is None else traffic.bytes / self.up + traffic.round_trips * self.rtt


ROWS = (
    Link("loopback"),
    Link("100mbit", 12_500_000, 20),
    Link("8mbit", 1_000_000, 40),
    Link("2mbit", 250_000, 100),
    Link("20mbit-reset", 2_500_000, 150, 0.01),
    Link("survival", 100_000, 100),
)
QUICK_ROWS = ("loopback", "100mbit", "20mbit-reset", "survival")
SURVIVAL = "survival"
FAR = "20mbit-reset"  # the 150 ms row of the unchanged-redeploy target


@dataclass(frozen=True)
class Traffic:
    """What a deploy must send at the least: request bytes, and round trips it must wait."""

    bytes: int
    round_trips: int


def manifest_bytes(tree: Tree) -> int:
    """The length of the session request's body ``{"manifest":{"/key":{"hash":"<32
    hex>","size":N},...}}`` (compact, raw UTF-8), for either tool."""
    entry = len('"":{"hash":"","size":}') + 32
    total = len('{"manifest":{}}') + max(0, tree.count - 1)  # the commas
    for path in tree.files:
        key = "/" + os.path.relpath(path, tree.root).replace(os.sep, "/")
        total += (
            entry + len(json.dumps(key, ensure_ascii=False).encode()) - 2 + len(str(os.path.getsize(path)))
        )
    return total


def deploy_traffic(manifest: int, uploads: Sequence[int]) -> Traffic:
    """A deploy that sends a manifest of ``manifest`` bytes and uploads blobs of ``uploads`` sizes."""
    parts = sum(PART_HEAD + 4 * ((n + 2) // 3) + 2 for n in uploads)
    requests = 3 if uploads else 2
    return Traffic(manifest + parts + DEPLOY_BODY + HTTP_HEAD * requests, 1 + requests)


def ensure_random_site(workdir: Path, files: int, total: int) -> Tree:
    """``files`` files of seeded random bytes (nothing compresses) summing to exactly ``total``:
    one in 25 of 1-4 MiB (less if they would pass half the total), the rest log-uniform, scaled to
    fill what is left, in a few folders, with a site's extensions."""
    big_exts, small_exts = ("mp4", "zip", "wasm", "pdf"), ("png", "jpg", "webp", "woff2", "js", "css", "html")

    def make(dest: Path) -> None:
        rng = random.Random(RANDOM_SEED)
        n_big = max(1, files // 25)
        top = min(4 * MIB, total // (2 * n_big))
        sizes = [rng.randint(min(MIB, top), top) for _ in range(n_big)]
        raw = [log_uniform(rng, KIB, 256 * KIB) for _ in range(files - n_big)]
        scale = (total - sum(sizes)) / sum(raw)
        sizes += [max(1, int(s * scale)) for s in raw]
        sizes[-1] += total - sum(sizes)
        folders = ["", *(f"{w}/{rng.choice(WORDS)}" for w in rng.sample(WORDS, 6))]
        for i, size in enumerate(sizes):
            ext = rng.choice(big_exts if i < n_big else small_exts)
            path = dest / rng.choice(folders) / f"{rng.choice(WORDS)}-{i:04d}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.randbytes(size))

    params: dict[str, object] = {
        "files": files,
        "bytes": total,
        "seed": RANDOM_SEED,
        "version": RANDOM_VERSION,
    }
    name = f"random-{files}x{total // MIB}mib"
    return ensure(workdir, name, params, f"{files} files of random bytes, {human(total)}", make)


@dataclass(frozen=True)
class Sites:
    first: Tree  # scenario 1
    site: Tree  # scenarios 2 and 3
    survival: Tree


def make_sites(workdir: Path, quick: bool) -> Sites:
    first = ensure_random_site(workdir, 38, 6 * MIB) if quick else ensure_random_site(workdir, 300, 48 * MIB)
    files, total = (2_000, 140 * MIB) if quick else (10_000, 700 * MIB)
    site = TreeSpec("site", files, SEED, total_bytes=total).ensure(workdir)
    survival = ensure_random_site(workdir, 8, MIB) if quick else ensure_random_site(workdir, 25, 4 * MIB)
    return Sites(first, site, survival)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One tool in one scenario on one link: its runs (the fastest counts) and those that failed."""

    runs: list[Run] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def best(self) -> Run | None:
        return min(self.runs, key=lambda r: r.seconds, default=None)

    @property
    def seconds(self) -> float | None:
        best = self.best
        return None if best is None else best.seconds


@dataclass
class Results:
    rows: list[Link] = field(default_factory=list)
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)  # (link, scenario, tool)
    traffic: dict[tuple[str, str], Traffic] = field(default_factory=dict)  # (link, scenario)
    manifest: int = 0  # bytes of the 10,000-file site's session body

    def cell(self, link: Link, scenario: str, tool: str) -> Cell:
        return self.cells.setdefault((link.key, scenario, tool), Cell())

    def floor(self, link: Link, scenario: str) -> float | None:
        traffic = self.traffic.get((link.key, scenario))
        return None if traffic is None else link.floor(traffic)


class Bench:
    """Runs the scenarios of each row, each deploy checked, timed and stopped if it hangs."""

    def __init__(
        self, deploys: Deploys, servers: Servers, spawner: Spawner, tools: Sequence[str], repeat: int
    ) -> None:
        self.deploys = deploys
        self.servers = servers
        self.spawner = spawner
        self.tools = tuple(tools)
        self.repeat = repeat
        self.res = Results()
        self.held: dict[str, Path] = {}  # each tool's emulator data holding the big site, once filled

    def order(self, k: int) -> tuple[str, ...]:
        """Which tool goes first alternates, so drift hits both alike."""
        return self.tools if k % 2 == 0 else self.tools[::-1]

    def repeats(self, link: Link) -> int:
        return max(LOOPBACK_REPEAT, self.repeat) if link.up is None else self.repeat

    def untimed(self, tool: str, emu: Emulator, site: Tree, label: str) -> None:
        """A deploy that is not measured (warm-up, filling an emulator): it must work."""
        note(f"  {label} (untimed) ...")
        self._deploy(tool, emu, site, label, site.count)

    def _deploy(self, tool: str, emu: Emulator, site: Tree, label: str, expect: int) -> Run:
        if tool == "assetsync":
            return self.deploys.assetsync(emu, site, emu.data.parent / "cache", label, expect)
        return self.deploys.wrangler(emu, self.deploys.project(site, emu), label, expect)

    def timed(
        self, cell: Cell, tool: str, emu: Emulator, site: Tree, label: str, expect: int, floor: float | None
    ) -> None:
        """One measured deploy into ``cell``; a failure, or a run past its deadline (then stopped),
        is recorded as a failed run and a WARNING instead of ending the benchmark."""
        limit = DEADLINE_S + 5 * (floor or 0.0)
        note(f"  {label}{f' (floor {floor:.1f}s)' if floor is not None else ''} ...")
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            self.spawner.stop_current()

        timer = threading.Timer(limit, stop)
        timer.daemon = True
        timer.start()
        try:
            run = self._deploy(tool, emu, site, label, expect)
        except BenchError as exc:
            lines = str(exc).strip().splitlines()
            code = EXIT_RE.search(lines[0]) if lines else None
            why = (
                f"stopped after {limit:.0f}s" if fired.is_set() else f"exit {code.group(1) if code else '?'}"
            )
            why += f": {lines[-1].strip()[:200]}" if len(lines) > 1 else ""
            cell.failed.append(why)
            self.deploys.problems.append(f"{label}: failed ({why})")
            note(f"    failed ({why})")
            return
        finally:
            timer.cancel()
            timer.join()
        cell.runs.append(run)
        note(f"    {run.seconds:.2f}s")

    def warm_up(self, site: Tree) -> None:
        """Untimed: compile the .pyc files, load both clients' code into the page cache."""
        emu = self.servers.emulator("warm-up")
        try:
            for tool in self.tools:
                self.untimed(tool, emu, site, f"warm-up {tool}")
        finally:
            self.servers.stop(emu)

    def first(self, k: int, link: Link, site: Tree) -> None:
        """Scenario 1 (and the survival row): a fresh emulator, and data folder, per run."""
        self.res.traffic[(link.key, "first")] = deploy_traffic(
            manifest_bytes(site), [os.path.getsize(f) for f in site.files]
        )
        floor = self.res.floor(link, "first")
        for r in range(self.repeats(link)):
            for tool in self.order(k + r):
                emu = self.servers.emulator(f"{link.key}-first-{tool}-r{r + 1}", link=link.spec)
                try:
                    label = f"{link.label}: {site.name} first deploy, {tool}, run {r + 1}"
                    cell = self.res.cell(link, "first", tool)
                    self.timed(cell, tool, through(emu, link), site, label, site.count, floor)
                finally:
                    self.servers.stop(emu)

    def redeploys(self, k: int, link: Link, site: Tree, edited: EditedFile, runs: Path) -> None:
        """Scenarios 2 and 3 on each tool's emulator data, filled over the direct API base once."""
        manifest = self.res.manifest = self.res.manifest or manifest_bytes(site)
        self.res.traffic[(link.key, "nochange")] = deploy_traffic(manifest, [])
        self.res.traffic[(link.key, "edit")] = deploy_traffic(manifest, [len(edited.original)])
        emus: dict[str, Emulator] = {}
        with contextlib.ExitStack() as stack:
            for tool in self.tools:
                data = self.held.get(tool) or runs / f"{site.name}-{tool}" / "emulator"
                emu = emus[tool] = self.servers.emulator(
                    f"{link.key}-{site.name}-{tool}", data, link=link.spec
                )
                stack.callback(self.servers.stop, emu)
                if tool not in self.held:
                    self.untimed(tool, emu, site, f"{site.name} first deploy over the direct API, {tool}")
                    self.held[tool] = data
            for r in range(self.repeats(link)):
                for scenario, expect in (("nochange", 0), ("edit", 1)):
                    if scenario == "edit":
                        edited.edit()
                    floor = self.res.floor(link, scenario)
                    for tool in self.order(k + r):
                        label = f"{link.label}: {site.name} {SCENARIOS[scenario]}, {tool}, run {r + 1}"
                        cell = self.res.cell(link, scenario, tool)
                        self.timed(cell, tool, through(emus[tool], link), site, label, expect, floor)
                for tool in self.tools:
                    self.deploys.check_served(emus[tool], edited, f"{link.label} {tool} run {r + 1}")


def through(emu: Emulator, link: Link) -> Emulator:
    """The emulator as a client on ``link`` reaches it: through its link, or direct on loopback."""
    return emu if link.up is None else emu.via_link()


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}s"


def ratio(x: float | None, y: float | None) -> str:
    return "-" if x is None or y is None or y <= 0 else f"{x / y:.2f}x"


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    if cell.seconds is None:
        return "failed" if cell.failed else "-"
    return secs(cell.seconds) + (f" ({len(cell.failed)} failed)" if cell.failed else "")


def table_cells(res: Results) -> list[list[str]]:
    """Per link: for each scenario assetsync, wrangler, floor, assetsync/floor, wrangler/assetsync."""
    out = []
    for link in res.rows:
        row = [link.label]
        for scenario in SCENARIOS:
            a, w = (res.cells.get((link.key, scenario, tool)) for tool in TOOLS)
            floor = res.floor(link, scenario)
            at = a.seconds if a else None
            row += [
                cell_text(a),
                cell_text(w),
                secs(floor),
                ratio(at, floor),
                ratio(w.seconds if w else None, at),
            ]
        out.append(row)
    return out


def print_table(res: Results, sites: Sites) -> None:
    first, site = sites.first, sites.site
    print()
    print(
        f"1 = first deploy of {first.name} ({first.count} files, {human(first.total_bytes)}), "
        "a fresh emulator per run"
    )
    print(
        f"    (survival row: {sites.survival.name}, {sites.survival.count} files, "
        f"{human(sites.survival.total_bytes)})"
    )
    print(
        f"2 = unchanged redeploy of {site.name} ({site.count:,} files, {human(site.total_bytes)}; "
        f"manifest {human(res.manifest)})"
    )
    print("3 = the same after one small file changed")
    print("a = assetsync, w = wrangler; floor = the link's least time (see the docstring); loopback: best of")
    print("    max(3, --repeat), shaped rows best of --repeat")
    print()
    head = ["link"] + [f"{i} {c}" for i in (1, 2, 3) for c in ("a", "w", "floor", "a/floor", "w/a")]
    cells = table_cells(res)
    print(aligned([head, *cells], right=range(1, len(head)), rule="  "))
    print()
    print("Markdown:")
    print()
    md_head = ["link"]
    for name in ("first deploy", "unchanged", "one file changed"):
        md_head += [f"{name}: assetsync", "wrangler", "floor", "assetsync / floor", "wrangler / assetsync"]
    print(markdown(md_head, cells))


def details(res: Results) -> list[list[str]]:
    """What each best run says of itself: assetsync's --json (phases, rate, resends, retries,
    sessions), wrangler's upload time and retry lines, and the CPU of client and emulator+link."""
    rows = [
        [
            "link", "scenario", "a wall", "a outside", "build", "session", "upload", "deploy", "upload rate",
            "resent", "retries", "sessions", "a CPU", "emu CPU", "w wall", "w upload", "w retries",
            "w CPU", "emu CPU",
        ]
    ]  # fmt: skip
    for link in res.rows:
        for scenario, name in SCENARIOS.items():
            a, w = (res.cells.get((link.key, scenario, tool)) for tool in TOOLS)
            if a is None and w is None:
                continue
            row = [link.label, name]
            row += assetsync_details(link, a.best if a else None)
            row += wrangler_details(w.best if w else None)
            rows.append(row)
    return rows


def cpu_text(x: float | None) -> str:
    return "?" if x is None else f"{x:.2f}"


def assetsync_details(link: Link, run: Run | None) -> list[str]:
    doc = assetsync_json(run) if run else None
    if run is None or doc is None:
        return ["-"] * 12
    d = doc.get("durations") or {}
    rate = doc.get("upload_rate")
    rate_text = "-"
    if isinstance(rate, int | float):
        rate_text = f"{rate / MIB:.2f} MiB/s"
        if link.up is not None:  # the most file bytes/s the link carries as base64
            rate_text += f" ({rate / (link.up * 3 / 4):.0%})"
    return [
        secs(run.seconds),
        secs(run.seconds - d["total"]) if "total" in d else "?",
        *(f"{d[k]:.2f}" if k in d else "-" for k in ("build", "session", "upload", "deploy")),
        rate_text,
        human(doc.get("resent_bytes") or 0),
        str(doc.get("retries", "?")),
        str(doc.get("sessions", "?")),
        cpu_text(run.cpu),
        cpu_text(run.server_cpu),
    ]


def wrangler_details(run: Run | None) -> list[str]:
    if run is None:
        return ["-"] * 5
    out = run.stdout + run.stderr
    m = WRANGLER_UPLOADED_RE.search(out)
    upload = f"{float(m.group(2)):.2f}" if m else "-"
    return [
        secs(run.seconds),
        upload,
        str(out.count(WRANGLER_RETRY)),
        cpu_text(run.cpu),
        cpu_text(run.server_cpu),
    ]


def print_details(res: Results) -> None:
    print()
    print("Best runs, as each tool tells them (s): assetsync's --json: wall, outside = wall - its own total")
    print("(start-up, exit), phases, upload rate (file bytes/s; % of what the link carries as base64),")
    print("bytes resent, retries, sessions; wrangler's 'Uploaded ... (N sec)' and 'Asset upload failed'")
    print("lines. CPU s of the client's process tree, and of the emulator process (its link included).")
    print("Resets made by the link: not reported by 'serve' (see the docstring).")
    print()
    rows = details(res)
    print(aligned(rows, right=range(2, len(rows[0])), rule="  "))


def targets(res: Results, tools: Sequence[str]) -> list[Target]:
    out: list[Target] = []
    rows = {link.key: link for link in res.rows}

    def seconds(link: Link, scenario: str, tool: str) -> float | None:
        cell = res.cells.get((link.key, scenario, tool))
        return cell.seconds if cell else None

    for link in res.rows:
        floor = res.floor(link, "first")
        if link.up is None or link.key == SURVIVAL or floor is None:
            continue
        t = seconds(link, "first", "assetsync")
        value = ratio(t, floor) if t is not None else "failed"
        out.append(
            Target(
                f"{link.label}: first deploy / floor",
                value,
                f"<= {FIRST_LIMIT:.2f}x",
                t is not None and t <= FIRST_LIMIT * floor,
            )
        )
    if "wrangler" in tools:
        pairs = [
            (seconds(link, s, "wrangler"), seconds(link, s, "assetsync"), f"{link.label}, {SCENARIOS[s]}")
            for link in res.rows
            for s in SCENARIOS
            if (link.key, s, "assetsync") in res.cells
        ]
        judged = [
            (w / a if w is not None and a is not None else (0.0 if a is None else None), where)
            for w, a, where in pairs
        ]
        worst = min(((r, where) for r, where in judged if r is not None), default=None)
        if worst is not None:
            value = f"{worst[0]:.2f}x" if worst[0] else "failed"
            out.append(
                Target(f"wrangler / assetsync, slowest cell ({worst[1]})", value, ">= 1.00x", worst[0] >= 1.0)
            )
    far = rows.get(FAR)
    if far is not None and far.up is not None and (FAR, "nochange", "assetsync") in res.cells:
        limit = (HTTP_HEAD + res.manifest) / far.up + (2 + NOCHANGE_RTTS) * far.rtt
        t = seconds(far, "nochange", "assetsync")
        label = f"{far.label}: unchanged redeploy"
        out.append(Target(label, secs(t), f"<= {limit:.2f}s", t is not None and t <= limit))
        loop = seconds(rows["loopback"], "nochange", "assetsync") if "loopback" in rows else None
        if t is not None and loop is not None:
            out.append(
                Target(f"{label} - its loopback time", secs(t - loop), f"<= {limit:.2f}s", t - loop <= limit)
            )
    survival = rows.get(SURVIVAL)
    if survival is not None:
        for tool in tools:
            cell = res.cells.get((SURVIVAL, "first", tool))
            if cell is None:
                continue
            ok = bool(cell.runs) and not cell.failed
            judged_ok = ok if tool == "assetsync" else None
            out.append(
                Target(
                    f"{survival.label}: {tool} first deploy succeeds",
                    "yes" if ok else "no",
                    "succeeds",
                    judged_ok,
                )
            )
    return out


def print_header(
    args: argparse.Namespace, rows: Sequence[Link], work: Path, clients: Clients, state: str
) -> None:
    wrangler = (
        "skipped"
        if args.skip_wrangler
        else tool_version([str(clients.wrangler), "--version"], clients.node_env)
    )
    print(
        "assetsync network benchmark: assetsync sync vs wrangler deploy through simulated links "
        "to assetsync serve"
    )
    print(
        f"  python {platform.python_version()}; node {tool_version(['node', '--version'])}; "
        f"wrangler {wrangler}; assetsync {state}"
    )
    print(
        f"  {os.cpu_count()} CPUs; {platform.system()} {platform.release()}; "
        f"load average at start {loadavg()}"
    )
    print(f"  work folder {work}; rows: " + "; ".join(f"{r.key} = {r.spec or 'direct'}" for r in rows))
    print(
        f"  floor: request bytes / rate + round trips x rtt (manifest JSON, parts of {PART_HEAD} B head\n"
        f"  + base64 + CRLF, {DEPLOY_BODY} B deploy body, {HTTP_HEAD} B of HTTP head a request; 1 rtt\n"
        "  connect, 1 session, 1 upload if any, 1 deploy)"
    )


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def row_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    known = [link.key for link in ROWS]
    unknown = [k for k in keys if k not in known]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(f"rows are {', '.join(known)} (comma-separated), not {text!r}")
    return keys


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(
        DESCRIPTION,
        "network",
        "sites, caches and emulator data",
        "small sites (6 MiB; 2,000 files; 1 MiB) and rows " + ",".join(QUICK_ROWS),
        ("runs per cell on the shaped rows, the best kept (loopback: at least 3)", 1),
    )
    p.add_argument(
        "--rows", type=row_keys, metavar="KEY,...", help="rows to run: " + ", ".join(r.key for r in ROWS)
    )
    p.add_argument("--skip-wrangler", action="store_true", help="measure assetsync alone")
    add_wrangler(p)
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed or a run misbehaved")
    return parse(p, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tools = TOOLS[:1] if args.skip_wrangler else TOOLS
    keys = args.rows or (QUICK_ROWS if args.quick else [link.key for link in ROWS])
    rows = [link for link in ROWS if link.key in keys]
    state: dict[str, object] = {}

    def measure(stack: contextlib.ExitStack) -> None:
        wrangler: Path = args.wrangler.absolute()
        if not args.skip_wrangler:
            check_wrangler(wrangler, ", or pass --skip-wrangler")
        rig = open_rig(stack, args.workdir, "network", args.keep, wrangler)
        work, runs, clients, state["digest"] = rig.work, rig.runs, rig.clients, rig.digest
        bench = state["bench"] = Bench(Deploys(clients), rig.servers, rig.spawner, tools, args.repeat)
        bench.res.rows = rows
        print_header(args, rows, work.path, clients, f"{git_state()}, sources {rig.digest}")
        sys.stdout.flush()

        sites = state["sites"] = make_sites(work.path, args.quick)
        trees = (sites.first, sites.site, sites.survival)
        for tree in trees:
            work.add(tree.root, work.path / f"{tree.name}.params.json")
            set_past_mtimes(tree.files)  # nothing is "racy" for assetsync's cache
        edited = EditedFile(sites.site)
        stack.callback(edited.restore)
        note("warming up (untimed) ...")
        read_all(sites.first.files)
        bench.warm_up(sites.first)
        for k, link in enumerate(rows):
            note(f"[{k + 1}/{len(rows)}] {link.label} ({link.spec or 'direct'}) ...")
            first = sites.survival if link.key == SURVIVAL else sites.first
            read_all(first.files)
            bench.first(k, link, first)
            if link.key != SURVIVAL:
                read_all(sites.site.files)
                bench.redeploys(k, link, sites.site, edited, runs)

    status = guarded(measure)
    bench, sites = state.get("bench"), state.get("sites")
    if not isinstance(bench, Bench) or not isinstance(sites, Sites) or not bench.res.cells:
        return status or 2
    problems = bench.deploys.problems
    print_table(bench.res, sites)
    print_details(bench.res)
    ts = targets(bench.res, tools)
    if ts:
        print()
        TargetTable(value_width=10, limit_width=10).print(ts)
    print_warnings(problems)
    print()
    print(f"load average at the end: {loadavg()}")
    changed = changed_since(str(state.get("digest", "")))
    if changed:
        print(changed)
    if status:
        note("the run did not finish: the tables hold what was measured before it stopped")
        return status
    says = f"runs that did not do what their name says: {len(problems)} (see WARNING lines)"
    return exit_status(missed(ts), args.check, bool(problems), says)


if __name__ == "__main__":
    sys.exit(main())
