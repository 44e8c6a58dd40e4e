"""Facts about this machine that a benchmark's header states: the tools' versions, the load
average (the machine is shared, so absolute times move with it), the file system of a folder.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def tool_version(argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> str:
    """The first line a command prints (on stdout, else stderr), or "?" when it cannot run."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, cwd=cwd)
    except OSError:
        return "?"
    out = (proc.stdout or proc.stderr).strip()
    return out.splitlines()[0].strip() if out else "?"


def filesystem_of(path: Path) -> str:
    """The type of the file system ``path`` is on (the longest matching mount point), or "?"."""
    target = str(path.resolve())
    best, kind = "", "?"
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                inside = target == point or target.startswith(point.rstrip("/") + "/")
                if inside and len(point) > len(best):
                    best, kind = point, f"{fields[2]} on {point}"
    except OSError:
        pass
    return kind
