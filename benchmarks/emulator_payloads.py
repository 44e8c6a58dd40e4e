"""What the emulator benchmark sends: seeded payloads of files (a mixed site, or many small
files) whose bytes are slices of one random pool, their upload-session manifest, and the
multipart bodies of the buckets the session asks for, all built before any clock starts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from common.tables import KIB, MIB
from common.trees import SEED, log_uniform

POOL_BYTES = 16 * MIB  # file contents are slices of one random pool (the server never hashes them)
BOUNDARY = b"----assetsyncbench7d3f0c9a"


@dataclass(frozen=True)
class PayloadSpec:
    kind: Literal["site", "small"]
    small_files: int  # site: 2-50 KiB files; small: ~10 KiB files
    big_files: int = 0  # site only: 100 KiB-8 MiB files
    total_bytes: int = 0  # site only: approximate total

    def describe(self) -> str:
        if self.kind == "site":
            return (
                f"mixed site: {self.big_files:,} files of 100 KiB-8 MiB + "
                f"{self.small_files:,} of 2-50 KiB, ~{self.total_bytes / MIB:.0f} MiB"
            )
        return f"{self.small_files:,} small files of 9-11 KiB"


def site_spec(quick: bool) -> PayloadSpec:
    if quick:
        return PayloadSpec("site", small_files=400, big_files=40, total_bytes=60 * MIB)
    return PayloadSpec("site", small_files=2_000, big_files=200, total_bytes=300 * MIB)


def small_spec(quick: bool) -> PayloadSpec:
    return PayloadSpec("small", small_files=2_000 if quick else 10_000)


@dataclass(frozen=True)
class FileEntry:
    path: str
    digest: str  # 32 lowercase hex: md5 of the path (the server treats hashes as opaque keys)
    size: int
    offset: int  # where its bytes start in the pool


@dataclass(frozen=True)
class Body:
    data: bytes
    hashes: int
    raw_bytes: int


@dataclass
class Payload:
    spec: PayloadSpec
    files: list[FileEntry]
    session_json: bytes  # the upload-session request body, encoded once
    raw_bytes: int
    buckets: list[list[str]] = field(default_factory=list)
    bodies: list[Body] = field(default_factory=list)

    @property
    def wire_bytes(self) -> int:
        return sum(len(b.data) for b in self.bodies)


def _sizes(spec: PayloadSpec, rng: random.Random) -> list[int]:
    if spec.kind == "small":
        return [rng.randint(9 * KIB, 11 * KIB) for _ in range(spec.small_files)]
    small = [log_uniform(rng, 2 * KIB, 50 * KIB) for _ in range(spec.small_files)]
    lo, hi = 100 * KIB, 8 * MIB
    big = [log_uniform(rng, lo, hi) for _ in range(spec.big_files)]
    # Scale the big files towards the target total, within their size range.
    budget = max(spec.total_bytes - sum(small), lo * len(big))
    for _ in range(8):
        scale = budget / sum(big)
        big = [min(hi, max(lo, int(s * scale))) for s in big]
    sizes = small + big
    rng.shuffle(sizes)
    return sizes


def make_payload(spec: PayloadSpec) -> Payload:
    rng = random.Random(SEED if spec.kind == "site" else SEED + 1)
    files: list[FileEntry] = []
    for i, size in enumerate(_sizes(spec, rng)):
        path = f"/{spec.kind}/d{i % 97:02d}/file-{i:06d}.bin"
        digest = hashlib.md5(path.encode()).hexdigest()
        files.append(FileEntry(path, digest, size, rng.randrange(POOL_BYTES - size + 1)))
    manifest = {f.path: {"hash": f.digest, "size": f.size} for f in files}
    return Payload(
        spec,
        files,
        json.dumps({"manifest": manifest}, separators=(",", ":")).encode(),
        sum(f.size for f in files),
    )


def multipart(parts: Iterable[tuple[str, bytes]]) -> bytes:
    """A multipart body as wrangler sends it: one part per hash, named and filed by the hash,
    its bytes base64-encoded."""
    pieces: list[bytes] = []
    for digest, data in parts:
        h = digest.encode()
        pieces += [
            b"--" + BOUNDARY + b"\r\n",
            b'Content-Disposition: form-data; name="' + h + b'"; filename="' + h + b'"\r\n',
            b"Content-Type: application/octet-stream\r\n\r\n",
            base64.b64encode(data),
            b"\r\n",
        ]
    pieces.append(b"--" + BOUNDARY + b"--\r\n")
    return b"".join(pieces)


def content_type() -> str:
    return f"multipart/form-data; boundary={BOUNDARY.decode()}"


def build_bodies(payload: Payload, buckets: list[list[str]], pool: bytes) -> None:
    """One multipart body per bucket the upload session asked for."""
    by_hash = {f.digest: f for f in payload.files}
    bodies: list[Body] = []
    for bucket in buckets:
        files = [by_hash[digest] for digest in bucket]
        data = multipart((f.digest, pool[f.offset : f.offset + f.size]) for f in files)
        bodies.append(Body(data, len(bucket), sum(f.size for f in files)))
    payload.buckets = [list(b) for b in buckets]
    payload.bodies = bodies


def pool() -> bytes:
    """The random bytes every file is a slice of."""
    return random.Random(SEED).randbytes(POOL_BYTES)
