"""Keep-alive HTTP/1.1 to workerd on loopback, lean: asyncio streams and httptools' C parser.

Every Worker request the preview forwards crosses this hop, so it is kept to what that needs (one
host, bodies read whole before sending, responses streamed back): a general client (httpx, its
pool and stream wrappers) cost the emulator about 2 ms of CPU per request here, several times
what workerd spends running the Worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

import httptools

READ = 64 * 1024


class _Message:
    """httptools callbacks for one response."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.body: deque[bytes] = deque()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(bytes(body))

    def on_message_complete(self) -> None:
        self.complete = True

    def keep_alive(self) -> bool:
        """Whether the connection may carry another request (an HTTP/1.1 answer without
        ``Connection: close``; httptools' own test is no longer valid once the answer is read)."""
        return not any(n.lower() == b"connection" and v.lower() == b"close" for n, v in self.headers)

    def until_close(self) -> bool:
        """Whether the body is delimited by the connection's end (no length, not chunked)."""
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names


class Answer:
    """A response whose head is read; :meth:`chunks` streams the body, then frees the connection."""

    def __init__(self, upstream: Upstream, conn: _Conn, message: _Message, status: int, reuse: bool) -> None:
        self.status = status
        self.headers = message.headers
        self._upstream, self._conn, self._message, self._reuse = upstream, conn, message, reuse
        self._done = False
        self._released = False

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                while self._message.body:
                    yield self._message.body.popleft()
                if self._message.complete:
                    break
                await self._conn.feed(self._message)
            self._done = True
        finally:
            self.close()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    def close(self) -> None:
        """Give the connection back when the body was read whole, else drop it; only the first
        call counts (the body's end and the server's after-response task both call it)."""
        if self._released:
            return
        self._released = True
        if self._conn.closed:
            return
        if self._done and self._reuse and self._message.keep_alive():
            self._upstream.release(self._conn)
        else:
            self._conn.close()


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser: httptools.HttpResponseParser | None = None
        self.closed = False

    async def feed(self, message: _Message) -> None:
        data = await self.reader.read(READ)
        assert self.parser is not None
        if data:
            self.parser.feed_data(data)
        elif message.head_done and message.until_close():
            message.complete = True  # a body without a length ends where the connection does
        else:
            raise ConnectionResetError("workerd closed the connection mid-answer")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()


class Upstream:
    """Connections to one loopback HTTP server, reused while idle."""

    def __init__(self, host: str, port: int, max_idle: int = 64) -> None:
        self.host, self.port, self.max_idle = host, port, max_idle
        self._idle: list[_Conn] = []

    def release(self, conn: _Conn) -> None:
        if len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.close()

    async def request(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
    ) -> Answer:
        """Send a request; a reused connection that turns out closed is retried once on a new one
        (the server may drop an idle keep-alive connection at any moment)."""
        head = bytearray(f"{method} {target} HTTP/1.1\r\n".encode("latin-1"))
        for name, value in headers:
            head += name + b": " + value + b"\r\n"
        head += f"host: {self.host}:{self.port}\r\n".encode()
        if body or method not in ("GET", "HEAD"):  # a GET with even an empty body is refused by Workers
            head += f"content-length: {len(body)}\r\n".encode()
        head += b"\r\n"
        while True:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._connect()
            try:
                return await self._exchange(conn, bytes(head) + body, method)
            except (ConnectionError, asyncio.IncompleteReadError, httptools.HttpParserError):
                conn.close()
                if not reused:
                    raise

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=READ)
        return _Conn(reader, writer)

    async def _exchange(self, conn: _Conn, raw: bytes, method: str) -> Answer:
        message = _Message()
        conn.parser = httptools.HttpResponseParser(message)
        conn.writer.write(raw)
        await conn.writer.drain()
        while not message.head_done:
            await conn.feed(message)
        status = conn.parser.get_status_code()
        reuse = conn.parser.get_http_version() == "1.1"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            message.complete = True  # no body follows, whatever Content-Length says
            message.body.clear()
        return Answer(self, conn, message, status, reuse)

    def close(self) -> None:
        for conn in self._idle:
            with contextlib.suppress(Exception):
                conn.close()
        self._idle.clear()
