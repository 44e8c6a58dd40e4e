"""Turn a folder into a :class:`Manifest`: scan, check limits, hash what the cache cannot vouch
for (:mod:`.refresh`), and keep the result current as files change (:class:`Builder`, watch mode).

The build's values live in :mod:`.buildtypes` and are re-exported here, where the package and
its users import them from.
"""

from __future__ import annotations

import gc
import os
import stat as stat_mod
import time
from collections.abc import Iterable
from types import MappingProxyType

from ..errors import CacheError, UnreadablePath
from ..protocol import FREE_PLAN_FILES
from ..protocol.manifestjson import entry_json, session_body
from .buildtypes import BuildOptions, BuildResult, BuildStats
from .cache import HashCache, Table, cache_file, default_cache_dir
from .hashing import HashScheme
from .ignore import ROOT_CONFIG_FILES, IgnoreRules, looks_secret
from .limits import check_count, check_sizes
from .manifest import Entry, Manifest
from .refresh import hash_files, hash_touched
from .scan import ScannedFile, Warn, check_path, check_root, scan

__all__ = ["BuildOptions", "BuildResult", "BuildStats", "Builder", "build", "build_manifest"]

_new_entry = tuple.__new__  # skips NamedTuple's argument handling: this runs once per file


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
    paths, hashes, sizes = table.paths, table.hashes, table.sizes
    order = sorted(range(len(paths)), key=paths.__getitem__)
    body = session_body([entry_json(paths[i], hashes[i], sizes[i]) for i in order])
    return Manifest.deferred(lambda: _entries_of(table), body, len(paths), sum(sizes))


def _under(key: str, folders: set[str]) -> bool:
    """Whether manifest key ``key`` lies inside one of the folder keys ``folders``."""
    cut = key.rfind("/")
    while cut > 0:
        if key[:cut] in folders:
            return True
        cut = key.rfind("/", 0, cut)
    return False


def _folders_of(keys: Iterable[str], known: set[str] | None = None) -> set[str]:
    """The folder keys holding ``keys`` (``/a/b/c`` is held by ``/a/b`` and ``/a``), added to
    ``known`` (a copy)."""
    out = set(known or ())
    for key in keys:
        cut = key.rfind("/")
        while cut > 0 and (folder := key[:cut]) not in out:
            out.add(folder)
            cut = key.rfind("/", 0, cut)
    return out


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
        # Every folder key that holds, or held, one of ``files``: a changed path that is neither a
        # file nor one of these (an editor's temp file, gone) cannot have a subtree to drop.
        self._folders: set[str] = set()
        self._files_table: Table | None = None  # the cache rows of ``files``, as the last build left them
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
        return self._finish({f.path: f for f in files}, t0, _folders_of(f.path for f in files))

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
        folders = {k for k in wanted if k not in files and k in self._folders}
        for key in wanted:
            files.pop(key, None)
        touched = set(wanted)
        if folders:
            for stale in [k for k in files if _under(k, folders)]:
                del files[stale]
                touched.add(stale)
        added: list[str] = []
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
                subtree = scan(self.root, self.rules, self.warn, under=rel)
                files.update((f.path, f) for f in subtree)
                added += (f.path for f in subtree)
            elif stat_mod.S_ISREG(st.st_mode):
                check_path(base + "/", rel, folder=False)
                if looks_secret(os.path.basename(rel)):
                    self.warn(self.rules.secret_warning(abspath))
                files[key] = ScannedFile(key, abspath, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                added.append(key)
        touched.update(added)
        return self._finish(files, t0, _folders_of(added, self._folders), touched)

    def _manifest(self, table: Table) -> Manifest:
        """The manifest of ``table``; from the previous one when only a few rows changed."""
        prev = self.manifest
        if prev is None or table.changed is None:
            self._fragments = None
            return _manifest_of(table)
        src = prev._entries  # a read-only view: its dict's own copy is a memcpy, dict(view) is not
        entries = src.copy() if isinstance(src, MappingProxyType) else dict(src)
        if self._fragments is None:  # each entry's piece of the JSON, kept to patch, not rebuild
            self._fragments = {k: entry_json(k, e.hash, e.size) for k, e in entries.items()}
        fragments = self._fragments
        index = table.index()
        total, added = prev.total_bytes, False
        for path in table.changed:
            i = index.get(path)
            old = entries.pop(path, None) if i is None else entries.get(path)
            total -= old.size if old is not None else 0
            if i is None:
                fragments.pop(path, None)
            else:
                digest, size = table.hashes[i], table.sizes[i]
                entries[path] = _new_entry(Entry, (digest, size, table.ctypes[i]))
                fragments[path] = entry_json(path, digest, size)
                total += size
                added = added or old is None
        if added:  # new keys went to the end: sort the keys (nearly sorted already: cheap)
            entries = {k: entries[k] for k in sorted(entries)}
        manifest = Manifest.presorted(entries, total)
        manifest._json = session_body([fragments[k] for k in entries])
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

    def _finish(
        self, files: dict[str, ScannedFile], t0: float, folders: set[str], touched: set[str] | None = None
    ) -> BuildResult:
        """Hash what changed and make the manifest; ``touched``: the only keys whose entry in
        ``files`` may differ from the last build's (an update), so only they are compared."""
        o = self.options
        listed = list(files.values())
        check_sizes(listed, o.max_file_size)
        check_count(listed, o.max_files)
        store = self.store
        if touched is not None and store.table is self._files_table:
            table, hashed, verified, bytes_read = hash_touched(
                files, touched, o.scheme, store.table, o.workers, time.time_ns()
            )
        else:
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
        self.files, self._folders, self._files_table = files, folders, table
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
