"""The manifest value on small hand-made examples: its JSON, equality, laziness, diff and apply."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from assetsync.folder.manifest import Entry, Manifest, ManifestDiff

A, B, C = "a" * 32, "b" * 32, "c" * 32


def m(**entries: Entry) -> Manifest:
    return Manifest({"/" + k: e for k, e in entries.items()})


def never() -> Mapping[str, Entry]:
    raise AssertionError("the entries were loaded")


def test_json_is_compact_sorted_and_raw_utf8() -> None:
    man = Manifest({"/z": Entry(B, 2, "x"), '/q"é': Entry(A, 10, "text/html")})
    assert man.to_json() == (
        '{"manifest":{"/q\\"é":{"hash":"' + A + '","size":10},"/z":{"hash":"' + B + '","size":2}}}'
    )
    assert man.to_wire() == {'/q"é': {"hash": A, "size": 10}, "/z": {"hash": B, "size": 2}}
    assert Manifest().to_json() == '{"manifest":{}}'
    assert Manifest(None).to_wire() == {}


def test_mapping_view_counts_and_repr() -> None:
    man = m(b=Entry(A, 5, "t"), a=Entry(B, 7, "t"), c=Entry(A, 0, "t"))
    assert list(man) == ["/a", "/b", "/c"]
    assert man["/b"] == Entry(A, 5, "t")
    assert (len(man), man.total_bytes) == (3, 12)
    assert repr(man) == "Manifest(3 files, 12 bytes)"
    assert man.unique_hashes() == {B: "/a", A: "/b"}
    with pytest.raises(KeyError):
        man["/d"]


def test_equality_compares_content_types_too() -> None:
    html, text = m(a=Entry(A, 1, "text/html")), m(a=Entry(A, 1, "text/plain"))
    assert html.to_json() == text.to_json()
    assert html != text
    same = m(a=Entry(A, 1, "text/html"))
    html.to_json()  # one side's JSON known, the other's not: still equal
    assert html == same and same == html
    assert hash(html) == hash(same) == hash(html.to_json())
    assert html != m(a=Entry(A, 2, "text/html"))
    assert html != {"/a": Entry(A, 1, "text/html")}  # a Manifest only equals a Manifest


def test_deferred_manifest_loads_its_entries_once_and_only_when_looked_at() -> None:
    json = '{"manifest":{"/a":{"hash":"' + A + '","size":3}}}'
    calls: list[int] = []

    def load() -> Mapping[str, Entry]:
        calls.append(1)
        return {"/b": Entry(B, 4, "y"), "/a": Entry(A, 3, "x")}

    man = Manifest.deferred(load, json, 2, 7)
    assert (man.to_json(), len(man), man.total_bytes, repr(man)) == (json, 2, 7, "Manifest(2 files, 7 bytes)")
    assert calls == []
    assert list(man) == ["/a", "/b"] and man["/b"] == Entry(B, 4, "y")
    assert calls == [1]


def test_deferred_manifests_with_different_json_differ_without_loading() -> None:
    one = Manifest.deferred(never, '{"manifest":{"/a":1}}', 1, 1)
    two = Manifest.deferred(never, '{"manifest":{"/b":1}}', 1, 1)
    assert one != two


def test_diff_and_apply() -> None:
    old = m(keep=Entry(A, 1, "t"), edit=Entry(A, 1, "t"), gone=Entry(B, 2, "t"))
    new = m(keep=Entry(A, 1, "t"), edit=Entry(C, 3, "t"), new=Entry(B, 2, "t"))
    d = old.diff(new)
    assert dict(d.added) == {"/new": Entry(B, 2, "t")}
    assert dict(d.changed) == {"/edit": Entry(C, 3, "t")}
    assert d.removed == frozenset({"/gone"})
    assert d.summary() == "+1 -1 ~1"
    assert old.apply(d) == new
    assert not old.diff(old) and old.diff(old).summary() == "+0 -0 ~0"


def test_any_one_kind_of_change_makes_a_diff() -> None:
    e = {"/x": Entry(A, 1, "t")}
    assert ManifestDiff(e, frozenset(), {})
    assert ManifestDiff({}, frozenset({"/x"}), {})
    assert ManifestDiff({}, frozenset(), e)
    assert not ManifestDiff({}, frozenset(), {})
    assert m(a=Entry(A, 1, "x")).diff(m(a=Entry(A, 1, "y"))).summary() == "+0 -0 ~1"
