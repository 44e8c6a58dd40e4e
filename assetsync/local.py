"""The local emulator as a target: the library's one door into :mod:`assetsync.emulator`.

Without credentials a sync goes to the embedded emulator, mounted in-process (httpx's ASGI
transport: no socket, no server to start) over the same data folder ``assetsync serve`` uses,
so a later ``assetsync serve`` previews what was synced. ``assetsync dev`` instead runs the
emulator as a server on a thread (:class:`PreviewServer`) and deploys to it over loopback, so
the live-reload streams and the deploys share the server's event loop.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import AuthError
from .protocol import API_PREFIX
from .wire.target import LOCAL_ACCOUNT, Target, api_target, in_ci, no_credentials_in_ci

if TYPE_CHECKING:
    import httpx


def embedded_target(data_dir: str | None = None) -> Target:
    """The emulator over ``data_dir`` (default: the user data folder's), mounted in-process."""
    from .emulator.server import default_data_dir
    from .emulator.tokens import load_api_token

    data_dir = data_dir or default_data_dir()
    os.makedirs(data_dir, exist_ok=True)

    def transport() -> httpx.AsyncBaseTransport:
        import httpx

        from .emulator.app import create_app

        return httpx.ASGITransport(app=create_app(data_dir))

    return Target(
        "emulator",
        "http://emulator.invalid" + API_PREFIX,
        LOCAL_ACCOUNT,
        load_api_token(data_dir),
        data_dir,
        transport,
    )


def resolve_target(
    account_id: str | None = None,
    api_token: str | None = None,
    api_base: str | None = None,
    local_data: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    local: bool = False,
    api_key: str | None = None,
    email: str | None = None,
) -> Target:
    """The API when an account id and credentials are known (arguments or environment), else the
    embedded emulator over ``local_data``; ``local``: the emulator whatever the environment holds.

    In CI (:func:`~assetsync.wire.target.in_ci`) no credentials is an
    :class:`~assetsync.errors.AuthError` unless ``local`` is set: a job whose secrets are missing
    must fail, not pass having published nothing where it matters.
    """
    if local:
        return embedded_target(local_data)
    env = os.environ if env is None else env
    target = api_target(account_id, api_token, api_base, env, api_key=api_key, email=email)
    if target is not None:
        return target
    if in_ci(env):
        raise AuthError(no_credentials_in_ci())
    return embedded_target(local_data)


class PreviewServer:
    """The emulator (API and previews, with live reload) served on a thread at ``host:port``.

    A context manager: entering binds and starts it, leaving stops it, open live-reload streams
    and all, in well under a second. :attr:`target` deploys to it over loopback.
    """

    def __init__(
        self,
        data_dir: str,
        host: str = "127.0.0.1",
        port: int = 8787,
        runtime: str = "none",
        workerd: str | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        from .emulator.app import create_app
        from .emulator.server import listen, server

        self._sock = listen(host, port)
        self.port: int = self._sock.getsockname()[1]
        self.origin = f"http://{f'[{host}]' if ':' in host else host}:{self.port}"
        self.app = app = create_app(
            data_dir, dev=True, default_account=LOCAL_ACCOUNT, runtime=runtime, workerd=workerd, say=say
        )
        try:
            app.start_runtime()
        except BaseException:
            self._sock.close()
            raise
        self._server = server(app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock, *app.sockets]}, daemon=True
        )
        self.target = replace(embedded_target(data_dir), base_url=self.origin + API_PREFIX, transport=None)

    def __enter__(self) -> PreviewServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.app.close()
