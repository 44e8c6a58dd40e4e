"""A TCP listener served by asyncio on a daemon thread of its own.

The proxies that sit between a client and the emulator run in the process of one of them: the
link model of ``serve --link`` beside uvicorn, the test suite's fault injector and the benchmarks'
request counter beside a test or a benchmark that blocks its own thread. Each needs the same life
cycle, here once: start (the socket is bound and listening before, so its port is known at once),
track every connection's handler, and on close drop every connection, end every handler and stop
the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

STOP_WAIT = 10.0  # seconds close() waits for the loop to start, stop, or run a call


def listening(
    host: str = "127.0.0.1", port: int = 0, backlog: int = 512, rcvbuf: int | None = None
) -> socket.socket:
    """A bound, listening TCP socket on ``host:port`` (0: any free port). ``rcvbuf`` is set before
    listen(), so that the accepted sockets inherit it."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class LoopServer:
    """Serves ``sock`` with :meth:`handle`, one task a connection, on a loop of its own thread.

    Subclasses implement :meth:`handle`, which closes its connection as it ends (gracefully or
    not: that is the subclass's to say), and may add to :meth:`stopping` (what to do to their own
    state before the connections are dropped). On close every handler's writer is aborted and
    its task cancelled.
    """

    def __init__(self, sock: socket.socket, name: str, limit: int = 1 << 16) -> None:
        self._sock = sock
        self.port: int = sock.getsockname()[1]
        self._limit = limit
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._closed = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def stopping(self) -> None:
        """Called on the loop as the server closes, before every connection is dropped."""

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> LoopServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(STOP_WAIT)
        return self

    def close(self) -> None:
        """Stop listening, drop every connection and stop the loop; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(STOP_WAIT)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_WAIT)
        self._loop.close()
        self._sock.close()

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop and wait for it, so that what it changes holds before the
        caller's next byte reaches the server."""
        if not self._thread.is_alive() or threading.current_thread() is self._thread:
            fn()
            return

        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(STOP_WAIT)

    # -- on the loop ---------------------------------------------------------------------

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self._sock, limit=self._limit)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = writer
        try:
            await self.handle(reader, writer)
        finally:
            self._handlers.pop(task, None)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.stopping()
        for writer in self._handlers.values():
            writer.transport.abort()
        for task in self._handlers:
            task.cancel()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
