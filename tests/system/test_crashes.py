"""Crashes: the client or the emulator killed with SIGKILL at chosen points, then run again.

Nothing a killed run leaves behind may make the next run wrong: the rerun completes, sends only
the blobs the server still lacks, and finds the hash cache intact (or discards it cleanly). A
killed emulator comes back with a consistent store that never serves a partial blob.

Kill points are chosen from a seeded random sequence, and each is exact. Once requests flow,
the emulator holds the request of interest (the session, the k-th upload after its first bytes,
the k-th upload after the server stored it but before the answer, the deploy) and the test kills
the client while it waits. Before that, an audit hook in the client kills it at a chosen system
call: opening the n-th file it must hash, or renaming the hash cache's temp file into place.
A killed emulator is killed while the fault proxy holds a request of the sync, so the sync is
always mid-way, and it is back before anything reaches it again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetsync import build_manifest
from assetsync.emulator.api import Limits
from assetsync.emulator.store import scope_of
from assetsync.folder.cache import TEMP_PREFIX, HashCache
from assetsync.folder.hashing import HashScheme
from assetsync.tempfiles import sweep, temp_path

from ..conftest import ACCOUNT, SOAK, soak_runs
from ..faultproxy import Exchange, FaultProxy
from ..helpers import LiveEmulator, child_env, make_tree, multipart

WAIT = 60  # seconds: a hang guard, never reached when things work


class Tripwire:
    """ASGI middleware that stops one chosen request at a chosen point until released.

    ``arm(method, fragment, nth, point)``: the ``nth`` request (1-based) whose method and path
    match is held at ``point``: "body" (after its first body chunk arrived), "request" (after the
    whole body, before the app sees it) or "response" (after the app answered, before the answer
    is sent). ``hit`` is set when it is held; ``release`` lets it go on.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hit = threading.Event()
        self.release = threading.Event()
        self._plan: tuple[str, str, int, str] | None = None
        self._seen = 0
        self._inflight = 0
        self.asked: list[set[str]] = []  # per answered upload session: the hashes it asked for
        self._busy = threading.Condition()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def arm(self, method: str, fragment: str, nth: int, point: str) -> None:
        self.hit.clear()
        self.release.clear()
        self._plan, self._seen = (method, fragment, nth, point), 0

    def disarm(self) -> None:
        self._plan = None
        self.release.set()

    async def _hold(self) -> None:
        self.hit.set()
        await asyncio.to_thread(self.release.wait, WAIT)

    def _noting_buckets(self, send: Any) -> Any:
        """Wrap ``send`` to note the hashes each answered upload session asked for."""
        chunks: list[bytes] = []

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    result = json.loads(b"".join(chunks)).get("result") or {}
                    self.asked.append({h for bucket in result.get("buckets", []) for h in bucket})
            await send(message)

        return noting

    def quiet(self, server: Any, timeout: float) -> bool:
        """Wait until the server holds no connection and serves no request: everything a killed
        client had sent has been read and answered. The server does not signal closed
        connections, so this checks again at each request's end and every few milliseconds."""
        deadline = time.monotonic() + timeout
        with self._busy:
            while self._inflight or server.server_state.connections:
                if time.monotonic() > deadline:
                    return False
                self._busy.wait(0.005)
        return True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with self._busy:
            self._inflight += 1
        try:
            await self._serve(scope, receive, send)
        finally:
            with self._busy:
                self._inflight -= 1
                self._busy.notify_all()

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/assets-upload-session"):
            send = self._noting_buckets(send)
        plan = self._plan
        if scope["type"] != "http" or plan is None:
            await self.app(scope, receive, send)
            return
        method, fragment, nth, point = plan
        if scope["method"] != method or fragment not in scope["path"]:
            await self.app(scope, receive, send)
            return
        self._seen += 1
        if self._seen != nth:
            await self.app(scope, receive, send)
            return
        self._plan = None
        if point == "response":

            async def held_send(message: Any) -> None:
                if message["type"] == "http.response.start":
                    await self._hold()
                await send(message)

            await self.app(scope, receive, held_send)
            return
        first = await receive()
        if point == "request":
            chunks = [first.get("body", b"")]
            more = first.get("more_body", False)
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self._hold()
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()  # the client is gone: a disconnect

        await self.app(scope, replay, send)


def _site(root: Path, rng: random.Random, generation: int) -> None:
    """A site of distinct files, some changed, added and removed each generation."""
    files: dict[str, bytes] = {}
    for i in range(120):
        if rng.random() < 0.15 or generation == 0:
            size = rng.choice([0, 40, 900, 5_000, 60_000, 300_000])
            body = f"file {i} generation {generation}\n".encode() + rng.randbytes(size)
            files[f"d{i % 7}/f{i}.{rng.choice(['html', 'css', 'js', 'bin', 'txt'])}"] = body
    for i in range(generation * 3, generation * 3 + 3):
        files[f"new/g{generation}-{i}.txt"] = f"added in generation {generation}: {i}".encode()
    make_tree(root, files, mtime=None)
    victims = sorted(p for p in root.rglob("*") if p.is_file())
    for path in rng.sample(victims, min(2, len(victims))) if generation else []:
        path.unlink()
    # Renamed-away extensions leave two files for one index: keep one per index.
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("f*.*"), key=lambda p: p.stat().st_mtime_ns):
        key = f"{path.parent.name}/{path.stem}"
        if key in seen:
            seen[key].unlink()
        seen[key] = path


def _wake_on_exit(proc: subprocess.Popen[bytes], event: threading.Event) -> None:
    proc.wait()
    event.set()


def _env(live: LiveEmulator) -> dict[str, str]:
    return {
        **child_env(),
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_API_BASE_URL": live.api,
        "CI": "1",
    }


def _sync_cmd(site: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "assetsync", "sync", str(site), "--name", "site", "--cache-dir", str(cache)]


def _stored(data: Path) -> set[str]:
    db = sqlite3.connect(f"file:{data / 'emulator.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT hash FROM blobs WHERE scope=?", (scope_of(ACCOUNT, None),)).fetchall()
    finally:
        db.close()
    return {h for (h,) in rows}


def _check_cache(cache: Path) -> None:
    """Every cache file loads without a warning, and no temp file of a dead run survives a save."""
    for path in cache.glob("hashes-*.bin"):
        warnings: list[str] = []
        HashCache(str(path), HashScheme().cache_key, warnings.append)
        assert warnings == [], f"{path}: {warnings}"


def _deployed(live: LiveEmulator, site: Path) -> None:
    """The live deploy serves exactly the folder's current files."""
    with httpx.Client(
        base_url=live.origin, headers={"Host": "site.localhost"}, follow_redirects=True
    ) as http:
        for path in sorted(p for p in site.rglob("*") if p.is_file()):
            rel = path.relative_to(site).as_posix()
            r = http.get("/" + rel)
            assert r.status_code == 200 and r.content == path.read_bytes(), rel


BUCKET_FILES = 15
POINTS = ["hashing", "saving the hash cache", "session", "upload body", "upload answered", "deploy"]
# The client with a tripwire: ``python -c CLIENT_TRIPWIRE sync ...`` runs the CLI unchanged after
# adding an audit hook that SIGKILLs the client at the TRIPWIRE_NTH audit event TRIPWIRE_EVENT
# ("open", "os.rename") whose path starts with TRIPWIRE_PREFIX: the kill lands at that very call.
CLIENT_TRIPWIRE = """
import os, runpy, signal, sys
event, prefix = os.environ["TRIPWIRE_EVENT"], os.environ["TRIPWIRE_PREFIX"]
left = int(os.environ["TRIPWIRE_NTH"])
def tripwire(name, args):
    global left
    if name == event and isinstance(args[0], str) and args[0].startswith(prefix):
        left -= 1
        if left == 0:
            os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(tripwire)
runpy.run_module("assetsync", run_name="__main__", alter_sys=True)
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveEmulator]:
    # Small buckets: a sync is many upload requests, so there are many places to die.
    emu = LiveEmulator(tmp_path / "data", limits=Limits(bucket_files=BUCKET_FILES))
    emu.app = Tripwire(emu.emulator)
    with emu:
        yield emu


@pytest.mark.timeout(120 + 10 * SOAK)  # about 3 s a run: a soak of N runs needs N times that
def test_client_killed_at_random_points_reruns_upload_only_what_is_missing(
    tmp_path: Path, live: LiveEmulator, tried: Any
) -> None:
    runs = soak_runs(20)
    tried("crashes", "client SIGKILLed at a random point of a sync, then run again", runs)
    rng = random.Random(20261129)
    site, cache = tmp_path / "site", tmp_path / "cache"
    wire: Tripwire = live.app
    env = _env(live)
    data = Path(live.emulator.store.data_dir)
    killed_at: list[str] = []
    for generation in range(runs):
        _site(site, rng, generation)
        point = POINTS[generation % len(POINTS)] if generation < len(POINTS) else rng.choice(POINTS)
        expected = build_manifest(str(site), cache=False)
        wanted = {e.hash for e in expected.values()}
        uploads = -(-len(wanted - _stored(data)) // BUCKET_FILES)  # upload requests this run makes
        cmd, tripwire = _sync_cmd(site, cache), {}
        if point == "hashing":  # the n-th file read under new/, where 3 files are new each generation
            tripwire = {"EVENT": "open", "PREFIX": f"{site}/new/", "NTH": str(rng.randint(1, 3))}
        elif point == "saving the hash cache":  # written in full, not yet renamed into place
            tripwire = {"EVENT": "os.rename", "PREFIX": f"{cache}/{TEMP_PREFIX}", "NTH": "1"}
        if tripwire:
            cmd[1:3] = ["-c", CLIENT_TRIPWIRE]  # in place of "-m assetsync"
        elif point == "session":
            wire.arm("POST", "/assets-upload-session", 1, "request")
        elif point == "upload body":
            wire.arm("POST", "/assets/upload", rng.randint(1, uploads), "body")
        elif point == "upload answered":
            wire.arm("POST", "/assets/upload", rng.randint(1, uploads), "response")
        else:
            wire.arm("PUT", "/scripts/site", 1, "request")
        caches = {p: p.read_bytes() for p in cache.glob("hashes-*.bin")}
        sessions = len(wire.asked)
        proc = subprocess.Popen(
            cmd,
            env={**env, **{f"TRIPWIRE_{k}": v for k, v in tripwire.items()}},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # The process ending early also wakes the wait (and fails the test with its output).
        threading.Thread(target=_wake_on_exit, args=(proc, wire.hit), daemon=True).start()
        try:
            if tripwire:
                _, err = proc.communicate(timeout=WAIT)
                # Killed by its tripwire, not exited (nor stopped at the session: it never got there).
                assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, err)
                assert len(wire.asked) == sessions, f"{point}: the killed client got as far as the session"
            else:
                assert wire.hit.wait(WAIT), f"{point}: the request never arrived"
                assert proc.returncode is None, proc.communicate()
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=WAIT)
            wire.disarm()
        # Killed before or during its save, the run left the previous cache as it was; mid-save,
        # its temp file too, which the next save sweeps.
        leftovers = list(cache.glob(f"{TEMP_PREFIX}{proc.pid}-*"))
        if tripwire:
            assert {p: p.read_bytes() for p in cache.glob("hashes-*.bin")} == caches, point
            assert len(leftovers) == (1 if point == "saving the hash cache" else 0), (point, leftovers)
        # A connection the dead client opened may still wait in the listen backlog: one more
        # request, accepted after it (the backlog is first in, first out), flushes it through.
        httpx.get(f"{live.origin}/__after_the_kill__", timeout=WAIT)
        assert wire.quiet(live.server, WAIT), "the emulator kept serving the dead client"
        killed_at.append(point)
        _check_cache(cache)

        missing = wanted - _stored(data)
        sessions = len(wire.asked)
        rerun = run_sync(site, cache, env, "--json")
        assert rerun.returncode == 0, rerun.stderr
        summary = json.loads(rerun.stdout)
        assert len(wire.asked) == sessions + 1 and wire.asked[-1] == missing, point
        assert summary["uploaded"] == len(missing), (point, summary)
        assert _stored(data) >= wanted
        _check_cache(cache)
        assert not any(p.exists() for p in leftovers), "the rerun's save sweeps the dead run's temp file"
        _deployed(live, site)
    assert not list(cache.glob(TEMP_PREFIX + "*")), "temp files of killed runs are swept by later saves"
    assert set(killed_at) == set(POINTS)


def test_stale_temp_files_are_swept_only_when_their_writer_is_gone(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    (tmp_path / f".tmp-{dead_pid}-abc").write_bytes(b"left by a killed run")
    mine = Path(temp_path(str(tmp_path), ".tmp-"))
    mine.write_bytes(b"in progress")
    (tmp_path / ".tmp-notapid").write_bytes(b"not ours")
    (tmp_path / "hashes-x.bin").write_bytes(b"a cache")
    assert sweep(str(tmp_path), ".tmp-") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, ".tmp-notapid", "hashes-x.bin"])


class ServeProcess:
    """``assetsync serve`` in a child process that the test can SIGKILL and start again."""

    def __init__(self, data: Path, *args: str) -> None:
        self.data, self.args, self.token = data, args, "crash-test-token"
        self.proc: subprocess.Popen[str] | None = None
        self.api = self.origin = ""
        self.port = 0  # the port of the first start, kept on restarts: clients can carry on

    def _remember_port(self) -> None:
        self.port = int(self.origin.rsplit(":", 1)[1])

    def start(self) -> ServeProcess:
        cmd = [sys.executable, "-m", "assetsync", "serve", "--port", str(self.port), "--data", str(self.data)]
        self.proc = subprocess.Popen(
            [*cmd, "--token", self.token, *self.args], stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # the banner names the port it picked
            if "API base:" in line:
                self.api = line.split("API base:")[1].strip()
                self.origin = self.api.removesuffix("/client/v4")
                self._remember_port()
                break
        else:
            raise AssertionError(f"serve exited with {self.proc.wait()} before listening")
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def env(self) -> dict[str, str]:
        creds = {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_TOKEN": self.token}
        return child_env({**creds, "CLOUDFLARE_API_BASE_URL": self.api, "CI": "1"})


@pytest.fixture
def serve_proc(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path / "data", "--bucket-files", "10")
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill()


def _consistent(data: Path, sources: dict[str, bytes]) -> None:
    """SQLite is intact, no temp file outlived a restart, and every recorded blob is whole."""
    db = sqlite3.connect(f"file:{data / 'emulator.sqlite3'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        recorded = [h for (h,) in db.execute("SELECT hash FROM blobs")]
    finally:
        db.close()
    assert list((data / "tmp").iterdir()) == [], "partial uploads are swept on start"
    for digest in recorded:
        (blob,) = (data / "blobs").glob(f"*/{digest[:2]}/{digest}")
        assert blob.read_bytes() == sources[digest], f"blob {digest} is not whole"


def test_emulator_killed_mid_upload_restarts_consistent_and_the_rerun_completes(
    tmp_path: Path, serve_proc: ServeProcess, tried: Any
) -> None:
    tried("crashes", "emulator SIGKILLed mid-upload (half a request body received), restarted")
    rng = random.Random(7)
    site = make_tree(tmp_path / "site", {f"f{i:02}.bin": rng.randbytes(150_000) for i in range(25)})
    manifest = build_manifest(str(site), cache=False)
    sources = {manifest[f"/f{i:02}.bin"].hash: (site / f"f{i:02}.bin").read_bytes() for i in range(25)}
    serve_proc.start()
    auth = {"Authorization": f"Bearer {serve_proc.token}"}
    with httpx.Client(base_url=serve_proc.api, headers=auth, timeout=WAIT) as http:
        r = http.post(
            f"/accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session",
            content=manifest.to_json(),
            headers={"Content-Type": "application/json"},
        )
        session = r.json()["result"]
        bucket = session["buckets"][0]
        # The first bucket's body: every part whole but the last, which stops halfway.
        ctype, body = _upload_body({h: sources[h] for h in bucket})
        cut = len(body) - len(sources[bucket[-1]])
        sock = _send_partial(serve_proc.origin, session["jwt"], ctype, len(body), body[:cut])
        tmp = serve_proc.data / "tmp"
        placed = serve_proc.data / "blobs"

        def received() -> bool:  # the whole parts are in place, the cut one is being written
            return len([*tmp.iterdir()]) == 1 and len([*placed.glob("*/*/*")]) == len(bucket) - 1

        assert _wait_for(received), "the emulator never got the first part of the body"
        serve_proc.kill()
        sock.close()
    serve_proc.start()
    _consistent(serve_proc.data, sources)
    with httpx.Client(base_url=serve_proc.api, headers=auth, timeout=WAIT) as http:
        r = http.post(
            f"/accounts/{ACCOUNT}/workers/scripts/site/assets-upload-session",
            content=manifest.to_json(),
            headers={"Content-Type": "application/json"},
        )
        asked = {h for b in r.json()["result"]["buckets"] for h in b}
    assert set(bucket) <= asked, "blobs of the interrupted request are asked for again"
    rerun = run_sync(site, tmp_path / "cache", serve_proc.env())
    assert rerun.returncode == 0, rerun.stderr
    _consistent(serve_proc.data, sources)
    with httpx.Client(base_url=serve_proc.origin, headers={"Host": "site.localhost"}) as http:
        for path, entry in manifest.items():
            assert http.get(path).content == sources[entry.hash], path


def _upload_body(blobs: dict[str, bytes]) -> tuple[str, bytes]:
    """An upload request body as wrangler sends it: one base64 part per hash."""
    parts = [(h, h, "application/octet-stream", base64.b64encode(data)) for h, data in blobs.items()]
    return multipart(parts)


def _send_partial(origin: str, jwt: str, ctype: str, length: int, head: bytes) -> socket.socket:
    """Start an upload that promises ``length`` bytes of body and sends only ``head``."""
    host, port = origin.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    request = (
        f"POST /client/v4/accounts/{ACCOUNT}/workers/assets/upload?base64=true HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAuthorization: Bearer {jwt}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    sock.sendall(request.encode() + head)
    return sock


def _wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Wait for a state of the file system, which sends no events: look every few ms."""
    deadline = time.monotonic() + timeout
    done = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        done.wait(0.005)
    return True


def run_sync(site: Path, cache: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_sync_cmd(site, cache), *args], env=env, capture_output=True, text=True, timeout=WAIT
    )


EMULATOR_POINTS = ["session", "upload", "deploy"]  # the request held while the emulator dies


class Gate:
    """A fault-proxy hook that holds the ``nth`` request of ``route`` and, from then on, every
    request, until ``back`` is set: the emulator can be killed and started again meanwhile, and
    nothing reaches it while it is down."""

    def __init__(self, route: str, nth: int) -> None:
        self.route, self.nth = route, nth
        self.held, self.back = threading.Event(), threading.Event()
        self._arrived: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, e: Exchange) -> None:
        with self._lock:
            self._arrived[e.route] += 1
            if (e.route, self._arrived[e.route]) == (self.route, self.nth):
                self.held.set()
        if self.held.is_set():  # the held request, or one that came after it
            assert self.back.wait(WAIT), "the emulator never came back"


@pytest.mark.timeout(120 + 30 * SOAK)  # about 5 s a run: a soak of N runs needs N times that
def test_emulator_killed_at_random_points_of_real_syncs(
    tmp_path: Path, serve_proc: ServeProcess, tried: Any
) -> None:
    """The CLI syncs through the fault proxy, which holds one request of the sync (the session,
    the k-th upload, or the deploy): the emulator is killed then, mid-sync by construction, with
    whatever else of the sync it was serving, and started again on the same port. Requests the
    kill broke are retried and wait in the proxy until the emulator is back, so the sync must
    finish, and the store must be consistent."""
    runs = soak_runs(3)
    tried("crashes", "emulator SIGKILLed mid-sync (a session, upload or deploy held), restarted", runs)
    rng = random.Random(99)
    site, cache = tmp_path / "site", tmp_path / "cache"
    sources: dict[str, bytes] = {}
    for run in range(runs):
        make_tree(site, {f"big{i}.bin": rng.randbytes(2_000_000) for i in range(30) if rng.random() < 0.4})
        manifest = build_manifest(str(site), cache=False)
        sources.update((e.hash, (site / k[1:]).read_bytes()) for k, e in manifest.items())
        serve_proc.start()
        missing = {e.hash for e in manifest.values()} - _stored(serve_proc.data)
        point = EMULATOR_POINTS[run] if run < len(EMULATOR_POINTS) else rng.choice(EMULATOR_POINTS)
        # The last upload (10 files a bucket): those before it may still be streaming into the emulator.
        nth = -(-len(missing) // 10) if point == "upload" else 1
        gate = Gate(point, nth)
        with FaultProxy(serve_proc.port) as proxy:
            proxy.on_request = gate
            client = subprocess.Popen(
                _sync_cmd(site, cache),
                env={**serve_proc.env(), "CLOUDFLARE_API_BASE_URL": proxy.api},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            # The client ending early also wakes the wait (and fails the test with its output).
            threading.Thread(target=_wake_on_exit, args=(client, gate.held), daemon=True).start()
            try:
                assert gate.held.wait(WAIT), f"{point} {nth}: the request never arrived"
                assert client.poll() is None, client.communicate()
                # Nothing of this sync is deployed when the emulator dies: the kill lands mid-way.
                assert not [e for e in proxy.routed("deploy") if e.upstream_status is not None]
                serve_proc.kill()
                serve_proc.start()  # on the same port, where the proxy forwards to
                gate.back.set()
                _, err = client.communicate(timeout=WAIT)
            finally:
                gate.back.set()  # a failed check must leave no hook waiting, nor a client running
                if client.poll() is None:
                    client.kill()
                    client.communicate()
        # A request the kill broke failed once, then reached the restarted emulator: the sync is done.
        assert client.returncode == 0 and "Traceback" not in err, (point, nth, err)
        assert [e.upstream_status for e in proxy.routed("deploy")][-1:] == [200]
        _consistent(serve_proc.data, sources)
        rerun = run_sync(site, cache, serve_proc.env())
        assert rerun.returncode == 0, rerun.stderr
        _consistent(serve_proc.data, sources)
        with httpx.Client(base_url=serve_proc.origin, headers={"Host": "site.localhost"}) as http:
            for path, entry in manifest.items():
                r = http.get(path, follow_redirects=True)
                assert r.content == sources[entry.hash], path
        serve_proc.kill()
