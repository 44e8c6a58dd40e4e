"""Turn a folder into a :class:`Manifest`: scan, check limits, hash what the cache cannot vouch for.

Hashing runs on a small thread pool: ``hashlib`` and ``xxhash`` drop the GIL for large updates
and reads release it, so two cores share big files; small files are batched so the pool's
overhead stays below the cost of the work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import xxhash

from .cache import RACY_WINDOW_NS, CacheEntry, HashCache, cache_file, default_cache_dir
from .contenttypes import content_type
from .errors import CacheError, UnreadablePath
from .hashing import CHUNK, HashScheme, read_digest
from .ignore import IgnoreRules
from .limits import FREE_PLAN_FILES, MAX_FILE_SIZE, check_count, check_sizes
from .manifest import Entry, Manifest
from .scan import ScannedFile, check_root, scan

Warn = Callable[[str], None]
ATTEMPTS = 3  # reads of a file that keeps changing under us before giving up
INLINE_BYTES = 8 << 20  # below this much to read, a thread pool costs more than it saves


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


@dataclass(frozen=True, slots=True)
class BuildResult:
    manifest: Manifest
    stats: BuildStats
    warnings: tuple[str, ...]


def _read_attempts(f: ScannedFile) -> Iterable[tuple[int, int, int]]:
    """Stat triples to read under: the scan's first, then fresh ones if the file moved on."""
    yield f.size, f.mtime_ns, f.ctime_ns
    for _ in range(ATTEMPTS - 1):
        st = os.stat(f.abspath)
        yield st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _hash_one(
    f: ScannedFile, scheme: HashScheme, ctype: str, known: CacheEntry | None
) -> tuple[CacheEntry, bool, int]:
    """Hash (or fingerprint-verify) one file: (new cache entry, fully hashed?, bytes read)."""
    try:
        for size, mtime_ns, ctime_ns in _read_attempts(f):
            if known is not None and known.size == size and known.content_type == ctype:
                if size <= CHUNK:
                    # One read serves both the fingerprint and, if needed, the hash.
                    with open(f.abspath, "rb", buffering=0) as fh:
                        data = fh.read()
                        after = os.fstat(fh.fileno())
                    fp = xxhash.xxh3_128_digest(data)
                    if fp == known.xxh3:
                        digest, full = known.hash, False
                    else:
                        d = scheme.new(f.path, ctype)
                        d.update(data)
                        digest, full = d.hexdigest()[:32], True
                    read = len(data)
                else:
                    _, fp, after = read_digest(f.abspath, scheme, f.path, ctype, want_hash=False)
                    read = size
                    if fp == known.xxh3:
                        digest, full = known.hash, False
                    else:
                        got, fp, after = read_digest(f.abspath, scheme, f.path, ctype)
                        assert got is not None
                        digest, full, read = got, True, read + size
            else:
                got, fp, after = read_digest(f.abspath, scheme, f.path, ctype)
                assert got is not None
                digest, full, read = got, True, size
            if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) == (size, mtime_ns, ctime_ns):
                entry = CacheEntry(size, mtime_ns, ctime_ns, after.st_ino, fp, ctype, digest, False)
                return entry, full, read
    except FileNotFoundError:
        raise UnreadablePath(
            f"{f.abspath}: disappeared while the site was being scanned. Run again once the "
            "folder has stopped changing.",
            f.abspath,
        ) from None
    except OSError as exc:
        raise UnreadablePath(
            f"{f.abspath}: cannot be read ({exc.strerror}). Fix its permissions or add it to .assetsignore.",
            f.abspath,
        ) from None
    raise UnreadablePath(
        f"{f.abspath}: kept changing while it was being read ({ATTEMPTS} attempts). Run again "
        "once whatever writes it has finished.",
        f.abspath,
    )


def _batches(work: Sequence[tuple[ScannedFile, CacheEntry | None]]) -> list[list[int]]:
    """Indices of ``work`` grouped so each batch reads roughly the same amount."""
    order = sorted(range(len(work)), key=lambda i: -work[i][0].size)
    batches: list[list[int]] = []
    current: list[int] = []
    budget = 0
    for i in order:
        current.append(i)
        budget += work[i][0].size + 16384  # per-file overhead, in byte-equivalents
        if budget >= 4 << 20 or len(current) >= 256:
            batches.append(current)
            current, budget = [], 0
    if current:
        batches.append(current)
    return batches


def hash_files(
    files: Sequence[ScannedFile],
    scheme: HashScheme,
    cache: dict[str, CacheEntry],
    workers: int = 0,
    now_ns: int | None = None,
) -> tuple[dict[str, CacheEntry], int, int, int]:
    """Cache entries for ``files``: (entries by manifest key, hashed, verified, bytes read).

    ``cache`` holds the previous entries; those whose stat still matches are reused unread.
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    racy_after = now_ns - RACY_WINDOW_NS
    out: dict[str, CacheEntry] = {}
    work: list[tuple[ScannedFile, CacheEntry | None]] = []
    get = cache.get
    for f in files:
        e = get(f.path)
        if (
            e is not None
            and not e.racy
            and e.mtime_ns == f.mtime_ns
            and e.size == f.size
            and e.ctime_ns == f.ctime_ns
            and e.ino == f.ino
            and e.content_type == content_type(f.path)
        ):
            out[f.path] = e
        else:
            work.append((f, e))

    def run(batch: list[int]) -> list[tuple[str, CacheEntry, bool, int]]:
        res = []
        for i in batch:
            f, known = work[i]
            entry, full, read = _hash_one(f, scheme, content_type(f.path), known)
            res.append((f.path, entry, full, read))
        return res

    hashed = bytes_read = 0

    def collect(results: Iterable[list[tuple[str, CacheEntry, bool, int]]]) -> None:
        nonlocal hashed, bytes_read
        for batch_result in results:
            for path, entry, full, read in batch_result:
                out[path] = entry._replace(racy=True) if entry.mtime_ns >= racy_after else entry
                hashed += full
                bytes_read += read

    batches = _batches(work)
    if sum(f.size for f, _ in work) < INLINE_BYTES and len(work) < 512:
        collect(map(run, batches))
    else:
        pool = ThreadPoolExecutor(workers or min(8, (os.cpu_count() or 1) + 1), "assetsync-hash")
        try:
            collect(pool.map(run, batches))
        finally:
            pool.shutdown(cancel_futures=True)
    return out, hashed, len(work) - hashed, bytes_read


def build(root: str, options: BuildOptions | None = None, warn: Warn | None = None) -> BuildResult:
    """Scan ``root`` and return its manifest with what it cost; see :class:`BuildOptions`."""
    options = options or BuildOptions()
    warnings: list[str] = []

    def note(msg: str) -> None:
        warnings.append(msg)
        if warn is not None:
            warn(msg)

    t0 = time.perf_counter()
    now_ns = time.time_ns()
    cache_dir = options.cache_dir or default_cache_dir() if options.use_cache else None
    root = check_root(root)
    rules = IgnoreRules.load(
        root, options.ignore, options.default_ignores, exclude_dirs=[cache_dir] if cache_dir else []
    )
    files = scan(root, rules, note)
    check_sizes(files, options.max_file_size)
    check_count(files, options.max_files)

    scheme = options.scheme
    store = HashCache(
        cache_file(cache_dir, root, scheme.cache_key) if cache_dir else None, scheme.cache_key, note
    )
    entries, hashed, verified, bytes_read = hash_files(files, scheme, store.entries, options.workers, now_ns)
    if entries != store.entries:
        try:
            store.save(entries)
        except CacheError as exc:
            note(str(exc))
    manifest = Manifest({p: Entry(e.hash, e.size, e.content_type) for p, e in entries.items()})
    stats = BuildStats(
        files=len(manifest),
        bytes=manifest.total_bytes,
        hashed=hashed,
        verified=verified,
        cached=len(manifest) - hashed - verified,
        bytes_read=bytes_read,
        seconds=time.perf_counter() - t0,
    )
    return BuildResult(manifest, stats, tuple(warnings))


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
