"""Upload bodies: multipart/form-data streamed from the files, base64-encoded as it goes.

The exact Content-Length is known before the first byte is read (base64 of ``n`` bytes is
``4 * ceil(n / 3)`` characters), so no chunked encoding and no buffering: peak memory is one
chunk per request whatever the bucket or file size. Each part is laid out as wrangler lays it
(PROTOCOL.md section 4.2): ``name`` and ``filename`` are the hash, the part's Content-Type is the
file's, the body is padded standard base64 with no line breaks.

A file is checked against the stat it was hashed with when it is opened and again after its
last byte is read, and the bytes read against the fingerprint (xxh3_128, the hash cache's) taken
when it was hashed: a same-size rewrite within one timestamp tick leaves the stat unchanged, the
bytes never. The last encoded piece is held back until those checks pass. A file that changed
raises :class:`FileChanged` mid-body, so the request is cut short and the server never receives
a complete part under a stale hash.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pybase64
import xxhash

CHUNK = 3 << 18  # 768 KiB of file bytes a read at most: a multiple of 3, so base64 pieces concatenate
WRITE_SIZE = 1 << 20  # bytes handed to the connection at a time, unless the caller paces them


class FileChanged(Exception):
    """A file no longer matches the manifest entry it is being uploaded under."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True, slots=True)
class PartSource:
    """One blob to upload: its hash, where to read it, and the stat it was hashed with."""

    hash: str
    abspath: str
    path: str  # manifest key, for messages
    size: int
    mtime_ns: int
    ctime_ns: int
    content_type: str
    fingerprint: bytes = b""  # xxh3_128 of the bytes that were hashed; empty: not checked


def b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


class MultipartBody:
    """An async iterable request body of known length."""

    def __init__(
        self,
        parts: Sequence[PartSource],
        boundary: str | None = None,
        on_progress: Callable[[int], None] | None = None,
        piece: Callable[[], int] | None = None,
    ) -> None:
        """``piece()`` says how many bytes to hand to the connection at a time (asked before each
        read, so it follows the link as it is measured); default :data:`WRITE_SIZE`."""
        self.parts = list(parts)
        self.on_progress = on_progress
        self.piece = piece or (lambda: WRITE_SIZE)
        self.boundary = boundary or "assetsync-" + uuid.uuid4().hex
        self._heads = [
            (
                f"--{self.boundary}\r\n"
                f'Content-Disposition: form-data; name="{p.hash}"; filename="{p.hash}"\r\n'
                f"Content-Type: {p.content_type}\r\n\r\n"
            ).encode("latin-1")
            for p in self.parts
        ]
        self._tail = f"--{self.boundary}--\r\n".encode("latin-1")
        # Where each part's bytes end in the body; the closing boundary follows the last.
        self.ends = tuple(
            itertools.accumulate(
                len(h) + b64_len(p.size) + 2 for h, p in zip(self._heads, self.parts, strict=True)
            )
        )
        self.length = (self.ends[-1] if self.ends else 0) + len(self._tail)
        self.raw_bytes = sum(p.size for p in self.parts)
        self.sent_raw = 0  # file bytes whose encoding has been handed to the transport
        self.sent = 0  # body bytes handed to the transport

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body, in pieces of about ``piece()`` bytes: small parts are gathered, since each
        write costs the HTTP stack more than copying a few KiB (measured: 15-20% of client CPU);
        on a slow link pieces get small, so that a write that takes ``--timeout`` means a stall."""
        self.sent_raw = self.sent = 0
        out = _Gather(self._sent, self.piece)
        for head, part in zip(self._heads, self.parts, strict=True):
            if piece := out.add(head, 0):
                yield piece
            held, held_raw, read = b"", 0, 0
            fingerprint = xxhash.xxh3_128() if part.fingerprint else None
            try:
                fd = os.open(part.abspath, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                raise FileChanged(part.path) from None
            try:
                if not _same(os.fstat(fd), part):
                    raise FileChanged(part.path)
                while chunk := os.read(fd, _read_size(out.size)):
                    read += len(chunk)
                    if read > part.size:
                        raise FileChanged(part.path)
                    if fingerprint is not None:
                        fingerprint.update(chunk)
                    if held and (piece := out.add(held, held_raw)):
                        yield piece
                    held, held_raw = pybase64.b64encode(chunk), len(chunk)
                if read != part.size or not _same(os.fstat(fd), part):
                    raise FileChanged(part.path)
                if fingerprint is not None and fingerprint.digest() != part.fingerprint:
                    raise FileChanged(part.path)
            finally:
                os.close(fd)
            # Only now, with the file checked, does its last piece join what may be sent.
            if piece := out.add(held + b"\r\n", held_raw):
                yield piece
        if piece := out.add(self._tail, 0):
            yield piece
        if out.buf:
            yield out.take()

    def _sent(self, raw: int, size: int) -> None:
        self.sent_raw += raw
        self.sent += size
        if self.on_progress is not None and raw:
            self.on_progress(raw)


def _read_size(piece: int) -> int:
    """File bytes to read for a piece of ``piece`` body bytes: a multiple of 3 (base64 quanta)."""
    return max(3 << 10, min(CHUNK, piece // 4 * 3))


class _Gather:
    """Collects body pieces; hands them out once about ``piece()`` bytes are ready."""

    def __init__(self, on_sent: Callable[[int, int], None], piece: Callable[[], int]) -> None:
        self.buf = bytearray()
        self.raw = 0
        self.on_sent = on_sent
        self.piece = piece
        self.size = piece()

    def add(self, data: bytes, raw: int) -> bytes | None:
        self.buf += data
        self.raw += raw
        return self.take() if len(self.buf) >= self.size else None

    def take(self) -> bytes:
        piece = bytes(self.buf)
        self.buf.clear()
        self.on_sent(self.raw, len(piece))
        self.raw = 0
        self.size = self.piece()
        return piece


def _same(st: os.stat_result, part: PartSource) -> bool:
    return st.st_size == part.size and st.st_mtime_ns == part.mtime_ns and st.st_ctime_ns == part.ctime_ns
