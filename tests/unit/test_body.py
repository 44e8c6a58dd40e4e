"""Upload bodies: exact length, every part intact, whatever the sizes around the write size."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import re
from pathlib import Path

import pytest
import xxhash

from assetsync.wire.body import CHUNK, WRITE_SIZE, FileChanged, MultipartBody, PartSource


def parts_for(tmp_path: Path, sizes: list[int]) -> tuple[list[PartSource], dict[str, bytes]]:
    parts, data = [], {}
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}"
        blob = os.urandom(size)
        path.write_bytes(blob)
        st = path.stat()
        digest = f"{i:032x}"
        parts.append(
            PartSource(digest, str(path), f"/f{i}", size, st.st_mtime_ns, st.st_ctime_ns, "application/null")
        )
        data[digest] = blob
    return parts, data


async def collect(body: MultipartBody) -> bytes:
    return b"".join([piece async for piece in body])


@pytest.mark.parametrize(
    "sizes",
    [
        [0],
        [1, 2, 3],
        [WRITE_SIZE - 200, 5, WRITE_SIZE, 0, 1],  # heads and tails land just past the write size
        [CHUNK, CHUNK + 1, 2 * CHUNK - 1, 3 * WRITE_SIZE // 4 * 3],
        [10_000] * 300,
    ],
)
def test_body_is_exact_and_every_part_decodes(tmp_path: Path, sizes: list[int]) -> None:
    parts, data = parts_for(tmp_path, sizes)
    progress: list[int] = []
    body = MultipartBody(parts, boundary="b0undary", on_progress=progress.append)
    raw = asyncio.run(collect(body))
    assert len(raw) == body.length
    assert sum(progress) == sum(sizes) == body.sent_raw
    chunks = raw.split(b"--b0undary")
    assert chunks[0] == b"" and chunks[-1] == b"--\r\n"
    for chunk in chunks[1:-1]:
        head, _, payload = chunk.partition(b"\r\n\r\n")
        digest = re.search(rb'name="([0-9a-f]{32})"', head).group(1).decode()  # type: ignore[union-attr]
        assert payload.endswith(b"\r\n")
        assert base64.b64decode(payload[:-2], validate=True) == data[digest]
    assert len(chunks) - 2 == len(sizes)


def test_a_file_changed_since_hashing_cuts_the_body_short(tmp_path: Path) -> None:
    parts, _ = parts_for(tmp_path, [100, 2 * CHUNK])
    Path(parts[1].abspath).write_bytes(os.urandom(2 * CHUNK))  # same size, new mtime
    with pytest.raises(FileChanged) as info:
        asyncio.run(collect(MultipartBody(parts)))
    assert info.value.path == "/f1"


def test_a_part_header_that_crosses_the_write_size_is_sent(tmp_path: Path) -> None:
    # Lay parts out so the gathered body sits just under the write size when the next part's
    # header is added: that header's piece must go out, not be lost.
    head = len(
        MultipartBody([PartSource("0" * 32, "", "", 0, 0, 0, "application/null")], "b0undary")._heads[0]
    )
    sizes, acc = [], 0
    while acc + 3 * (head + 13_336 + 2) < WRITE_SIZE:
        sizes.append(10_002)  # base64: 13,336 bytes
        acc += head + 13_336 + 2
    gap = WRITE_SIZE - 12 - acc - head - 2
    gap -= gap % 4
    sizes.append(gap // 4 * 3)  # its base64 is exactly `gap` bytes
    sizes += [7, 0, 5000]
    parts, data = parts_for(tmp_path, sizes)
    body = MultipartBody(parts, boundary="b0undary")
    raw = asyncio.run(collect(body))
    assert len(raw) == body.length
    for chunk in raw.split(b"--b0undary")[1:-1]:
        h, _, payload = chunk.partition(b"\r\n\r\n")
        digest = re.search(rb'name="([0-9a-f]{32})"', h).group(1).decode()  # type: ignore[union-attr]
        assert base64.b64decode(payload[:-2], validate=True) == data[digest]


def test_bytes_that_differ_from_the_hashed_ones_are_caught_even_under_the_same_stat(tmp_path: Path) -> None:
    """The fingerprint taken when the file was hashed must match the bytes sent: a rewrite that
    kept size and timestamps (one coarse timestamp tick) still cuts the body short."""
    (part,), _ = parts_for(tmp_path, [CHUNK + 10])
    good = xxhash.xxh3_128(Path(part.abspath).read_bytes()).digest()
    ok = MultipartBody([dataclasses.replace(part, fingerprint=good)], "b0undary")
    assert len(asyncio.run(collect(ok))) == ok.length
    body = MultipartBody([dataclasses.replace(part, fingerprint=bytes(16))], "b0undary")
    with pytest.raises(FileChanged):
        asyncio.run(collect(body))
    assert body.sent_raw < part.size  # the last piece, with the part's end, was held back


@pytest.mark.parametrize("piece", [16 << 10, 64 << 10, 100_000, WRITE_SIZE])
def test_paced_pieces_are_small_and_the_body_is_the_same(tmp_path: Path, piece: int) -> None:
    """A slow link gets small writes (a write that takes --timeout then means a stall), and the
    bytes are those of an unpaced body; ``ends`` says where each part ends in them."""
    parts, _ = parts_for(tmp_path, [0, 5, 3 * CHUNK + 7, 40_000, 1])
    plain = asyncio.run(collect(MultipartBody(parts, boundary="b")))
    paced = MultipartBody(parts, boundary="b", piece=lambda: piece)
    pieces = [p for p in asyncio.run(_pieces(paced))]
    assert b"".join(pieces) == plain
    assert max(len(p) for p in pieces) < 2 * max(piece, 4 << 10) + 200  # one piece and a head at most
    assert paced.sent == len(plain)
    for end, part in zip(paced.ends, parts, strict=True):
        head = plain[:end]
        assert head.endswith(b"\r\n") and part.hash.encode() in head
        assert plain[end:].startswith(b"--b")  # the next part or the closing boundary follows


async def _pieces(body: MultipartBody) -> list[bytes]:
    return [piece async for piece in body]
