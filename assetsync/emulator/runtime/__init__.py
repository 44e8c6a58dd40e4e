"""Worker code on workerd, behind the preview.

:class:`Runtime` starts one workerd (:mod:`.process`) whose host Worker loads each deployed
version on demand, answers what that host asks of the emulator (:mod:`.bridge`, on a loopback
socket of its own), and forwards the preview's requests for a Worker to it (:meth:`Runtime.forward`).
When workerd is missing or stops, the preview keeps serving assets, and says so once.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from .bridge import PREFIX as BRIDGE_PREFIX, AssetServer, Bridge, FrontDoor
from .locate import WorkerdMissing, find_workerd, workerd_date
from .process import Workerd
from .upstream import Upstream

if TYPE_CHECKING:
    from ..kv import KvStore
    from ..store import Store, Version

__all__ = ["BRIDGE_PREFIX", "Runtime", "WorkerdMissing", "find_workerd", "RUNTIME_CHOICES"]

RUNTIME_CHOICES = ("auto", "workerd", "none")
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"}
)
SERVER_OWN = frozenset({"date", "server"})  # the emulator's server sends its own
NOT_FORWARDED = HOP_BY_HOP | {"content-length"}  # of a request (the body is sent whole)
NOT_RELAYED = HOP_BY_HOP | SERVER_OWN  # of an answer


def say_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Runtime:
    """workerd running the deployed Workers, and the emulator's side of talking to it."""

    def __init__(
        self,
        binary: str,
        store: Store,
        assets: AssetServer,
        front: FrontDoor,
        kv: KvStore | None = None,
        say: Callable[[str], None] = say_stderr,
        worker_output: Callable[[str], None] | None = None,
    ) -> None:
        self.binary = binary
        self.say = say
        self.worker_output = worker_output or (lambda line: say(f"[worker] {line}"))
        self.failure: str | None = None  # why Worker code is not running, once it stopped
        self.newest_date = workerd_date(binary)
        self.bridge = Bridge(store, assets, front, self.newest_date, kv, say)
        self._bridge_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._bridge_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._bridge_sock.bind(("127.0.0.1", 0))
        self._bridge_sock.listen(1024)
        self._bridge_sock.set_inheritable(True)
        self.bridge_port: int = self._bridge_sock.getsockname()[1]
        self.workerd = Workerd(binary, ("127.0.0.1", self.bridge_port), self._worker_line)
        self.workerd.on_exit = self._ended
        self._upstream: Upstream | None = None  # made on the server's event loop, at first use

    @property
    def sockets(self) -> list[socket.socket]:
        """The sockets the emulator's server must also serve (the bridge's)."""
        return [self._bridge_sock]

    def start(self) -> None:
        """Start workerd; raises RuntimeError with workerd's own words when it will not start."""
        self.workerd.start()

    @property
    def running(self) -> bool:
        return self.failure is None and self.workerd.running

    def _worker_line(self, line: str) -> None:
        if line.strip():
            self.worker_output(line)

    def _ended(self, code: int) -> None:
        self.failure = f"workerd stopped (exit code {code}){self.workerd.last_words()}"
        self.say(
            f"assetsync: {self.failure}. Worker code no longer runs; assets are still served. "
            "Restart the command to run Workers again."
        )

    def is_bridge(self, scope: Any) -> bool:
        server = scope.get("server")
        return bool(server) and server[1] == self.bridge_port

    async def forward(
        self,
        request: Request,
        version: Version,
        url: str,
        on_html: Callable[[bytes], bytes] | None = None,
        event: str | None = None,
    ) -> Response:
        """Send ``request`` to ``version``'s Worker, which sees it as a request for ``url``.

        ``on_html`` (dev mode's live reload) rewrites an HTML page the Worker answers with; other
        answers stream through as they come. ``event="scheduled"`` fires the Worker's scheduled()
        handler instead of fetch() (``url``'s query says how: ``host.js``)."""
        if not self.running:
            return PlainTextResponse(
                f"This Worker's code is not running: {self.failure or 'workerd is not running'}.\n"
                "Assets are still served; restart the command to run Workers again.\n",
                503,
                headers={"x-assetsync-error": "runtime"},
            )
        if self._upstream is None:
            self._upstream = Upstream("127.0.0.1", self.workerd.port)
        headers = [
            (k, v)
            for k, v in request.headers.raw
            if (name := k.decode("latin-1").lower()) not in NOT_FORWARDED
            and not name.startswith("x-assetsync-")  # the host's to set, never a client's
        ]
        headers += [
            (b"x-assetsync-version", version.id.encode()),
            (b"x-assetsync-url", url.encode("latin-1", errors="replace")),
            (b"x-assetsync-generation", self.bridge.store.change_mark().encode()),
        ]
        if event is not None:
            headers.append((b"x-assetsync-event", event.encode()))
        method = request.method
        body = await request.body() if method not in ("GET", "HEAD") else b""
        try:
            answer = await self._upstream.request(method, "/", headers, body)
        except (OSError, ValueError) as exc:
            return PlainTextResponse(
                f"workerd did not answer: {exc}\n", 502, headers={"x-assetsync-error": "runtime"}
            )
        out_headers = [(k, v) for k, v in answer.headers if k.decode("latin-1").lower() not in NOT_RELAYED]
        ctype = next((v for k, v in answer.headers if k.lower() == b"content-type"), b"").decode("latin-1")
        encoded = any(k.lower() == b"content-encoding" for k, _ in answer.headers)
        if on_html is not None and ctype.startswith("text/html") and not encoded:
            page = on_html(await answer.read())
            plain = Response(page, answer.status)
            plain.raw_headers = [
                *((k, v) for k, v in out_headers if k.lower() != b"content-length"),
                (b"content-length", str(len(page)).encode()),
            ]
            return plain
        response = StreamingResponse(answer.chunks(), answer.status)
        response.raw_headers = out_headers
        response.background = BackgroundTask(answer.close)
        return response

    def stop(self) -> None:
        self.workerd.stop()
        self._bridge_sock.close()


def make_runtime(
    choice: str,
    store: Store,
    assets: AssetServer,
    front: FrontDoor,
    kv: KvStore | None = None,
    workerd: str | None = None,
    say: Callable[[str], None] = say_stderr,
) -> Runtime | None:
    """The runtime ``--runtime CHOICE`` asks for, started; None for ``none``, and for ``auto`` when
    workerd is missing or will not start (said once). ``workerd`` names the binary, if given.

    ``--runtime workerd`` without a working workerd raises :class:`WorkerdMissing`.
    """
    if choice == "none":
        return None
    try:
        runtime = Runtime(find_workerd(workerd), store, assets, front, kv, say)
    except WorkerdMissing as exc:
        if choice == "workerd":
            raise WorkerdMissing(f"--runtime workerd: {exc}") from None
        say(f"assetsync: {exc}; serving assets only (Worker code does not run).")
        return None
    try:
        runtime.start()
    except RuntimeError as exc:
        runtime.stop()
        if choice == "workerd":
            raise WorkerdMissing(f"--runtime workerd: {exc}") from None
        say(f"assetsync: {exc}; serving assets only (Worker code does not run).")
        return None
    return runtime
