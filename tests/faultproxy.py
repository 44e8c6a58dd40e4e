"""A fault-injecting HTTP/1.1 proxy: a real TCP server on 127.0.0.1 in front of a live emulator.

The client talks to the proxy exactly as it would talk to the API. For each request the proxy
reads the request line, the headers and the ``Content-Length`` body (httpx always sends exact
lengths), and a :class:`FaultPlan` decides whether to pass it through or to break it, in one of
the ways real networks and gateways do (:class:`Fault`).

The decision is a seeded function of *which* request it is (route, path, and for an upload the
first part's hash) and how many times that request was seen before, never of arrival order: runs
with concurrent uploads fault the same requests the same way every time, so tests are
deterministic. The proxy counts what it did per fault kind, so a test can assert that every kind
really happened, and keeps a record of every exchange.

Faults that pass the request on first (``RESET_RESPONSE``, ``HTTP_524``, ``STALL``,
``TRUNCATED``, ``NULL_RESULT``) are the cases where the server did the work and the client never
heard: its retry must be harmless. ``RESET_REQUEST`` passes on the first half of the body, so the
emulator sees a request cut short.
"""

from __future__ import annotations

import asyncio
import enum
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from assetsync.emulator.link import reset_connection
from assetsync.emulator.loopserver import LoopServer, listening

PART_NAME_RE = re.compile(rb'name="([^"]*)"')
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 429: "Too Many Requests", 500: "Internal Server Error"}
REASONS |= {502: "Bad Gateway", 503: "Service Unavailable", 524: "A Timeout Occurred"}
PIPE_CHUNK = 1 << 20


class Fault(enum.Enum):
    """One way a request can go wrong between the client and the API."""

    RESET_REQUEST = "connection reset mid-request"
    RESET_RESPONSE = "connection reset mid-response"
    HTTP_500 = "HTTP 500"
    HTTP_502 = "HTTP 502"
    HTTP_503 = "HTTP 503"
    HTTP_524 = "HTTP 524 after the server did the work"
    THROTTLED = "HTTP 429 with Retry-After"
    STALL = "no answer (stall past the client's timeout)"
    TRUNCATED = "truncated body"
    HTML_502 = "HTML error page, HTTP 502"
    HTML_200 = "HTML page, HTTP 200"
    NULL_RESULT = "result: null (upload session or upload)"


# Faults the server never sees (the proxy answers in its place), and those it sees in full.
NOT_FORWARDED = frozenset(
    {Fault.HTTP_500, Fault.HTTP_502, Fault.HTTP_503, Fault.THROTTLED, Fault.HTML_502, Fault.HTML_200}
)
ROUTES = frozenset({"session", "upload", "deploy"})


# A plan: (route, identity, sightings before this one) -> (fault or None, Retry-After seconds).
Plan = Callable[[str, str, int], "tuple[Fault | None, int]"]


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which requests to break, and how: ``rate`` of the requests on ``routes``, each broken by
    a kind drawn from ``kinds`` (``NULL_RESULT`` only hits sessions and uploads: a deploy
    answered so would look like a deploy that happened, and it did)."""

    rate: float = 0.0
    kinds: tuple[Fault, ...] = tuple(Fault)
    seed: int = 0
    routes: frozenset[str] = ROUTES
    retry_after: tuple[int, ...] = (0, 1)  # seconds a 429 asks for, drawn per fault

    def __call__(self, route: str, identity: str, seen: int) -> tuple[Fault | None, int]:
        """The fault for the ``seen``-th sighting (0-based) of request ``identity``, and the
        Retry-After it would carry."""
        if route not in self.routes:
            return None, 0
        rng = random.Random(f"{self.seed}\0{identity}\0{seen}")
        if rng.random() >= self.rate:
            return None, 0
        kinds = [k for k in self.kinds if k is not Fault.NULL_RESULT or route != "deploy"]
        if not kinds:
            return None, 0
        return rng.choice(kinds), rng.choice(self.retry_after)


@dataclass(slots=True)
class Exchange:
    """One request through the proxy, and what became of it."""

    route: str  # "session", "upload", "deploy" or "other"
    method: str
    path: str
    identity: str
    seen: int  # how many times this same request came before
    fault: Fault | None
    retry_after: int
    arrived: float  # time.monotonic()
    upstream_status: int | None = None  # what the emulator answered, if it was asked
    answered: float | None = None  # time.monotonic() just before the client was sent anything


def route_of(method: str, path: str) -> str:
    if path.endswith("/assets-upload-session"):
        return "session"
    if path.endswith("/workers/assets/upload"):
        return "upload"
    if method == "PUT":
        return "deploy"
    return "other"


@dataclass(slots=True)
class _Request:
    method: str
    target: str  # path and query
    headers: list[tuple[str, str]]
    length: int

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass(slots=True)
class _Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def encode(self) -> tuple[bytes, bytes]:
        """(status line and headers, body), with an exact Content-Length."""
        lines = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Status')}"]
        lines += [
            f"{k}: {v}"
            for k, v in self.headers
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive")
        ]
        lines.append(f"content-length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), self.body


def _envelope(status: int, code: int, message: str, extra: list[tuple[str, str]] | None = None) -> _Response:
    body = {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}
    headers = [("content-type", "application/json"), *(extra or [])]
    return _Response(status, headers, json.dumps(body).encode())


def _html(status: int) -> _Response:
    title = "502 Bad Gateway" if status == 502 else "Please wait..."
    page = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    return _Response(status, [("content-type", "text/html; charset=UTF-8")], page.encode())


def _canned(fault: Fault, retry_after: int) -> _Response:
    """The answer the proxy gives in the server's place."""
    if fault is Fault.HTTP_500:
        return _envelope(500, 10013, "An unknown error has occurred")
    if fault is Fault.HTTP_502:
        return _envelope(502, 10013, "Bad gateway")
    if fault is Fault.HTTP_503:
        return _envelope(503, 10013, "Service temporarily unavailable")
    if fault is Fault.THROTTLED:
        return _envelope(
            429,
            971,
            "Please wait and consider throttling your request speed",
            [("retry-after", str(retry_after))],
        )
    if fault is Fault.HTML_502:
        return _html(502)
    if fault is Fault.HTML_200:
        return _html(200)
    raise AssertionError(fault)


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]]] | None:
    """The first line and the headers of a message, or None on a clean end of stream."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    first, *lines = raw[:-4].decode("latin-1").split("\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return first, headers


class _Kept(Exception):
    """A failure already kept for :meth:`FaultProxy.check`: it only ends the connection."""


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


class FaultProxy(LoopServer):
    """The proxy, served from a background thread's event loop; use it as a context manager.

    ``counts`` says how many requests got each fault; ``exchanges`` records every request.
    ``on_request(exchange)`` runs (in a worker thread, so it may block on an Event) when a
    request's fault is decided, before anything is forwarded; ``on_response(exchange)`` after
    the emulator answered and before the client hears anything. Tests use them to hold a
    request while they change something, deterministically.

    A hook that raises (a failed assertion of the test) or a failure of the proxy itself drops
    that connection, which to the client is a network error it retries: so each is kept in
    ``failures`` and raised by :meth:`check`, which closing the proxy calls.
    """

    def __init__(self, upstream_port: int, plan: Plan | None = None) -> None:
        super().__init__(listening(backlog=128), "fault-proxy")
        self.upstream_port = upstream_port
        self.plan: Plan = plan or FaultPlan()
        self.counts: Counter[Fault] = Counter()
        self.exchanges: list[Exchange] = []
        self.on_request: Callable[[Exchange], None] | None = None
        self.on_response: Callable[[Exchange], None] | None = None
        self.failures: list[Exception] = []
        self._sightings: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.api = f"http://127.0.0.1:{self.port}/client/v4"

    # -- life cycle ----------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.check()  # raised over an exception already leaving the block: it is the likelier cause

    # -- what tests read -----------------------------------------------------------------

    def check(self) -> None:
        """Raise the first failure of a hook or of the proxy since the last check, if any."""
        with self._lock:
            failures, self.failures = self.failures, []
        if failures:
            first = failures[0]
            if len(failures) > 1:
                first.add_note(f"(and {len(failures) - 1} more failures in the fault proxy)")
            raise first

    def routed(self, route: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.route == route]

    # -- serving -------------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (
            _Kept,
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            asyncio.CancelledError,
        ):
            pass  # the client or the emulator went away, the proxy is stopping, or a hook failed
        except Exception as exc:  # the proxy's own failure: the client would only retry it
            self._keep(exc)
        finally:
            writer.transport.abort()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is done."""
        head = await _read_head(reader)
        if head is None:
            return False
        line, headers = head
        method, target, _ = line.split(" ", 2)
        if _header(headers, "transfer-encoding"):
            raise AssertionError("the proxy only handles Content-Length bodies, and clients send those")
        request = _Request(method, target, headers, int(_header(headers, "content-length") or 0))
        route = route_of(method, request.path)
        # An upload is told apart by its first part: read that much before deciding.
        start = await reader.readexactly(min(request.length, 4096)) if route == "upload" else b""
        identity = f"{method} {request.path}"
        if route == "upload" and (m := PART_NAME_RE.search(start)):
            identity += " " + m.group(1).decode("latin-1")
        with self._lock:
            seen = self._sightings[identity]
            self._sightings[identity] += 1
            fault, retry_after = self.plan(route, identity, seen)
            exchange = Exchange(
                route, method, request.path, identity, seen, fault, retry_after, time.monotonic()
            )
            self.exchanges.append(exchange)
            if fault is not None:
                self.counts[fault] += 1
        if self.on_request is not None:
            await self._hook(self.on_request, exchange)
        return await self._answer(request, start, exchange, reader, writer)

    async def _answer(
        self,
        request: _Request,
        start: bytes,
        exchange: Exchange,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        fault = exchange.fault
        if fault in NOT_FORWARDED:
            assert fault is not None
            await _drain(reader, request.length - len(start))
            await self._send(writer, exchange, _canned(fault, exchange.retry_after))
            return True
        if fault is Fault.RESET_REQUEST:
            await self._forward(request, start, reader, cut=request.length // 2)
            reset_connection(writer)
            return False
        response = await self._forward(request, start, reader)
        assert response is not None
        exchange.upstream_status = response.status
        if self.on_response is not None:
            await self._hook(self.on_response, exchange)
        if fault is None:
            await self._send(writer, exchange, response)
            return True
        if fault is Fault.HTTP_524:
            timeout = _envelope(524, 10013, "A timeout occurred: the origin did not answer in time")
            await self._send(writer, exchange, timeout)
            return True
        if fault is Fault.NULL_RESULT:
            null = b'{"success": true, "errors": null, "messages": null, "result": null}'
            await self._send(writer, exchange, _Response(200, [("content-type", "application/json")], null))
            return True
        if fault is Fault.STALL:
            while await reader.read(PIPE_CHUNK):  # until the client gives up and closes
                pass
            return False
        head, body = response.encode()
        exchange.answered = time.monotonic()
        writer.write(head + body[: len(body) // 2])
        await writer.drain()
        if fault is Fault.RESET_RESPONSE:
            reset_connection(writer)
        else:  # TRUNCATED: the Content-Length promised more than arrives before the close
            writer.close()
        return False

    async def _hook(self, hook: Callable[[Exchange], None], exchange: Exchange) -> None:
        """Run a test's hook; whatever it raises is kept for :meth:`check`, and drops the connection."""
        try:
            await asyncio.to_thread(hook, exchange)
        except Exception as exc:
            self._keep(exc)
            raise _Kept from exc

    def _keep(self, exc: Exception) -> None:
        with self._lock:
            self.failures.append(exc)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, exchange: Exchange, response: _Response) -> None:
        head, body = response.encode()
        exchange.answered = time.monotonic()
        writer.write(head + body)
        await writer.drain()

    async def _forward(
        self, request: _Request, start: bytes, reader: asyncio.StreamReader, cut: int | None = None
    ) -> _Response | None:
        """Pass the request to the emulator and read its answer; with ``cut``, pass only that many
        body bytes and reset the upstream connection (returns None)."""
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            lines = [f"{request.method} {request.target} HTTP/1.1"]
            lines += [
                f"{k}: {v}" for k, v in request.headers if k.lower() not in ("connection", "keep-alive")
            ]
            lines.append("connection: close")
            up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            limit = request.length if cut is None else cut
            up_writer.write(start[:limit])
            sent = min(len(start), limit)
            while sent < limit:
                chunk = await reader.read(min(limit - sent, PIPE_CHUNK))
                if not chunk:
                    raise asyncio.IncompleteReadError(b"", limit - sent)
                up_writer.write(chunk)
                sent += len(chunk)
                await up_writer.drain()
            await up_writer.drain()
            if cut is not None:
                reset_connection(up_writer)
                return None
            head = await _read_head(up_reader)
            if head is None:  # as a killed emulator does: the client sees a dropped connection
                raise ConnectionResetError("the emulator closed without answering")
            status_line, headers = head
            if _header(headers, "transfer-encoding"):
                raise AssertionError("the emulator's API answers carry a Content-Length")
            length = _header(headers, "content-length")
            body = await (up_reader.readexactly(int(length)) if length is not None else up_reader.read())
            return _Response(int(status_line.split(" ", 2)[1]), headers, body)
        finally:
            up_writer.transport.abort()


async def _drain(reader: asyncio.StreamReader, n: int) -> None:
    while n > 0:
        chunk = await reader.read(min(n, PIPE_CHUNK))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", n)
        n -= len(chunk)
