"""The runtime's lean HTTP/1.1 client to workerd, against a real loopback server written here:
bodies by length, chunked and by close, HEAD, reuse of idle connections, and a server that drops
an idle one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from assetsync.emulator.runtime.upstream import Upstream

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def head_of(reader: asyncio.StreamReader) -> list[bytes]:
    return (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")


async def with_server(handler: Handler, test: Callable[[Upstream], Awaitable[None]]) -> list[int]:
    """Run ``test`` against a server on 127.0.0.1 answering with ``handler``; the connections it
    accepted, numbered in order of the requests."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(len(accepted))
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream = Upstream("127.0.0.1", port)
    try:
        await test(upstream)
    finally:
        upstream.close()
        server.close()
    return accepted


def test_bodies_by_length_chunked_and_close_and_headers_kept() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                lines = await head_of(reader)
            except asyncio.IncompleteReadError:
                return
            path = lines[0].split()[1]
            length = next(
                (int(x.split(b":")[1]) for x in lines if x.lower().startswith(b"content-length")), 0
            )
            body = await reader.readexactly(length)
            if path == b"/chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
                writer.write(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            elif path == b"/close":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
                await writer.drain()
                return
            else:
                answer = b"got " + body
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            await writer.drain()

    async def test(upstream: Upstream) -> None:
        posted = await upstream.request("POST", "/", [(b"x-one", b"1")], b"payload")
        assert (posted.status, await posted.read()) == (201, b"got payload")
        posted.close()  # again, as the server's after-response task does: still one idle connection
        chunked = await upstream.request("GET", "/chunked", [])
        assert [v for k, v in chunked.headers if k.lower() == b"x-a"] == [b"1", b"2"]  # repeated, in order
        assert await chunked.read() == b"hello world"
        closing = await upstream.request("GET", "/close", [])
        assert await closing.read() == b"until the end"

    accepted = asyncio.run(with_server(handler, test))
    assert accepted == [0]  # one connection served the two keep-alive answers; close ended it


def test_head_has_no_body_and_the_connection_is_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await head_of(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            await writer.drain()

    async def test(upstream: Upstream) -> None:
        for _ in range(2):
            head = await upstream.request("HEAD", "/", [])
            assert (head.status, await head.read()) == (200, b"")

    assert asyncio.run(with_server(handler, test)) == [0]


def test_an_idle_connection_the_server_dropped_is_retried_once_on_a_new_one() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head_of(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()  # then the handler returns: the server closes this connection

    async def test(upstream: Upstream) -> None:
        first = await upstream.request("GET", "/", [])
        assert await first.read() == b"ok"
        second = await upstream.request("GET", "/", [])  # the idle connection is gone: a new one
        assert await second.read() == b"ok"

    assert asyncio.run(with_server(handler, test)) == [0, 1]


def test_a_fresh_connection_that_fails_is_an_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await head_of(reader)  # and hang up without an answer

    async def test(upstream: Upstream) -> None:
        with pytest.raises(ConnectionError):
            await upstream.request("GET", "/", [])

    asyncio.run(with_server(handler, test))
