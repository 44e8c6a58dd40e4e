"""Receiving one upload bucket: each part is base64-decoded as it streams in and stored as a blob.

Checks per part, each a 400 naming the part: the name is a hash this session asked for; the
body is valid standard base64 (no line breaks); the decoded length equals the manifest size
(the part is cut off as soon as it runs over). Parts without a Content-Type (the official
Python SDK sends none) take the type of the manifest path that carries the hash. A hash already
stored is accepted and its bytes discarded: re-uploads are idempotent, the first upload wins.

Each finished part is renamed into the blob store at once; the rows that make them count are
written in one transaction per request (:meth:`BlobSink.close`), not one per blob.
"""

from __future__ import annotations

import binascii
import contextlib
import os

import pybase64

from .envelope import BAD_REQUEST, ApiError
from .store import Store

WRITE_SIZE = 1 << 20  # decoded bytes gathered before one write()


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class BlobSink:
    """A :class:`~assetsync.emulator.formdata.PartSink` that writes parts into the blob store."""

    def __init__(self, store: Store, session: str, scope: str, base64: bool = True) -> None:
        self.store = store
        self.session = session
        self.scope = scope
        self.base64 = base64
        self._hash = ""
        self._expected = 0
        self._ctype = ""
        self._written = 0
        self._carry = b""
        self._fd: int | None = None
        self._tmp: str | None = None
        self._skip = False
        self._buf = bytearray()
        self.placed: list[tuple[str, int, str]] = []

    def _fail(self, message: str) -> ApiError:
        self.abort()
        return ApiError(400, BAD_REQUEST, f"part {self._hash or '?'}: {message}")

    def begin(self, name: str, filename: str | None, content_type: str | None) -> None:
        self._hash = name
        wanted = self.store.session_part(self.session, self.scope, name)
        if wanted is None:
            raise self._fail(
                "not a hash this upload session asked for (open a session with a manifest that lists it)"
            )
        self._expected, default_type, self._skip = wanted
        self._ctype = content_type or default_type
        self._written = 0
        self._carry = b""
        if not self._skip:
            self._fd, self._tmp = self.store.new_tmp()

    def data(self, chunk: memoryview) -> None:
        if self.base64:
            if self._carry:
                # Complete the quantum left over from the last piece; the rest is decoded in
                # place (joining the whole piece to the carry would copy ~every byte again).
                need = 4 - len(self._carry)
                head, chunk = self._carry + bytes(chunk[:need]), chunk[need:]
                self._carry = b""
                if len(head) < 4:
                    self._carry = head
                    return
                self._take(self._decode(head))
            cut = len(chunk) - len(chunk) % 4
            raw = self._decode(chunk[:cut])
            self._carry = bytes(chunk[cut:])
        else:
            raw = bytes(chunk)
        self._take(raw)

    def _decode(self, data: bytes | memoryview) -> bytes:
        try:
            return pybase64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise self._fail(
                "the body is not valid base64 (standard alphabet, padded, no line breaks)"
            ) from None

    def _take(self, raw: bytes) -> None:
        self._written += len(raw)
        if self._written > self._expected:
            raise self._fail(f"more than the {self._expected:,} bytes the manifest lists for it")
        if self._fd is None:
            return
        if not self._buf and len(raw) >= WRITE_SIZE // 4:
            _write_all(self._fd, raw)  # large pieces go straight out, without a copy
            return
        self._buf += raw
        if len(self._buf) >= WRITE_SIZE:
            self._flush()

    def _flush(self) -> None:
        assert self._fd is not None
        _write_all(self._fd, self._buf)
        self._buf = bytearray()

    def end(self) -> None:
        if self._carry:
            raise self._fail("the base64 body ends mid-quantum (truncated?)")
        if self._written != self._expected:
            raise self._fail(
                f"{self._written:,} bytes after decoding, but the manifest lists {self._expected:,}"
            )
        if self._fd is not None and self._tmp is not None:
            self._flush()
            os.close(self._fd)
            self._fd = None
            tmp, self._tmp = self._tmp, None
            self.store.place_blob(self.scope, self._hash, tmp)
            self.placed.append((self._hash, self._expected, self._ctype))
        self._hash = ""

    def close(self) -> None:
        """End of the request: drop a part cut short, record every part that arrived whole."""
        self.abort()
        self.store.record_blobs(self.scope, self.placed)
        self.placed = []

    def abort(self) -> None:
        """Drop a part being received (the request failed): no partial blob is kept."""
        self._buf = bytearray()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None
