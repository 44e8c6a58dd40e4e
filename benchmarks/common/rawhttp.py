"""A small HTTP/1.1 client on asyncio streams, for benchmarks that send many small requests.

It sends the request target byte for byte (``/%A0``, ``/[x]``, a raw ``%``: no client-side
normalisation, which httpx and urllib both do) and costs far less CPU per request than httpx, so
that on a machine of two cores the client takes as little as it can from the servers it
measures. Connections are kept alive; bodies are read by Content-Length, chunked, or to the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from common import BenchError

TIMEOUT_S = 30.0
NO_BODY = (204, 304)


@dataclass(frozen=True)
class Request:
    """One request: method, target exactly as sent, extra headers."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()  # a Host here replaces the connection's


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header's values joined with ", "
    body: bytes
    seconds: float


class Connection:
    """One keep-alive connection to ``127.0.0.1:port``; ``host``: the Host header sent, unless a
    request names its own (a dispatch Worker routing by hostname sees many over one connection)."""

    def __init__(self, port: int, host: str) -> None:
        self.port = port
        self.host = host
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self._reader, self._writer

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def send(self, req: Request) -> Answer:
        """The answer to ``req``; one retry on a fresh connection if a kept-alive one was closed
        by the server before the request reached it."""
        for attempt in (0, 1):
            fresh = self._writer is None
            try:
                return await asyncio.wait_for(self._exchange(req), TIMEOUT_S)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                await self.close()
                if fresh or attempt:
                    raise BenchError(f"{req.method} {req.target} on port {self.port}: {exc!r}") from exc
            except TimeoutError as exc:
                await self.close()
                raise BenchError(f"{req.method} {req.target} on port {self.port}: no answer") from exc
        raise AssertionError("unreachable")

    async def _exchange(self, req: Request) -> Answer:
        reader, writer = await self._open()
        lines = [f"{req.method} {req.target} HTTP/1.1"]
        if not any(k.lower() == "host" for k, _ in req.headers):
            lines.append(f"Host: {self.host}")
        lines += [f"{k}: {v}" for k, v in req.headers]
        if req.method in ("POST", "PUT"):
            lines.append("Content-Length: 0")
        t0 = time.perf_counter()
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape"))
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            key, value = name.strip().lower(), value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        body = await self._body(reader, req.method, status, headers)
        seconds = time.perf_counter() - t0
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, headers, body, seconds)

    async def _body(
        self, reader: asyncio.StreamReader, method: str, status: int, headers: Mapping[str, str]
    ) -> bytes:
        if method == "HEAD" or status in NO_BODY or status < 200:
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        body = await reader.read()
        await self.close()
        return body


@dataclass
class Load:
    """What one load run measured: each request's latency, the statuses seen, the wall time."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    body_bytes: int = 0

    def add(self, other: Load) -> None:
        self.latencies += other.latencies
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.seconds += other.seconds
        self.body_bytes += other.body_bytes

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in seconds (nearest rank)."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def _load(port: int, host: str, requests: Sequence[Request], clients: int) -> Load:
    out = Load()
    queue: Iterator[Request] = iter(requests)
    conns = [Connection(port, host) for _ in range(clients)]
    for conn in conns:  # connected before the clock starts
        await conn._open()

    async def worker(conn: Connection) -> None:
        for req in queue:  # the iterator is shared: each request is sent once
            answer = await conn.send(req)
            out.latencies.append(answer.seconds)
            out.statuses[answer.status] = out.statuses.get(answer.status, 0) + 1
            out.body_bytes += len(answer.body)

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
        out.seconds = time.perf_counter() - t0
    finally:
        for conn in conns:
            await conn.close()
    return out


def load(port: int, host: str, requests: Sequence[Request], clients: int) -> Load:
    """Send ``requests`` over ``clients`` keep-alive connections, each taking the next request
    as soon as its previous answer is read."""
    return asyncio.run(_load(port, host, requests, clients))


def ask_all(port: int, host: str, requests: Sequence[Request]) -> list[Answer]:
    """The answers to ``requests``, one after another on one connection."""

    async def run() -> list[Answer]:
        conn = Connection(port, host)
        try:
            return [await conn.send(r) for r in requests]
        finally:
            await conn.close()

    return asyncio.run(run())
