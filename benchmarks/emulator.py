#!/usr/bin/env python3
"""Benchmark the emulator's upload API (``assetsync serve``) against plain loopback HTTP servers.

What it measures, side by side in one run (best of ``--repeat`` interleaved rounds):

- Session latency: ``POST .../assets-upload-session`` with a 10,000-entry manifest, once when
  every hash is missing (the server answers with all of them, in buckets) and once after every
  blob was uploaded (nothing missing, a completion token at once). The site payload's smaller
  manifest is timed as well. The JSON body is encoded before timing; a keep-alive connection
  is already open; the clock stops when the whole answer has been read.
- Ingest throughput through ``POST .../workers/assets/upload?base64=true``, in MiB/s of *raw*
  (decoded) file bytes, for two payloads:

  * site: a mixed site of ~300 MiB, a few hundred files of 100 KiB-8 MiB plus ~2,000 small
    files of 2-50 KiB;
  * small: 10,000 files of ~10 KiB (~98 MiB).

  Every bucket the session asks for becomes one multipart body (one part per hash, the bytes
  base64-encoded, as wrangler sends them), all built in memory before the clock starts. The
  bodies are then POSTed with 3 requests in flight (3 threads sharing one keep-alive
  ``httpx.Client``), timed from the first send to the last response. Each emulator run gets a
  fresh emulator process on a fresh data folder, so nothing is stored yet; every answer must be
  202 except the last, a 201 with the completion token, and a second session must then find
  nothing missing.
- Two baselines, each a separate process started once, fed the very same bodies the same way:

  * uvicorn drain: the emulator's own server stack (uvicorn with the same options, so uvloop and
    httptools when installed) around a trivial ASGI app that reads and discards the body and
    answers 202. The gap to it is the emulator's own work: multipart parsing, base64 decoding,
    writing blob files, SQLite.
  * raw http.server: ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive) reading Content-Length bytes
    in 1 MiB chunks into one buffer, answering 202. The network floor of this client on
    loopback.

  Both answer with the byte count they read, which the client checks against what it sent.
  Their MiB/s are computed over the same raw byte count as the emulator's, so the ratios compare
  like with like (the wire carries ~4/3 of that: base64 plus multipart framing).
- A disk floor (informational): the same files stored the way the emulator stores blobs (new
  temp file, written, renamed into a two-level folder) from one thread of this script, in the
  work folder, with no HTTP, parsing or SQLite. Creating files is what many small files cost.

Before each timed transfer or disk-floor run, ``os.sync()`` flushes what earlier runs wrote
(untimed), so that the kernel's write-back does not compete for the CPUs. Each ingest row also
shows the CPU seconds (user + system, from /proc and getrusage) that the server process and
this client process used during the best run: a server near one CPU second per wall second is
saturated (uvicorn serves from one thread). On loopback, part of the receiving side's TCP work
is charged to the sender, so the client's figure includes some of the network stack's cost.

Target: emulator ingest >= 300 x 10^6 bytes/s (286.1 MiB/s) of raw bytes on the site payload.
The small-files figure is informational. Every size and rate here is binary: KiB = 2^10 bytes,
MiB = 2^20 bytes, MiB/s = 2^20 bytes per second.

Deleting: nothing this script writes is deleted before the end of the run (each emulator run
and each disk-floor run writes into a new folder). On an ext4 file system without a journal,
creating a file skips, one by one, every inode freed in the last 1-6 minutes, so right after
many files were deleted each creation costs up to a millisecond of kernel time (a dozen
microseconds otherwise); deleting one round's blobs would slow down the next round. The header
shows what an empty file's creation costs in the work folder at the start. When it is slow
(something, such as the clean-up of a previous run, deleted many files lately), the script
syncs and waits, up to 120 s, until it is not (``--no-settle``: do not wait); if it still is,
the header says SLOW and the figures for files are pessimistic.

Everything runs on 127.0.0.1; the servers are child processes in their own session (Ctrl-C
reaches only this script), stopped at exit, on error and on Ctrl-C / SIGTERM. Emulator data
folders go under ``<repo>/.bench/emulator`` (git-ignored; else a temp folder) and are deleted
unless ``--keep``. ``--profile DIR`` runs each emulator under cProfile (DIR/<payload>-<round>.prof)
and prints its top functions; the figures are then distorted by the profiler.

Usage::

    python benchmarks/emulator.py [--quick] [--repeat N] [--workdir DIR] [--keep] [--check]
                                  [--payload all|site|small] [--profile DIR] [--no-settle]

Exit status is 0 whatever the results (it is a measurement tool); with ``--check`` it is 1 when
the target is missed or a run did not do what it should (see WARNING lines); 2 when the
benchmark itself could not run. Standard library, httpx and uvicorn only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import os
import platform
import pstats
import queue
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchError, cpu_seconds, default_workdir, stop_process  # noqa: E402  (not a package)

KIB = 1024
MIB = 1024 * KIB
SEED = 20240601
INFLIGHT = 3
TARGET_MIBPS = 300e6 / MIB  # emulator ingest of the site payload: 300 x 10^6 bytes/s of raw bytes
READY_TIMEOUT_S = 60.0
SLOW_CREATE_US = 50.0  # an empty file's creation slower than this is worth a wait and a note
SETTLE_MAX_S = 120.0
SETTLE_STEP_S = 5.0
REQUEST_TIMEOUT_S = 600.0
POOL_BYTES = 16 * MIB  # file contents are slices of one random pool (the server never hashes them)
BOUNDARY = b"----assetsyncbench7d3f0c9a"
SCRIPT = "bench-site"

REPO = Path(__file__).resolve().parent.parent

EMULATOR_READY = re.compile(r"^\s*API base: (http://127\.0\.0\.1:\d+/client/v4)\s*$")
BASELINE_READY = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)\s*$")


# --------------------------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------------------------


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


def _log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _sizes(spec: PayloadSpec, rng: random.Random) -> list[int]:
    if spec.kind == "small":
        return [rng.randint(9 * KIB, 11 * KIB) for _ in range(spec.small_files)]
    small = [_log_uniform(rng, 2 * KIB, 50 * KIB) for _ in range(spec.small_files)]
    lo, hi = 100 * KIB, 8 * MIB
    big = [_log_uniform(rng, lo, hi) for _ in range(spec.big_files)]
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


def build_bodies(payload: Payload, buckets: list[list[str]], pool: bytes) -> None:
    """One multipart body per bucket, as wrangler sends them (parts named and filed by hash)."""
    by_hash = {f.digest: f for f in payload.files}
    bodies: list[Body] = []
    for bucket in buckets:
        pieces: list[bytes] = []
        raw = 0
        for digest in bucket:
            f = by_hash[digest]
            h = digest.encode()
            pieces += [
                b"--" + BOUNDARY + b"\r\n",
                b'Content-Disposition: form-data; name="' + h + b'"; filename="' + h + b'"\r\n',
                b"Content-Type: application/octet-stream\r\n\r\n",
                base64.b64encode(pool[f.offset : f.offset + f.size]),
                b"\r\n",
            ]
            raw += f.size
        pieces.append(b"--" + BOUNDARY + b"--\r\n")
        bodies.append(Body(b"".join(pieces), len(bucket), raw))
    payload.buckets = [list(b) for b in buckets]
    payload.bodies = bodies


# --------------------------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------------------------

# The uvicorn baseline: the emulator's server stack (same uvicorn.Config options as
# assetsync.emulator.server.run, same listening socket set-up) around an app that only drains.
DRAIN_SERVER = r"""
import socket, sys
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    n = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        n += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = b'{"success":true,"errors":[],"messages":[],"result":{"received":%d}}' % n
    await send({"type": "http.response.start", "status": 202, "headers": [
        (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sock.listen(2048)
sock.set_inheritable(True)
print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
uvicorn.Server(config).run(sockets=[sock])
"""

# The network floor: stdlib threads, one 1 MiB buffer per request, nothing else.
RAW_SERVER = r"""
import signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20

class Drain(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        left = int(self.headers.get("Content-Length") or 0)
        view = memoryview(bytearray(CHUNK))
        n = 0
        while left:
            got = self.rfile.readinto(view[: min(left, CHUNK)])
            if not got:
                break
            left -= got
            n += got
        body = b'{"success":true,"errors":[],"messages":[],"result":{"received":%d}}' % n
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass

signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started as a background job
server = ThreadingHTTPServer(("127.0.0.1", 0), Drain)
server.daemon_threads = True
print(f"listening on http://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
server.serve_forever()
"""


class ServerProcess:
    """A server child process; ready once it printed the line ``ready`` matches on stderr."""

    def __init__(self, label: str, argv: Sequence[str], ready: re.Pattern[str]) -> None:
        self.label = label
        self.tail: deque[str] = deque(maxlen=40)  # last stderr lines, for error messages
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ready = threading.Event()
        # A session of its own: Ctrl-C in the terminal reaches only this script, which then
        # stops the server itself (see stop()).
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            cwd=REPO,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._read_stderr, name=f"{label}-stderr", daemon=True)
        self._pump.start()
        self.url = self._wait_ready(ready)

    def _read_stderr(self) -> None:
        # Keeps draining after the banner too, so a chatty server never blocks on a full pipe.
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.tail.append(line.rstrip("\n"))
            if not self._ready.is_set():
                self._lines.put(line)
        self._lines.put(None)

    def _wait_ready(self, ready: re.Pattern[str]) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise BenchError(f"{self.label}: no ready line within {READY_TIMEOUT_S:.0f}s") from None
            if line is None:
                code = self.proc.wait()
                text = "\n".join(self.tail)
                raise BenchError(f"{self.label} exited with {code} before it was ready:\n{text}")
            m = ready.match(line.rstrip("\n"))
            if m:
                self._ready.set()
                return m.group(1)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (all its threads)."""
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc)
        self._pump.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class Servers:
    """Every server process started, so that all of them are stopped whatever happens."""

    def __init__(self) -> None:
        self._procs: list[ServerProcess] = []

    def start(self, label: str, argv: Sequence[str], ready: re.Pattern[str]) -> ServerProcess:
        server = ServerProcess(label, argv, ready)
        self._procs.append(server)
        return server

    def stop(self, server: ServerProcess) -> None:
        server.stop()
        if server in self._procs:
            self._procs.remove(server)

    def stop_all(self) -> None:
        while self._procs:
            self._procs.pop().stop()


def emulator_argv(data_dir: Path, profile: Path | None) -> list[str]:
    serve = ["-m", "assetsync", "serve", "--host", "127.0.0.1", "--port", "0", "--data", str(data_dir)]
    if profile is not None:
        return [sys.executable, "-m", "cProfile", "-o", str(profile), *serve]
    return [sys.executable, *serve]


def client(base_url: str = "", token: str | None = None) -> httpx.Client:
    """A keep-alive client for loopback only: no proxies or other settings from the environment."""
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=REQUEST_TIMEOUT_S,
        limits=httpx.Limits(max_connections=INFLIGHT, max_keepalive_connections=INFLIGHT),
        trust_env=False,
    )


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    done: float  # perf_counter when the response was read
    status: int
    body: bytes


@dataclass(frozen=True)
class Transfer:
    seconds: float
    answers: list[Answer]  # in the order the bodies were sent


def send_all(url: str, bodies: Sequence[Body], headers: dict[str, str]) -> Transfer:
    """POST every body, ``INFLIGHT`` at a time, over one keep-alive client; first send to last answer."""
    answers: list[Answer | None] = [None] * len(bodies)
    errors: list[str] = []
    lock = threading.Lock()
    order = iter(range(len(bodies)))
    parked = threading.Barrier(INFLIGHT + 1)
    go = threading.Event()
    all_headers = {**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY.decode()}"}

    with client() as c:

        def worker() -> None:
            parked.wait()
            go.wait()
            while True:
                with lock:
                    i = next(order, None)
                if i is None or errors:
                    return
                try:
                    r = c.post(url, content=bodies[i].data, headers=all_headers)
                except Exception as exc:  # reported by the main thread
                    with lock:
                        errors.append(f"request {i + 1}: {type(exc).__name__}: {exc}")
                    return
                answers[i] = Answer(time.perf_counter(), r.status_code, r.content)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(INFLIGHT)]
        for t in threads:
            t.start()
        parked.wait()  # every worker is parked just before the start line
        t0 = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
    if errors:
        raise BenchError(f"POST {url} failed: {'; '.join(errors)}")
    got = [a for a in answers if a is not None]
    if len(got) != len(bodies):
        raise BenchError(f"POST {url}: {len(bodies) - len(got)} requests got no answer")
    return Transfer(max(a.done for a in got) - t0, got)


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured_send(
    server: ServerProcess, url: str, bodies: Sequence[Body], headers: dict[str, str]
) -> tuple[Transfer, float | None, float]:
    """:func:`send_all`, plus the CPU seconds the server and this process used meanwhile.

    Dirty pages of earlier runs are flushed first (untimed), so no write-back competes for the CPUs.
    """
    os.sync()
    server0, client0 = server.cpu_seconds(), client_cpu_seconds()
    transfer = send_all(url, bodies, headers)
    server1, client1 = server.cpu_seconds(), client_cpu_seconds()
    server_cpu = None if server0 is None or server1 is None else server1 - server0
    return transfer, server_cpu, client1 - client0


def envelope_result(body: bytes) -> Any:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc.get("result") if isinstance(doc, dict) and doc.get("success") is True else None


def check_emulator_answers(t: Transfer) -> list[str]:
    """Every answer 202, except exactly one 201 with a token, the last to arrive."""
    problems: list[str] = []
    bad = [(i + 1, a.status, a.body[:200]) for i, a in enumerate(t.answers) if a.status not in (201, 202)]
    for i, status, text in bad:
        problems.append(f"upload request {i} answered {status}: {text.decode('utf-8', 'replace')}")
    done = [a for a in t.answers if a.status == 201]
    if len(done) != 1:
        problems.append(f"expected exactly one 201 answer, got {len(done)}")
    elif max(t.answers, key=lambda a: a.done) is not done[0]:
        problems.append("the 201 answer was not the last one to arrive")
    else:
        result = envelope_result(done[0].body)
        if not (isinstance(result, dict) and isinstance(result.get("jwt"), str)):
            problems.append(f"the 201 answer carries no completion jwt: {done[0].body[:200]!r}")
    return problems


def check_drain_answers(t: Transfer, bodies: Sequence[Body], label: str) -> list[str]:
    problems: list[str] = []
    for i, (a, b) in enumerate(zip(t.answers, bodies, strict=True), 1):
        result = envelope_result(a.body)
        received = result.get("received") if isinstance(result, dict) else None
        if a.status != 202 or received != len(b.data):
            problems.append(f"{label} request {i}: {a.status}, read {received} of {len(b.data):,} bytes")
    return problems


@dataclass
class Row:
    label: str
    runs: list[float] = field(default_factory=list)  # seconds
    server_cpu: list[float | None] = field(default_factory=list)  # per run, None: not measured
    client_cpu: list[float | None] = field(default_factory=list)

    def add(self, seconds: float, server_cpu: float | None = None, client_cpu: float | None = None) -> None:
        self.runs.append(seconds)
        self.server_cpu.append(server_cpu)
        self.client_cpu.append(client_cpu)

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def best_index(self) -> int:
        return self.runs.index(self.best)


@dataclass
class PayloadReport:
    payload: Payload
    emulator: Row
    drain: Row
    raw: Row
    disk: Row
    sessions: dict[str, Row]  # "missing" / "none": session latency rows
    problems: list[str] = field(default_factory=list)

    def mibps(self, row: Row) -> float:
        return self.payload.raw_bytes / MIB / row.best

    def wire_mibps(self, row: Row) -> float:
        return self.payload.wire_bytes / MIB / row.best


def session(c: httpx.Client, account: str, body: bytes) -> tuple[float, httpx.Response]:
    url = f"/accounts/{account}/workers/scripts/{SCRIPT}/assets-upload-session"
    headers = {"Content-Type": "application/json"}
    t0 = time.perf_counter()
    r = c.post(url, content=body, headers=headers)
    seconds = time.perf_counter() - t0
    if r.status_code != 200:
        raise BenchError(f"upload session answered {r.status_code}: {r.text[:500]}")
    return seconds, r


def warm_up_emulator(c: httpx.Client, base: str) -> None:
    """Untimed: one tiny session and upload on another account, so every code path has run once."""
    data = {f"/warm/{i}.txt": b"warm-up %d\n" % i for i in range(3)}
    files = {p: hashlib.md5(p.encode()).hexdigest() for p in data}
    manifest = {p: {"hash": files[p], "size": len(b)} for p, b in data.items()}
    _, r = session(c, "warmup", json.dumps({"manifest": manifest}).encode())
    result = r.json()["result"]
    by_hash = {files[p]: b for p, b in data.items()}
    for bucket in result["buckets"]:
        pieces = [
            b"--%s\r\n" % BOUNDARY,
            *(
                b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
                b"Content-Type: application/octet-stream\r\n\r\n%s\r\n--%s\r\n"
                % (h.encode(), h.encode(), base64.b64encode(by_hash[h]), BOUNDARY)
                for h in bucket
            ),
        ]
        body = b"".join(pieces)[: -len(b"\r\n")] + b"--\r\n"
        up = c.post(
            f"{base}/accounts/warmup/workers/assets/upload?base64=true",
            content=body,
            headers={
                "Authorization": f"Bearer {result['jwt']}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY.decode()}",
            },
        )
        if up.status_code not in (201, 202):
            raise BenchError(f"warm-up upload answered {up.status_code}: {up.text[:500]}")


def run_emulator(
    payload: Payload,
    pool: bytes,
    rnd: int,
    data_dir: Path,
    servers: Servers,
    report: PayloadReport,
    profile_dir: Path | None,
) -> None:
    """One emulator run on a fresh data folder: session, ingest, then the session again."""
    kind = payload.spec.kind
    if data_dir.exists():
        shutil.rmtree(data_dir)
    profile = profile_dir / f"{kind}-{rnd}.prof" if profile_dir else None
    emu = servers.start(f"emulator ({kind}, round {rnd})", emulator_argv(data_dir, profile), EMULATOR_READY)
    try:
        token = (data_dir / "api-token").read_text().strip()
        account = hashlib.md5(f"bench-{kind}-{rnd}".encode()).hexdigest()
        with client(emu.url, token) as c:
            warm_up_emulator(c, emu.url)
            seconds, r = session(c, account, payload.session_json)
            report.sessions["missing"].add(seconds)
            result = r.json()["result"]
            buckets: list[list[str]] = result["buckets"]
            wanted = sorted(f.digest for f in payload.files)
            if sorted(h for b in buckets for h in b) != wanted:
                raise BenchError(f"{kind}: the first session did not ask for every hash")
            if buckets != payload.buckets:
                if payload.buckets:
                    report.problems.append(f"round {rnd}: the session grouped the buckets differently")
                note(f"building {len(buckets)} multipart bodies for {kind} (untimed) ...")
                build_bodies(payload, buckets, pool)
            transfer, server_cpu, client_cpu = measured_send(
                emu,
                f"{emu.url}/accounts/{account}/workers/assets/upload?base64=true",
                payload.bodies,
                {"Authorization": f"Bearer {result['jwt']}"},
            )
            report.emulator.add(transfer.seconds, server_cpu, client_cpu)
            report.problems += [f"round {rnd}: {p}" for p in check_emulator_answers(transfer)]
            seconds, r = session(c, account, payload.session_json)
            report.sessions["none"].add(seconds)
            again = r.json()["result"]
            if again.get("buckets") != []:
                missing = sum(len(b) for b in again.get("buckets") or [])
                report.problems.append(f"round {rnd}: after the upload, {missing:,} hashes still missing")
    finally:
        servers.stop(emu)


def run_baseline(payload: Payload, server: ServerProcess, row: Row, report: PayloadReport) -> None:
    transfer, server_cpu, client_cpu = measured_send(
        server, f"{server.url}/upload", payload.bodies, {"Authorization": "Bearer baseline"}
    )
    row.add(transfer.seconds, server_cpu, client_cpu)
    report.problems += check_drain_answers(transfer, payload.bodies, server.label)


def run_disk_floor(payload: Payload, pool: bytes, folder: Path, row: Row) -> None:
    """Store every file as the emulator stores a blob, minus HTTP, parsing and SQLite: a new temp
    file, written in pieces of at most 1 MiB, closed, renamed into ``blobs/<2 hex>/<hash>``. One
    thread, in this process. A floor for the files' trip through this file system. The folder is
    kept until the end of the run (see the module docstring on deleting)."""
    if folder.exists():
        shutil.rmtree(folder)
    tmp, blobs = folder / "tmp", folder / "blobs"
    tmp.mkdir(parents=True)
    blobs.mkdir()
    known: set[str] = set()
    os.sync()
    cpu0 = client_cpu_seconds()
    t0 = time.perf_counter()
    for f in payload.files:
        path = os.path.join(tmp, f.digest)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(pool)[f.offset : f.offset + f.size]
            while view:
                view = view[os.write(fd, view[:MIB]) :]
        finally:
            os.close(fd)
        sub = os.path.join(blobs, f.digest[:2])
        if sub not in known:
            os.makedirs(sub, exist_ok=True)
            known.add(sub)
        os.replace(path, os.path.join(sub, f.digest))
    seconds = time.perf_counter() - t0
    row.add(seconds, None, client_cpu_seconds() - cpu0)


def create_probe(folder: Path, prefix: str, count: int) -> float:
    """Microseconds to create one empty file in ``folder`` (the files stay until the end)."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(count):
        os.close(os.open(folder / f"{prefix}-{i:05d}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return (time.perf_counter() - t0) / count * 1e6


@dataclass(frozen=True)
class Settle:
    first_us: float  # an empty file's creation at the start
    last_us: float  # ... once measuring starts
    waited_s: float


def settle_file_system(folder: Path, wait: bool) -> Settle:
    """Probe file creation in ``folder``; if slow, wait (at most SETTLE_MAX_S) until it is not.

    See "Deleting" in the module docstring: after a sync the kernel skips inodes freed in the last
    minute only, so the wait is bounded. There is no event to wait for, hence the polling.
    """
    os.sync()
    first = last = create_probe(folder, "probe", 300)
    t0 = time.monotonic()
    waited = 0.0
    while wait and last > SLOW_CREATE_US and waited < SETTLE_MAX_S:
        if waited == 0:
            note(f"creating a file takes {last:.0f} us in {folder.parent}: waiting for it to settle ...")
        time.sleep(SETTLE_STEP_S)
        os.sync()
        waited = time.monotonic() - t0
        last = create_probe(folder, f"probe{waited:.0f}", 100)
    return Settle(first, last, waited)


def warm_up_baseline(server: ServerProcess) -> None:
    with client() as c:
        r = c.post(f"{server.url}/warm-up", content=b"x" * 1000)
        if r.status_code != 202:
            raise BenchError(f"{server.label} answered {r.status_code} to the warm-up request")


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def runs_text(row: Row, scale: float, fmt: str) -> str:
    return " ".join(format(s * scale, fmt) for s in row.runs)


def print_header(repeat: int, workdir: Path, quick: bool, settle: Settle) -> None:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    print("assetsync emulator benchmark")
    print(
        f"  python {platform.python_version()} ({sys.executable}); {os.cpu_count()} CPUs; "
        f"{platform.system()} {platform.release()} {platform.machine()}"
    )
    print(f"  uvicorn {uvicorn.__version__} ({loop} + {http}); httpx {httpx.__version__}")
    print(f"  best of {repeat} rounds (interleaved){'; --quick sizes' if quick else ''}")
    print(f"  work folder {workdir} (file system: {filesystem_of(workdir)})")
    print(
        f"  creating an empty file there: {settle.first_us:.0f} us at the start"
        + (
            f", {settle.last_us:.0f} us after waiting {settle.waited_s:.0f} s for it to settle"
            if settle.waited_s
            else ""
        )
        + (" (SLOW: see 'Deleting' in this script's docstring)" if settle.last_us > SLOW_CREATE_US else "")
    )
    print(
        f"  client: multipart bodies built before timing, {INFLIGHT} requests in flight (threads, one\n"
        "  keep-alive httpx.Client), timed from first send to last answer. Each emulator run: a fresh\n"
        "  process on a fresh data folder. MiB = 2^20 bytes; 'raw MiB/s' counts decoded file bytes,\n"
        "  the same count for every row; 'wire MiB/s' counts the request bodies (base64 + multipart).\n"
        "  server / client CPU: user+system seconds of the server process / this process during the\n"
        "  best run (a server at ~1 s of CPU per second of wall time is saturated: uvicorn uses one\n"
        "  core). The disk floor writes the same files in the work folder from this process.\n"
        "  os.sync() before each timed run (untimed): no write-back of earlier runs competes."
    )


def filesystem_of(path: Path) -> str:
    """The type of the file system ``path`` is on (the longest matching mount point), or "?"."""
    target = str(path.resolve())
    best, kind = "", "?"
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                inside = target == point or target.startswith(point.rstrip("/") + "/")
                if inside and len(point) > len(best):
                    best, kind = point, f"{fields[2]} on {point}"
    except OSError:
        pass
    return kind


def print_sessions(reports: Sequence[PayloadReport]) -> None:
    print()
    print("== upload session latency (POST .../assets-upload-session) ==")
    labels = {"missing": "everything missing", "none": "nothing missing (all uploaded)"}
    rows = [
        (f"{len(r.payload.files):,}-entry manifest ({r.payload.spec.kind}), {labels[k]}", row)
        for r in sorted(reports, key=lambda r: -len(r.payload.files))
        for k, row in r.sessions.items()
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'':<{width}}  {'best ms':>8}  {'median':>8}  all runs (ms)")
    for label, row in rows:
        print(
            f"{label:<{width}}  {row.best * 1000:8.1f}  {statistics.median(row.runs) * 1000:8.1f}  "
            f"{runs_text(row, 1000, '.1f')}"
        )


def print_ingest(r: PayloadReport) -> None:
    p = r.payload
    print()
    print(
        f"== ingest, {p.spec.kind}: {len(p.files):,} files, {p.raw_bytes / MIB:.1f} MiB raw, "
        f"{p.wire_bytes / MIB:.1f} MiB on the wire in {len(p.bodies)} requests ({p.spec.describe()}) =="
    )
    rows = [r.emulator, r.drain, r.raw, r.disk]
    width = max(len(row.label) for row in rows)
    print(
        f"{'':<{width}}  {'best s':>7}  {'raw MiB/s':>9}  {'wire MiB/s':>10}  {'server CPU':>10}  "
        f"{'client CPU':>10}  all runs (s)"
    )
    for row in rows:
        i = row.best_index
        wire = "-" if row is r.disk else format(r.wire_mibps(row), ".1f")
        print(
            f"{row.label:<{width}}  {row.best:7.3f}  {r.mibps(row):9.1f}  {wire:>10}  "
            f"{cpu_text(row.server_cpu[i]):>10}  {cpu_text(row.client_cpu[i]):>10}  "
            f"{runs_text(row, 1, '.3f')}"
        )
    for label, other in (
        ("emulator / uvicorn drain", r.drain),
        ("emulator / raw http.server", r.raw),
        ("emulator / disk floor", r.disk),
    ):
        print(f"{label:<{width}}  {r.mibps(r.emulator) / r.mibps(other):7.2f}x")


@dataclass(frozen=True)
class Target:
    label: str
    value: float
    limit: float | None  # None: informational

    @property
    def ok(self) -> bool:
        return self.limit is None or self.value >= self.limit


def print_targets(targets: Sequence[Target], problems: Sequence[str]) -> None:
    print()
    width = max(len(t.label) for t in targets)
    print(f"{'target':<{width}}  {'value':>8}  {'limit':>10}  result")
    for t in targets:
        limit = f">= {t.limit:.1f}" if t.limit is not None else "-"
        result = ("PASS" if t.ok else "FAIL") if t.limit is not None else "info (no target)"
        print(f"{t.label:<{width}}  {t.value:8.1f}  {limit:>10}  {result}")
    for p in problems:
        print(f"WARNING: {p}")


def print_profiles(profile_dir: Path, kinds: Sequence[str], rnd: int, top: int = 15) -> None:
    for kind in kinds:
        path = profile_dir / f"{kind}-{rnd}.prof"
        if not path.is_file():
            print(f"(no profile at {path})")
            continue
        print()
        print(f"== emulator profile, {kind} payload, round {rnd} ({path}) ==")
        sys.stdout.flush()
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(top)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time the emulator's upload sessions and ingest against plain loopback HTTP servers.",
    )
    p.add_argument(
        "--quick", action="store_true", help="payloads ~5x smaller (60 MiB site, 2,000 small files)"
    )
    p.add_argument("--repeat", type=int, default=3, metavar="N", help="rounds; the best run is kept")
    p.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="where emulator data folders live [default: <repo>/.bench/emulator, else a temp folder]",
    )
    p.add_argument("--keep", action="store_true", help="keep the emulator data folders")
    p.add_argument("--payload", choices=("all", "site", "small"), default="all", help="which payload(s)")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run each emulator under cProfile, writing DIR/<payload>-<round>.prof (distorts the figures)",
    )
    p.add_argument(
        "--no-settle",
        action="store_true",
        help="do not wait (up to 120 s) when creating files is slow at the start (recent mass deletes)",
    )
    p.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


@contextlib.contextmanager
def work_folder(chosen: Path | None, keep: bool) -> Iterator[tuple[Path, list[Path]]]:
    """The work folder and a list to register data folders in; they are removed at exit."""
    workdir = chosen or Path(tempfile.mkdtemp(prefix="assetsync-emulator-bench-"))
    made = chosen is None or not chosen.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    try:
        yield workdir, created
    finally:
        if keep:
            note(f"kept the emulator data folders in {workdir}")
        else:
            for path in created:
                shutil.rmtree(path, ignore_errors=True)
            if made:
                with contextlib.suppress(OSError):
                    workdir.rmdir()  # only if empty


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    specs = [s for s in (site_spec(args.quick), small_spec(args.quick)) if args.payload in ("all", s.kind)]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    servers = Servers()
    reports: list[PayloadReport] = []
    try:
        with work_folder(args.workdir or default_workdir("emulator"), args.keep) as (workdir, created):
            note("generating payloads ...")
            pool = random.Random(SEED).randbytes(POOL_BYTES)
            for spec in specs:
                payload = make_payload(spec)
                sessions = {
                    "missing": Row("session, everything missing"),
                    "none": Row("session, nothing missing"),
                }
                reports.append(
                    PayloadReport(
                        payload,
                        Row("emulator (assetsync serve)"),
                        Row("uvicorn drain (same stack, no work)"),
                        Row("raw http.server (network floor)"),
                        Row("disk floor: create+write+rename, no HTTP"),
                        sessions,
                    )
                )
            drain = servers.start("uvicorn drain", [sys.executable, "-c", DRAIN_SERVER], BASELINE_READY)
            raw = servers.start("raw http.server", [sys.executable, "-c", RAW_SERVER], BASELINE_READY)
            warm_up_baseline(drain)
            warm_up_baseline(raw)
            probe = workdir / "create-probe"
            created.append(probe)
            settle = settle_file_system(probe, wait=not args.no_settle)
            print_header(args.repeat, workdir, args.quick, settle)
            sys.stdout.flush()
            for rnd in range(1, args.repeat + 1):
                for report in reports:
                    kind = report.payload.spec.kind
                    note(f"round {rnd}/{args.repeat}: {kind} ...")
                    data_dir = workdir / f"data-{kind}-{rnd}"
                    created.append(data_dir)
                    run_emulator(report.payload, pool, rnd, data_dir, servers, report, args.profile)
                    run_baseline(report.payload, drain, report.drain, report)
                    run_baseline(report.payload, raw, report.raw, report)
                    floor_dir = workdir / f"disk-floor-{kind}-{rnd}"
                    created.append(floor_dir)
                    run_disk_floor(report.payload, pool, floor_dir, report.disk)
    except BenchError as exc:
        note(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        note("interrupted")
        return 130
    finally:
        servers.stop_all()

    print_sessions(reports)
    for report in reports:
        print_ingest(report)
    targets: list[Target] = []
    problems: list[str] = []
    for report in reports:
        value = report.mibps(report.emulator)
        if report.payload.spec.kind == "site":
            targets.append(Target("emulator ingest, site (raw MiB/s)", value, TARGET_MIBPS))
        else:
            targets.append(Target("emulator ingest, small files (raw MiB/s)", value, None))
        problems += [f"{report.payload.spec.kind}: {p}" for p in report.problems]
    print_targets(targets, problems)
    if args.profile:
        print_profiles(args.profile, [r.payload.spec.kind for r in reports], args.repeat)
    failed = [t.label for t in targets if not t.ok]
    print()
    print(f"targets missed: {', '.join(failed) if failed else 'none'}")
    return 1 if args.check and (failed or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
