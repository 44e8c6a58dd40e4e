"""The hash cache: skip reading files whose stat has not changed since the last run.

One file per (root, hash scheme, salt) in the user cache folder, mapping each relative path to
``(size, mtime_ns, ctime_ns, ino, xxh3_128, content_type, hash, racy)``.

- Stat hit: the hash is reused without opening the file.
- Stat miss: the file is fingerprinted with xxh3 (about 20x faster than SHA-256); the same
  fingerprint keeps the old hash, so generators that rewrite identical files cost a fast read.
- Racy entries: a file modified within :data:`RACY_WINDOW_NS` of the scan could change again
  within the same timestamp tick without its stat changing (git's "racy clean" problem), so such
  entries are marked and fingerprinted again on the next run even when the stat matches.

On disk: a magic line, the xxh3_128 of the payload, then the payload in ``marshal`` form (the
fastest stdlib codec for 100,000 tuples). A file that fails the checksum, the magic, or the key
check is foreign or corrupt: it is discarded with a warning, never fatal. Writes go to a temp
file that replaces the old one atomically, so a crash leaves the old cache or the new one.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

import xxhash

from .errors import CacheError

MAGIC = b"assetsync-hash-cache 1 " + sys.implementation.cache_tag.encode() + b"\n"
RACY_WINDOW_NS = 2_000_000_000


class CacheEntry(NamedTuple):
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    xxh3: bytes
    content_type: str
    hash: str
    racy: bool


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/assetsync`` (or the platform's equivalent)."""
    import platformdirs

    return platformdirs.user_cache_dir("assetsync", appauthor=False)


def cache_file(cache_dir: str, root: str, scheme_key: str) -> str:
    """Where the cache for this folder and scheme lives."""
    key = f"{os.path.realpath(root)}\0{scheme_key}"
    name = xxhash.xxh3_128_hexdigest(key.encode("utf-8", "surrogateescape"))
    return os.path.join(cache_dir, f"hashes-{name}.bin")


class HashCache:
    """Cache entries for one folder and scheme, loaded once and saved once per run."""

    def __init__(self, path: str | None, key: str, warn: Callable[[str], None]) -> None:
        self.path = path
        self.key = key
        self.entries: dict[str, CacheEntry] = {}
        self._warn = warn
        if path is not None:
            self.entries = self._load(path)

    def _load(self, path: str) -> dict[str, CacheEntry]:
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return {}  # a first run; a folder that cannot hold a cache is reported on save
        except OSError as exc:
            self._warn(f"hash cache {path} cannot be read ({exc.strerror}); hashing every file")
            return {}
        try:
            return self._decode(blob)
        except Exception as exc:
            self._warn(f"hash cache {path} is corrupt or foreign ({exc}); discarded, hashing every file")
            return {}

    def _decode(self, blob: bytes) -> dict[str, CacheEntry]:
        if not blob.startswith(MAGIC):
            raise ValueError("unknown format or Python version")
        head = len(MAGIC)
        digest, payload = blob[head : head + 16], blob[head + 16 :]
        if xxhash.xxh3_128_digest(payload) != digest:
            raise ValueError("checksum mismatch")
        key, rows = marshal.loads(payload)
        if key != self.key:
            raise ValueError("written for another folder or scheme")
        new = tuple.__new__  # a NamedTuple from a tuple without its Python-level __new__
        return {path: new(CacheEntry, row) for path, row in rows.items()}

    def save(self, entries: dict[str, CacheEntry]) -> None:
        """Replace the cache on disk with ``entries``; failures become :class:`CacheError`."""
        if self.path is None:
            return
        import tempfile

        payload = marshal.dumps(
            (self.key, {p: tuple(e) for p, e in entries.items()})
        )  # marshal wants plain tuples
        blob = MAGIC + xxhash.xxh3_128_digest(payload) + payload
        folder = os.path.dirname(self.path)
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(blob)  # no fsync: a torn file after power loss fails the checksum
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            raise CacheError(
                f"hash cache not saved to {self.path} ({exc.strerror}); the next run will hash "
                "every file again. Use --cache-dir to pick a writable folder, or --no-cache."
            ) from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        self.entries = entries
