"""Temp files named for the process that writes them, so a crashed writer's leftovers can be told
apart from a live writer's work in progress.

Writers replace their target atomically from a temp file; a process killed between creating the
temp file and the rename leaves it behind. Sweeping every temp file would break another process
writing into the same folder at that moment (``assetsync sync`` into the data folder of a running
``assetsync serve``), so only files whose writer is gone are removed.
"""

from __future__ import annotations

import contextlib
import os
import uuid


def temp_path(folder: str, prefix: str) -> str:
    """A fresh name in ``folder`` that records this process's id: ``<prefix><pid>-<random>``."""
    return os.path.join(folder, f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:12]}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def sweep(folder: str, prefix: str) -> int:
    """Remove the ``prefix`` temp files in ``folder`` whose writing process no longer runs;
    returns how many. Names that do not parse are left alone: they are not ours."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(prefix):
            continue
        pid_text, _, rest = name[len(prefix) :].partition("-")
        if not pid_text.isdigit() or not rest or _alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))
            removed += 1
    return removed
