"""The hash cache: hits skip reads, touches cost a fingerprint, and it never changes a result."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from assetsync.folder.build import BuildOptions, build
from assetsync.folder.cache import MAGIC, RACY_WINDOW_NS, HashCache, Table, cache_file
from assetsync.folder.hashing import HashScheme
from assetsync.folder.ignore import IgnoreRules
from assetsync.folder.refresh import hash_files, hash_touched
from assetsync.folder.scan import scan

from ..helpers import PAST, backdate, make_tree

SITE: dict[str, bytes | str] = {
    "index.html": "<h1>hi</h1>",
    "css/a.css": "a{}",
    "big.bin": os.urandom(3_000_000),
    "e.txt": "",
}


def run(root: Path, cache_dir: Path, **kw: object) -> tuple[object, list[str]]:
    warnings: list[str] = []
    res = build(str(root), BuildOptions(cache_dir=str(cache_dir), **kw), warn=warnings.append)  # type: ignore[arg-type]
    return res, warnings


def uncached(root: Path) -> object:
    return build(str(root), BuildOptions(use_cache=False)).manifest


def test_warm_run_reads_nothing(tmp_path: Path, cache_dir: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    first, _ = run(site, cache_dir)
    assert (first.stats.hashed, first.stats.cached) == (4, 0)  # type: ignore[attr-defined]
    second, warnings = run(site, cache_dir)
    assert (second.stats.hashed, second.stats.verified, second.stats.cached) == (0, 0, 4)  # type: ignore[attr-defined]
    assert second.stats.bytes_read == 0  # type: ignore[attr-defined]
    assert second.manifest == first.manifest == uncached(site)  # type: ignore[attr-defined]
    assert warnings == []


def test_touched_files_are_verified_not_rehashed(tmp_path: Path, cache_dir: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    first, _ = run(site, cache_dir)
    backdate(site, PAST + 100)
    touched, _ = run(site, cache_dir)
    assert (touched.stats.hashed, touched.stats.verified) == (0, 4)  # type: ignore[attr-defined]
    assert touched.manifest == first.manifest  # type: ignore[attr-defined]
    again, _ = run(site, cache_dir)
    assert again.stats.cached == 4  # type: ignore[attr-defined]


def test_edited_file_is_rehashed(tmp_path: Path, cache_dir: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    run(site, cache_dir)
    make_tree(site, {"css/a.css": "b{}", "big.bin": os.urandom(3_000_000)}, mtime=PAST + 5)
    res, _ = run(site, cache_dir)
    assert (res.stats.hashed, res.stats.cached) == (2, 2)  # type: ignore[attr-defined]
    assert res.manifest == uncached(site)  # type: ignore[attr-defined]


def test_same_size_edit_with_same_stat_is_caught_when_racy(tmp_path: Path, cache_dir: Path) -> None:
    # A file written "now" is racy: the next run fingerprints it even if its stat is unchanged.
    site = make_tree(tmp_path / "s", {"a.txt": "one"}, mtime=None)
    first, _ = run(site, cache_dir)
    st = os.stat(site / "a.txt")
    (site / "a.txt").write_text("two")  # same size, then force the old timestamps back
    os.utime(site / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    second, _ = run(site, cache_dir)
    assert second.manifest == uncached(site)  # type: ignore[attr-defined]
    assert second.manifest["/a.txt"].hash != first.manifest["/a.txt"].hash  # type: ignore[attr-defined]


def test_old_entries_are_trusted_on_stat(tmp_path: Path, cache_dir: Path) -> None:
    # The flip side of the racy guard: an entry older than the window is trusted without reading.
    site = make_tree(tmp_path / "s", {"a.txt": "one"})
    run(site, cache_dir)
    res, _ = run(site, cache_dir)
    assert res.stats.cached == 1  # type: ignore[attr-defined]


def test_file_changed_between_scan_and_read_gets_its_new_content(tmp_path: Path) -> None:
    site = make_tree(tmp_path / "s", {"a.txt": "before"})
    files = scan(str(site), IgnoreRules(), print)
    make_tree(site, {"a.txt": "after, and longer"}, mtime=PAST + 7)
    table, hashed, _, _ = hash_files(files, HashScheme())
    entries = table.entries()
    assert hashed == 1
    assert entries["/a.txt"].size == len("after, and longer")
    assert entries["/a.txt"].mtime_ns == (PAST + 7) * 10**9
    assert entries["/a.txt"].hash == uncached(site)["/a.txt"].hash  # type: ignore[index]


def test_corrupt_cache_is_discarded_with_a_warning(tmp_path: Path, cache_dir: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    run(site, cache_dir)
    (path,) = cache_dir.iterdir()
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF
    path.write_bytes(bytes(blob))
    res, warnings = run(site, cache_dir)
    assert res.manifest == uncached(site)  # type: ignore[attr-defined]
    assert res.stats.hashed == 4  # type: ignore[attr-defined]
    assert len(warnings) == 1 and "corrupt or foreign (checksum mismatch)" in warnings[0]
    res, warnings = run(site, cache_dir)  # rewritten cleanly
    assert warnings == [] and res.stats.cached == 4  # type: ignore[attr-defined]


def test_truncated_and_foreign_caches(tmp_path: Path, cache_dir: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    path = Path(cache_file(str(cache_dir), str(site), HashScheme().cache_key))
    for junk in (b"", b"garbage", MAGIC, MAGIC + b"\0" * 40):
        path.write_bytes(junk)
        res, warnings = run(site, cache_dir)
        assert res.manifest == uncached(site)  # type: ignore[attr-defined]
        assert len(warnings) == 1
    # Our own cache from another assetsync version is rebuilt silently: an upgrade is no fault.
    path.write_bytes(b"assetsync-hash-cache 1 cpython-311\nwhatever")
    res, warnings = run(site, cache_dir)
    assert res.manifest == uncached(site) and warnings == []  # type: ignore[attr-defined]
    # A cache written for another scheme under this file name is foreign.
    HashCache(str(path), "other\0key", print).save(Table())
    res, warnings = run(site, cache_dir)
    assert any("written for another folder or scheme" in w for w in warnings)


def test_salt_and_scheme_have_separate_caches(tmp_path: Path, cache_dir: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    a, _ = run(site, cache_dir, scheme=HashScheme("sha256", "a"))
    b, _ = run(site, cache_dir, scheme=HashScheme("sha256", "b"))
    assert b.stats.hashed == 4  # type: ignore[attr-defined]
    assert a.manifest["/index.html"].hash != b.manifest["/index.html"].hash  # type: ignore[attr-defined]
    assert len(list(cache_dir.iterdir())) == 2


def test_unwritable_cache_dir_warns_and_continues(tmp_path: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    res, warnings = run(site, blocker / "cache")
    assert res.manifest == uncached(site)  # type: ignore[attr-defined]
    assert len(warnings) == 1 and "hash cache not saved" in warnings[0] and "--no-cache" in warnings[0]


def test_deleted_files_drop_out_of_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    run(site, cache_dir)
    (site / "e.txt").unlink()
    res, _ = run(site, cache_dir)
    assert "/e.txt" not in res.manifest  # type: ignore[attr-defined]
    (path,) = cache_dir.iterdir()
    assert "/e.txt" not in HashCache(str(path), HashScheme().cache_key, print).entries


def test_racy_window_uses_scan_start(tmp_path: Path) -> None:
    site = make_tree(tmp_path / "s", {"old.txt": "o"})
    make_tree(site, {"new.txt": "n"}, mtime=None)
    table, *_ = hash_files(scan(str(site), IgnoreRules(), print), HashScheme(), now_ns=time.time_ns())
    entries = table.entries()
    assert entries["/new.txt"].racy and not entries["/old.txt"].racy


def test_unchanged_run_reuses_the_saved_manifest_json(tmp_path: Path, cache_dir: Path) -> None:
    site = make_tree(tmp_path / "s", SITE)
    first, _ = run(site, cache_dir)
    second, _ = run(site, cache_dir)
    m = second.manifest  # type: ignore[attr-defined]
    assert m._mapping is None  # deferred: nothing rebuilt
    assert m.to_json() == first.manifest.to_json()  # type: ignore[attr-defined]
    assert (len(m), m.total_bytes) == (4, first.manifest.total_bytes)  # type: ignore[attr-defined]
    assert dict(m) == dict(first.manifest)  # type: ignore[attr-defined]
    (site / "e.txt").unlink()  # a removed file is a change even though every stat still hits
    third, _ = run(site, cache_dir)
    assert "/e.txt" not in third.manifest and "/e.txt" not in third.manifest.to_json()  # type: ignore[attr-defined]


def _rows(table: Table) -> dict[str, tuple[object, ...]]:
    return {p: tuple(e) for p, e in table.entries().items()}


def test_worker_processes_give_the_rows_of_the_inline_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool path (forked workers, packed results) against the inline one, on every mix of
    misses: a first run, every stat changed, some changed (with a moved file and a few hits)."""
    import assetsync.folder.hashpool as pool_mod

    files = {
        f"d{i % 5}/f{i}.{('html', 'css', 'bin', 'txt')[i % 4]}": os.urandom(i * 37 % 3000) for i in range(90)
    }
    files["big.bin"] = os.urandom(2_500_000)  # over one read: the general path
    site = make_tree(tmp_path / "s", files)
    scanned = scan(str(site), IgnoreRules(), print)
    now = time.time_ns()

    def both(prior: Table | None) -> tuple[Table, int, int, int]:
        inline = hash_files(scanned, HashScheme("sha256", "acme"), prior, now_ns=now)
        mp = monkeypatch
        mp.setattr(pool_mod, "INLINE_FILES", 0)
        mp.setattr(pool_mod, "INLINE_BYTES", 0)
        mp.setattr(pool_mod, "MIN_BATCH_COST", 1)  # many ranges, so results come back in pieces
        pooled = hash_files(scanned, HashScheme("sha256", "acme"), prior, workers=2, now_ns=now)
        mp.undo()
        assert _rows(pooled[0]) == _rows(inline[0]) and pooled[0].paths == inline[0].paths
        assert pooled[1:] == inline[1:]
        return inline

    first = both(None)[0]
    assert first.hashes == [Table.row(first, i).hash for i in range(len(first))]
    backdate(site, PAST + 60)  # every stat changed, bytes the same: all verified
    scanned = scan(str(site), IgnoreRules(), print)
    table, hashed, verified, _ = both(first)
    assert (hashed, verified) == (0, len(files))
    for name in list(files)[:10]:  # a few changed, the rest are hits
        make_tree(site, {name: os.urandom(50)}, mtime=PAST + 120)
    scanned = scan(str(site), IgnoreRules(), print)
    table, hashed, verified, _ = both(table)
    assert (hashed, verified) == (10, 0)  # few misses: the prior columns patched
    for name in list(files)[20:60]:
        make_tree(site, {name: os.urandom(70)}, mtime=PAST + 180)
    scanned = scan(str(site), IgnoreRules(), print)
    _, hashed, verified, _ = both(table)
    assert (hashed, verified) == (40, 0)  # many misses among hits: rows merged one by one


def test_hash_touched_agrees_with_hash_files_and_rechecks_racy_rows(tmp_path: Path) -> None:
    """Watch mode compares only the keys that were touched, and the racy rows (written too
    recently for their stat to vouch for them): the rows come out as a full pass makes them. A
    file changed behind the watcher's back is caught only while its row is racy, as promised."""
    site = make_tree(tmp_path / "site", {f"d{i % 3}/f{i}.txt": f"file {i}" for i in range(40)})
    backdate(site)
    make_tree(site, {"d0/fresh.txt": "just written"}, mtime=None)  # racy for a while
    scheme, now = HashScheme(), time.time_ns()
    prior, *_ = hash_files(scan(str(site), IgnoreRules(), print), scheme, now_ns=now)
    assert [p for i, p in enumerate(prior.paths) if prior.racy[i]] == ["/d0/fresh.txt"]
    make_tree(site, {"d1/f1.txt": "edited, longer", "d2/new.txt": "new", "d0/fresh.txt": "rewritten!!"})
    (site / "d2/f2.txt").unlink()
    files = {f.path: f for f in scan(str(site), IgnoreRules(), print)}
    touched = {"/d1/f1.txt", "/d2/new.txt", "/d2/f2.txt", "/d0/gone-before.tmp"}
    patched, hashed, _, _ = hash_touched(files, touched, scheme, prior, now_ns=now)
    full, *_ = hash_files(list(files.values()), scheme, prior, now_ns=now)
    assert _rows(patched) == _rows(full)
    assert hashed == 3  # the edit, the new file and the racy one: nothing else was read
    assert patched.changed == {"/d1/f1.txt", "/d2/new.txt", "/d2/f2.txt", "/d0/fresh.txt"}
    # Nothing touched and nothing racy: the prior rows stand, unread.
    settled, *_ = hash_files(list(files.values()), scheme, full, now_ns=now + 10 * RACY_WINDOW_NS)
    assert hash_touched(files, (), scheme, settled, now_ns=now + 10 * RACY_WINDOW_NS)[0] is settled
