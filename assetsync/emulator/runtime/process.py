"""workerd as a child process: its config, its start, its output, its end.

One workerd serves every deployed Worker: its one static service is the host Worker
(``host.js``), which loads each version on demand through the Worker Loader (an experimental
workerd feature, hence ``--experimental``). The listening socket is bound here and handed over as
a file descriptor, so the port is known before workerd starts and no other process can take it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import resources

HOST_DATE = "2025-09-01"  # the host Worker's own compatibility date (ctx.exports needs its flag)
READY_TIMEOUT = 20.0


def config_text(emulator: tuple[str, int]) -> str:
    """The capnp config: the host Worker, the emulator as an external service, and the network
    the Workers' own fetch() goes out through (loopback included, as in ``wrangler dev``)."""
    host, port = emulator
    return f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "host", worker = .host),
    (name = "emulator", external = (address = "{host}:{port}", http = ())),
    (name = "network", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", service = "host", http = ()) ],
);
const host :Workerd.Worker = (
  modules = [ (name = "host.js", esModule = embed "host.js") ],
  compatibilityDate = "{HOST_DATE}",
  compatibilityFlags = ["enable_ctx_exports", "nodejs_compat"],
  bindings = [ (name = "LOADER", workerLoader = (id = "assetsync")), (name = "EMU", service = "emulator") ],
  globalOutbound = "network",
);
"""


def _parent_death_signal() -> Callable[[], None] | None:
    """What the child runs before workerd starts, on Linux: have the kernel end it when the
    emulator's process ends, however it ends (uvicorn re-raises SIGTERM after its shutdown, so no
    cleanup code of ours runs then; a SIGKILL runs none either). Elsewhere (None)
    :meth:`Workerd.stop` is all there is.

    libc is looked up here, in the parent: between fork and exec the child of a process with
    threads may take no lock another thread could have held at the fork (an import's, the
    dynamic loader's), so it only calls what is ready."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent, term = os.getpid(), int(signal.SIGTERM)

    def in_child() -> None:
        prctl(1, term)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent ended before prctl took effect
            os._exit(1)

    return in_child


class Workerd:
    """A running workerd; :meth:`start` returns once it answers, or raises saying why not."""

    def __init__(self, binary: str, emulator: tuple[str, int], on_line: Callable[[str], None]) -> None:
        self.binary = binary
        self.emulator = emulator
        self.on_line = on_line  # each line workerd prints (the Workers' console output too)
        self.on_exit: Callable[[int], None] | None = None  # called when it ends unasked
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._stopping = False
        self._tail: list[str] = []

    def start(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="assetsync-workerd-")
        folder = self._dir.name
        with open(os.path.join(folder, "config.capnp"), "w", encoding="utf-8") as f:
            f.write(config_text(self.emulator))
        host_js = resources.files(__package__).joinpath("host.js").read_text("utf-8")
        with open(os.path.join(folder, "host.js"), "w", encoding="utf-8") as f:
            f.write(host_js)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        try:
            self._proc = subprocess.Popen(
                [self.binary, "serve", "--experimental", f"--socket-fd=http={sock.fileno()}", "config.capnp"],
                cwd=folder,
                pass_fds=[sock.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal is the emulator's to handle, not workerd's
                preexec_fn=_parent_death_signal(),
            )
        except OSError as exc:
            raise RuntimeError(f"cannot start {self.binary}: {exc.strerror or exc}") from None
        finally:
            sock.close()
        threading.Thread(target=self._relay, name="workerd-output", daemon=True).start()
        self._wait_ready()

    def _relay(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self._tail = [*self._tail[-19:], line]
            self.on_line(line)
        code = proc.wait()
        if not self._stopping and self.on_exit is not None:
            self.on_exit(code)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"workerd exited with code {self._proc.returncode} at start{self.last_words()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn,
            ):
                conn.sendall(b"GET / HTTP/1.1\r\nHost: ready\r\nConnection: close\r\n\r\n")
                if conn.recv(64).startswith(b"HTTP/1.1 200"):
                    return
            time.sleep(0.02)  # polling a child's start: there is no event to wait on
        self.stop()
        raise RuntimeError(f"workerd did not answer within {READY_TIMEOUT:.0f} s{self.last_words()}")

    def last_words(self) -> str:
        """workerd's last lines of output, for an error message (empty if it said nothing)."""
        lines = [line for line in self._tail if line.strip()][-3:]
        return (": " + " / ".join(lines)) if lines else ""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
