"""assetsync alone, in the sync benchmark: its first deploy at each ``--concurrency`` (a fresh
emulator and an empty cache every run), to choose the default by measurement, and whether the
emulator's ingest was what bound it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field

from common import BenchError
from common.clients import Clients, assetsync_json
from common.lifecycle import note
from common.processes import Run
from common.servers import Servers
from common.tables import Row, mib
from common.trees import Tree
from sync_deploys import Deploys, fmt_cpu

CONCURRENCIES = (1, 2, 3, 4, 6, 8)
DEFAULT_CONCURRENCY_RE = re.compile(r"--concurrency.*?\[default:\s*(\d+)", re.S)


@dataclass
class Sweep:
    """The first deploy's runs at each --concurrency, and the default ``sync --help`` states."""

    default: int | None = None
    rows: dict[int, Row[Run]] = field(default_factory=dict)


def default_concurrency(clients: Clients) -> int | None:
    """The --concurrency default ``assetsync sync --help`` states (None: it states none)."""
    """The --concurrency default ``assetsync sync --help`` states."""
    help_full = subprocess.run(
        [sys.executable, "-m", "assetsync", "sync", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env=clients.python_env,
        cwd=clients.snapshot,
    ).stdout
    if "--concurrency" not in help_full:
        raise BenchError("python -m assetsync sync --help failed, or has no --concurrency option")
    m = DEFAULT_CONCURRENCY_RE.search(help_full)
    return int(m.group(1)) if m else None


def bench_sweep(site: Tree, repeat: int, deploys: Deploys, servers: Servers, sweep: Sweep) -> None:
    """assetsync's first deploy at each --concurrency; the order rotates from round to round."""
    sweep.rows = {c: Row(f"--concurrency {c}") for c in CONCURRENCIES}
    for r in range(1, repeat + 1):
        note(f"  concurrency sweep round {r}/{repeat} ...")
        k = (r - 1) % len(CONCURRENCIES)
        for c in CONCURRENCIES[k:] + CONCURRENCIES[:k]:
            emu = servers.emulator(f"sweep-r{r}-c{c}")
            try:
                label = f"{site.name} r{r} assetsync --concurrency {c}"
                sweep.rows[c].runs.append(
                    deploys.assetsync(emu, site, emu.data.parent / "cache", label, site.count, c)
                )
            finally:
                servers.stop(emu)


def print_sweep(sweep: Sweep, site: Tree | None) -> None:
    """The sweep's table, the fastest setting against the default, and what bound it."""
    if not sweep.rows or not all(r.runs for r in sweep.rows.values()):
        return
    best_c = min(sweep.rows, key=lambda c: sweep.rows[c].seconds)
    best_s = sweep.rows[best_c].seconds
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
    for c, row in sweep.rows.items():
        doc = assetsync_json(row.best) or {}
        upload = (doc.get("durations") or {}).get("upload")
        server = row.best.server_cpu
        load = server / upload if server is not None and upload else None
        if load is not None:
            busy.append(load)
        marks = []
        if c == best_c:
            marks.append("fastest")
        if c == sweep.default:
            marks.append("default")
        print(
            f"{c:>11}  {row.seconds:8.3f}  {row.seconds / best_s:6.2f}x  "
            f"{upload if upload is not None else float('nan'):8.2f}  {row.best.cpu:9.2f}s  "
            f"{fmt_cpu(server):>7}s  {'?' if load is None else format(load, '.0%'):>8}  "
            f"{mib(row.peak_rss_kib):>10}  "
            f"{row.times('/', '.2f')}{'  <- ' + ', '.join(marks) if marks else ''}"
        )
    print("  (emu busy: the emulator's CPU seconds during the run / assetsync's upload phase)")
    print(f"fastest: --concurrency {best_c} ({best_s:.3f}s)", end="")
    if sweep.default in sweep.rows and sweep.default != best_c:
        d = sweep.rows[sweep.default].seconds
        print(f"; the default {sweep.default} is {100 * (d / best_s - 1):.1f}% slower ({d:.3f}s)")
    else:
        print(" (the current default)" if sweep.default == best_c else "")
    spreads = sorted(max(r.seconds for r in row.runs) / row.seconds - 1 for row in sweep.rows.values())
    if all(len(row.runs) > 1 for row in sweep.rows.values()):
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
