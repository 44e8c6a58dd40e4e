"""The long-lived processes a benchmark starts on 127.0.0.1: the emulator (``assetsync serve``),
plain HTTP baselines, the watcher. Each is ready when it has printed the line that says so (an
event, never a sleep), in a session of its own (Ctrl-C reaches only the script, which stops it),
and registered with :class:`Servers`, which stops every one whatever happens.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from common import BenchError
from common.machine import REPO
from common.processes import cpu_seconds, stop_process

READY_TIMEOUT_S = 60.0
API_BASE_RE = re.compile(r"^\s*API base:\s*(http://127\.0\.0\.1:\d+/client/v4)\s*$")
# What `serve --link SPEC` adds to its banner once the link listens (after the API base line).
LINK_RE = re.compile(
    r"^assetsync emulator: API through the link \(.*\) at (http://127\.0\.0\.1:\d+/client/v4)\s*$"
)
ACCOUNT = "0123456789abcdef0123456789abcdef"


class Output:
    """The lines a child process writes to its stderr, read on a thread of their own (so that a
    chatty child never blocks on a full pipe); a caller waits until they say something."""

    def __init__(self, proc: subprocess.Popen[str], label: str) -> None:
        self.proc = proc
        self.label = label
        self.lines: list[str] = []
        self._ended = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, name=f"{label}-stderr", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        try:
            for line in self.proc.stderr:
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def wait_for(self, done: Callable[[list[str]], bool], timeout: float, what: str) -> list[str]:
        """The lines so far, once ``done`` holds for them; :class:`BenchError` (naming ``what``
        was awaited) if the child closes its stderr first, or after ``timeout`` seconds."""
        with self._cond:
            if self._cond.wait_for(lambda: done(self.lines) or self._ended, timeout) and done(self.lines):
                return list(self.lines)
            ended = self._ended
        if ended:
            code = self.proc.wait()
            raise BenchError(f"{self.label} exited with {code} before {what}:\n{self.tail()}")
        raise BenchError(f"{self.label}: no {what} within {timeout:.0f}s; last lines:\n{self.tail()}")

    def matching(self, needle: str) -> list[str]:
        with self._cond:
            return [line for line in self.lines if needle in line]

    def tail(self, count: int = 40) -> str:
        with self._cond:
            return "\n".join(self.lines[-count:])

    def close(self) -> None:
        self._thread.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class ServerProcess:
    """A child process in a session of its own, its stderr read by :class:`Output`; with
    ``ready``, started once it printed a line that pattern matches (group 1 is its :attr:`url`)."""

    def __init__(
        self,
        label: str,
        argv: Sequence[str],
        ready: re.Pattern[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        cwd: Path = REPO,
    ) -> None:
        self.label = label
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        self.output = Output(self.proc, label)
        self.url = ""
        if ready is not None:
            try:
                lines = self.output.wait_for(
                    lambda ls: any(ready.match(x) for x in ls), READY_TIMEOUT_S, "its ready line"
                )
            except BaseException:
                self.stop()
                raise
            self.url = next(m.group(1) for m in map(ready.match, lines) if m)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (all its threads)."""
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc)
        self.output.close()


class Emulator(ServerProcess):
    """``assetsync serve`` on a port of its own choosing, with its data in ``data``; ``profile``:
    run under cProfile, which writes that file when the server stops; ``link``: also serve through
    ``--link SPEC``, whose API base is :attr:`shaped` (clients reach it through :meth:`via_link`);
    ``options``: more of serve's options (``--runtime workerd --workerd PATH``, say).
    """

    def __init__(
        self,
        data: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path = REPO,
        profile: Path | None = None,
        label: str = "emulator",
        link: str | None = None,
        options: Sequence[str] = (),
    ) -> None:
        serve = ["-m", "assetsync", "serve", "--host", "127.0.0.1", "--port", "0", "--data", str(data)]
        serve += ["--link", link] if link else []
        serve += options
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        ready = LINK_RE if link else API_BASE_RE  # the link's line comes last
        super().__init__(label, [sys.executable, *profiler, *serve], ready, env=env, cwd=cwd)
        self.data = data
        self.shaped = self.url if link else None
        self.api = self.direct = (
            next(m.group(1) for m in map(API_BASE_RE.match, self.output.matching("API base:")) if m)
            if link
            else self.url
        )
        self.token = (data / "api-token").read_text().strip()

    def via_link(self) -> Emulator:
        """The same server as clients see it through its link: :attr:`api` (what
        :meth:`credentials` hands out) is the shaped API base; previews stay direct."""
        if self.shaped is None:
            raise BenchError(f"{self.label} was started without --link")
        return self.via(self.shaped)

    def via(self, api: str) -> Emulator:
        """The same server as clients see it at another API base (a link, a proxy in front of
        it): :meth:`credentials` hands out ``api``; previews stay direct."""
        view = copy.copy(self)
        view.api = api
        return view

    @property
    def port(self) -> int:
        """The port of the server's own API base."""
        port = urllib.parse.urlsplit(self.direct).port
        if port is None:
            raise BenchError(f"{self.label}: no port in {self.direct}")
        return port

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.direct)
        return f"{parts.scheme}://{parts.netloc}"

    def credentials(self) -> dict[str, str]:
        """The environment a client needs to deploy to this emulator."""
        return {
            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
            "CLOUDFLARE_API_TOKEN": self.token,
            "CLOUDFLARE_API_BASE_URL": self.api,
        }

    def preview(self, script: str, rel: str) -> bytes:
        """The deployed bytes of ``rel`` in ``script`` (``NAME`` or ``NAME.NAMESPACE``)."""
        url = f"{self.origin}/__preview/{script}/{urllib.parse.quote(rel)}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
        with opener.open(url, timeout=30) as r:
            data: bytes = r.read()
        return data


S = TypeVar("S", bound=ServerProcess)


class Servers:
    """Every server started, so that all of them are stopped whatever happens. Emulators started
    without a data folder get a fresh one under ``runs``, numbered in the order they started."""

    def __init__(self, runs: Path | None = None, env: dict[str, str] | None = None, cwd: Path = REPO) -> None:
        self.runs = runs
        self.env = env
        self.cwd = cwd
        self._live: list[ServerProcess] = []
        self._seq = 0

    def _add(self, start: Callable[[], S]) -> S:
        server = start()
        self._live.append(server)
        return server

    def start(
        self,
        label: str,
        argv: Sequence[str],
        ready: re.Pattern[str] | None,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        return self._add(lambda: ServerProcess(label, argv, ready, env=env or self.env, cwd=self.cwd))

    def emulator(
        self,
        label: str,
        data: Path | None = None,
        profile: Path | None = None,
        link: str | None = None,
        options: Sequence[str] = (),
    ) -> Emulator:
        """An emulator on ``data`` (made if missing), else on a fresh folder named for ``label``;
        with ``link``, also through ``serve --link link``; ``options``: more of serve's options."""
        if data is None:
            if self.runs is None:
                raise BenchError("an emulator needs a data folder")
            self._seq += 1
            data = self.runs / f"{self._seq:03d}-{label}" / "emulator"
        data.mkdir(parents=True, exist_ok=True)
        return self._add(
            lambda: Emulator(
                data, env=self.env, cwd=self.cwd, profile=profile, label=label, link=link, options=options
            )
        )

    def stop(self, server: ServerProcess) -> None:
        server.stop()
        if server in self._live:
            self._live.remove(server)

    def stop_all(self) -> None:
        while self._live:
            self._live.pop().stop()

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
