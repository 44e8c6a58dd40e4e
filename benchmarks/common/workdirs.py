"""Where a benchmark keeps its data: ``<repo>/.bench/<name>`` in a checkout (git-ignored), else a
temp folder; and the removal, at exit, of what the run made there unless asked to keep it.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path

from common.lifecycle import note
from common.machine import REPO


def default_workdir(name: str) -> Path | None:
    """``<repo>/.bench/<name>`` when run from a checkout (``.bench/`` is git-ignored), else None
    (the caller then works in a temp folder)."""
    if (REPO / "pyproject.toml").is_file() and (REPO / "assetsync").is_dir():
        return REPO / ".bench" / name
    return None


class WorkFolder:
    """The work folder of one run and what the run made in it.

    Paths given to :meth:`add` are removed by :meth:`close`, and then the folders given to
    :meth:`add_if_empty`, and the work folder itself if this run made it, each only if empty.
    With ``keep`` nothing is removed and ``kept`` (if any) says where it all is."""

    def __init__(self, chosen: Path | None, name: str, keep: bool, kept: str = "") -> None:
        chosen = chosen or default_workdir(name)
        self.made = chosen is None or not chosen.exists()
        self.path = (chosen or Path(tempfile.mkdtemp(prefix=f"assetsync-{name}-bench-"))).absolute()
        self.path.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.kept = kept
        self._created: list[Path] = []
        self._if_empty: list[Path] = []

    def add(self, *paths: Path) -> None:
        self._created.extend(paths)

    def add_if_empty(self, *folders: Path) -> None:
        self._if_empty.extend(folders)

    def runs(self) -> Path:
        """A new folder for this run's servers, ``runs/<date-time>``, removed at exit."""
        folder = self.path / "runs" / time.strftime("%Y%m%d-%H%M%S")
        self.add(folder)
        self.add_if_empty(folder.parent)
        return folder

    def close(self) -> None:
        if self.keep:
            if self.kept:
                note(self.kept)
            return
        note("deleting the data ...")
        for path in self._created:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for folder in [*self._if_empty, *([self.path] if self.made else [])]:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty

    def __enter__(self) -> WorkFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
