"""Bring the hash cache's rows up to date with a scan: keep the rows the stat vouches for,
hash the rest, and merge both into the table the next run starts from.

The merge is written three ways because each is the cheap one for its case (watch mode's few
changes patch a copy; a first run builds whole columns; a mix copies row by row), and at
100,000 files the difference shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from .cache import RACY_WINDOW_NS, CacheEntry, Table
from .hashing import HashScheme
from .hashpool import Hashed, hash_misses
from .scan import ScannedFile

_new_entry = tuple.__new__  # skips NamedTuple's argument handling: this runs once per file


def hash_files(
    files: Sequence[ScannedFile],
    scheme: HashScheme,
    prior: Table | None = None,
    workers: int = 0,
    now_ns: int | None = None,
) -> tuple[Table, int, int, int]:
    """Cache rows for ``files``: (the new table, hashed, verified, bytes read).

    ``prior`` holds the previous rows; those whose stat still matches are reused unread (the
    cache's key covers the scheme, salt and content-type table, so the stat suffices). When
    every file is such a hit and none went away, ``prior`` itself is returned.
    """
    prior = prior if prior is not None else Table()
    now_ns = time.time_ns() if now_ns is None else now_ns
    racy_after = now_ns - RACY_WINDOW_NS
    index = prior.index()
    # For each file, in scan order: its prior row (a hit), or -1 (a miss, numbered in ``misses``);
    # only needed to merge hits with misses, so a run without a cache leaves it empty.
    source: list[int] = []
    misses: list[int] = []
    if not index:
        misses = list(range(len(files)))
    else:
        get = index.get
        sizes, mtimes, ctimes, inos, racy = prior.sizes, prior.mtimes, prior.ctimes, prior.inos, prior.racy
        source = []
        for pos, (path, _, size, mtime_ns, ctime_ns, ino) in enumerate(files):
            i = get(path)
            if (
                i is not None
                and mtimes[i] == mtime_ns
                and sizes[i] == size
                and ctimes[i] == ctime_ns
                and inos[i] == ino
                and not racy[i]
            ):
                source.append(i)
            else:
                source.append(-1)
                misses.append(pos)
    if not misses and len(files) == len(prior):
        return prior, 0, 0, 0

    n = len(misses)
    new = hash_misses(files, misses, prior, index, scheme, workers)
    hashed = new.hashed

    if n * 8 < len(files) and len(prior):
        # A few changes (watch mode): copy the columns wholesale and patch the rows that moved.
        table = _patched(prior, files, misses, new, racy_after)
        if len(table) != len(files):
            table.keep({f.path for f in files})
        return table, hashed, n - hashed, new.bytes_read
    if n == len(files):
        # Every file read (a first run, or every stat changed): the columns in one go each.
        table = Table()
        table.paths = [f[0] for f in files]
        table.sizes = [f[2] for f in files]
        table.mtimes = [f[3] for f in files]
        table.ctimes = [f[4] for f in files]
        table.inos, table.xxh3, table.ctypes, table.hashes = new.inos, new.xxh3, new.types, new.hashes
        table.racy = bytearray(m >= racy_after for m in table.mtimes)
    else:
        misses_at = {pos: m for m, pos in enumerate(misses)}
        table = Table()
        for pos, f in enumerate(files):
            src = source[pos]
            if src >= 0:
                table.copy_row(prior, src)
            else:
                m = misses_at[pos]
                table.append(f[0], _miss_entry(f, m, new, racy_after))
    for m, entry in new.moved.items():
        table.put(files[misses[m]][0], entry._replace(racy=entry.mtime_ns >= racy_after))
    return table, hashed, n - hashed, new.bytes_read


def hash_touched(
    files: Mapping[str, ScannedFile],
    touched: Iterable[str],
    scheme: HashScheme,
    prior: Table,
    workers: int = 0,
    now_ns: int | None = None,
) -> tuple[Table, int, int, int]:
    """:func:`hash_files` for a few ``touched`` keys (watch mode), when ``prior`` was made from
    the same entries of ``files`` as every other key has now: only the touched keys and the racy
    rows are compared, so a one-file change costs no pass over every file."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    racy_after = now_ns - RACY_WINDOW_NS
    index = prior.index()
    check = set(touched)
    racy, paths = prior.racy, prior.paths
    i = racy.find(1)
    while i >= 0:
        check.add(paths[i])
        i = racy.find(1, i + 1)
    subset = [files[k] for k in sorted(check) if k in files]
    misses = [pos for pos, f in enumerate(subset) if not _hit(prior, index.get(f.path), f)]
    gone = any(k in index for k in check if k not in files)
    if not misses and not gone:
        return prior, 0, 0, 0
    new = hash_misses(subset, misses, prior, index, scheme, workers)
    table = _patched(prior, subset, misses, new, racy_after)
    if gone:
        table.keep(set(files))
    return table, new.hashed, len(misses) - new.hashed, new.bytes_read


def _hit(prior: Table, i: int | None, f: ScannedFile) -> bool:
    """Whether row ``i`` of ``prior`` vouches for ``f`` unread: the same stat, and not racy."""
    return (
        i is not None
        and prior.mtimes[i] == f.mtime_ns
        and prior.sizes[i] == f.size
        and prior.ctimes[i] == f.ctime_ns
        and prior.inos[i] == f.ino
        and not prior.racy[i]
    )


def _patched(
    prior: Table, files: Sequence[ScannedFile], misses: Sequence[int], new: Hashed, racy_after: int
) -> Table:
    """A copy of ``prior`` with the rows of the misses (positions in ``files``) put in."""
    table = prior.copy()
    for m, pos in enumerate(misses):
        table.put(files[pos][0], _miss_entry(files[pos], m, new, racy_after))
    for m, entry in new.moved.items():
        table.put(files[misses[m]][0], entry._replace(racy=entry.mtime_ns >= racy_after))
    return table


def _miss_entry(f: ScannedFile, m: int, new: Hashed, racy_after: int) -> CacheEntry:
    """The new cache row of miss ``m``, file ``f``, whose stat held while it was read."""
    fp = bytes(new.xxh3[16 * m : 16 * m + 16])
    return _new_entry(
        CacheEntry, (f[2], f[3], f[4], new.inos[m], fp, new.types[m], new.hashes[m], f[3] >= racy_after)
    )
