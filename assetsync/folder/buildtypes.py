"""The values a build takes and gives: its options, what it cost, and its result.

Kept apart from the machinery that makes them, so each reads on its own; :mod:`.build`
re-exports them, and the rest of the package imports them from there.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..protocol import FREE_PLAN_FILES, MAX_FILE_SIZE
from .cache import Table
from .hashing import HashScheme
from .manifest import Manifest


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """How to turn a folder into a manifest."""

    scheme: HashScheme = field(default_factory=HashScheme)
    ignore: tuple[str, ...] = ()
    default_ignores: bool = True
    max_files: int = FREE_PLAN_FILES
    max_file_size: int = MAX_FILE_SIZE
    use_cache: bool = True
    cache_dir: str | None = None  # None: the user cache folder
    workers: int = 0  # 0: chosen from the number of cores


@dataclass(frozen=True, slots=True)
class BuildStats:
    """What building the manifest cost: files seen, and how each got its hash."""

    files: int
    bytes: int
    hashed: int  # read and hashed in full
    verified: int  # stat changed, fingerprint unchanged: hash reused after a fast read
    cached: int  # stat unchanged: hash reused without reading
    bytes_read: int
    seconds: float


# Where a blob comes from: (manifest key, absolute path, size, mtime_ns, ctime_ns, xxh3_128).
Source = tuple[str, str, int, int, int, bytes]


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A folder's manifest, what it cost, and each file's stat as it was hashed (what an upload
    checks before it reads a file)."""

    manifest: Manifest
    stats: BuildStats
    warnings: tuple[str, ...]
    root: str = ""
    table: Table = field(default_factory=Table)  # each file's stat, as it was hashed

    def sources(self, wanted: Iterable[str] | None = None) -> dict[str, Source]:
        """Each hash (of ``wanted``, default all) -> (manifest key, absolute path, size, mtime_ns,
        ctime_ns, xxh3_128 fingerprint of the bytes hashed) of a file carrying it.

        What an upload needs to read a blob, and to check that the file still is what was hashed.
        """
        t = self.table
        want = None if wanted is None else set(wanted)
        out: dict[str, Source] = {}
        if want is not None and not want:
            return out
        fps = t.xxh3
        for i, digest in enumerate(t.hashes):
            if (want is None or digest in want) and digest not in out:
                path = t.paths[i]
                fp = bytes(fps[16 * i : 16 * i + 16])
                out[digest] = (path, self.root + path, t.sizes[i], t.mtimes[i], t.ctimes[i], fp)
        return out

    def changed(self) -> str | None:
        """A file that no longer has the stat it was hashed with (modified, deleted, or not a
        regular file any more), by manifest key; None when every file is as it was hashed."""
        t, root, stat, isreg = self.table, self.root, os.stat, stat_mod.S_ISREG
        sizes, mtimes, ctimes = t.sizes, t.mtimes, t.ctimes
        for i, path in enumerate(t.paths):
            try:
                st = stat(root + path)
            except OSError:
                return path
            if (
                st.st_mtime_ns != mtimes[i]
                or st.st_size != sizes[i]
                or st.st_ctime_ns != ctimes[i]
                or not isreg(st.st_mode)
            ):
                return path
        return None
