"""The platform router's decision, as a table: which of a version's Worker and assets answers.

Pure: a version's metadata and its site in, a route out (Cloudflare's own canFetch and static
routing cases run over sockets in ``tests/upstream``)."""

from __future__ import annotations

from typing import Any

import pytest

from assetsync.emulator.preview.compose import Route, Router, image_allowed, navigation_prefers_assets
from assetsync.emulator.preview.resolve import Site, SiteConfig
from assetsync.protocol.assetrules.staticrouting import StaticRoutingError

A, W = Route.ASSETS, Route.WORKER
NAV = {"sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
FILES = ("/index.html", "/about.html", "/404.html", "/docs/index.html", "/logo.png")


def metadata(
    rwf: Any = None,
    *,
    main: bool = True,
    date: str = "2025-06-01",
    flags: tuple[str, ...] = (),
    **config: Any,
) -> dict[str, Any]:
    cfg = dict(config)
    if rwf is not None:
        cfg["run_worker_first"] = rwf
    md: dict[str, Any] = {
        "assets": {"config": cfg},
        "compatibility_date": date,
        "compatibility_flags": list(flags),
    }
    if main:
        md["main_module"] = "worker.js"
    return md


def route(md: dict[str, Any], path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Route:
    config = (md.get("assets") or {}).get("config") or {}
    site = Site(
        FILES,
        SiteConfig(
            not_found_handling=config.get("not_found_handling", "none"), redirects=config.get("_redirects")
        ),
    )
    pathname, _, query = path.partition("?")
    return Router.of(md).route(site, method, pathname, query, headers or {})


@pytest.mark.parametrize(
    ("md", "path", "method", "headers", "expected"),
    [
        # no Worker: the assets answer everything, a miss included
        (metadata(main=False), "/nope", "GET", {}, A),
        (metadata(True, main=False), "/about", "GET", {}, A),
        # assets first: an asset, an html_handling redirect, a 405 for another method are the assets'
        (metadata(), "/about", "GET", {}, A),
        (metadata(), "/about.html", "GET", {}, A),  # 307 to /about
        (metadata(), "/docs", "GET", {}, A),  # 307 to /docs/
        (metadata(), "/about", "POST", {}, A),  # 405
        (metadata(), "/api/orders", "GET", {}, W),
        (metadata(), "/api/orders", "DELETE", {}, W),
        # run_worker_first: true and false
        (metadata(True), "/about", "GET", {}, W),
        (metadata(False), "/about", "GET", {}, A),
        # not_found_handling is not an answer for a fetch(), but is for a navigation (flag on by date)
        (metadata(not_found_handling="single-page-application"), "/app/x", "GET", {}, W),
        (metadata(not_found_handling="single-page-application"), "/app/x", "GET", NAV, A),
        (metadata(not_found_handling="404-page"), "/app/x", "GET", NAV, A),
        (metadata(not_found_handling="404-page"), "/app/x", "GET", {"sec-fetch-mode": "cors"}, W),
        (metadata(not_found_handling="single-page-application", date="2025-03-31"), "/x", "GET", NAV, W),
        (
            metadata(
                not_found_handling="single-page-application", flags=("assets_navigation_has_no_effect",)
            ),
            "/x",
            "GET",
            NAV,
            W,
        ),
        (metadata(not_found_handling="none"), "/x", "GET", NAV, W),
        # static routing: asset rules first, then Worker rules, then the assets are asked, with
        # not_found_handling counting for every request
        (metadata(["/api/*", "!/api/docs/*"]), "/api/orders", "GET", {}, W),
        (metadata(["/api/*", "!/api/docs/*"]), "/api/docs/x", "GET", {}, A),  # a 404 of the assets'
        (metadata(["/api/*"]), "/about", "GET", {}, A),
        (metadata(["/api/*"]), "/nope", "GET", {}, W),
        (metadata(["/api/*"], not_found_handling="single-page-application"), "/nope", "GET", {}, A),
        (metadata(["/about"]), "/about", "GET", {}, W),  # a Worker rule wins over an asset
        # _redirects: a redirect or a rewrite is the assets' answer, even with nothing behind it
        (metadata(_redirects="/old /about 301\n/gone /nothing 200\n"), "/old", "GET", {}, A),
        (metadata(_redirects="/old /about 301\n/gone /nothing 200\n"), "/gone", "GET", {}, A),
        # the router's guard of image proxies, on the way to the Worker only
        (metadata(), "/_image?href=//evil.example/x.png", "GET", {"host": "site.example"}, Route.BLOCKED),
        (metadata(), "/_image?href=///evil.example/x.png", "GET", {"host": "site.example"}, Route.BLOCKED),
        (metadata(), "/_image?href=//evil.example/x.png", "GET", {"sec-fetch-dest": "image"}, W),
        (metadata(), "/_image?href=//site.example/x.png", "GET", {"host": "site.example:8787"}, W),
        (metadata(), "/_image?href=/x.png", "GET", {}, W),
        (metadata(), "/_next/image?url=https://evil.example/x", "GET", {}, Route.WORKER_IMAGE),
        (
            metadata(),
            "/_next/image?url=https://e.example/x",
            "POST",
            {"sec-fetch-dest": "image"},
            Route.WORKER_IMAGE,
        ),
        (metadata(), "/_next/image?url=https://e.example/x", "GET", {"sec-fetch-dest": "image"}, W),
        (metadata(), "/_next/image?url=/local.png", "GET", {}, W),
    ],
)
def test_who_answers(
    md: dict[str, Any], path: str, method: str, headers: dict[str, str], expected: Route
) -> None:
    assert route(md, path, method, headers) is expected


@pytest.mark.parametrize(
    ("date", "flags", "on"),
    [
        (None, (), False),  # the asset worker's own default date, 2021-11-02
        ("2025-03-31", (), False),
        ("2025-04-01", (), True),
        ("2025-04-01", ("assets_navigation_has_no_effect",), False),
        ("2024-01-01", ("assets_navigation_prefers_asset_serving",), True),
        ("2025-06-01", ("assets_navigation_prefers_asset_serving", "assets_navigation_has_no_effect"), True),
    ],
)
def test_the_navigation_flag_follows_the_date_and_the_flags(
    date: str | None, flags: tuple[str, ...], on: bool
) -> None:
    assert navigation_prefers_assets(date, flags) is on


def test_a_list_the_api_refuses_has_no_router() -> None:
    with pytest.raises(StaticRoutingError, match="must start with '/' or '!/'"):
        Router.of(metadata(["api/*"]))


def test_every_request_goes_to_the_worker_only_when_nothing_else_can_answer() -> None:
    empty = Site(())
    assert Router.of(metadata(True)).always_worker(Site(FILES))
    assert Router.of(metadata()).always_worker(empty)
    assert not Router.of(metadata()).always_worker(Site(FILES))
    assert not Router.of(metadata(["/api/*", "!/x"])).always_worker(empty)
    assert not Router.of(metadata()).always_worker(Site((), SiteConfig(redirects="/a /b 301\n")))
    assert not Router.of(metadata(True, main=False)).always_worker(empty)


@pytest.mark.parametrize(
    ("content_type", "allowed"),
    [
        ("image/png", True),
        ("text/plain", True),
        ("text/plain;charset=UTF-8", True),
        ("text/html", False),
        ("image/png, text/html", False),
        (None, False),
    ],
)
def test_a_remote_next_image_answer_passes_only_as_an_image_or_text(
    content_type: str | None, allowed: bool
) -> None:
    assert image_allowed(content_type) is allowed
