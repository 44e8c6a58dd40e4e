"""Test helpers: build small trees on disk and run the real CLI in a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PAST = 1_600_000_000  # a fixed mtime far from "now", so no cache entry is racy


def workerd_binary() -> str:
    """The workerd the runtime tests use: $ASSETSYNC_WORKERD, else the one `.tools` installs (CI's)."""
    found = os.environ.get("ASSETSYNC_WORKERD") or str(ROOT / ".tools" / "node_modules" / ".bin" / "workerd")
    if not os.access(found, os.X_OK):
        pytest.skip(f"no workerd at {found}: run `npm ci --prefix .tools` (CI does)")
    return found


# Variables that could point a test at a real account: Cloudflare's own (wrangler's and the SDK's,
# CLOUDFLARE_API_TOKEN, CLOUDFLARE_API_KEY, CLOUDFLARE_EMAIL, CLOUDFLARE_ACCOUNT_ID, the base URLs)
# and the older CF_ spellings. No test inherits them; a test that needs them sets them itself.
CREDENTIAL_PREFIXES = ("CLOUDFLARE_", "CF_")


def is_credential(name: str) -> bool:
    return name.upper().startswith(CREDENTIAL_PREFIXES)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process: this one's without credentials, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not is_credential(k)}
    return {**env, **(extra or {})}


def make_tree(root: Path, files: Mapping[str, bytes | str], mtime: int | None = PAST) -> Path:
    """Write ``files`` (relative path -> content) under ``root``; optionally backdate them."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    return root


def backdate(root: Path, when: int = PAST) -> None:
    """Set every file's mtime under ``root`` to ``when``."""
    for dirpath, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(dirpath, name), (when, when), follow_symlinks=False)


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
    **kw: Any,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m assetsync ARGS`` and capture its output as text; ``prefix`` is a command
    that runs it (``setpriv ...`` to drop capabilities, say). The child gets no credentials but
    those in ``env``."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "assetsync", *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def manifest_keys(stdout: str) -> list[str]:
    return list(json.loads(stdout)["manifest"])


def json_document(stdout: str) -> dict[str, Any]:
    """The one ``--json`` document on ``stdout``, checked to open with ``"schema": 1``."""
    doc = json.loads(stdout)
    assert isinstance(doc, dict) and list(doc.items())[:1] == [("schema", 1)], stdout[:200]
    return doc


class LiveEmulator:
    """The emulator served by uvicorn on a real socket on 127.0.0.1, in a background thread.

    The listening socket is bound before the server starts, so clients can connect at once: no
    waiting for start-up.
    """

    def __init__(self, data_dir: Path, record: bool = False, **config: Any) -> None:
        import socket

        from assetsync.emulator.app import create_app

        self.emulator = create_app(str(data_dir), **config)
        self.emulator.start_runtime()  # workerd, when config asks for it
        self.app: Any = Recorder(self.emulator) if record else self.emulator
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.origin}/client/v4"
        self.token: str = self.emulator.api_token or ""  # "": the emulator was given its tokens

    def __enter__(self) -> LiveEmulator:
        import threading

        import uvicorn

        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        sockets = [self.sock, *self.emulator.sockets]  # the runtime's bridge too, when it runs
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": sockets}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        self.emulator.close()
        self.emulator.store.close()
        self.emulator.kv.close()


def multipart(
    parts: Sequence[tuple[str, str | None, str | None, bytes]], boundary: str = "----asb0undary"
) -> tuple[str, bytes]:
    """A multipart/form-data body from (name, filename, content type, body) parts."""
    out = bytearray()
    for name, filename, ctype, body in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if ctype is not None:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + body + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


class Recorder:
    """ASGI middleware that records every request (method, path, query, headers, body) and can
    answer chosen requests with injected faults instead of passing them on.

    ``faults`` is a list of ``(method, path_substring, response)`` consumed first-match-first; a
    response is ``(status, headers, body)``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[dict[str, Any]] = []
        self.faults: list[tuple[str, str, tuple[int, list[tuple[str, str]], bytes]]] = []
        # Hold deploys: when `gate` is set (a threading.Event), each PUT waits for it to be set
        # after signalling `arrived`; `gate_on` (method, path fragment) holds other requests instead.
        self.gate: Any = None
        self.arrived: Any = None
        self.gate_on = ("PUT", "")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        record = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "headers": headers,
            "body": body,
        }
        self.requests.append(record)
        for i, (method, fragment, response) in enumerate(self.faults):
            if method == scope["method"] and fragment in scope["path"]:
                del self.faults[i]
                status, extra, payload = response
                record["fault"] = status
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [(k.encode(), v.encode()) for k, v in extra],
                    }
                )
                await send({"type": "http.response.body", "body": payload})
                return
        if (scope["method"], self.gate is not None) == (self.gate_on[0], True) and self.gate_on[1] in scope[
            "path"
        ]:
            import asyncio

            if self.arrived is not None:
                self.arrived.set()
            await asyncio.to_thread(self.gate.wait, 30)
        await self.app(scope, replay(body), send)


def replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    """An ASGI ``receive`` that hands over ``body`` once (the server already read it)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def envelope_error(
    status: int, code: int, message: str, headers: list[tuple[str, str]] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps(
        {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}
    ).encode()
    return status, [("content-type", "application/json"), *(headers or [])], body


WAIT = 20.0  # seconds a test waits for a line of a child's output before it fails


class Lines:
    """A child's stderr, read line by line on a thread, so a test can wait for a line."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def expect(self, want: Callable[[str], bool]) -> str:
        """The next line for which ``want`` is true; fails on end of output or after WAIT."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no such line within {WAIT}s; seen: {self.seen}")
            if line is None:
                pytest.fail(f"the output ended; seen: {self.seen}")
            self.seen.append(line)
            if want(line):
                return line


def stop_child(proc: subprocess.Popen[str], out: Lines, how: int = signal.SIGTERM, wait: float = WAIT) -> int:
    """Send ``how`` to a child of :func:`cli_running` and return its exit code. One still running
    after ``wait`` seconds is aborted (SIGABRT: with PYTHONFAULTHANDLER it prints every thread's
    stack) and the test fails with what it printed, so a hang at exit says where it hangs."""
    proc.send_signal(how)
    try:
        return proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait(wait)
        out.thread.join(wait)
        lines = [*out.seen, *iter_queue(out.queue)]
        pytest.fail(f"still running {wait}s after signal {how}; its stderr:\n" + "\n".join(lines))


def iter_queue(q: queue.Queue[str | None]) -> Iterator[str]:
    """What is left in ``q`` now, without waiting."""
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return
        if item is not None:
            yield item


# The first line of a child Python that gets the default Ctrl-C, as from a terminal, even when the
# suite runs with SIGINT ignored (CI starts it as a background job of a script, and an ignored
# signal stays ignored across exec). The child sets it itself: a preexec_fn runs between fork and
# exec in a parent with threads (the emulator's, the output readers'), where it can deadlock.
DEFAULT_CTRL_C = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def assetsync_argv(*args: str) -> list[str]:
    """``python -m assetsync ARGS`` with the default Ctrl-C (:data:`DEFAULT_CTRL_C`)."""
    run = "import runpy; runpy.run_module('assetsync', run_name='__main__', alter_sys=True)"
    return [sys.executable, "-c", DEFAULT_CTRL_C + run, *args]


@contextlib.contextmanager
def cli_running(
    *args: str, env: Mapping[str, str], stdout: int = subprocess.DEVNULL
) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """``python -m assetsync ARGS`` in the background (a long-running command: watch, dev), with
    no credentials but those in ``env``, and its stderr to wait on (``stdout``: PIPE to read it
    too); killed if still running after. It gets the default Ctrl-C, as from a terminal, even
    when the suite runs with SIGINT ignored (a background job of a script, as CI starts it)."""
    proc = subprocess.Popen(
        assetsync_argv(*args),
        env=child_env({**env, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1", "CI": "1"}),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        yield proc, Lines(proc.stderr)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
