"""Running the emulator as an HTTP server, for ``assetsync serve`` and ``assetsync dev``.

Where its data lives by default, the listening socket (with a warning before binding an address
other machines can reach), and the banner that tells a client where the API and previews are.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Any

from ..errors import UsageError
from ..protocol import API_PREFIX
from .app import Emulator


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
        f"  previews: http://<script>.localhost:{port}/  (WfP: http://<script>.<namespace>.localhost:{port}/)",
        f"            or http://{shown}:{port}/__preview/<script>/  (list: http://{shown}:{port}/)",
        "  use it:   export CLOUDFLARE_API_BASE_URL=" + base,
    ]
    if app.config.api_tokens is None:
        lines.append(
            "            export CLOUDFLARE_API_TOKEN=$(cat "
            + os.path.join(app.config.data_dir, "api-token")
            + ")"
        )
    return "\n".join(lines)


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


def run(app: Emulator, host: str, port: int, log_level: str = "warning", **kw: Any) -> None:
    """Serve ``app`` until interrupted."""
    import uvicorn

    sock = listen(host, port)
    print(banner(app, host, sock.getsockname()[1]), file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", **kw)
    uvicorn.Server(config).run(sockets=[sock])
