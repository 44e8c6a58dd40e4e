"""The hash cache: skip reading files whose stat has not changed since the last run.

One file per (root, hash scheme, salt) in the user cache folder, holding for each relative path
``(size, mtime_ns, ctime_ns, ino, xxh3_128, content_type, hash, racy)`` as a :class:`Table`:
one list per field rather than one tuple per file, because loading a column is a few memcpys
while 100,000 tuples are 100,000 allocations (measured: 0.03 s against 0.12 s to load).

- Stat hit: the hash is reused without opening the file.
- Stat miss: the file is fingerprinted with xxh3 (about 20x faster than SHA-256); the same
  fingerprint keeps the old hash, so generators that rewrite identical files cost a fast read.
- Racy entries: a file modified within :data:`RACY_WINDOW_NS` of the scan could change again
  within the same timestamp tick without its stat changing (git's "racy clean" problem), so such
  entries are marked and fingerprinted again on the next run even when the stat matches.

On disk: a magic line, the xxh3_128 of the payload, then the payload in ``marshal`` form (the
fastest stdlib codec for lists of ints and strings). The manifest JSON those entries make is
kept beside them, so a run that finds nothing changed hands it on as it is. A file that fails
the checksum, the magic, or the key check is foreign or corrupt: it is discarded with a warning,
never fatal. Writes go to a temp file that replaces the old one atomically, so a crash leaves
the old cache or the new one, plus a temp file that the next save removes.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import xxhash

from ..errors import CacheError

MAGIC = b"assetsync-hash-cache 3 " + sys.implementation.cache_tag.encode() + b"\n"
TEMP_PREFIX = ".tmp-"  # + writer pid: see tempfiles.py
RACY_WINDOW_NS = 2_000_000_000


class CacheEntry(NamedTuple):
    """One file's row of the cache."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    xxh3: bytes
    content_type: str
    hash: str
    racy: bool


class Table:
    """Cache rows by column, with a path -> row index built on first use."""

    __slots__ = (
        "paths",
        "sizes",
        "mtimes",
        "ctimes",
        "inos",
        "xxh3",
        "ctypes",
        "hashes",
        "racy",
        "_index",
        "changed",
    )

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.sizes: list[int] = []
        self.mtimes: list[int] = []
        self.ctimes: list[int] = []
        self.inos: list[int] = []
        self.xxh3 = bytearray()  # 16 bytes a row
        self.ctypes: list[str] = []
        self.hashes: list[str] = []
        self.racy = bytearray()  # 0 or 1 a row
        self._index: dict[str, int] | None = None
        self.changed: set[str] | None = None  # set by a patched copy: the paths it put or dropped

    def __len__(self) -> int:
        return len(self.paths)

    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = dict(zip(self.paths, range(len(self.paths)), strict=True))
        return self._index

    def row(self, i: int) -> CacheEntry:
        return CacheEntry(
            self.sizes[i],
            self.mtimes[i],
            self.ctimes[i],
            self.inos[i],
            bytes(self.xxh3[16 * i : 16 * i + 16]),
            self.ctypes[i],
            self.hashes[i],
            bool(self.racy[i]),
        )

    def get(self, path: str) -> CacheEntry | None:
        i = self.index().get(path)
        return None if i is None else self.row(i)

    def append(self, path: str, e: CacheEntry) -> None:
        self.paths.append(path)
        self.sizes.append(e.size)
        self.mtimes.append(e.mtime_ns)
        self.ctimes.append(e.ctime_ns)
        self.inos.append(e.ino)
        self.xxh3 += e.xxh3
        self.ctypes.append(e.content_type)
        self.hashes.append(e.hash)
        self.racy.append(e.racy)
        self._index = None

    def copy_row(self, other: Table, i: int) -> None:
        """Append row ``i`` of ``other`` as it is (a stat hit)."""
        self.paths.append(other.paths[i])
        self.sizes.append(other.sizes[i])
        self.mtimes.append(other.mtimes[i])
        self.ctimes.append(other.ctimes[i])
        self.inos.append(other.inos[i])
        self.xxh3 += other.xxh3[16 * i : 16 * i + 16]
        self.ctypes.append(other.ctypes[i])
        self.hashes.append(other.hashes[i])
        self.racy.append(other.racy[i])
        self._index = None

    def copy(self) -> Table:
        t = Table()
        t.paths, t.sizes, t.mtimes, t.ctimes = (
            list(self.paths),
            list(self.sizes),
            list(self.mtimes),
            list(self.ctimes),
        )
        t.inos, t.xxh3, t.ctypes, t.hashes = (
            list(self.inos),
            bytearray(self.xxh3),
            list(self.ctypes),
            list(self.hashes),
        )
        t.racy = bytearray(self.racy)
        t._index = dict(self._index) if self._index is not None else None
        t.changed = set()
        return t

    def put(self, path: str, e: CacheEntry) -> None:
        """Set the row of ``path``, replacing it if there is one."""
        if self.changed is not None:
            self.changed.add(path)
        i = self.index().get(path)
        if i is None:
            self.append(path, e)
            self._index = None
            return
        self.sizes[i], self.mtimes[i], self.ctimes[i], self.inos[i] = e.size, e.mtime_ns, e.ctime_ns, e.ino
        self.xxh3[16 * i : 16 * i + 16] = e.xxh3
        self.ctypes[i], self.hashes[i], self.racy[i] = e.content_type, e.hash, e.racy

    def keep(self, paths: set[str]) -> None:
        """Drop every row whose path is not in ``paths``."""
        if self.changed is not None:
            self.changed.update(p for p in self.paths if p not in paths)
        rows = [i for i, p in enumerate(self.paths) if p in paths]
        self.paths = [self.paths[i] for i in rows]
        self.sizes = [self.sizes[i] for i in rows]
        self.mtimes = [self.mtimes[i] for i in rows]
        self.ctimes = [self.ctimes[i] for i in rows]
        self.inos = [self.inos[i] for i in rows]
        self.xxh3 = bytearray(b"".join(self.xxh3[16 * i : 16 * i + 16] for i in rows))
        self.ctypes = [self.ctypes[i] for i in rows]
        self.hashes = [self.hashes[i] for i in rows]
        self.racy = bytearray(self.racy[i] for i in rows)
        self._index = None

    def entries(self) -> dict[str, CacheEntry]:
        """Every row by path (for inspection; the hot paths use the columns)."""
        return {p: self.row(i) for i, p in enumerate(self.paths)}

    def columns(self) -> tuple[Any, ...]:
        return (
            self.paths,
            self.sizes,
            self.mtimes,
            self.ctimes,
            self.inos,
            bytes(self.xxh3),
            self.ctypes,
            self.hashes,
            bytes(self.racy),
        )

    @classmethod
    def from_columns(cls, cols: tuple[Any, ...]) -> Table:
        t = cls()
        (t.paths, t.sizes, t.mtimes, t.ctimes, t.inos, xxh3, t.ctypes, t.hashes, racy) = cols
        t.xxh3, t.racy = bytearray(xxh3), bytearray(racy)
        n = len(t.paths)
        if not all(len(c) == n for c in (t.sizes, t.mtimes, t.ctimes, t.inos, t.ctypes, t.hashes, t.racy)):
            raise ValueError("columns of different lengths")
        if len(t.xxh3) != 16 * n:
            raise ValueError("fingerprint column of the wrong length")
        return t


class _Outdated(Exception):
    """A cache written by another version of assetsync (or of Python): silently rebuilt."""


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/assetsync`` (or the platform's equivalent)."""
    import platformdirs

    return platformdirs.user_cache_dir("assetsync", appauthor=False)


def cache_file(cache_dir: str, root: str, scheme_key: str) -> str:
    """Where the cache for this folder and scheme lives."""
    key = f"{os.path.realpath(root)}\0{scheme_key}"
    name = xxhash.xxh3_128_hexdigest(key.encode("utf-8", "surrogateescape"))
    return os.path.join(cache_dir, f"hashes-{name}.bin")


def _not_a_folder(folder: str) -> str:
    """The nearest existing path at or above ``folder``: what stands where a folder should be."""
    while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


class HashCache:
    """Cache entries for one folder and scheme, loaded once and saved once per run."""

    def __init__(self, path: str | None, key: str, warn: Callable[[str], None]) -> None:
        self.path = path
        self.key = key
        self.table = Table()
        # The canonical manifest JSON of these entries and its byte total, so a run that finds
        # nothing changed can hand them on without rebuilding them ("" when unknown).
        self.manifest_json = ""
        self.total_bytes = 0
        self._warn = warn
        if path is not None:
            self.table = self._load(path)

    @property
    def entries(self) -> dict[str, CacheEntry]:
        return self.table.entries()

    def _load(self, path: str) -> Table:
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return Table()  # a first run; a folder that cannot hold a cache is reported on save
        except OSError as exc:
            self._warn(
                f"hash cache {path} cannot be read ({exc.strerror}); going on without it, hashing "
                "every file. Use --cache-dir to pick a folder you can read and write, or --no-cache."
            )
            self.path = None  # saving would fail the same way: one warning is enough
            return Table()
        try:
            return self._decode(blob)
        except _Outdated:
            return Table()
        except Exception as exc:
            self.manifest_json, self.total_bytes = "", 0
            self._warn(f"hash cache {path} is corrupt or foreign ({exc}); discarded, hashing every file")
            return Table()

    def _decode(self, blob: bytes) -> Table:
        if not blob.startswith(MAGIC):
            if blob.startswith(MAGIC.split(b" ")[0] + b" "):
                raise _Outdated  # ours, from another version or Python: not worth a warning
            raise ValueError("unknown format")
        head = len(MAGIC)
        digest, payload = blob[head : head + 16], blob[head + 16 :]
        if xxhash.xxh3_128_digest(payload) != digest:
            raise ValueError("checksum mismatch")
        key, columns, manifest_json, total_bytes = marshal.loads(payload)
        if key != self.key:
            raise ValueError("written for another folder or scheme")
        table = Table.from_columns(columns)
        self.manifest_json, self.total_bytes = manifest_json, total_bytes
        return table

    def save(self, table: Table, manifest_json: str = "", total_bytes: int = 0) -> None:
        """Replace the cache on disk with ``table`` (and the manifest it makes); failures
        become :class:`CacheError`."""
        if self.path is None:
            return
        from ..tempfiles import sweep, temp_path

        payload = marshal.dumps((self.key, table.columns(), manifest_json, total_bytes))
        blob = MAGIC + xxhash.xxh3_128_digest(payload) + payload
        folder = os.path.dirname(self.path)
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            sweep(folder, TEMP_PREFIX)  # left by runs killed mid-save
            tmp = temp_path(folder, TEMP_PREFIX)
            with open(tmp, "xb") as f:
                f.write(blob)  # no fsync: a torn file after power loss fails the checksum
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            why = exc.strerror
            if isinstance(exc, FileExistsError | NotADirectoryError):
                why = f"{_not_a_folder(folder)} is not a folder"  # clearer than "File exists"
            path, self.path = self.path, None  # no second try, no second warning (watch mode)
            raise CacheError(
                f"hash cache not saved to {path} ({why}); the next run will hash every file "
                "again. Use --cache-dir to pick a writable folder, or --no-cache."
            ) from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        self.table = table
        self.manifest_json, self.total_bytes = manifest_json, total_bytes
