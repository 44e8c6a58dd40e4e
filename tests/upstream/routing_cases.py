"""Cloudflare's tests of the router's two questions, as data: ``canFetch`` (do the assets answer
this request?) and the static routing matcher (does a ``run_worker_first`` rule match it?).

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a,
``packages/workers-shared/asset-worker/tests/handler.test.ts`` (``describe("[Asset Worker]
`canFetch`")``, each ``it`` and every row of its ``it.for`` matrix, as vitest counts them) and
``asset-worker/tests/rules-engine.test.ts`` (``describe("static routing rules")``).

Upstream calls the functions with a mocked ``exists`` (which paths are assets). Here each case is
a deployed Worker beside exactly those assets, with the case's asset settings, and each of the
test's expectations is a request: ``canFetch`` true means the assets answer it, false that the
Worker does (the router falls back to it), which the Worker marks with ``X-Answered-By``. For the
matcher, the site has ``single-page-application`` handling, so every request the rules leave to
the assets gets ``index.html`` and every request a rule sends to the Worker gets the Worker.
Where upstream calls the matcher once per rule set, a case is one rule set.

A configuration no deploy can hold (workerd refuses its compatibility flags; the API refuses its
rule list) runs in-process instead, as upstream runs it: the router's decision function
(:class:`assetsync.emulator.preview.compose.Router` over the site), or the rule matcher, with
upstream's exact inputs. ``in_process`` says why. A deployed case's compatibility date stands in for
upstream's when the API would refuse it (see :data:`BEFORE_FLAG`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

HANDLER = "handler.test.ts"
RULES = "rules-engine.test.ts"
NAV = {"Sec-Fetch-Mode": "navigate"}
# A rule list that matches none of the paths the canFetch cases request: static routing is on,
# which is all those cases set (has_static_routing).
UNMATCHED_RULES = ("/only-the-worker/*",)
# Compatibility dates a deploy uses for upstream's: none (the asset worker's default, 2021-11-02)
# and 2099-12-12. The API refuses a date after today, so the far-future date becomes the first day
# the navigation flag is on by default, the missing one a day before it (a deploy always has one).
BEFORE_FLAG, FLAG_DEFAULT_ON = "2024-01-01", "2025-04-01"


def deployed_date(date: str | None) -> str:
    return BEFORE_FLAG if date is None or date < FLAG_DEFAULT_ON else FLAG_DEFAULT_ON


@dataclass(frozen=True)
class Probe:
    """One request, and whether the Worker (not the assets) must answer it."""

    path: str
    worker: bool
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingCase:
    source: str
    name: str
    files: tuple[str, ...]
    probes: tuple[Probe, ...]
    html_handling: str = "auto-trailing-slash"  # normalizeConfiguration's defaults
    not_found_handling: str = "none"
    run_worker_first: tuple[str, ...] | None = None
    redirects: str | None = None
    date: str | None = None  # upstream's; a deploy uses deployed_date(date)
    flags: tuple[str, ...] = ()
    not_applicable: str | None = None
    in_process: str | None = None


def _can_fetch(name: str, files: tuple[str, ...], *probes: tuple[str, bool], **kw: object) -> RoutingCase:
    """A canFetch case: each probe is (path, canFetch's answer); the Worker answers when it is false."""
    method = str(kw.pop("method", "GET"))
    headers: dict[str, str] = kw.pop("headers", {})  # type: ignore[assignment]
    return RoutingCase(
        HANDLER,
        f"canFetch: {name}",
        files,
        tuple(Probe(path, not can, method, headers) for path, can in probes),
        **kw,  # type: ignore[arg-type]
    )


SPECIAL = ("/404.html", "/index.html")
WITH_FOO = (*SPECIAL, "/foo.html")
NAV_ENABLE = "assets_navigation_prefers_asset_serving"
NAV_DISABLE = "assets_navigation_has_no_effect"
REDIRECTS = "/redirect /something 301\n/proxy-valid /does-exist 200\n/proxy-invalid /no-match 200\n"


def _static_routing_always() -> list[RoutingCase]:
    """'should always return "true" for 404s or SPAs when static routing is present': 8 tests."""
    out = []
    for nf in ("single-page-application", "404-page"):
        for headers in ({}, NAV):
            for flags in ((NAV_DISABLE,), (NAV_ENABLE,)):
                name = (
                    'should always return "true" for 404s or SPAs when static routing is present: '
                    f"notFoundHandling={nf} Sec-Fetch-Mode={headers.get('Sec-Fetch-Mode', 'undefined')} "
                    f"flags={flags[0]}"
                )
                out.append(
                    _can_fetch(
                        name, SPECIAL, ("/foo", True), ("/bar", True), ("/", True), ("/404", True),
                        headers=headers, not_found_handling=nf, flags=flags, run_worker_first=UNMATCHED_RULES,
                    )
                )  # fmt: skip
    return out


CONTRADICTORY = (
    "workerd refuses a Worker with both assets_navigation flags, as upstream's comment says "
    "('Impossible in reality since workerd objects to mutually exclusive flags'), so no deploy holds them"
)
REDUNDANT = (
    "workerd refuses assets_navigation_prefers_asset_serving with a compatibility date on or after "
    "2025-04-01 ('became the default as of 2025-04-01 so does not need to be specified anymore'), so "
    "no deploy holds the pair"
)


def _navigation_matrix() -> list[RoutingCase]:
    """'assets_navigation_prefers_asset_serving': upstream's it.for matrix, one case per row."""
    modes: list[tuple[str | None, tuple[str, ...] | None, bool]] = [
        (None, None, False),
        (None, (NAV_ENABLE,), True),
        (None, (NAV_DISABLE,), False),
        (None, (NAV_ENABLE, NAV_DISABLE), True),
        ("2099-12-12", None, True),
        ("2099-12-12", (NAV_ENABLE,), True),
        ("2099-12-12", (NAV_DISABLE,), False),
    ]
    not_found: list[tuple[str | None, bool]] = [
        (None, False),
        ("none", False),
        ("404-page", True),
        ("single-page-application", True),
    ]
    headers_modes: list[tuple[dict[str, str], bool]] = [
        ({}, False),
        (NAV, True),
        ({"Sec-Fetch-Mode": "cors"}, False),
    ]
    out = []
    for date, flags, flag_on in modes:
        for nf, nf_on in not_found:
            for headers, navigates in headers_modes:
                for static in (False, True):
                    expected = (static and nf_on) or (flag_on and nf_on and navigates)
                    shown_flags = "undefined" if flags is None else f"[ {', '.join(repr(f) for f in flags)} ]"
                    shown_headers = (
                        "{}"
                        if not headers
                        else "{ " + ", ".join(f"'{k}': '{v}'" for k, v in headers.items()) + " }"
                    )
                    name = (
                        f"assets_navigation_prefers_asset_serving: compatibility_date {date or 'undefined'}, "
                        f"compatibility_flags {shown_flags}, not_found_handling {nf or 'undefined'}, "
                        f"headers: {shown_headers}, hasStaticRouting {str(static).lower()} -> "
                        f"{str(expected).lower()}"
                    )
                    out.append(
                        _can_fetch(
                            name, WITH_FOO, ("/foo", True), ("/bar", expected), ("/", True), ("/404", True),
                            headers=headers, not_found_handling=nf or "none", date=date, flags=flags or (),
                            run_worker_first=UNMATCHED_RULES if static else None,
                            in_process=(
                                CONTRADICTORY if flags is not None and len(flags) == 2
                                else REDUNDANT if date and flags == (NAV_ENABLE,) else None
                            ),
                        )
                    )  # fmt: skip
    return out


def _rules(name: str, rules: tuple[str, ...], *probes: tuple[str, bool], **kw: object) -> RoutingCase:
    """A static routing matcher case: each probe is (path, whether a rule matches it)."""
    return RoutingCase(
        RULES,
        f"static routing rules: {name} ({', '.join(rules) or 'no rules'})",
        ("/index.html",),
        tuple(Probe(path, matches) for path, matches in probes),
        not_found_handling="single-page-application",
        run_worker_first=rules,
        **kw,  # type: ignore[arg-type]
    )


ALL_PATHS = (
    "/bar", "/foo.example.com/baz", "/?q=foo.example.com/baz", "/foo.html", "/foo/bar.html", "/foo", "/foo/",
    "/foo/bar", "/foobar", "/",
)  # fmt: skip
NOT_DEPLOYABLE = "the API refuses this run_worker_first list ({why}), so no deploy holds it"
MATCHES = "should return true for a request that matches"
NO_MATCH = "should return false for a request that does not match"
IGNORES = "should ignore regex characters other than a glob"

CASES: tuple[RoutingCase, ...] = (
    # ------------------------------------------------------------------------------ canFetch
    _can_fetch('should return "true" if for exact and nearby assets with html_handling on', ("/foo.html",),
               ("/foo.html", True), ("/foo", True), ("/foo/", True)),
    *(
        _can_fetch(f"should not consider 404s or SPAs ({nf})", WITH_FOO,
                   ("/foo", True), ("/bar", False), ("/", True), ("/404", True), not_found_handling=nf)
        for nf in ("single-page-application", "404-page")
    ),
    *_static_routing_always(),
    _can_fetch('should return "true" even for a bad method', ("/foo.html",),
               ("/foo", True), ("/bar", False), method="POST"),
    _can_fetch('should return "true" for custom redirects without underlying assets',
               ("/404.html", "/does-exist"), ("/does-exist", True), ("/no-match", False), ("/redirect", True),
               ("/proxy-valid", True), redirects=REDIRECTS),
    *(
        _can_fetch('should return "true" for custom redirects without underlying assets (/proxy-invalid '
                   f"with no assets, not_found_handling {nf})", (), ("/proxy-invalid", True),
                   redirects=REDIRECTS, not_found_handling=nf)
        for nf in ("none", "404-page")
    ),
    *_navigation_matrix(),
    # ---------------------------------------------------------------------- rules-engine.test.ts
    _rules(MATCHES, ("/some/path",), ("/some/path", True)),
    _rules(MATCHES, ("/some/*",), ("/some/path", True)),
    _rules(MATCHES, ("/no/match", "/some/*"), ("/some/path", True)),
    _rules(NO_MATCH, ("/some/path",), ("/", False)),
    _rules(NO_MATCH, ("/some/*",), ("/path", False)),
    _rules(NO_MATCH, ("/some/path", "/other/path"), ("/path", False)),
    _rules(NO_MATCH, (), ("/some/path", False),
           in_process=NOT_DEPLOYABLE.format(why="no rules at all")),
    _rules(IGNORES, ("/",), ("/", True), ("/?foo=bar", True), ("/foo", False)),
    _rules(IGNORES, ("/foo",), ("/foo", True), ("/", False), ("/foo/", False), ("/foo/bar", False),
           ("/baz", False), ("/baz/foo", False), ("/foobar", False)),
    _rules(IGNORES, ("/:placeholder",), ("/foo", False), ("/:placeholder", True)),
    _rules(IGNORES, ("/foo*",), ("/foo", True), ("/foo/", True), ("/foo/bar", True), ("/foobar", True),
           ("/", False), ("/baz", False), ("/baz/foo", False)),
    _rules(IGNORES, ("/*.html",), ("/foo.html", True), ("/foo/bar.html", True), ("/", False), ("/foo", False),
           ("/foo/bar", False)),
    _rules(IGNORES, ("/login/*",), ("/login/foo", True), ("/foo/login/foo", False),
           ("/foo?bar=baz/login/foo", False)),
    _rules(IGNORES, ("/*",), *((path, True) for path in ALL_PATHS)),
    _rules(IGNORES, ("*/*",), *((path, True) for path in ALL_PATHS),
           in_process=NOT_DEPLOYABLE.format(why="a rule must start with '/' or '!/'")),
)  # fmt: skip
