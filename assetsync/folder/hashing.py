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
from typing import Any, Protocol

import xxhash

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


def read_digest(
    abspath: str, scheme: HashScheme, path: str, content_type: str, want_hash: bool = True
) -> tuple[str | None, bytes, os.stat_result]:
    """Stream one file once, returning (asset hash or None, xxh3_128 digest, stat after reading).

    ``want_hash=False`` only fingerprints the file. The returned stat is taken from the open
    descriptor after the last read, so a caller can compare it with the stat it had before and
    notice a file that changed under it.
    """
    fp = xxhash.xxh3_128()
    digest = scheme.new(path, content_type) if want_hash else None
    fd = os.open(abspath, os.O_RDONLY | os.O_CLOEXEC)
    try:
        stream_into(fd, fp, *([digest] if digest is not None else []))
        after = os.fstat(fd)
    finally:
        os.close(fd)
    return (digest.hexdigest()[:32] if digest is not None else None), fp.digest(), after


def digest_bytes(data: bytes, scheme: HashScheme, path: str, content_type: str) -> str:
    """The asset hash of in-memory bytes (tests, emulator checks, small generated files)."""
    digest = scheme.new(path, content_type)
    digest.update(data)
    return digest.hexdigest()[:32]
