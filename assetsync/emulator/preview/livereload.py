"""Live reload for ``assetsync dev``: pages reload themselves when a new deploy lands.

HTML served by the preview in dev mode gets a small script that listens on
``/__assetsync/livereload`` (server-sent events) and reloads the page when its own site is
deployed again. Every open page holds one stream; a deploy puts the site's key (account, script,
namespace: :func:`site_key`) on each. When the server stops, :meth:`ReloadHub.close` ends every
stream, so an open tab does not hold the shutdown up (a stream otherwise never ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

PATH = "/__assetsync/livereload"
PING = 15.0  # seconds between keep-alive comments, so proxies and browsers keep the stream


class ReloadHub:
    """Fans deploy notices out to every open page."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[str | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # the server's: where the streams run
        self._closed = False

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, site: str) -> None:
        for q in list(self._queues):
            q.put_nowait(site)

    def close(self) -> None:
        """End every open stream, and any opened from now on: the server is stopping. Safe from
        any thread (the streams live on the server's loop)."""
        self._closed = True
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile: so did the streams
                self._loop.call_soon_threadsafe(self._end_streams)

    def _end_streams(self) -> None:
        for q in list(self._queues):
            q.put_nowait(None)

    async def _stream(self) -> AsyncIterator[bytes]:
        self._loop = asyncio.get_running_loop()
        q: asyncio.Queue[str | None] = asyncio.Queue()
        self._queues.add(q)
        try:
            yield b"retry: 500\n\n"
            while not self._closed:
                try:
                    site = await asyncio.wait_for(q.get(), PING)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if site is None:
                    return
                yield f"data: {json.dumps(site)}\n\n".encode()
        finally:
            self._queues.discard(q)

    def response(self) -> StreamingResponse:
        return StreamingResponse(
            self._stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def site_key(account: str, script: str, namespace: str = "") -> str:
    """What names a site in reload notices: its account too, so a deploy of the same script name
    in another account reloads no page of this one."""
    return f"{account}/{script}.{namespace}" if namespace else f"{account}/{script}"


def snippet(site: str) -> bytes:
    """The script added to each HTML page of ``site`` in dev mode."""
    return (
        "<script>(()=>{const es=window.__assetsyncReload=new EventSource(" + json.dumps(PATH) + ");"
        "es.onmessage=(e)=>{if(JSON.parse(e.data)==="
        + json.dumps(site)
        + ")location.reload();};})();</script>"
    ).encode()


def inject(html: bytes, site: str) -> bytes:
    """``html`` with the reload script before ``</body>`` (or at the end)."""
    tag = snippet(site)
    lower = html.lower()
    at = lower.rfind(b"</body>")
    if at == -1:
        return html + tag
    return html[:at] + tag + html[at:]
