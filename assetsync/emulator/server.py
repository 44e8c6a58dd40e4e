"""Running the emulator as an HTTP server, for ``assetsync serve`` and ``assetsync dev``.

Where its data lives by default, the listening socket (with a warning before binding an address
other machines can reach), and the banner that tells a client where the API and previews are.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..protocol import API_PREFIX
from .app import Emulator
from .link import LinkProxy, LinkSpec

if TYPE_CHECKING:
    import uvicorn

GRACE = 1  # seconds a stopping server gives requests still running before it cancels them


def default_data_dir() -> str:
    """The emulator's data folder: ``$XDG_DATA_HOME/assetsync/emulator`` or the platform's equivalent."""
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("assetsync", appauthor=False), "emulator")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only ever means this machine (an empty host means every address)."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(host, None))
        except OSError:
            return False


def bind_warning(host: str) -> str | None:
    """What to shout before listening on ``host`` where other machines can reach it; None for a
    loopback address."""
    if is_loopback(host):
        return None
    return (
        f"WARNING: listening on {host or 'every address'}, which other machines can reach. Anyone "
        "who can connect sees every deployed site (previews need no token) and can try the API. "
        "The emulator is a development tool: bind 127.0.0.1 (the default) unless you mean it."
    )


def banner(app: Emulator, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}{API_PREFIX}"
    token_note = (
        f"in {os.path.join(app.config.data_dir, 'api-token')} (mode 0600)"
        if app.config.api_tokens is None
        else "as given with --token / --account-token"
    )
    lines = [
        "assetsync emulator",
        f"  data:     {app.config.data_dir}",
        f"  API base: {base}",
        f"  token:    {token_note}",
        f"  previews: http://<script>[.<namespace>][.<account>].localhost:{port}/  (list: http://{shown}:{port}/)",
        f"            or http://{shown}:{port}/__preview/<script>[.<namespace>][@<account>]/",
        "  use it:   export CLOUDFLARE_API_BASE_URL=" + base,
    ]
    if app.runtime is not None:
        lines.insert(6, f"  workers:  run on workerd {app.runtime.newest_date} ({app.runtime.binary})")
    elif app.config.runtime != "none":
        lines.insert(6, "  workers:  not run (no workerd): assets only")
    if app.config.rate_limit is not None:
        limit = app.config.rate_limit
        lines.insert(
            4, f"  limit:    {limit.requests:g} API calls per {limit.seconds:g} s per credential, then 429"
        )
    if app.config.api_tokens is None:
        lines.append(
            "            export CLOUDFLARE_API_TOKEN=$(cat "
            + os.path.join(app.config.data_dir, "api-token")
            + ")"
        )
    return "\n".join(lines)


def link_banner(spec: LinkSpec, url: str, direct: str) -> str:
    """The lines ``serve --link`` adds: the shaped API base, in a line scripts can match
    (``API through the link (DESCRIPTION) at URL``), then that the banner's own is not shaped."""
    return (
        f"assetsync emulator: API through the link ({spec.describe()}) at {url}{API_PREFIX}\n"
        f"assetsync emulator: the API base {direct}{API_PREFIX} and the previews are direct, unshaped"
    )


def _loopback_for(host: str) -> str:
    """Where a proxy on this machine reaches a server listening on ``host``."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (the banner then shows which).

    Says loudly when ``host`` is reachable from other machines, before binding; an address that
    cannot be bound is a :class:`~assetsync.errors.UsageError` naming it.
    """
    warning = bind_warning(host)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        shown = f"[{host}]" if ":" in host else host
        raise UsageError(
            f"cannot listen on {shown}:{port} ({exc.strerror or exc}). Pick another --host or --port."
        ) from None
    sock.set_inheritable(True)
    return sock


def server(app: Emulator, log_level: str = "warning", **kw: Any) -> uvicorn.Server:
    """A uvicorn server for ``app`` that stops promptly: its live-reload streams end as the
    shutdown begins (uvicorn would wait for them, and they never end on their own), and a
    request still running after :data:`GRACE` seconds is cancelled."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            app.reload.close()
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=GRACE, **kw
    )
    return Server(config)


def run(
    app: Emulator, host: str, port: int, log_level: str = "warning", link: LinkSpec | None = None, **kw: Any
) -> None:
    """Serve ``app`` until interrupted; with ``link``, also through a :class:`LinkProxy` on
    another free port of ``host``, in a thread of its own."""
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    try:
        app.start_runtime()
    except BaseException:
        sock.close()
        raise
    print(banner(app, host, bound), file=sys.stderr, flush=True)
    with contextlib.ExitStack() as stack:
        if link is not None:
            upstream = (_loopback_for(sock.getsockname()[0]), bound)  # "localhost": the address it took
            proxy = stack.enter_context(LinkProxy(upstream, link, host=host))
            direct = f"http://{f'[{host}]' if ':' in host else host}:{bound}"
            print(link_banner(link, proxy.url, direct), file=sys.stderr, flush=True)
        stack.callback(app.close)
        server(app, log_level, **kw).run(sockets=[sock, *app.sockets])
