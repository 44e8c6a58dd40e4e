"""The processes a benchmark runs: their CPU time and their process tree's memory (from /proc),
a stop that always ends them, and the spawner that times a command to its exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import BenchError

BENCH_DIR = Path(__file__).resolve().parent.parent  # benchmarks/: the spawner helper imports from it
STOP_TIMEOUT_S = 15.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_KIB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) // 1024
TREE_SAMPLE_S = 0.02
MEMORY_NOTE = (
    "peak memory: of the whole process tree (the command and every descendant: assetsync's forked\n"
    "  hash workers, the CLI process node's launcher spawns), the sum of their RSS read from\n"
    f"  /proc/PID/statm every {TREE_SAMPLE_S * 1000:.0f} ms; the largest sum seen (largest over the runs), "
    "in MiB (2^20\n"
    "  bytes). Pages shared between processes (libraries, copy-on-write pages of forked workers)\n"
    "  count once per process, so the sum is an upper bound of what the tree held; a spike\n"
    "  shorter than a sample can be missed."
)


def _cpu_ticks(pid: int, fields: slice) -> int | None:
    """The sum of some of ``/proc/PID/stat``'s CPU fields (after the command name: 11 utime,
    12 stime, 13 cutime, 14 cstime), in clock ticks; None: the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return sum(int(x) for x in f.read().rpartition(")")[2].split()[fields])
    except OSError:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (all its threads), from /proc."""
    ticks = _cpu_ticks(pid, slice(11, 13))
    return None if ticks is None else ticks / CLOCK_TICKS


def cpu_spent(before: float | None, after: float | None) -> float | None:
    """CPU seconds between two readings of :func:`cpu_seconds` (None: either was unreadable)."""
    return None if before is None or after is None else after - before


def own_cpu_seconds() -> float:
    """User + system CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time so far of ``root`` and its live descendants, each with its reaped
    children's (cutime, cstime): all the CPU the tree has used, threads and workers alike."""
    return sum(_cpu_ticks(pid, slice(11, 15)) or 0 for pid in tree_pids(root)) / CLOCK_TICKS


def tree_pids(root: int) -> list[int]:
    """``root`` and every process descended from it that is alive now (from each thread's
    ``/proc/PID/task/TID/children``: a child belongs to the thread that forked it)."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone already
        found.append(pid)
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                    stack.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return found


@dataclass(frozen=True)
class TreeMemory:
    """The memory of a process tree at one instant, or the peaks of a run, in KiB."""

    rss_kib: int = 0  # summed RSS
    pss_kib: int = 0  # summed PSS (0: not read)

    def peak(self, other: TreeMemory) -> TreeMemory:
        return TreeMemory(max(self.rss_kib, other.rss_kib), max(self.pss_kib, other.pss_kib))


def _statm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * PAGE_KIB


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def tree_memory(root: int, pss: bool = False) -> TreeMemory:
    """The summed RSS (``/proc/PID/statm``, one cheap read per process) and, if asked, PSS
    (``smaps_rollup``, which walks every mapping: costly on a large node process) of ``root``
    and its descendants now."""
    rss = pss_total = 0
    for pid in tree_pids(root):
        try:
            rss += _statm_rss_kib(pid)
            if pss:
                pss_total += _pss_kib(pid)
        except (OSError, IndexError, ValueError):
            pass  # exited between the walk and the read
    return TreeMemory(rss, pss_total)


def peak_tree_memory(pid: int, pss: bool = False, interval_s: float = TREE_SAMPLE_S) -> TreeMemory:
    """Sample :func:`tree_memory` of child ``pid`` until it exits; the largest sums seen.

    The child's own peak (``ru_maxrss``) misses the hash workers assetsync forks and the CLI
    process node's launcher spawns; the tree's sum counts them. A pidfd says at once when the
    child exits, so the caller's timing gains no polling delay. The child is not reaped."""
    fd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        peak = tree_memory(pid, pss)
        while not poller.poll(int(interval_s * 1000)):
            peak = peak.peak(tree_memory(pid, pss))
        return peak
    finally:
        os.close(fd)


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


@dataclass(frozen=True)
class Run:
    """One command run by the :class:`Spawner`."""

    seconds: float
    memory: TreeMemory  # peaks of its process tree (zeros: not sampled)
    cpu: float  # user + system CPU seconds of the child and its reaped descendants (os.wait4)
    stdout: str
    stderr: str
    server_cpu: float | None = None  # a server's CPU seconds during the run, if the caller took them
    code: int = 0  # its exit status (not 0 only when the caller allowed it: ``check=False``)


# The helper that starts every measured command: a small interpreter (-I -S) of its own, so the
# timed region holds nothing but posix_spawn, the memory sampling and wait4, and no thread of
# the calling script (servers' output pumps) competes with it. The child gets a session of its
# own (so the caller can stop its whole tree) and SIGINT back at its default. While it runs, its
# process tree's memory is sampled (peak_tree_memory: a pidfd says at once when it exits).
SPAWNER = r"""
import json, os, signal, sys, time
sys.path.insert(0, sys.argv[1])
from common.processes import TreeMemory, peak_tree_memory

signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the caller stops the child; we reap it
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    try:
        os.chdir(req["cwd"])
    except OSError as exc:
        print(json.dumps({"error": f"cannot enter {req['cwd']}: {exc}"}), flush=True)
        continue
    t0 = time.perf_counter()
    try:
        pid = os.posix_spawnp(
            req["argv"][0], req["argv"], req["env"], file_actions=actions, setsid=True,
            setsigdef=(signal.SIGINT,),
        )
    except OSError as exc:
        print(json.dumps({"error": f"cannot start {req['argv'][0]}: {exc}"}), flush=True)
        continue
    print(json.dumps({"pid": pid}), flush=True)
    mem = peak_tree_memory(pid, req["pss"]) if req["memory"] else TreeMemory()
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    reply = {
        "seconds": seconds, "code": os.waitstatus_to_exitcode(status), "rss_kib": mem.rss_kib,
        "pss_kib": mem.pss_kib, "cpu": usage.ru_utime + usage.ru_stime,
    }
    print(json.dumps(reply), flush=True)
"""


class Spawner:
    """Runs commands one at a time: wall time, the process tree's peak memory, CPU time, output."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="assetsync-bench-")
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", SPAWNER, str(BENCH_DIR)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.current: int | None = None  # pid (and process group) of the command now running
        self._readline()

    def _readline(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise BenchError("the spawner helper process died")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise BenchError(reply["error"])
        return reply

    def run(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        label: str = "",
        *,
        memory: bool = True,
        pss: bool = False,
        stdout: bool = True,
        check: bool = True,
    ) -> Run:
        """Run ``argv`` to its end; a non-zero exit raises :class:`BenchError` (with ``check``;
        without it the status is :attr:`Run.code`, for a command whose failure is a result). ``memory``:
        sample the tree's summed RSS (and with ``pss`` its PSS, which costs more CPU);
        ``stdout=False`` sends it to /dev/null."""
        assert self._proc.stdin is not None
        out = os.path.join(self._dir, "stdout") if stdout else os.devnull
        err = os.path.join(self._dir, "stderr")
        request = {
            "argv": list(argv),
            "env": dict(os.environ) if env is None else env,
            "cwd": str(cwd or Path.cwd()),
            "out": out,
            "err": err,
            "memory": memory,
            "pss": pss,
        }
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        self.current = self._readline()["pid"]
        reply = self._readline()
        self.current = None
        texts = []
        for path in (out, err):
            with open(path, encoding="utf-8", errors="replace") as f:
                texts.append(f.read())
        if reply["code"] != 0 and check:
            tail = "\n".join((texts[0].strip() + "\n" + texts[1].strip()).strip().splitlines()[-40:])
            raise BenchError(f"{label or argv[0]}: {' '.join(argv)} exited with {reply['code']}:\n{tail}")
        mem = TreeMemory(reply["rss_kib"], reply["pss_kib"])
        return Run(reply["seconds"], mem, reply["cpu"], texts[0], texts[1], code=reply["code"])

    def stop_current(self) -> None:
        """Stop the running command's whole process tree (its own session), if any."""
        pid, self.current = self.current, None
        if pid is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.killpg(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)

    def close(self) -> None:
        self.stop_current()
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Spawner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
