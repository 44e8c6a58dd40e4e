"""What the benchmark scripts share: their error type, and handling the server processes they
start (CPU time from /proc, a stop that always ends them).

benchmarks/ is not a package: each script puts this folder on ``sys.path`` and imports it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

REPO = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_S = 15.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class BenchError(Exception):
    """Something outside the measured numbers went wrong: a tool is missing, a command failed,
    a server died."""


class Timed(Protocol):
    """What a measured run must tell: its wall time and its peak RSS."""

    @property
    def seconds(self) -> float: ...

    @property
    def maxrss_kib(self) -> int: ...


R = TypeVar("R", bound=Timed)


@dataclass
class Row(Generic[R]):
    """One measured command: all its runs, of which the fastest counts."""

    label: str
    runs: list[R] = field(default_factory=list)

    @property
    def best(self) -> R:
        return min(self.runs, key=lambda r: r.seconds)

    @property
    def seconds(self) -> float:
        return self.best.seconds

    @property
    def peak_rss_kib(self) -> int:
        return max(r.maxrss_kib for r in self.runs)


def default_workdir(name: str) -> Path | None:
    """``<repo>/.bench/<name>`` when run from a checkout (``.bench/`` is git-ignored), else None
    (the caller then works in a temp folder)."""
    if (REPO / "pyproject.toml").is_file() and (REPO / "assetsync").is_dir():
        return REPO / ".bench" / name
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def stop_process(proc: subprocess.Popen[str]) -> None:
    """End a server: SIGINT first (uvicorn shuts down cleanly, and cProfile still writes its
    file, since only SIGINT unwinds as KeyboardInterrupt), then SIGTERM, then SIGKILL, each after
    a while. A child started while SIGINT was ignored (a background job) inherits that."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        proc.send_signal(sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue
