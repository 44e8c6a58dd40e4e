"""The preview server: deployed sites served as the platform would serve them.

A site is addressed by host, ``<script>.localhost`` (or ``<script>.<namespace>.localhost`` for a
Workers for Platforms user worker), or, for clients that cannot resolve ``*.localhost``, by path:
``/__preview/<script>/...`` and ``/__preview/<script>.<namespace>/...`` (a dot never appears in a
script name, so the two cannot be confused). The request path is percent-decoded and looked up
only in the deployed manifest: no request path ever reaches the filesystem.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from ...protocol import HTML_HANDLING, NOT_FOUND_HANDLING
from ...protocol.assetrules.urls import request_pathname
from ...protocol.contenttypes import UNKNOWN
from ..store import Store, Version, scope_of
from .resolve import Resolution, Site, SiteConfig

PREFIX = "/__preview/"
CHUNK = 256 * 1024


def split_host(host: str) -> tuple[str, str] | None:
    """``(script, namespace)`` from a ``*.localhost`` Host header, or None."""
    name = host.rsplit(":", 1)[0].lower().rstrip(".")
    if not name.endswith(".localhost"):
        return None
    labels = name[: -len(".localhost")].split(".")
    if len(labels) == 1 and labels[0]:
        return labels[0], ""
    if len(labels) == 2 and all(labels):
        return labels[0], labels[1]
    return None


def split_site(segment: str) -> tuple[str, str]:
    """``(script, namespace)`` from the first path segment of a path-style preview URL."""
    script, _, ns = segment.partition(".")
    return script, ns


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


class Preview:
    """Serves the live version of each deployed script."""

    def __init__(self, store: Store, on_html: Callable[[bytes, str], bytes] | None = None) -> None:
        self.store = store
        self.on_html = on_html  # dev mode injects its live-reload script here
        self._sites: dict[str, Site] = {}

    def _site(self, version: Version) -> Site:
        site = self._sites.get(version.id)
        if site is None:
            assets = version.metadata.get("assets") or {}
            config = assets.get("config") or {}
            manifest = version.manifest or {}
            site = Site(
                manifest.keys(),
                SiteConfig(
                    html_handling=config.get("html_handling", HTML_HANDLING[0]),
                    not_found_handling=config.get("not_found_handling", NOT_FOUND_HANDLING[0]),
                    redirects=config.get("_redirects"),
                    headers=config.get("_headers"),
                ),
                etags={path: entry[0] for path, entry in manifest.items()},
            )
            if len(self._sites) > 256:
                self._sites.clear()
            self._sites[version.id] = site
        return site

    async def serve(
        self, request: Request, script: str, namespace: str, path: str, base: str = ""
    ) -> Response:
        """Answer ``path`` (as on the wire: percent-encoded or raw UTF-8) for the named script."""
        live = self.store.live_for_preview(script, namespace)
        version = self.store.version(live.version) if live and live.version else None
        if version is None or version.manifest is None:
            where = f" in namespace {namespace!r}" if namespace else ""
            return HTMLResponse(
                f"<h1>404</h1><p>No Worker with assets called {html.escape(script)!s}{html.escape(where)} "
                "has been deployed to this emulator.</p>",
                404,
            )
        try:
            decoded = unquote_to_bytes((path or "/").encode("latin-1")).decode("utf-8")
        except UnicodeDecodeError:
            return Response(b"Bad Request: the path is not valid UTF-8", 400)
        res = self._site(version).resolve(
            request.method,
            decoded,
            query=request.url.query,
            host=request.headers.get("host"),
            raw_path=request_pathname(path or "/"),
        )
        return self._respond(request, version, res, base)

    def _respond(self, request: Request, version: Version, res: Resolution, base: str) -> Response:
        headers: dict[str, str] = {}
        if res.location is not None:
            location = res.location  # already percent-encoded ASCII
            if base and location.startswith("/"):
                location = base + location
            headers["location"] = location
        response: Response
        if res.asset is None:
            response = Response(
                b"" if request.method == "HEAD" else _status_text(res.status), res.status, headers
            )
        else:
            digest, size, ctype = version.manifest[res.asset]  # type: ignore[index]
            etag = f'"{digest}"'
            headers["etag"] = etag
            headers["cache-control"] = "public, max-age=0, must-revalidate"
            if ctype and ctype != UNKNOWN:  # the platform serves no Content-Type then
                headers["content-type"] = ctype
            if res.status == 200 and _etag_matches(request.headers.get("if-none-match"), etag):
                response = Response(b"", 304, headers)
            else:
                blob = self.store.blob_path(scope_of(version.account, version.namespace or None), digest)
                if request.method == "HEAD":
                    headers["content-length"] = str(size)
                    response = Response(b"", res.status, headers)
                elif self.on_html is not None and ctype.startswith("text/html"):
                    with open(blob, "rb") as f:
                        site = (
                            f"{version.script}.{version.namespace}" if version.namespace else version.script
                        )
                        response = Response(self.on_html(f.read(), site), res.status, headers)
                else:
                    headers["content-length"] = str(size)
                    response = StreamingResponse(_file_chunks(blob), res.status, headers)
        for name in res.remove:
            if name.lower() in response.headers:
                del response.headers[name.lower()]
        for name, value in res.headers:
            response.headers.append(name, value)
        return response

    def index(self, host: str) -> HTMLResponse:
        """A page listing every deployed site with its preview links."""
        port = host.rsplit(":", 1)[1] if ":" in host.rsplit("]", 1)[-1] else "80"
        rows = []
        for s in self.store.all_live():
            site = f"{s.name}.{s.namespace}" if s.namespace else s.name
            rows.append(
                f"<li><a href='{PREFIX}{quote(site)}/'>{html.escape(site)}</a> "
                f"(<code>http://{html.escape(site)}.localhost:{html.escape(port)}/</code>)</li>"
            )
        body = "".join(rows) or "<li>nothing deployed yet</li>"
        return HTMLResponse(
            f"<!doctype html><title>assetsync emulator</title><h1>Deployed sites</h1><ul>{body}</ul>"
        )


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return etag in candidates or "*" in candidates


def _status_text(status: int) -> bytes:
    return {404: b"Not Found", 405: b"Method Not Allowed"}.get(status, b"")


def preview_target(scope: MutableMapping[str, Any]) -> tuple[str, str, str, str] | None:
    """For an ASGI request scope: (script, namespace, path, base) if it is a preview request."""
    host = ""
    for key, value in scope.get("headers", []):
        if key == b"host":
            host = value.decode("latin-1")
            break
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.split(b"?", 1)[0].decode("latin-1")  # bytes kept 1:1; decoded as UTF-8 later
    target = split_host(host)
    if target is not None:
        return target[0], target[1], path, ""
    if path.startswith(PREFIX):
        segment, _, rest = path[len(PREFIX) :].partition("/")
        script, ns = split_site(unquote(segment))
        base = PREFIX + segment
        return script, ns, "/" + rest, base
    return None
