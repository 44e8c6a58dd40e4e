"""What the emulator's ingest is compared with: the same uvicorn stack draining the body, a raw
``http.server`` (the network floor), and the disk floor (the same files stored as the emulator
stores blobs, with no HTTP at all); and the file system's state before anything is timed.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import BenchError
from common.lifecycle import note
from common.processes import own_cpu_seconds
from common.servers import ServerProcess, Servers
from common.tables import MIB, Row
from emulator_ingest import PayloadReport, Timing, Transfer, client, envelope_result, measured_send
from emulator_payloads import Body, Payload

SLOW_CREATE_US = 50.0  # an empty file's creation slower than this is worth a wait and a note
SETTLE_MAX_S = 120.0
SETTLE_STEP_S = 5.0
BASELINE_READY = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)\s*$")

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


def start_baselines(servers: Servers) -> tuple[ServerProcess, ServerProcess]:
    """The uvicorn drain and the raw http.server, started and answered once each."""
    drain = servers.start("uvicorn drain", [sys.executable, "-c", DRAIN_SERVER], BASELINE_READY)
    raw = servers.start("raw http.server", [sys.executable, "-c", RAW_SERVER], BASELINE_READY)
    for server in (drain, raw):
        warm_up_baseline(server)
    return drain, raw


def warm_up_baseline(server: ServerProcess) -> None:
    """Untimed: one small request, so the server has answered once before it is timed."""
    with client() as c:
        r = c.post(f"{server.url}/warm-up", content=b"x" * 1000)
        if r.status_code != 202:
            raise BenchError(f"{server.label} answered {r.status_code} to the warm-up request")


def check_drain_answers(t: Transfer, bodies: Sequence[Body], label: str) -> list[str]:
    problems: list[str] = []
    for i, (a, b) in enumerate(zip(t.answers, bodies, strict=True), 1):
        result = envelope_result(a.body)
        received = result.get("received") if isinstance(result, dict) else None
        if a.status != 202 or received != len(b.data):
            problems.append(f"{label} request {i}: {a.status}, read {received} of {len(b.data):,} bytes")
    return problems


def run_baseline(payload: Payload, server: ServerProcess, row: Row[Timing], report: PayloadReport) -> None:
    """The payload's bodies sent to a baseline, as to the emulator; every byte must be read."""
    transfer, timing = measured_send(
        server, f"{server.url}/upload", payload.bodies, {"Authorization": "Bearer baseline"}
    )
    row.runs.append(timing)
    report.problems += check_drain_answers(transfer, payload.bodies, server.label)


def run_disk_floor(payload: Payload, pool: bytes, folder: Path, row: Row[Timing]) -> None:
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
    cpu0 = own_cpu_seconds()
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
    row.runs.append(Timing(seconds, None, own_cpu_seconds() - cpu0))


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
