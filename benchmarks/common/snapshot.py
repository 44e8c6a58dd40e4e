"""The copy of ``<repo>/assetsync`` that the clients and the emulator run from, taken at the
start: edits made to the checkout while a benchmark runs cannot mix versions, and the header
names the version measured (commit and the copy's digest).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from common import BenchError
from common.machine import REPO, tool_version


def source_digest(package: Path) -> str:
    """A digest of a package folder's files (``__pycache__`` aside), to tell versions apart."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def git_state() -> str:
    """The checkout's commit, and whether tracked files differ from it."""
    head = tool_version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = tool_version(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    return f"{head}{' + uncommitted changes' if dirty not in ('', '?') else ''}"


def take_snapshot(dest: Path, env: dict[str, str]) -> str:
    """Copy ``<repo>/assetsync`` to ``dest/assetsync``: every run uses that copy (run with ``dest``
    as the current folder, which comes first on ``sys.path`` with ``-m``). Returns its digest."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(REPO / "assetsync", dest / "assetsync", ignore=shutil.ignore_patterns("__pycache__"))
    where = tool_version([sys.executable, "-c", "import assetsync; print(assetsync.__file__)"], env, dest)
    if where != str(dest / "assetsync" / "__init__.py"):
        raise BenchError(f"the snapshot in {dest} is not what python imports (it imports {where})")
    return source_digest(dest / "assetsync")


def changed_since(digest: str) -> str:
    """A note when the checkout's assetsync no longer has ``digest`` (edited during the run)."""
    live = source_digest(REPO / "assetsync")
    if live == digest:
        return ""
    return (
        f"note: the checkout's assetsync changed during the run (sources {live} now); every run used\n"
        f"the snapshot taken at the start (sources {digest})"
    )
