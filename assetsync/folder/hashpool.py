"""Hash the files the cache cannot vouch for: in the calling thread when they are few, on a
pool of workers when they are many.

The pool is forked worker processes (threads where forking is unsafe): the per-file work on
small files is Python holding the GIL, so only processes use both cores there. Work is cut into
ranges of about equal cost, big files first, so the pool's tail is short files. Each range comes
back packed (41 bytes a file) and is unpacked here into one column per field.
"""

from __future__ import annotations

import os
import struct
import threading
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from ..errors import UnreadablePath
from ..protocol.contenttypes import content_type
from .cache import CacheEntry, Table
from .hashing import CHUNK, FileDigest, HashScheme, read_digest
from .scan import ScannedFile

ATTEMPTS = 3  # reads of a file that keeps changing under us before giving up
INLINE_FILES = 2000  # below this many files and INLINE_BYTES to read, a pool costs more than it saves
INLINE_BYTES = 32 << 20
FILE_COST = 16384  # per-file overhead, in byte-equivalents, when balancing batches
MIN_BATCH_COST = 4 << 20
_new_entry = tuple.__new__  # skips NamedTuple's argument handling: this runs once per file


def _held(r: FileDigest, size: int, mtime_ns: int, ctime_ns: int) -> bool:
    """Whether a read saw the file as it was scanned: the stat did not move, and a small file's
    single read got all of it (a short read under a stat that did not move is read again)."""
    after = r.stat
    return (
        after.st_mtime_ns == mtime_ns
        and after.st_size == size
        and after.st_ctime_ns == ctime_ns
        and (r.read == size or size > CHUNK)
    )


def hash_file(
    abspath: str,
    path: str,
    size: int,
    mtime_ns: int,
    ctime_ns: int,
    ctype: str,
    known: tuple[bytes, str] | None,
    scheme: HashScheme,
) -> tuple[CacheEntry, bool, int]:
    """Hash one file, or verify it against the ``known`` (fingerprint, hash) of its cache row:
    (its new row, hashed in full?, bytes read).

    The stat after reading must equal the one the file was scanned with; a file that changed
    meanwhile is read again with its new stat, up to :data:`ATTEMPTS` times.
    """
    try:
        for attempt in range(ATTEMPTS):
            if attempt:
                st = os.stat(abspath)
                size, mtime_ns, ctime_ns = st.st_size, st.st_mtime_ns, st.st_ctime_ns
            r = read_digest(abspath, scheme, path, ctype, size, known)
            if _held(r, size, mtime_ns, ctime_ns):
                entry = _new_entry(
                    CacheEntry, (size, mtime_ns, ctime_ns, r.stat.st_ino, r.xxh3, ctype, r.hash, False)
                )
                return entry, r.full, r.read
    except FileNotFoundError:
        raise UnreadablePath(
            f"{abspath}: disappeared while the site was being scanned. Run again once the "
            "folder has stopped changing.",
            abspath,
        ) from None
    except OSError as exc:
        raise UnreadablePath(
            f"{abspath}: cannot be read ({exc.strerror}). Fix its permissions or add it to .assetsignore.",
            abspath,
        ) from None
    raise UnreadablePath(
        f"{abspath}: kept changing while it was being read ({ATTEMPTS} attempts). Run again "
        "once whatever writes it has finished.",
        abspath,
    )


_RECORD = struct.Struct("<16s16sQ")  # fingerprint, hash (as bytes), inode: all a result needs
# (records, content types in row order as indexes into the list that follows, entries whose stat
# moved while hashing, files hashed in full, bytes read)
Packed = tuple[bytes, bytes, list[str], dict[int, CacheEntry], int, int]


class _Work(NamedTuple):
    """What the hashing of one run's misses needs; forked workers inherit it instead of
    receiving it pickled."""

    files: Sequence[ScannedFile]
    misses: Sequence[int]  # positions in ``files`` that the cache cannot vouch for
    order: Sequence[int]  # miss numbers in the order they are handed out (big files first)
    prior: Table
    rows: dict[str, int]  # prior's path -> row index
    scheme: HashScheme


def _run_range(work: _Work, lo: int, hi: int) -> Packed:
    """Misses ``order[lo:hi]`` as compact results.

    Each one's job (content type, cached fingerprint) is made here, not by the caller, so that
    work is shared by the workers too; results cross a process boundary, and pickling 100,000
    named tuples costs more than hashing 100,000 small files, while 41 packed bytes do not.
    """
    out = bytearray()
    types = array("H")  # content type numbers: the mime table has under 65,536 types
    type_ids: dict[str, int] = {}
    moved: dict[int, CacheEntry] = {}
    hashed = read_total = 0
    pack = _RECORD.pack
    files, misses, prior, get, scheme = work.files, work.misses, work.prior, work.rows.get, work.scheme
    for k in range(lo, hi):
        path, abspath, size, mtime_ns, ctime_ns, _ = files[misses[work.order[k]]]
        ctype = content_type(path)
        known = None
        i = get(path)
        if i is not None and prior.sizes[i] == size and prior.ctypes[i] == ctype:
            known = (bytes(prior.xxh3[16 * i : 16 * i + 16]), prior.hashes[i])
        t = type_ids.get(ctype)
        if t is None:
            t = type_ids[ctype] = len(type_ids)
        types.append(t)
        try:
            r = read_digest(abspath, scheme, path, ctype, size, known)
        except OSError:
            pass  # hash_file below says what is wrong
        else:
            if _held(r, size, mtime_ns, ctime_ns):  # the common case, packed without a cache row
                out += pack(r.xxh3, bytes.fromhex(r.hash), r.stat.st_ino)
                hashed += r.full
                read_total += r.read
                continue
        entry, full, read = hash_file(abspath, path, size, mtime_ns, ctime_ns, ctype, known, scheme)
        if entry.size != size or entry.mtime_ns != mtime_ns or entry.ctime_ns != ctime_ns:
            moved[k] = entry
        out += pack(entry.xxh3, bytes.fromhex(entry.hash), entry.ino)
        hashed += full
        read_total += read
    return bytes(out), types.tobytes(), list(type_ids), moved, hashed, read_total


_SHARED: _Work | None = None  # set before forking; children inherit it


def _run_shared(lo: int, hi: int) -> Packed:
    assert _SHARED is not None
    return _run_range(_SHARED, lo, hi)


def _ranges(sizes: Sequence[int], parts: int) -> list[tuple[int, int]]:
    """Consecutive index ranges of about equal cost (bytes plus a per-file overhead)."""
    total = sum(sizes) + FILE_COST * len(sizes)
    target = max(MIN_BATCH_COST, total // (parts * 8) + 1)
    ranges: list[tuple[int, int]] = []
    lo = cost = 0
    for i, size in enumerate(sizes):
        cost += size + FILE_COST
        if cost >= target:
            ranges.append((lo, i + 1))
            lo, cost = i + 1, 0
    if lo < len(sizes):
        ranges.append((lo, len(sizes)))
    return ranges


def _parallel(work: _Work, sizes: Sequence[int], workers: int) -> Iterator[tuple[int, Packed]]:
    """Run the work on ``workers`` processes where fork is safe (no other threads), else threads.

    Per-file work on small files is Python holding the GIL, so threads fight over it (measured:
    two threads are slower than one on 100,000 small files); forked processes do not, and they
    inherit the work instead of receiving it pickled.
    """
    from concurrent.futures import Executor, ThreadPoolExecutor  # only runs that hash much pay for it

    global _SHARED
    ranges = _ranges(sizes, workers)
    if hasattr(os, "fork") and threading.active_count() == 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _SHARED = work
        try:
            pool: Executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            futures = [pool.submit(_run_shared, lo, hi) for lo, hi in ranges]
        finally:
            _SHARED = None  # the children have their copy; the parent keeps no reference
    else:
        pool = ThreadPoolExecutor(workers, "assetsync-hash")
        futures = [pool.submit(_run_range, work, lo, hi) for lo, hi in ranges]
    try:
        for (lo, _), future in zip(ranges, futures, strict=True):
            yield lo, future.result()
    finally:
        pool.shutdown(cancel_futures=True)


class Hashed(NamedTuple):
    """The misses' new rows, one column per field, by miss number."""

    xxh3: bytearray  # 16 bytes a miss
    hashes: list[str]
    inos: list[int]
    types: list[str]
    moved: dict[int, CacheEntry]  # misses whose stat moved while they were read: their row as read
    hashed: int  # files hashed in full (the others were verified by fingerprint)
    bytes_read: int


def hash_misses(
    files: Sequence[ScannedFile],
    misses: Sequence[int],
    prior: Table,
    rows: dict[str, int],
    scheme: HashScheme,
    workers: int,
) -> Hashed:
    """Hash the files at positions ``misses`` of ``files``; ``prior`` (with ``rows``, its path ->
    row index) lends each its fingerprint and hash to verify against. ``workers`` 0: one a core."""
    n = len(misses)
    miss_sizes = [files[pos][2] for pos in misses]
    if n < INLINE_FILES and sum(miss_sizes) < INLINE_BYTES:
        order: Sequence[int] = range(n)
        work = _Work(files, misses, order, prior, rows, scheme)
        results: Iterable[tuple[int, Packed]] = [(0, _run_range(work, 0, n))]
    else:
        order = sorted(range(n), key=miss_sizes.__getitem__, reverse=True)  # the pool's tail: small files
        work = _Work(files, misses, order, prior, rows, scheme)
        results = _parallel(work, [miss_sizes[m] for m in order], workers or os.cpu_count() or 1)

    out = Hashed(bytearray(16 * n), [""] * n, [0] * n, [""] * n, {}, 0, 0)
    fps, digests, inos, m_types = out.xxh3, out.hashes, out.inos, out.types
    hashed = bytes_read = 0
    for lo, (records, types, names, moved, n_hashed, n_read) in results:
        hashed += n_hashed
        bytes_read += n_read
        numbers = array("H", types)
        for k, (fp, digest, ino), t in zip(
            range(lo, lo + len(numbers)), _RECORD.iter_unpack(records), numbers, strict=True
        ):
            m = order[k]
            fps[16 * m : 16 * m + 16] = fp
            digests[m] = digest.hex()
            inos[m] = ino
            m_types[m] = names[t]
        for k, entry in moved.items():
            out.moved[order[k]] = entry
    return out._replace(hashed=hashed, bytes_read=bytes_read)
