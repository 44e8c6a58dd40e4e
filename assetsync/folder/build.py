"""Turn a folder into a :class:`Manifest`: scan, check limits, hash what the cache cannot vouch for.

Big jobs are hashed on forked worker processes (threads where forking is unsafe): the per-file
work on small files is Python holding the GIL, so only processes use both cores there. Work is
cut into ranges of about equal cost, big files first, so the pool's tail is short files.
"""

from __future__ import annotations

import gc
import os
import stat as stat_mod
import struct
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import xxhash
from xxhash import xxh3_128_digest

from ..errors import CacheError, UnreadablePath
from ..protocol import FREE_PLAN_FILES, MAX_FILE_SIZE
from ..protocol.contenttypes import content_type
from .cache import RACY_WINDOW_NS, CacheEntry, HashCache, Table, cache_file, default_cache_dir
from .hashing import CHUNK, HashScheme, stream_into
from .ignore import ROOT_CONFIG_FILES, IgnoreRules
from .limits import check_count, check_sizes
from .manifest import Entry, Manifest
from .scan import ScannedFile, check_path, check_root, scan

Warn = Callable[[str], None]
ATTEMPTS = 3  # reads of a file that keeps changing under us before giving up
INLINE_FILES = 2000  # below this many files and INLINE_BYTES to read, a pool costs more than it saves
INLINE_BYTES = 32 << 20
FILE_COST = 16384  # per-file overhead, in byte-equivalents, when balancing batches
MIN_BATCH_COST = 4 << 20
_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


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


# A job: (abspath, manifest key, size, mtime_ns, ctime_ns, content type, cached fingerprint and
# hash when the cache has an entry of the same size and type, else None)
Job = tuple[str, str, int, int, int, str, "tuple[bytes, str] | None"]
# A result: (manifest key, new cache entry, fully hashed?, bytes read)
Done = tuple[str, CacheEntry, bool, int]
_new_entry = tuple.__new__


def _hash_job(job: Job, scheme: HashScheme) -> Done:
    """Hash (or fingerprint-verify against its cache entry) one file.

    The file is read through a bare descriptor (``os.open``/``os.read``: a Python file object
    costs more than hashing a small file). Small files are read in one call and serve both the
    fingerprint and, if it differs from the cached one, the hash. The stat after reading must
    equal the one the file was scanned with; if the file changed meanwhile it is read again.
    """
    abspath, path, size, mtime_ns, ctime_ns, ctype, known = job
    known_fp, known_hash = known if known is not None else (None, "")
    try:
        for attempt in range(ATTEMPTS):
            if attempt:
                st = os.stat(abspath)
                size, mtime_ns, ctime_ns = st.st_size, st.st_mtime_ns, st.st_ctime_ns
            fd = os.open(abspath, _O_READ)
            try:
                if size <= CHUNK:
                    data = os.read(fd, size + 1)  # one byte more: a file that grew shows itself
                    after = os.fstat(fd)
                    read = len(data)
                    fp = xxh3_128_digest(data)
                    if fp == known_fp:
                        digest, full = known_hash, False
                    else:
                        d = scheme.new(path, ctype)
                        d.update(data)
                        digest, full = d.hexdigest()[:32], True
                else:
                    fph = xxhash.xxh3_128()
                    if known_fp is not None:
                        read = stream_into(fd, fph)
                        fp = fph.digest()
                        if fp == known_fp:
                            digest, full = known_hash, False
                        else:
                            os.lseek(fd, 0, os.SEEK_SET)
                            fph = xxhash.xxh3_128()
                            d = scheme.new(path, ctype)
                            read += stream_into(fd, fph, d)
                            fp, digest, full = fph.digest(), d.hexdigest()[:32], True
                    else:
                        d = scheme.new(path, ctype)
                        read = stream_into(fd, fph, d)
                        fp, digest, full = fph.digest(), d.hexdigest()[:32], True
                    after = os.fstat(fd)
            finally:
                os.close(fd)
            if after.st_size == size and after.st_mtime_ns == mtime_ns and after.st_ctime_ns == ctime_ns:
                if size <= CHUNK and read != size:
                    continue  # a short read under a stat that did not move: read once more
                entry = _new_entry(
                    CacheEntry, (size, mtime_ns, ctime_ns, after.st_ino, fp, ctype, digest, False)
                )
                return path, entry, full, read
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
        if size <= CHUNK:
            # The common case inline (most sites are mostly small files): one read, and the
            # stat after it must be the scan's; anything else takes the general path below.
            try:
                fd = os.open(abspath, _O_READ)
                try:
                    data = os.read(fd, size + 1)
                    after = os.fstat(fd)
                finally:
                    os.close(fd)
            except OSError:
                pass  # the general path says what is wrong
            else:
                if (
                    len(data) == size
                    and after.st_size == size
                    and after.st_mtime_ns == mtime_ns
                    and after.st_ctime_ns == ctime_ns
                ):
                    fp = xxh3_128_digest(data)
                    if known is not None and fp == known[0]:
                        digest = known[1]
                    else:
                        d = scheme.new(path, ctype)
                        d.update(data)
                        digest = d.hexdigest()[:32]
                        hashed += 1
                    out += pack(fp, bytes.fromhex(digest), after.st_ino)
                    read_total += size
                    continue
        _, entry, full, read = _hash_job((abspath, path, size, mtime_ns, ctime_ns, ctype, known), scheme)
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
    miss_sizes = [files[pos][2] for pos in misses]
    if n < INLINE_FILES and sum(miss_sizes) < INLINE_BYTES:
        order: Sequence[int] = range(n)
        work = _Work(files, misses, order, prior, index, scheme)
        results: Iterable[tuple[int, Packed]] = [(0, _run_range(work, 0, n))]
    else:
        order = sorted(range(n), key=miss_sizes.__getitem__, reverse=True)  # the pool's tail: small files
        work = _Work(files, misses, order, prior, index, scheme)
        results = _parallel(work, [miss_sizes[m] for m in order], workers or os.cpu_count() or 1)

    # Each miss's result, by miss number.
    fps = bytearray(16 * n)
    digests = [""] * n
    m_inos = [0] * n
    m_types = [""] * n
    moved_rows: dict[int, CacheEntry] = {}
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
            m_inos[m] = ino
            m_types[m] = names[t]
        for k, entry in moved.items():
            moved_rows[order[k]] = entry

    if n * 8 < len(files) and len(prior):
        # A few changes (watch mode): copy the columns wholesale and patch the rows that moved.
        table = prior.copy()
        for m, pos in enumerate(misses):
            table.put(files[pos][0], _miss_entry(files[pos], m, fps, digests, m_inos, m_types, racy_after))
        for m, entry in moved_rows.items():
            table.put(files[misses[m]][0], entry._replace(racy=entry.mtime_ns >= racy_after))
        if len(table) != len(files):
            table.keep({f.path for f in files})
        return table, hashed, n - hashed, bytes_read
    if n == len(files):
        # Every file read (a first run, or every stat changed): the columns in one go each.
        table = Table()
        table.paths = [f[0] for f in files]
        table.sizes = [f[2] for f in files]
        table.mtimes = [f[3] for f in files]
        table.ctimes = [f[4] for f in files]
        table.inos, table.xxh3, table.ctypes, table.hashes = m_inos, fps, m_types, digests
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
                table.append(f[0], _miss_entry(f, m, fps, digests, m_inos, m_types, racy_after))
    for m, entry in moved_rows.items():
        table.put(files[misses[m]][0], entry._replace(racy=entry.mtime_ns >= racy_after))
    return table, hashed, n - hashed, bytes_read


def _miss_entry(
    f: ScannedFile,
    m: int,
    fps: bytearray,
    digests: list[str],
    inos: list[int],
    types: list[str],
    racy_after: int,
) -> CacheEntry:
    """The new cache row of miss ``m``, file ``f``, whose stat held while it was read."""
    return _new_entry(
        CacheEntry,
        (
            f[2],
            f[3],
            f[4],
            inos[m],
            bytes(fps[16 * m : 16 * m + 16]),
            types[m],
            digests[m],
            f[3] >= racy_after,
        ),
    )


def _entries_of(table: Table) -> dict[str, Entry]:
    new = _new_entry
    return {
        p: new(Entry, (h, s, t))
        for p, h, s, t in zip(table.paths, table.hashes, table.sizes, table.ctypes, strict=True)
    }


def build(root: str, options: BuildOptions | None = None, warn: Warn | None = None) -> BuildResult:
    """Scan ``root`` and return its manifest with what it cost; see :class:`BuildOptions`."""
    options = options or BuildOptions()
    warnings: list[str] = []

    def note(msg: str) -> None:
        warnings.append(msg)
        if warn is not None:
            warn(msg)

    # Building allocates a few objects per file and frees almost none: the cyclic GC would
    # only rescan them (measured: ~20% of a warm run on 100,000 files).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(root, options, note, warnings)
    finally:
        if gc_was_enabled:
            gc.enable()


def _build(root: str, options: BuildOptions, note: Warn, warnings: list[str]) -> BuildResult:
    builder = Builder(root, options, note)
    result = builder.full()
    return BuildResult(result.manifest, result.stats, tuple(warnings), result.root, result.table)


def _manifest_of(table: Table) -> Manifest:
    """The manifest of ``table``, its JSON written straight from the columns: printing or sending
    it needs no entry objects (about 0.1 s on 100,000 files); they are made if asked for."""
    from json.encoder import encode_basestring as enc

    paths, hashes, sizes = table.paths, table.hashes, table.sizes
    order = sorted(range(len(paths)), key=paths.__getitem__)
    body = ",".join([f'{enc(paths[i])}:{{"hash":"{hashes[i]}","size":{sizes[i]}}}' for i in order])
    return Manifest.deferred(
        lambda: _entries_of(table), '{"manifest":{' + body + "}}", len(paths), sum(sizes)
    )


def _under(key: str, folders: set[str]) -> bool:
    """Whether manifest key ``key`` lies inside one of the folder keys ``folders``."""
    cut = key.rfind("/")
    while cut > 0:
        if key[:cut] in folders:
            return True
        cut = key.rfind("/", 0, cut)
    return False


class Builder:
    """Builds a folder's manifest and keeps it current: :meth:`full`, then :meth:`update` with
    the paths that changed (watch mode). Both go through the hash cache; ``update`` re-reads
    only the paths it is given and keeps every other file's row from memory.
    """

    def __init__(self, root: str, options: BuildOptions, warn: Warn, save_every: float = 0.0) -> None:
        """``save_every``: at most one cache write per that many seconds (watch mode saves on
        :meth:`flush` too); 0 writes after every build that changed something."""
        self.root = check_root(root)
        self.options = options
        self.warn = warn
        self.save_every = save_every
        self._saved_at = 0.0
        self._unsaved: tuple[Table, Manifest] | None = None
        self.manifest: Manifest | None = None
        self._fragments: dict[str, str] | None = None
        self.cache_dir = (options.cache_dir or default_cache_dir()) if options.use_cache else None
        scheme = options.scheme
        self.store = HashCache(
            cache_file(self.cache_dir, self.root, scheme.cache_key) if self.cache_dir else None,
            scheme.cache_key,
            warn,
        )
        self.files: dict[str, ScannedFile] = {}
        self.rules = self._rules()

    def _rules(self) -> IgnoreRules:
        o = self.options
        return IgnoreRules.load(
            self.root, o.ignore, o.default_ignores, exclude_dirs=[self.cache_dir] if self.cache_dir else []
        )

    def full(self, reload_rules: bool = False) -> BuildResult:
        """Scan everything (again); ``reload_rules`` re-reads .assetsignore first."""
        t0 = time.perf_counter()
        if reload_rules:
            self.rules = self._rules()
        files = scan(self.root, self.rules, self.warn)
        return self._finish({f.path: f for f in files}, t0)

    def update(self, changed: Iterable[str]) -> BuildResult:
        """Re-stat the absolute paths in ``changed`` (a folder: its whole subtree) and rebuild.

        A path that no longer exists drops out with everything under it; a path the ignore
        rules exclude drops out too.
        """
        t0 = time.perf_counter()
        base = self.root.rstrip("/")
        wanted: dict[str, str] = {}  # manifest key -> absolute path
        for abspath in set(changed):
            if abspath == base:
                return self.full()
            if abspath.startswith(base + "/"):
                wanted[abspath[len(base) :]] = abspath
        files = dict(self.files)
        # A key that is not a known file may be a folder (or have been one): its subtree goes too.
        # Checking each file's parents against them is one pass, however many paths changed.
        folders = {k for k in wanted if k not in files}
        for key in wanted:
            files.pop(key, None)
        if folders:
            for stale in [k for k in files if _under(k, folders)]:
                del files[stale]
        for key in sorted(wanted):
            abspath, rel = wanted[key], key[1:]
            if self._ignored(rel):
                continue
            try:
                st = os.stat(abspath)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise UnreadablePath(
                    f"{abspath}: cannot be read ({exc.strerror}). Fix its permissions or add it to "
                    ".assetsignore.",
                    abspath,
                ) from None
            if stat_mod.S_ISDIR(st.st_mode):
                check_path(base + "/", rel, folder=True)
                files.update((f.path, f) for f in scan(self.root, self.rules, self.warn, under=rel))
            elif stat_mod.S_ISREG(st.st_mode):
                check_path(base + "/", rel, folder=False)
                files[key] = ScannedFile(key, abspath, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        return self._finish(files, t0)

    def _manifest(self, table: Table) -> Manifest:
        """The manifest of ``table``; from the previous one when only a few rows changed."""
        prev = self.manifest
        if prev is None or table.changed is None:
            self._fragments = None
            return _manifest_of(table)
        from json.encoder import encode_basestring as enc

        entries = dict(prev._entries)
        if self._fragments is None:  # each entry's piece of the JSON, kept to patch, not rebuild
            self._fragments = {
                k: f'{enc(k)}:{{"hash":"{e.hash}","size":{e.size}}}' for k, e in entries.items()
            }
        fragments = self._fragments
        index = table.index()
        for path in table.changed:
            i = index.get(path)
            if i is None:
                entries.pop(path, None)
                fragments.pop(path, None)
            else:
                digest, size = table.hashes[i], table.sizes[i]
                entries[path] = _new_entry(Entry, (digest, size, table.ctypes[i]))
                fragments[path] = f'{enc(path)}:{{"hash":"{digest}","size":{size}}}'
        manifest = Manifest(entries)  # re-sorting a nearly sorted dict is cheap
        manifest._json = '{"manifest":{' + ",".join(fragments[k] for k in manifest._entries) + "}}"
        return manifest

    def flush(self) -> None:
        """Write the cache now if a build changed it since the last write."""
        if self._unsaved is None:
            return
        table, manifest = self._unsaved
        self._unsaved = None
        self._saved_at = time.monotonic()
        if self.store.path is not None:
            try:
                self.store.save(table, manifest.to_json(), manifest.total_bytes)
            except CacheError as exc:
                self.warn(str(exc))

    def _ignored(self, rel: str) -> bool:
        parts = rel.split("/")
        if len(parts) == 1 and parts[0] in ROOT_CONFIG_FILES:
            return True
        for i in range(1, len(parts)):
            if self.rules.skip_dir("/".join(parts[:i]), parts[i - 1]):
                return True
        return self.rules.skip_file(rel, parts[-1])

    def _finish(self, files: dict[str, ScannedFile], t0: float) -> BuildResult:
        o = self.options
        listed = list(files.values())
        check_sizes(listed, o.max_file_size)
        check_count(listed, o.max_files)
        store = self.store
        table, hashed, verified, bytes_read = hash_files(
            listed, o.scheme, store.table, o.workers, time.time_ns()
        )
        if table is store.table and store.manifest_json and self.manifest is None:
            # Same files, same stats: the manifest is the one saved last time.
            manifest = Manifest.deferred(
                lambda: _entries_of(table), store.manifest_json, len(table), store.total_bytes
            )
        elif table is store.table and self.manifest is not None:
            manifest = self.manifest
        else:
            manifest = self._manifest(table)
            store.table = table
            self._unsaved = (table, manifest)
            if time.monotonic() - self._saved_at >= self.save_every:
                self.flush()
        self.files = files
        self.manifest = manifest
        stats = BuildStats(
            files=len(manifest),
            bytes=manifest.total_bytes,
            hashed=hashed,
            verified=verified,
            cached=len(manifest) - hashed - verified,
            bytes_read=bytes_read,
            seconds=time.perf_counter() - t0,
        )
        return BuildResult(manifest, stats, (), self.root.rstrip("/"), table)


def build_manifest(
    root: str,
    *,
    scheme: str = "sha256",
    tenant: str | None = None,
    ignore: Iterable[str] = (),
    default_ignores: bool = True,
    max_files: int = FREE_PLAN_FILES,
    cache: bool = True,
    cache_dir: str | None = None,
    warn: Warn | None = None,
) -> Manifest:
    """The manifest of the asset folder ``root``.

    ``tenant`` salts the default ``sha256`` scheme so tenants never share blobs; ``scheme``
    ``"wrangler"`` reproduces wrangler's hashes instead. Raises the errors in
    :mod:`assetsync.errors` (limits, unreadable paths, bad ignore files); cache trouble is only
    passed to ``warn``.
    """
    options = BuildOptions(
        scheme=HashScheme(scheme, tenant or ""),
        ignore=tuple(ignore),
        default_ignores=default_ignores,
        max_files=max_files,
        use_cache=cache,
        cache_dir=cache_dir,
    )
    return build(root, options, warn).manifest
