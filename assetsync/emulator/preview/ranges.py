"""Byte ranges of an asset response, as Cloudflare's edge answers them. Pure, no I/O.

Cloudflare facts this relies on
-------------------------------
The asset worker itself never reads ``Range``: ``asset-worker/src/handler.ts`` (workers-sdk
f8308360) always builds a full 200 from the stored asset, and ``utils/headers.ts`` only drops
``Cache-Control`` when the request carries ``Range`` (or ``Authorization``). The 206 a browser sees
comes from the layer in front of it, Cloudflare's cache, which keeps whole responses and answers a
byte range from them (Cache API docs, "Headers": ``Range`` on ``match()`` "results in a 206 response
if a matching response is found"; https://developers.cloudflare.com/workers/runtime-apis/cache/).
miniflare's asset worker (``packages/miniflare/src/workers/assets``) does not slice ranges either;
the preview follows production and applies RFC 9110 section 14 for one range:

* ``bytes=a-b``, ``bytes=a-``, ``bytes=-n``: 206 with ``Content-Range: bytes first-last/size`` and
  exactly those bytes (``b`` past the end is cut to the last byte);
* a first byte past the end (or ``-0``, or any range of an empty asset): 416 with
  ``Content-Range: bytes */size``;
* several ranges, another unit or a malformed header: the whole asset with 200 (a server may
  ignore ``Range``; Cloudflare's cache does not send ``multipart/byteranges``);
* ``If-Range`` that is not the asset's strong ETag: the whole asset with 200.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ByteRange", "Unsatisfiable", "byte_range"]

_SINGLE = re.compile(r"bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive of an asset of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


@dataclass(frozen=True, slots=True)
class Unsatisfiable:
    """A range that lies wholly past the end: 416 with ``content_range``."""

    size: int

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size}"


def byte_range(
    header: str | None, size: int, *, etag: str, if_range: str | None = None
) -> ByteRange | Unsatisfiable | None:
    """What a ``Range`` header asks of an asset of ``size`` bytes; None: send it whole."""
    if header is None or (if_range is not None and if_range.strip() != etag):
        return None
    m = _SINGLE.fullmatch(header.strip())
    if m is None or not (m.group(1) or m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # a suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            return Unsatisfiable(size)
        return ByteRange(max(size - n, 0), size - 1, size)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax: ignored
    if start >= size:
        return Unsatisfiable(size)
    return ByteRange(start, min(end, size - 1), size)
