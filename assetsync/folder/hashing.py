"""The asset hash schemes, computed over streamed chunks so no file is ever read whole.

``sha256`` (the default) frames its inputs so that neither tenants nor content types can collide:
``sha256(salt || 0x00 || content_type || 0x00 || bytes)``, first 32 lowercase hex digits. A
content-only digest would let ``empty.css`` and ``empty.js`` share one stored content type, and a
plain ``salt + bytes`` would let tenant ``a`` plant ``bX`` under tenant ``ab``'s hash of ``X``.

``wrangler`` reproduces what the wrangler CLI computes, ``BLAKE3(base64(bytes) + ext)``, so a
project moving from wrangler re-uploads nothing. It takes no salt.

Every digest here comes with the file's ``xxh3_128``, which the hash cache uses to tell a
rewritten-but-identical file from an edited one without paying for SHA-256 again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import xxhash
from xxhash import xxh3_128_digest

from ..errors import UsageError
from ..protocol.contenttypes import TABLE_ID, extension

# A multiple of 3, so base64 of each chunk can be concatenated (wrangler scheme), and large
# enough that hashlib drops the GIL for the whole update.
CHUNK = 3 << 18  # 768 KiB
SCHEMES = ("sha256", "wrangler")


class _Sink(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...


class _Digest(_Sink, Protocol):
    def hexdigest(self) -> str: ...


class _WranglerDigest:
    """BLAKE3 over base64(bytes) + extension, fed chunk by chunk."""

    __slots__ = ("_b3", "_ext", "_tail")

    def __init__(self, ext: str) -> None:
        import blake3  # optional extra: only this scheme needs it

        self._b3 = blake3.blake3()
        self._ext = ext.encode("utf-8")
        self._tail = b""

    def update(self, data: bytes | memoryview, /) -> None:
        import pybase64

        if self._tail:
            data = self._tail + data
        cut = len(data) - len(data) % 3
        self._b3.update(pybase64.b64encode(data[:cut] if cut != len(data) else data))
        self._tail = bytes(data[cut:])

    def hexdigest(self) -> str:
        import pybase64

        self._b3.update(pybase64.b64encode(self._tail) + self._ext)
        return str(self._b3.hexdigest())


_BASES: dict[tuple[str, str], Any] = {}


def _sha256_base(salt: str, content_type: str) -> Any:
    """A SHA-256 state that has already absorbed the framing prefix; callers copy it."""
    base = _BASES.get((salt, content_type))
    if base is None:
        import hashlib  # loads OpenSSL: only runs that hash pay for it

        base = _BASES[salt, content_type] = hashlib.sha256(
            b"".join((salt.encode(), b"\0", content_type.encode(), b"\0"))
        )
    return base


@dataclass(frozen=True, slots=True)
class HashScheme:
    """A named way to turn (path, content type, bytes) into the 32-hex key the server stores."""

    name: str = "sha256"
    salt: str = ""

    def __post_init__(self) -> None:
        if self.name not in SCHEMES:
            raise UsageError(f"unknown hash scheme {self.name!r}: choose one of {', '.join(SCHEMES)}")
        if "\0" in self.salt:
            raise UsageError(
                f"the tenant id {self.salt!r} holds a NUL character, which the hash framing uses as its "
                "separator (two tenants could then forge each other's hashes). Use a tenant id without NUL."
            )
        if self.name == "wrangler":
            if self.salt:
                raise UsageError(
                    "--hash-scheme wrangler takes no salt: wrangler's hashes are not salted. "
                    "Drop --tenant, or use the default sha256 scheme."
                )
            try:
                import blake3  # noqa: F401
            except ImportError:
                raise UsageError(
                    "--hash-scheme wrangler needs the blake3 package: pip install 'assetsync[wrangler]'"
                ) from None

    def new(self, path: str, content_type: str) -> _Digest:
        """A fresh digest for one file, given its relative path and upload content type."""
        if self.name == "wrangler":
            return _WranglerDigest(extension(path))
        return _sha256_base(self.salt, content_type).copy()  # type: ignore[no-any-return]

    @property
    def cache_key(self) -> str:
        return f"{self.name}\0{self.salt}\0{TABLE_ID}"


def stream_into(fd: int, *sinks: _Sink) -> int:
    """Read ``fd`` to its end in :data:`CHUNK` pieces, feeding every sink; returns bytes read."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while n := os.readv(fd, [buf]):
        piece = view[:n]
        for sink in sinks:
            sink.update(piece)
        total += n
    return total


class FileDigest(NamedTuple):
    """What one read of a file gives (see :func:`read_digest`)."""

    hash: str  # the asset hash
    xxh3: bytes  # xxh3_128 of the bytes read
    full: bool  # hashed in full; False when the fingerprint matched the known one, whose hash is kept
    read: int  # bytes read
    stat: os.stat_result  # of the open descriptor, after the last read


_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_new_digest = tuple.__new__  # skips NamedTuple's argument handling: this runs once per small file


def read_digest(
    abspath: str,
    scheme: HashScheme,
    path: str,
    content_type: str,
    size: int,
    known: tuple[bytes, str] | None = None,
) -> FileDigest:
    """Read one file and return its hash and fingerprint, with the stat taken after reading.

    ``size`` is the size the file was scanned with, ``known`` the (fingerprint, hash) the cache
    holds for it. The file goes through a bare descriptor (a Python file object costs more than
    hashing a small file). A file of at most :data:`CHUNK` bytes is read in one call, one byte
    more than ``size`` so that a file that grew shows itself, and those bytes serve both the
    fingerprint and, if it is not the known one, the hash. A bigger file is streamed; with a
    ``known`` fingerprint it is first only fingerprinted, and read again to hash it when that
    differs. The caller compares ``stat`` and ``read`` with what it scanned, to notice a file
    that changed under it.
    """
    fd = os.open(abspath, _O_READ)
    try:
        if size <= CHUNK:
            data = os.read(fd, size + 1)
            after = os.fstat(fd)
            fp = xxh3_128_digest(data)
            if known is not None and fp == known[0]:
                return _new_digest(FileDigest, (known[1], fp, False, len(data), after))
            d = scheme.new(path, content_type)
            d.update(data)
            return _new_digest(FileDigest, (d.hexdigest()[:32], fp, True, len(data), after))
        fph = xxhash.xxh3_128()
        read = 0
        if known is not None:
            read = stream_into(fd, fph)
            fp = fph.digest()
            if fp == known[0]:
                return FileDigest(known[1], fp, False, read, os.fstat(fd))
            os.lseek(fd, 0, os.SEEK_SET)
            fph = xxhash.xxh3_128()
        d = scheme.new(path, content_type)
        read += stream_into(fd, fph, d)
        return FileDigest(d.hexdigest()[:32], fph.digest(), True, read, os.fstat(fd))
    finally:
        os.close(fd)


def digest_bytes(data: bytes, scheme: HashScheme, path: str, content_type: str) -> str:
    """The asset hash of in-memory bytes (tests, emulator checks, small generated files)."""
    digest = scheme.new(path, content_type)
    digest.update(data)
    return digest.hexdigest()[:32]
