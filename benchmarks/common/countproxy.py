"""A counting HTTP/1.1 proxy on 127.0.0.1 in front of the emulator: every request a client sends
and the status it is answered with, told apart by route, by the script it names and by the
credential it carries.

A benchmark counts on the wire rather than trusting the client's own tally: the figures it
judges (requests per scenario, requests of any one tenant, 429 answers) must hold whatever the
client believes it sent. With ``hide_limit`` the proxy also drops the API's rate-limit headers
(``Ratelimit``, ``Ratelimit-Policy``) from every answer, ``Retry-After`` kept: the client then
sees a server that states no budget and sends unpaced, as clients did before they paced
themselves, and a refusal is retried by each request on its own after its ``Retry-After``.

Requests are read by ``Content-Length`` (httpx always sends one) and so are the emulator's
answers; each request goes upstream on a connection of its own (``connection: close``), so no
idle upstream connection can be closed under a request. The proxy serves from a background
thread's event loop; anything it cannot relay is kept in :attr:`CountingProxy.failures` (the
client sees a dropped connection) for the benchmark to report.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from assetsync.emulator.loopserver import LoopServer, listening

API_PREFIX = "/client/v4"
RATE_HEADERS = frozenset({"ratelimit", "ratelimit-policy"})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "content-length", "transfer-encoding"})
NAMESPACE_SCRIPTS = re.compile(
    r"/accounts/[^/]+/workers/dispatch/namespaces/[^/]+/scripts(?:/([^/]+)(/.*)?)?$"
)
PER_TENANT = ("session", "upload", "deploy", "script")  # routes that serve one tenant's script


def route_of(method: str, path: str) -> tuple[str, str | None]:
    """(route, the script the path names or None). Routes: ``list`` (a page of the namespace's
    scripts), ``session``, ``upload``, ``deploy``, ``script`` (any other call on one script),
    ``other``."""
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX) :]
    if path.endswith("/workers/assets/upload"):
        return "upload", None
    m = NAMESPACE_SCRIPTS.match(path)
    if m is None:
        return "other", None
    script, rest = m.group(1), m.group(2) or ""
    if script is None:
        return ("list" if method == "GET" else "other"), None
    if rest == "/assets-upload-session":
        return "session", script
    if not rest and method == "PUT":
        return "deploy", script
    return "script", script


@dataclass
class Tally:
    """What went through the proxy since the last :meth:`CountingProxy.take`."""

    requests: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    scripts: Counter[str] = field(default_factory=Counter)  # requests naming each script
    api_token: int = 0  # requests carrying the API token (the rest: upload tokens)

    @property
    def refused(self) -> int:
        """Requests answered 429."""
        return self.statuses[429]

    @property
    def per_tenant(self) -> int:
        """Requests serving one tenant (sessions, uploads, deploys, other calls on one script)."""
        return sum(self.routes[r] for r in PER_TENANT)


class ProxyFailure(Exception):
    """The proxy could not relay an exchange."""


@dataclass(frozen=True)
class _Message:
    first: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


async def _read(reader: asyncio.StreamReader, what: str, bodyless: bool = False) -> _Message | None:
    """One message (first line, headers, ``Content-Length`` body); None at a clean end of stream."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProxyFailure(f"{what} ended inside its headers") from None
        return None
    first, *lines = raw[:-4].decode("latin-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
    msg = _Message(first, headers, b"")
    if msg.header("transfer-encoding"):
        raise ProxyFailure(f"{what} has Transfer-Encoding, which this proxy does not relay: {first}")
    length = 0 if bodyless else int(msg.header("content-length") or 0)
    return _Message(first, headers, await reader.readexactly(length) if length else b"")


def _encode(first: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [first, *(f"{k}: {v}" for k, v in headers), f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class CountingProxy(LoopServer):
    """The proxy in front of ``127.0.0.1:upstream_port``; a context manager. ``api_token`` tells
    the API token's requests from upload tokens' (it is compared, never kept elsewhere or shown).
    :attr:`hide_limit` may be switched between runs."""

    def __init__(self, upstream_port: int, api_token: str, hide_limit: bool = False) -> None:
        super().__init__(listening(), "count-proxy", limit=1 << 20)
        self.upstream_port = upstream_port
        self.hide_limit = hide_limit
        self.failures: list[str] = []
        self._bearer = f"Bearer {api_token}"
        self._tally = Tally()
        self._lock = threading.Lock()
        self.api = f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def take(self) -> Tally:
        """What went through since the last call (or the start), and a fresh tally."""
        with self._lock:
            tally, self._tally = self._tally, Tally()
        return tally

    def __enter__(self) -> CountingProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read(reader, "a request")) is not None:
                writer.write(await self._relay(request))
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the proxy is stopping
        except Exception as exc:  # kept for the benchmark; to the client, a dropped connection
            with self._lock:
                self.failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            writer.transport.abort()

    async def _relay(self, request: _Message) -> bytes:
        """Send ``request`` upstream, count the exchange, and return the answer to pass back."""
        method, target, _ = request.first.split(" ", 2)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port, limit=1 << 20)
        try:
            headers = [(k, v) for k, v in request.headers if k.lower() not in HOP_BY_HOP]
            up_writer.write(_encode(request.first, [*headers, ("connection", "close")], request.body))
            await up_writer.drain()
            answer = await _read(up_reader, f"the answer to {method} {target}", bodyless=method == "HEAD")
        finally:
            up_writer.transport.abort()
        if answer is None:
            raise ProxyFailure(f"the emulator closed without answering {method} {target}")
        status = int(answer.first.split(" ", 2)[1])
        self._count(method, target.split("?", 1)[0], status, request.header("authorization"))
        drop = HOP_BY_HOP | RATE_HEADERS if self.hide_limit else HOP_BY_HOP
        kept = [(k, v) for k, v in answer.headers if k.lower() not in drop]
        return _encode(answer.first, kept, answer.body)

    def _count(self, method: str, path: str, status: int, authorization: str | None) -> None:
        route, script = route_of(method, path)
        with self._lock:
            t = self._tally
            t.requests += 1
            t.routes[route] += 1
            t.statuses[status] += 1
            if script is not None:
                t.scripts[script] += 1
            if authorization == self._bearer:
                t.api_token += 1
