"""A link simulator: a TCP proxy on 127.0.0.1 that behaves like a slow, distant or flaky network.

On loopback bandwidth is free and a round trip takes microseconds, so nothing measured there says
how a deploy fares from a home uplink (1-5 MB/s), a CI runner far from the API (50-200 ms round
trips) or a link that drops connections. :class:`LinkProxy` sits in front of a server and shapes
what passes, per direction:

- bandwidth: one :class:`Bottleneck` shared by every connection, as one uplink is. Chunks (at
  most 16 KiB) take turns in the order they ask, each occupying it len/rate seconds, so N busy
  connections get about 1/N each. The sender is read only as fast as the link carries (small
  socket buffers, a bounded delay line), so backpressure reaches it as on a real link.
- delay: a chunk arrives rtt/2 after it leaves the bottleneck, in order per connection; a new
  connection's first client bytes wait one more rtt, the handshake a real link costs.
- resets: the proxy counts requests (the client sending after the server spoke, or a
  connection's first bytes) and cuts chosen ones with a TCP reset, so the client sees ECONNRESET
  and the server a request cut short.
- stall: bytes stop moving both ways until resumed, as on a dead Wi-Fi or a black-holed route.

The scheduling rules are pure (:class:`Bottleneck`, :class:`Resets`) so tests check them without
sockets or sleeps. Stdlib only: the emulator stands on nothing of the library but the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import random
import re
import socket
import struct
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, fields
from typing import Any

from .loopserver import LoopServer, listening

CHUNK = 16 * 1024  # the most one read takes from a sender: the unit the bottleneck schedules
RCVBUF = 64 * 1024  # kernel receive buffer of the proxy's sockets, so backpressure reaches senders
LOOKAHEAD = 0.01  # s: how far ahead of the bottleneck a sender is read (timer and GIL slack)
RESET_SPAN = 1 << 20  # a random reset cuts a request within its first MiB
EXAMPLE = "8mbit/40ms; 100kB/200ms,reset=1%; up=2mbit,down=20mbit,rtt=80ms"

_BIT_UNITS = {"bit": 1.0, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}  # any case
_BYTE_UNITS = {"B": 1.0, "kB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024.0, "MiB": 1024.0**2, "GiB": 1024.0**3}
_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([A-Za-z%]*)")


def _number_unit(text: str, what: str) -> tuple[float, str]:
    m = _NUMBER.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"{what} {text.strip()!r} is not a number with a unit")
    return float(m.group(1)), m.group(2)


def parse_rate(text: str) -> float | None:
    """Bytes per second from ``8mbit``, ``100kB``, ``1.5MiB`` ...; None for ``unlimited``."""
    if text.strip().lower() == "unlimited":
        return None
    value, unit = _number_unit(text, "rate")
    if unit.lower() in _BIT_UNITS:
        rate = value * _BIT_UNITS[unit.lower()] / 8
    elif unit in _BYTE_UNITS:
        rate = value * _BYTE_UNITS[unit]
    else:
        problem = f"has an unknown unit {unit!r}" if unit else "needs a unit"
        raise ValueError(
            f"rate {text.strip()!r} {problem}: bits/s as bit, kbit, mbit, gbit, or bytes/s as "
            "B, kB, MB, KiB, MiB (mbit or MB, never mb), or unlimited"
        )
    if rate <= 0:
        raise ValueError(f"rate {text.strip()!r} must be above zero (unlimited for no limit)")
    return rate


def parse_duration(text: str) -> float:
    """Seconds from ``40ms``, ``0.2s`` or a bare ``0``."""
    value, unit = _number_unit(text, "round trip")
    scale = {"ms": 1e-3, "s": 1.0}.get(unit.lower(), 0.0 if value == 0 and not unit else None)
    if scale is None:
        raise ValueError(f"round trip {text.strip()!r} needs a unit: ms or s (40ms, 0.2s; 0 for none)")
    return value * scale


def _probability(text: str) -> float:
    value, unit = _number_unit(text, "reset")
    if unit not in ("", "%"):
        raise ValueError(f"reset {text.strip()!r} is a probability: 1% or 0.01")
    p = value / 100 if unit else value
    if not 0 <= p <= 1:
        raise ValueError(f"reset {text.strip()!r} is a probability between 0 and 1 (0%..100%)")
    return p


def _shown(x: float) -> str:
    """A number for people: at most two decimals, no trailing zeros."""
    return f"{round(x, 2):g}"


def describe_rate(rate: float | None) -> str:
    """``8 Mbit/s`` for 1,000,000 bytes/s: links are sold in bits."""
    if rate is None:
        return "unlimited"
    bits = rate * 8
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= scale:
            return f"{_shown(bits / scale)} {unit}"
    return f"{_shown(bits)} bit/s"


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """What the link is like. Rates in bytes/s (None: unlimited); ``rtt`` in seconds, each
    direction adding half; ``reset``: the probability that a request is cut by a TCP reset,
    drawn per request from ``random.Random(seed)``."""

    up: float | None = None
    down: float | None = None
    rtt: float = 0.0
    reset: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("up", "down"):
            rate = getattr(self, name)
            if rate is not None and not (rate > 0 and math.isfinite(rate)):
                raise ValueError(f"{name} must be a rate above zero in bytes/s, or None (unlimited)")
        if not (self.rtt >= 0 and math.isfinite(self.rtt)):
            raise ValueError("rtt must be zero or more seconds")
        if not 0 <= self.reset <= 1:
            raise ValueError("reset must be a probability between 0 and 1")

    @classmethod
    def parse(cls, text: str) -> LinkSpec:
        """From ``RATE/RTT`` (both directions) and/or comma-separated ``up=RATE``, ``down=RATE``,
        ``rtt=DURATION``, ``reset=1%`` (or ``0.01``), ``seed=N``, e.g. ``8mbit/40ms,reset=1%``.

        Bad text is a ValueError that says what is wrong and shows examples.
        """
        try:
            return cls._parse(text)
        except ValueError as exc:
            raise ValueError(f"link {text!r}: {exc}. Examples: {EXAMPLE}") from None

    @classmethod
    def _parse(cls, text: str) -> LinkSpec:
        items = [item.strip() for item in text.split(",")]
        if not text.strip():
            raise ValueError("empty: give RATE/RTT")
        values: dict[str, Any] = {}
        if "=" not in items[0]:
            rate, slash, rtt = items.pop(0).partition("/")
            values["up"] = values["down"] = parse_rate(rate)
            if slash:
                values["rtt"] = parse_duration(rtt)
        given: set[str] = set()
        for item in items:
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if not eq or not key:
                raise ValueError(f"{item!r} is neither RATE/RTT (first) nor KEY=VALUE")
            if key in given:
                raise ValueError(f"{key}= is given twice")
            given.add(key)
            if key in ("up", "down"):
                values[key] = parse_rate(value)
            elif key == "rtt":
                values[key] = parse_duration(value)
            elif key == "reset":
                values[key] = _probability(value)
            elif key == "seed":
                if not re.fullmatch(r"\s*-?\d+\s*", value):
                    raise ValueError(f"seed {value.strip()!r} is not a whole number")
                values[key] = int(value)
            else:
                raise ValueError(f"unknown key {key!r} (up, down, rtt, reset, seed)")
        return cls(**values)

    def describe(self) -> str:
        """``8 Mbit/s up, 8 Mbit/s down, 40 ms RTT, 1% requests reset`` (no reset part at 0)."""
        parts = [
            f"{describe_rate(self.up)} up",
            f"{describe_rate(self.down)} down",
            f"{round(self.rtt * 1000, 3):g} ms RTT",
        ]
        if self.reset:
            parts.append(f"{round(self.reset * 100, 4):g}% requests reset")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class LinkStats:
    """What the link carried: bytes delivered each way, requests seen, resets it caused."""

    connections: int = 0
    requests: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    resets: int = 0


class Bottleneck:
    """One direction's bottleneck, shared by every connection: chunks occupy it one after another
    in the order they ask (FIFO), each for n/rate seconds, so N busy connections get ~1/N each.
    An idle link saves no credit: a chunk asked for after a pause starts when asked.

    Pure arithmetic on the caller's clock, so its rules are tested without sockets or sleeps.
    """

    __slots__ = ("carried", "free_at", "rate")

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError("a bottleneck's rate must be above zero")
        self.rate = rate
        self.free_at = -math.inf  # when the last chunk granted has left
        self.carried = 0  # bytes granted so far

    def grant(self, n: int, now: float) -> float:
        """Queue ``n`` bytes asked for at ``now``: when their last byte has left the bottleneck."""
        self.free_at = max(now, self.free_at) + n / self.rate
        self.carried += n
        return self.free_at


class Resets:
    """Which requests a reset cuts, and after how many of their bytes: forced cuts first (tests
    ask for them), then, with ``probability``, a seeded draw per request in order of arrival, at
    a uniformly random point of the request's first MiB."""

    def __init__(self, probability: float, seed: int) -> None:
        self.probability = probability
        self._rng = random.Random(seed)
        self._forced: deque[int] = deque()

    def force(self, after: int, count: int = 1) -> None:
        if after < 0 or count < 0:
            raise ValueError("cut(after, count) takes a byte count and a request count, both >= 0")
        self._forced.extend([after] * count)

    def next_request(self) -> int | None:
        """For the request that just began: cut after this many of its bytes, or None."""
        if self._forced:
            return self._forced.popleft()
        if self.probability and self._rng.random() < self.probability:
            return self._rng.randrange(RESET_SPAN)
        return None


class _Mark(enum.Enum):
    EOF = "the sender closed its side"
    RESET = "reset the connection here"


class _Line:
    """One direction of one connection past the bottleneck: chunks wait out their propagation
    delay here, in order. Holding more than ``window`` bytes (a receiver not reading) stops the
    sender being read, as a full TCP window does."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.items: asyncio.Queue[tuple[float, bytes | _Mark]] = asyncio.Queue()
        self.held = 0
        self.room = asyncio.Event()
        self.room.set()

    def put(self, at: float, item: bytes | _Mark) -> None:
        if isinstance(item, bytes):
            self.held += len(item)
            if self.held > self.window:
                self.room.clear()
        self.items.put_nowait((at, item))

    def delivered(self, n: int) -> None:
        self.held -= n
        if self.held <= self.window:
            self.room.set()


@dataclass(eq=False, slots=True)
class _Conn:
    client_r: asyncio.StreamReader
    client_w: asyncio.StreamWriter
    server_r: asyncio.StreamReader
    server_w: asyncio.StreamWriter
    opened: float  # loop time the client connected
    up: _Line
    down: _Line
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    request_due: bool = True  # the client's next bytes begin a request
    cut_at: int | None = None  # the current request is reset after this many of its bytes
    sent: int = 0  # bytes of the current request so far
    closed: bool = False


def reset_connection(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dropped link, a crashed peer or a middlebox does, not
    with FIN: the peer sees ECONNRESET."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


class LinkProxy(LoopServer):
    """Listens on host:port (0 = any free port), forwards each connection to upstream (host,
    port) through the link ``spec``; ``start()`` serves from an event loop on a daemon thread.

    ``bottleneck_up`` and ``bottleneck_down`` are the one :class:`Bottleneck` of each direction
    that every connection shares (None where the direction is unlimited).
    """

    def __init__(
        self, upstream: tuple[str, int], spec: LinkSpec, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        # RCVBUF: the kernel does not take megabytes from the client ahead of the bottleneck
        # (loopback autotuning would).
        super().__init__(listening(host, port, rcvbuf=RCVBUF), "link-proxy", limit=CHUNK)
        self.upstream = upstream
        self.spec = spec
        self.bottleneck_up = Bottleneck(spec.up) if spec.up is not None else None
        self.bottleneck_down = Bottleneck(spec.down) if spec.down is not None else None
        self._resets = Resets(spec.reset, spec.seed)
        self._counts = {f.name: 0 for f in fields(LinkStats)}
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{self.port}"
        self._moving = asyncio.Event()  # cleared while stalled
        self._moving.set()
        self._conns: set[_Conn] = set()

    def start(self) -> LinkProxy:
        super().start()
        return self

    def __enter__(self) -> LinkProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stopping(self) -> None:
        for conn in list(self._conns):
            self._reset(conn, counted=False)

    # -- what callers use ----------------------------------------------------------------

    @property
    def stats(self) -> LinkStats:
        return LinkStats(**self._counts)

    def stall(self) -> None:
        """Stop moving bytes both ways (connections stay open, new ones are accepted but carry
        nothing) until :meth:`resume`. In effect when it returns."""
        self.call(self._moving.clear)

    def resume(self) -> None:
        self.call(self._moving.set)

    def cut(self, after: int, count: int = 1) -> None:
        """Reset the next ``count`` requests after ``after`` bytes of each have passed; a request
        that ends sooner is reset as its answer begins (the server did the work, the client
        never hears)."""
        self.call(lambda: self._resets.force(after, count))

    # -- serving -------------------------------------------------------------------------

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        host, port = self.upstream
        family, kind, proto, _, address = (await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)  # the answer waits at the server
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock, limit=CHUNK)

    def _window(self, rate: float | None) -> float:
        if rate is None:
            return 4 << 20
        return max(4 * CHUNK, rate * (self.spec.rtt + 2 * LOOKAHEAD))

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._counts["connections"] += 1
        opened = asyncio.get_running_loop().time()
        conn = None
        try:
            await self._moving.wait()  # a stalled link carries no handshake either
            server_r, server_w = await self._connect()
            up, down = _Line(self._window(self.spec.up)), _Line(self._window(self.spec.down))
            conn = _Conn(client_r, client_w, server_r, server_w, opened, up, down)
            self._conns.add(conn)
            conn.tasks = [
                asyncio.create_task(self._guard(conn, work, upward))
                for work in (self._pump, self._deliver)
                for upward in (True, False)
            ]
            await asyncio.gather(*conn.tasks, return_exceptions=True)
            if not conn.closed:  # both sides closed theirs: close ours
                conn.closed = True
                client_w.close()
                server_w.close()
        except OSError:  # the server cannot be reached: so the client learns at once
            reset_connection(client_w)
        except asyncio.CancelledError:
            pass  # the proxy is closing; nobody awaits this task
        finally:
            if conn is None:
                client_w.transport.abort()
            else:
                self._conns.discard(conn)

    async def _guard(
        self, conn: _Conn, work: Callable[[_Conn, bool], Coroutine[Any, Any, None]], upward: bool
    ) -> None:
        """Run one of a connection's tasks; a side that fails (reset, broken pipe) resets the
        other, as a real path passes an RST on."""
        try:
            await work(conn, upward)
        except (OSError, asyncio.IncompleteReadError):
            self._reset(conn, counted=False)

    def _reset(self, conn: _Conn, counted: bool) -> None:
        """Drop both sides with RST; ``counted``: the link's own doing (``stats.resets``)."""
        if conn.closed:
            return
        conn.closed = True
        if counted:
            self._counts["resets"] += 1
        reset_connection(conn.client_w)
        reset_connection(conn.server_w)
        me = asyncio.current_task()
        for task in conn.tasks:
            if task is not me:
                task.cancel()

    async def _pump(self, conn: _Conn, upward: bool) -> None:
        """Read a sender no faster than its bottleneck carries, and put each chunk on the line
        with the time it arrives at the other end."""
        loop = asyncio.get_running_loop()
        source, line = (conn.client_r, conn.up) if upward else (conn.server_r, conn.down)
        bottleneck = self.bottleneck_up if upward else self.bottleneck_down
        half = self.spec.rtt / 2
        while True:
            await line.room.wait()
            data = await source.read(CHUNK)
            await self._moving.wait()
            now = loop.time()
            if not data:
                line.put(now + half, _Mark.EOF)
                return
            mark = None
            if upward:
                data, mark = self._request_bytes(conn, data)
            else:
                if conn.cut_at is not None:  # a request shorter than its cut: reset as the answer begins
                    self._reset(conn, counted=True)
                    return
                conn.request_due = True
            if upward and now < conn.opened + self.spec.rtt:  # nothing leaves before the handshake
                await _until(loop, conn.opened + self.spec.rtt)
                now = loop.time()
            left = now if bottleneck is None or not data else bottleneck.grant(len(data), now)
            if data:
                line.put(left + half, data)
            if mark is not None:
                line.put(left + half, mark)
                return
            if bottleneck is not None:
                await _until(loop, left - LOOKAHEAD)

    def _request_bytes(self, conn: _Conn, data: bytes) -> tuple[bytes, _Mark | None]:
        """Count requests and cut the one due for a reset: the bytes to pass, and RESET after them."""
        if conn.request_due:
            conn.request_due = False
            conn.sent = 0
            conn.cut_at = self._resets.next_request()
            self._counts["requests"] += 1
        mark = None
        if conn.cut_at is not None and conn.sent + len(data) >= conn.cut_at:
            data, mark = data[: conn.cut_at - conn.sent], _Mark.RESET
        conn.sent += len(data)
        return data, mark

    async def _deliver(self, conn: _Conn, upward: bool) -> None:
        """Hand each chunk to its receiver when it arrives, in order."""
        loop = asyncio.get_running_loop()
        line, sink = (conn.up, conn.server_w) if upward else (conn.down, conn.client_w)
        counter = "bytes_up" if upward else "bytes_down"
        while True:
            at, item = await line.items.get()
            await _until(loop, at)
            await self._moving.wait()
            if item is _Mark.EOF:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            if item is _Mark.RESET:
                self._reset(conn, counted=True)
                return
            self._counts[counter] += len(item)  # first: whoever has the bytes sees them counted
            sink.write(item)
            await sink.drain()
            line.delivered(len(item))
