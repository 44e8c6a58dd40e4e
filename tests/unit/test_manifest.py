"""Manifest values, their JSON form, and invariants checked with hypothesis."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from assetsync.folder.build import BuildOptions, build
from assetsync.folder.manifest import Entry, Manifest

from ..helpers import PAST, make_tree

hashes = st.text("0123456789abcdef", min_size=32, max_size=32)
entries = st.builds(Entry, hashes, st.integers(0, 2**25), st.sampled_from(["text/html", "application/null"]))
keys = st.text(min_size=1, max_size=12).map(lambda s: "/" + s)
manifests = st.dictionaries(keys, entries, max_size=30).map(Manifest)


@given(manifests, manifests)
def test_diff_applied_gives_the_new_manifest(a: Manifest, b: Manifest) -> None:
    d = a.diff(b)
    assert a.apply(d) == b
    assert bool(d) == (a != b)


@given(manifests)
def test_json_is_the_session_body_with_sorted_keys(m: Manifest) -> None:
    text = m.to_json()
    parsed = json.loads(text)
    assert parsed == {"manifest": m.to_wire()}
    assert list(parsed["manifest"]) == sorted(m)
    assert text == json.dumps(parsed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def test_unique_hashes_keeps_first_key() -> None:
    e = Entry("a" * 32, 1, "text/plain")
    m = Manifest({"/b": e, "/a": e, "/c": Entry("b" * 32, 2, "x")})
    assert m.unique_hashes() == {"a" * 32: "/a", "b" * 32: "/c"}
    assert m.total_bytes == 4 and len(m) == 3


names = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="/\\"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in {".", ".."} and s.strip(" ") == s)
trees = st.dictionaries(
    st.lists(names, min_size=1, max_size=3).map("/".join),
    st.binary(max_size=64),
    min_size=1,
    max_size=8,
).filter(lambda t: not any(a != b and b.startswith(a + "/") for a in t for b in t))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trees, st.sampled_from(["", "tenant-1"]))
def test_cache_never_changes_a_result(tree: dict[str, bytes], salt: str) -> None:
    from assetsync.folder.hashing import HashScheme

    work = Path(tempfile.mkdtemp())
    try:
        site = make_tree(work / "site", tree)
        opts = BuildOptions(scheme=HashScheme("sha256", salt), cache_dir=str(work / "cache"))
        cold = build(str(site), BuildOptions(scheme=opts.scheme, use_cache=False)).manifest
        assert build(str(site), opts).manifest == cold
        assert build(str(site), opts).manifest == cold  # from the cache
        for rel in tree:  # touch: same bytes, new mtime
            os.utime(site / rel, (PAST + 50, PAST + 50))
        touched = build(str(site), opts)
        assert touched.manifest == cold
        assert touched.stats.hashed == 0
    finally:
        shutil.rmtree(work)
