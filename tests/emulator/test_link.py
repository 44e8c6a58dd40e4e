"""The link simulator over real sockets on 127.0.0.1: what passes, what it counts, how it resets
and stalls, and ``assetsync serve --link``.

Every wait here is for an event, a byte or a line, with a timeout; no assertion is on wall time
(the bottleneck's arithmetic is checked in tests/unit/test_link.py). The one kind of quiet wait,
"nothing arrives within QUIET while stalled", can only pass sooner on a slow machine, never fail.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest

from assetsync.emulator.link import LinkProxy, LinkSpec, LinkStats
from assetsync.engine import SyncOptions, sync
from assetsync.folder.build import BuildOptions
from assetsync.retry import Backoff
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import WAIT, LiveEmulator, cli_running, make_tree, run_cli

QUIET = 0.3  # seconds in which a stalled link must move nothing
LINK_LINE = re.compile(r"assetsync emulator: API through the link \((.+)\) at (http://\S+/client/v4)")


class Upstream:
    """A TCP server on 127.0.0.1 for a proxy to stand in front of: it keeps (and with ``echo``,
    sends back) what each connection sends, and puts on ``ended`` how each ended ("eof" or
    "reset") with the bytes it got."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self.sock.getsockname()
        self.accepted = 0
        self.received = 0  # bytes, over every connection
        self.ended: queue.Queue[tuple[bytes, str]] = queue.Queue()
        self._changed = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.sock.close()

    def wait_received(self, n: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.received >= n, WAIT), (self.received, n)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        got, how = bytearray(), "eof"
        try:
            while chunk := conn.recv(1 << 16):
                got += chunk
                with self._changed:
                    self.received += len(chunk)
                    self._changed.notify_all()
                if self.echo:
                    conn.sendall(chunk)
        except (ConnectionResetError, BrokenPipeError):
            how = "reset"
        finally:
            conn.close()
            self.ended.put((bytes(got), how))


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as up:
        yield up


def connect(proxy: LinkProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT)


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, f"the connection ended after {len(out)} of {n} bytes"
        out += chunk
    return bytes(out)


def exchange(proxy: LinkProxy, payload: bytes) -> bytes:
    """Send ``payload`` through the proxy to an echoing upstream (then close our side) and
    return all that comes back."""
    with connect(proxy) as sock:

        def send() -> None:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        back = bytearray()
        while chunk := sock.recv(1 << 16):
            back += chunk
        sender.join(WAIT)
        return bytes(back)


def test_bytes_pass_intact_both_ways_and_connections_share_one_bottleneck(upstream: Upstream) -> None:
    payloads = [os.urandom(300_000 + i) for i in range(3)]
    with LinkProxy(upstream.address, LinkSpec.parse("100mbit/10ms")) as proxy:
        with ThreadPoolExecutor(len(payloads)) as pool:
            echoes = list(pool.map(partial(exchange, proxy), payloads))
        stats = proxy.stats
    assert echoes == payloads
    total = sum(map(len, payloads))
    assert (stats.connections, stats.bytes_up, stats.bytes_down, stats.resets) == (3, total, total, 0)
    # One bottleneck each way carried every connection's bytes: they shared it, as one uplink.
    assert proxy.bottleneck_up is not None and proxy.bottleneck_down is not None
    assert proxy.bottleneck_up.carried == proxy.bottleneck_down.carried == total


def test_requests_are_counted_by_turns(upstream: Upstream) -> None:
    """A request begins with a connection's first bytes, or when the client speaks after the server did."""
    with LinkProxy(upstream.address, LinkSpec()) as proxy:
        with connect(proxy) as sock:
            for message in (b"GET /a", b"GET /bb"):
                sock.sendall(message)
                assert recv_exactly(sock, len(message)) == message
        with connect(proxy) as sock:
            sock.sendall(b"x")
            assert recv_exactly(sock, 1) == b"x"
        assert proxy.stats == LinkStats(connections=2, requests=3, bytes_up=14, bytes_down=14, resets=0)


def _options(tmp_path: Path, **kw: object) -> SyncOptions:
    return SyncOptions(script="site", build=BuildOptions(cache_dir=str(tmp_path / "cache")), **kw)  # type: ignore[arg-type]


def test_a_deploy_through_the_link_to_the_emulator(tmp_path: Path, recorded: LiveEmulator) -> None:
    big = os.urandom(200_000)
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "big.bin": big})
    with LinkProxy(("127.0.0.1", recorded.port), LinkSpec.parse("50mbit/20ms")) as proxy:
        target = Target("api", proxy.url + "/client/v4", ACCOUNT, recorded.token)
        report = sync(str(site), _options(tmp_path), target)
        stats = proxy.stats
    assert report.deployment_id and report.uploaded == 2
    assert stats.requests == len(recorded.app.requests) >= 3  # session, upload, deploy
    served = httpx.get(recorded.origin + "/big.bin", headers={"Host": "site.localhost"}, timeout=WAIT)
    assert served.content == big
    assert stats.bytes_up > len(big) * 4 // 3  # the upload went through the link, base64-encoded


def test_a_deploy_through_resets_retries_them_and_deploys(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "a.css": "a{}"})
    with LinkProxy(("127.0.0.1", recorded.port), LinkSpec()) as proxy:
        proxy.cut(after=200, count=2)  # the first two requests die in their headers
        target = Target("api", proxy.url + "/client/v4", ACCOUNT, recorded.token)
        # In a namespace: only the session, uploads and the deploy go out (no workers.dev lookups,
        # which are tried once each), so both cuts hit requests that are retried.
        options = _options(tmp_path, namespace="ns", backoff=Backoff(base=0.001, cap=0.002))
        report = sync(str(site), options, target)
        stats = proxy.stats
    assert report.deployment_id and report.retries == 2
    assert stats.resets == 2 and stats.requests == len(recorded.app.requests) + 2  # the cut ones never got in


def test_cut_resets_the_client_and_the_server_sees_the_request_cut_short(upstream: Upstream) -> None:
    payload = os.urandom(200_000)
    with LinkProxy(upstream.address, LinkSpec()) as proxy:
        proxy.cut(after=1000)
        with connect(proxy) as sock, pytest.raises(ConnectionResetError):
            sock.sendall(payload)  # the first call to meet the reset raises ECONNRESET
            sock.recv(1)
        got, how = upstream.ended.get(timeout=WAIT)
        assert (got, how) == (payload[:1000], "reset")
        assert exchange(proxy, b"next") == b"next"  # the cut was for one request only
        assert (proxy.stats.resets, proxy.stats.requests) == (1, 2)


def test_a_request_shorter_than_its_cut_is_reset_as_its_answer_begins(upstream: Upstream) -> None:
    with LinkProxy(upstream.address, LinkSpec()) as proxy:
        proxy.cut(after=1 << 20)
        with connect(proxy) as sock, pytest.raises(ConnectionResetError):
            sock.sendall(b"ping")
            sock.recv(1)
        got, how = upstream.ended.get(timeout=WAIT)
        assert (got, how) == (b"ping", "reset")  # the server had it all: the client never heard
        assert proxy.stats.resets == 1


def _outcomes(port: int, spec: LinkSpec, token: str, n: int) -> tuple[list[bool], LinkStats]:
    """Whether each of ``n`` API requests in turn through a link came back, and the link's stats."""
    url = f"/client/v4/accounts/{ACCOUNT}/workers/dispatch/namespaces/ns/scripts"
    outcomes = []
    with (
        LinkProxy(("127.0.0.1", port), spec) as proxy,
        httpx.Client(base_url=proxy.url, timeout=WAIT) as client,
    ):
        for _ in range(n):
            try:
                outcomes.append(
                    client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
                )
            except httpx.TransportError:
                outcomes.append(False)
        return outcomes, proxy.stats


def test_seeded_resets_cut_real_requests_the_same_way_every_run(emulator: LiveEmulator) -> None:
    spec = LinkSpec.parse("unlimited/0,reset=50%,seed=3")
    first, stats = _outcomes(emulator.port, spec, emulator.token, 20)
    assert 0 < first.count(False) < 20
    assert (stats.requests, stats.resets) == (20, first.count(False))
    again, _ = _outcomes(emulator.port, spec, emulator.token, 20)
    assert again == first
    never, stats = _outcomes(emulator.port, LinkSpec(), emulator.token, 5)
    assert never == [True] * 5 and stats.resets == 0


def test_stall_moves_nothing_until_resume(upstream: Upstream) -> None:
    with LinkProxy(upstream.address, LinkSpec()) as proxy, connect(proxy) as a:
        a.sendall(b"1")
        assert recv_exactly(a, 1) == b"1"
        proxy.stall()
        a.sendall(b"2")
        with connect(proxy) as b:  # accepted, but it carries nothing either
            b.sendall(b"3")
            a.settimeout(QUIET)
            with pytest.raises(TimeoutError):
                a.recv(1)
            assert (upstream.received, upstream.accepted) == (1, 1)
            assert proxy.stats.bytes_up == proxy.stats.bytes_down == 1
            proxy.resume()
            a.settimeout(WAIT)
            assert recv_exactly(a, 1) == b"2" and recv_exactly(b, 1) == b"3"
        assert proxy.stats.connections == 2


def test_a_slow_link_pushes_back_on_its_sender() -> None:
    """The sender gets only so far ahead of what the link carried (kernel buffers), however long
    it sends: the proxy neither slurps the body nor lets the kernel take megabytes for it."""
    rate = 100_000  # bytes/s
    with (
        Upstream(echo=False) as upstream,
        LinkProxy(upstream.address, LinkSpec(up=rate)) as proxy,
        connect(proxy) as sock,
    ):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
        sock.setblocking(False)
        sent = 0
        ahead = []
        block = bytes(1 << 16)
        while upstream.received < 2 * rate:  # a couple of seconds of the link's work
            with contextlib.suppress(BlockingIOError):
                while True:
                    sent += sock.send(block)
            ahead.append(sent - upstream.received)
            upstream.wait_received(upstream.received + 1)
        assert max(ahead) < 600_000, ahead


def test_serve_link_prints_the_shaped_api_and_serves_through_it(tmp_path: Path) -> None:
    args = ["serve", "--port", "0", "--data", str(tmp_path / "data"), "--token", "tok"]
    with cli_running(*args, "--link", "50mbit/20ms,reset=0", env={}) as (_, lines):
        direct = lines.expect(lambda line: "API base:" in line).split("API base:")[1].strip()
        m = LINK_LINE.fullmatch(lines.expect(lambda line: "through the link" in line))
        assert m is not None and m[1] == "50 Mbit/s up, 50 Mbit/s down, 20 ms RTT"
        shaped = m[2]
        assert shaped != direct
        lines.expect(
            lambda line: line.endswith(f"the API base {direct} and the previews are direct, unshaped")
        )
        for base in (direct, shaped):
            r = httpx.get(
                f"{base}/accounts/abc/workers/dispatch/namespaces/ns/scripts",
                headers={"Authorization": "Bearer tok"},
                timeout=WAIT,
            )
            assert r.status_code == 200 and r.json()["result"] == []


def test_serve_refuses_a_bad_link_saying_why() -> None:
    proc = run_cli("serve", "--port", "0", "--link", "8mb/40ms")
    assert proc.returncode == 2
    assert "Invalid value for '--link': link '8mb/40ms': rate '8mb' has an unknown unit 'mb'" in proc.stderr
    assert "Examples: 8mbit/40ms" in proc.stderr
