"""Whether a request goes to a version's user Worker or to its assets, as the platform's router
decides. Pure: a version's metadata and :class:`~.resolve.Site` in, a :class:`Route` out.

The order (``router-worker/src/worker.ts``, ``RouterInnerEntrypoint.fetch``):

1. ``run_worker_first`` as a list (static routing): a ``!/...`` rule that matches sends the
   request to the assets, then a ``/...`` rule that matches sends it to the Worker
   (:mod:`~assetsync.protocol.assetrules.staticrouting`).
2. ``run_worker_first: true``: the Worker, always.
3. Otherwise the assets are asked whether they have an answer (``canFetch``,
   :meth:`~.resolve.Site.can_fetch`); the Worker gets the request when they have none. When
   asking, not_found_handling counts only with static routing, or for a navigation
   (``Sec-Fetch-Mode: navigate``) when ``assets_navigation_prefers_asset_serving`` is on (a
   compatibility flag, on by default from 2025-04-01, off with ``assets_navigation_has_no_effect``):
   so a ``fetch()`` from a single-page app reaches the Worker's API while a page load gets
   ``index.html``.

On the way to the Worker the router blocks two image-proxy abuses: ``/_image?href=//other.host/...``
not loaded as an image (``Sec-Fetch-Dest: image``) is a 403, and ``/_next/image?url=<remote>`` not
loaded as an image by GET passes only an image or plain-text answer (else a 403). A version without
a Worker always gets its assets. The asset layer's compatibility settings are the Worker's.

Cloudflare facts: workers-sdk ``packages/workers-shared`` at f8308360283f97d33e188aee2e19c1ef9c09524a,
``router-worker/src/worker.ts``, ``asset-worker/src/handler.ts`` (``canFetch``),
``asset-worker/src/compatibility-flags.ts``; and ``resolveAssetOptions`` in
``packages/deploy-helpers`` for how ``run_worker_first`` becomes the router's configuration.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ...protocol.assetrules.staticrouting import StaticRouting, parse_static_routing
from ...protocol.assetrules.urls import request_hostname
from .resolve import Site

__all__ = ["NAVIGATION_FLAG", "TO_WORKER", "Route", "Router", "image_allowed"]

TO_WORKER = "x-assetsync-to-worker"  # marks the router's "the Worker takes it" for a binding's caller

NAVIGATION_FLAG = "assets_navigation_prefers_asset_serving"
NAVIGATION_OFF_FLAG = "assets_navigation_has_no_effect"
NAVIGATION_DEFAULT_FROM = "2025-04-01"  # the flag is on by default from this compatibility date
ASSET_DEFAULT_DATE = "2021-11-02"  # the asset worker's date when it is given none


class Route(enum.Enum):
    """Who answers a request."""

    ASSETS = "assets"
    WORKER = "worker"
    WORKER_IMAGE = "worker-image"  # the Worker, but only an image or plain text may come back
    BLOCKED = "blocked"  # 403 "Blocked", from the router itself


@dataclass(frozen=True, slots=True)
class Router:
    """The router's configuration for one version (``RouterConfig``, plus the asset layer's flag)."""

    has_user_worker: bool
    ahead: bool = False  # run_worker_first: true (invoke_user_worker_ahead_of_assets)
    static: StaticRouting | None = None  # run_worker_first as a list
    navigation: bool = False  # assets_navigation_prefers_asset_serving is on

    @classmethod
    def of(cls, metadata: Mapping[str, Any]) -> Router:
        """The router of a deployed version, from its metadata. A ``run_worker_first`` list the
        platform would refuse raises
        :class:`~assetsync.protocol.assetrules.staticrouting.StaticRoutingError`."""
        config = (metadata.get("assets") or {}).get("config") or {}
        rwf = config.get("run_worker_first", False)
        static = parse_static_routing(rwf) if isinstance(rwf, list) else None
        return cls(
            has_user_worker=bool(metadata.get("main_module")),
            ahead=rwf is True,
            static=static,
            navigation=navigation_prefers_assets(
                metadata.get("compatibility_date"), metadata.get("compatibility_flags") or ()
            ),
        )

    def always_worker(self, site: Site) -> bool:
        """Whether every request goes to the Worker, whatever it asks for: ``run_worker_first:
        true``, or a Worker with no assets, no ``_redirects`` and no static routing."""
        if not self.has_user_worker:
            return False
        return self.ahead or (self.static is None and not site.paths and not site.config.redirects)

    def route(
        self,
        site: Site,
        method: str,
        pathname: str,
        query: str,
        headers: Mapping[str, str],
        host: str | None = None,
    ) -> Route:
        """Who answers ``method pathname?query``. ``pathname`` is the URL's, as the parser leaves
        it; ``headers`` are looked up by lower-case name (a Starlette ``Headers`` will do);
        ``host`` is the request URL's host (default: the ``Host`` header)."""
        host = host if host is not None else headers.get("host")
        if not self.has_user_worker:
            return Route.ASSETS
        to_worker = self.static.to_worker(pathname) if self.static is not None else None
        if to_worker is None:
            if self.ahead:
                to_worker = True
            else:
                keep = self.static is not None or (
                    self.navigation and headers.get("sec-fetch-mode") == "navigate"
                )
                to_worker = not site.can_fetch(pathname, query=query, host=host, not_found=keep)
        return _guarded(method, pathname, query, headers, host) if to_worker else Route.ASSETS


def navigation_prefers_assets(date: str | None, flags: Any) -> bool:
    """Whether ``assets_navigation_prefers_asset_serving`` is on for these compatibility settings
    (an explicit enable wins over a disable, as the asset worker reads them)."""
    flags = [f for f in flags if isinstance(f, str)]
    if NAVIGATION_FLAG in flags:
        return True
    return (date or ASSET_DEFAULT_DATE) >= NAVIGATION_DEFAULT_FROM and NAVIGATION_OFF_FLAG not in flags


def _guarded(method: str, pathname: str, query: str, headers: Mapping[str, str], host: str | None) -> Route:
    """The Worker's route, or the router's own answer for the image-proxy abuses it blocks."""
    as_image = headers.get("sec-fetch-dest") == "image"
    if pathname.endswith("/_next/image"):
        remote = _first(query, "url")
        if remote and not remote.startswith("/") and (method.upper() != "GET" or not as_image):
            return Route.WORKER_IMAGE
    if pathname == "/_image":
        href = _first(query, "href")
        if href and len(href) > 2 and href.startswith("//"):
            try:  # after "https:" the URL parser skips any run of slashes before the host
                other = urlsplit("https://" + href.lstrip("/\\")).hostname
            except ValueError:  # an href the URL parser refuses is let through, as upstream does
                other = None
            own = request_hostname(host)
            if other is not None and other != own and not as_image:
                return Route.BLOCKED
    return Route.WORKER


def _first(query: str, name: str) -> str | None:
    values = parse_qs(query, keep_blank_values=True).get(name)
    return values[0] if values else None


def image_allowed(content_type: str | None) -> bool:
    """Whether a ``/_next/image`` answer for a remote URL may pass: one Content-Type, an image or
    plain text (what Next.js answers errors with)."""
    if content_type is None or "," in content_type:
        return False
    return content_type.startswith("image/") or content_type.split(";")[0] == "text/plain"
