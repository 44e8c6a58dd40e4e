"""The streaming base64 ingest, fed in arbitrary pieces: what is stored is what was sent."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from assetsync.emulator.envelope import ApiError
from assetsync.emulator.ingest import BlobSink
from assetsync.emulator.store import Store


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 4100), max_size=12))
def test_any_split_of_the_base64_body_stores_the_same_bytes(data: bytes, cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as d:
        store = Store(d)
        digest = "ab" * 16
        sid = store.create_session("acct", None, "s", "{}", {digest: (len(data), "text/plain")})
        encoded = base64.b64encode(data)
        points = sorted({0, len(encoded), *(c for c in cuts if c <= len(encoded))})
        sink = BlobSink(store, sid, "acct:acct")
        sink.begin(digest, digest, None)
        for a, b in zip(points, points[1:], strict=False):
            sink.data(memoryview(encoded)[a:b])
        sink.end()
        sink.close()
        assert Path(store.blob_path("acct:acct", digest)).read_bytes() == data
        assert store.present("acct:acct", [digest]) == {digest: (len(data), "text/plain")}
        store.close()


def test_bad_base64_in_a_later_piece_is_refused() -> None:
    with tempfile.TemporaryDirectory() as d:
        store = Store(d)
        digest = "cd" * 16
        sid = store.create_session("acct", None, "s", "{}", {digest: (6, "text/plain")})
        sink = BlobSink(store, sid, "acct:acct")
        sink.begin(digest, None, None)
        sink.data(memoryview(b"aGVs"))
        try:
            sink.data(memoryview(b"b!8="))
        except ApiError as exc:
            assert "not valid base64" in exc.message
        else:
            raise AssertionError("accepted bad base64")
        sink.close()
        assert store.present("acct:acct", [digest]) == {}
        store.close()
