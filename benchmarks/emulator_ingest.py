"""How the emulator benchmark sends and times its bodies: ``INFLIGHT`` requests at a time over one
keep-alive client, from the first send to the last answer, with the CPU the server and this
process used meanwhile; and one emulator run (session latency, ingest, the session again), each
answer checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import BenchError
from common.lifecycle import note
from common.processes import cpu_spent, own_cpu_seconds
from common.servers import ServerProcess, Servers
from common.tables import MIB, Row
from emulator_payloads import Body, Payload, build_bodies, content_type, multipart

INFLIGHT = 3
REQUEST_TIMEOUT_S = 600.0
SCRIPT = "bench-site"


def client(base_url: str = "", token: str | None = None) -> httpx.Client:
    """A keep-alive client for loopback only: no proxies or other settings from the environment."""
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=REQUEST_TIMEOUT_S,
        limits=httpx.Limits(max_connections=INFLIGHT, max_keepalive_connections=INFLIGHT),
        trust_env=False,
    )


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
    all_headers = {**headers, "Content-Type": content_type()}

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


def measured_send(
    server: ServerProcess, url: str, bodies: Sequence[Body], headers: dict[str, str]
) -> tuple[Transfer, Timing]:
    """:func:`send_all`, plus the CPU seconds the server and this process used meanwhile.

    Dirty pages of earlier runs are flushed first (untimed), so no write-back competes for the CPUs.
    """
    os.sync()
    server0, client0 = server.cpu_seconds(), own_cpu_seconds()
    transfer = send_all(url, bodies, headers)
    server_cpu = cpu_spent(server0, server.cpu_seconds())
    return transfer, Timing(transfer.seconds, server_cpu, own_cpu_seconds() - client0)


@dataclass(frozen=True)
class Timing:
    """One timed run: its seconds, and the CPU seconds of the server and of this process."""

    seconds: float
    server_cpu: float | None = None  # None: not measured
    client_cpu: float | None = None


@dataclass
class PayloadReport:
    """Every row measured on one payload, and what its runs did wrong."""

    payload: Payload
    emulator: Row[Timing] = field(default_factory=lambda: Row("emulator (assetsync serve)"))
    drain: Row[Timing] = field(default_factory=lambda: Row("uvicorn drain (same stack, no work)"))
    raw: Row[Timing] = field(default_factory=lambda: Row("raw http.server (network floor)"))
    disk: Row[Timing] = field(default_factory=lambda: Row("disk floor: create+write+rename, no HTTP"))
    sessions: dict[str, Row[Timing]] = field(  # session latency, everything missing / none missing
        default_factory=lambda: {
            "missing": Row("session, everything missing"),
            "none": Row("session, nothing missing"),
        }
    )
    problems: list[str] = field(default_factory=list)

    def mibps(self, row: Row[Timing]) -> float:
        return self.payload.raw_bytes / MIB / row.seconds

    def wire_mibps(self, row: Row[Timing]) -> float:
        return self.payload.wire_bytes / MIB / row.seconds


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
        up = c.post(
            f"{base}/accounts/warmup/workers/assets/upload?base64=true",
            content=multipart((h, by_hash[h]) for h in bucket),
            headers={"Authorization": f"Bearer {result['jwt']}", "Content-Type": content_type()},
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
    emu = servers.emulator(f"emulator ({kind}, round {rnd})", data_dir, profile)
    try:
        account = hashlib.md5(f"bench-{kind}-{rnd}".encode()).hexdigest()
        with client(emu.url, emu.token) as c:
            warm_up_emulator(c, emu.url)
            seconds, r = session(c, account, payload.session_json)
            report.sessions["missing"].runs.append(Timing(seconds))
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
            transfer, timing = measured_send(
                emu,
                f"{emu.url}/accounts/{account}/workers/assets/upload?base64=true",
                payload.bodies,
                {"Authorization": f"Bearer {result['jwt']}"},
            )
            report.emulator.runs.append(timing)
            report.problems += [f"round {rnd}: {p}" for p in check_emulator_answers(transfer)]
            seconds, r = session(c, account, payload.session_json)
            report.sessions["none"].runs.append(Timing(seconds))
            again = r.json()["result"]
            if again.get("buckets") != []:
                missing = sum(len(b) for b in again.get("buckets") or [])
                report.problems.append(f"round {rnd}: after the upload, {missing:,} hashes still missing")
    finally:
        servers.stop(emu)
