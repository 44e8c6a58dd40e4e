"""Cloudflare's asset-worker request tests, as data: one request against one deployed site each.

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a:

* ``fixtures/workers-shared-asset-config/url-normalization.test.ts`` (the client follows redirects)
  and ``redirects.test.ts`` (redirects not followed), both with html_handling and
  not_found_handling ``none``;
* ``packages/workers-shared/asset-worker/tests/handler.test.ts``: ``handleRequest`` with a mocked
  ``exists`` (which paths are assets) and ``getByETag`` (their content). Here the site holds exactly
  the assets the mock reports, with the content it returns; where the mock answers "exists" for
  any path, the site holds a file at each path the case requests;
* ``packages/workers-shared/asset-worker/tests/rules-engine.test.ts``: the rule matcher's cases run
  through ``_headers`` (each rule sets ``X-Rule``; the expected list of matching rules is the
  header's value) on a site holding the requested path.

Both files' tests of the router's questions (``canFetch``, the static routing matcher) are in
:mod:`.routing_cases`.

A case whose ``not_applicable`` is set stays here with the reason it cannot run against the
preview; the runner counts it but does not run it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from .worker_apps import App


@dataclass(frozen=True)
class Case:
    """One request and what Cloudflare answers.

    ``files`` maps asset paths to their content (``None``: the path itself). ``headers`` are sent
    with the request; ``{etag}`` in a value is replaced by the asset's ETag from a first GET.
    ``host`` (when set) is the request's Host. ``expect_headers`` maps names to expected values,
    ``None`` meaning absent. ``body`` is checked when not None; ``contains`` and ``absent`` are
    texts the body must and must not hold (upstream's ``toContain``). ``follow``: follow redirects
    and check the final answer (``location`` then names the final path). ``app``: the case runs
    against that fixture's deployed Worker and assets (:mod:`.worker_apps`) instead of ``files``
    and the settings here; ``output``: texts some Worker must print (its console) for it.
    """

    source: str
    name: str
    files: dict[str, str | None]
    request: str
    status: int
    html_handling: str = "none"
    not_found_handling: str = "none"
    redirects: str | None = None
    headers_file: str | None = None
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    location: str | None = None
    body: str | None = None
    expect_headers: dict[str, str | None] = field(default_factory=dict)
    follow: bool = False
    not_applicable: str | None = None
    app: App | None = None
    contains: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    output: tuple[str, ...] = ()


NORMALIZATION = "url-normalization.test.ts"
REDIRECTS = "redirects.test.ts"
HANDLER = "handler.test.ts"
RULES = "rules-engine.test.ts"

_HANDLER_HEADERS = """\
/
  X-Custom-Header: Custom-Value
/foo
  X-Custom-Foo-Header: Custom-Foo-Value
/bang/:placeheld
  X-Custom-Bang-Header: Custom-Bang-Value :placeheld
/art/*
  X-Custom-Art-Header: Custom-Art-Value :splat
  Set-Cookie: me
/art/nested/attack
  Set-Cookie: me too
/system/override
  ETag: very rogue
/system/underride
  ! ETAg
/art/nested/unset/attack*
  ! Set-Cookie
  Set-Cookie: hijack
/art/nested/unset/attack/totalunset
  ! Set-Cookie
/foo.html
  X-Custom-Foo-HTML-Header: Custom-Foo-HTML-Value
"""
_HEADER_PATHS = (
    "/index.html",
    "/foo",
    "/bang/baz",
    "/bang/baz/abba",
    "/art/attack/by/Neil/Buchanan",
    "/art/nested/attack",
    "/system/override",
    "/system/underride",
    "/art/nested/unset/attack",
    "/art/nested/unset/attack/totalunset",
)
_HEADER_SITE: dict[str, str | None] = dict.fromkeys(_HEADER_PATHS)

# The rules in their upstream line order: /wonkyObjectOrder's host rule is line 8, before line 9.
_HANDLER_REDIRECTS = """\
/foo /bar 301
/proxy /other 200
/proxy-explicit /other.html 200
/competeForwards /hostless 302
https://example.com/competeForwards /withhost 302
https://example.com/competeBackwards /withhost 302
/competeBackwards /hostless 302
https://example.com/wonkyObjectOrder /withhost 302
/wonkyObjectOrder /hostless 302
/dynamic/:seg /:seg/new-dynamic/?with#params 302
/dynamic/:seg1/:seg2/:seg3 https://fakehost/:seg3/:seg1/:seg2/new-dynamic/?with#params 302
/splat/* /:splat/new-splat 302
/splat/foo/* /will-never-fire 302
/but/this/will/* /too 302
/but/this/* /will 302
/partialSplat* /new-partialSplat:splat 302
/partialPlaceholder:placeholder /new-partialPlaceholder:placeholder 302
"""
_REDIRECT_SITE: dict[str, str | None] = dict.fromkeys(
    ["/foo", "/dynamic/bar/baz/qux/too/many/segments", "/competeForwards", "/splat/foo/nope"]
)
OTHER = "hello from other asset!"
_HOST_SOURCES = (
    "the upstream configuration holds https://example.com/... sources, which the _redirects parser "
    "rejects (only relative URLs are allowed): no deployed _redirects file can hold them"
)


def _redirect(name: str, request: str, status: int, location: str | None = None, **kw: object) -> Case:
    return Case(
        HANDLER,
        f"_redirects: {name}",
        kw.pop("files", _REDIRECT_SITE),  # type: ignore[arg-type]
        request,
        status,
        redirects=_HANDLER_REDIRECTS,
        host="example.com",
        location=location,
        **kw,  # type: ignore[arg-type]
    )


def _header(name: str, request: str, expect: dict[str, str | None], **kw: object) -> Case:
    return Case(
        HANDLER,
        f"_headers: {name}",
        kw.pop("files", _HEADER_SITE),  # type: ignore[arg-type]
        request,
        kw.pop("status", 200),  # type: ignore[arg-type]
        headers_file=_HANDLER_HEADERS,
        expect_headers=expect,
        **kw,  # type: ignore[arg-type]
    )


_RULES_SIMPLE = "/test\n  X-Rule: 1\n/some%20page\n  X-Rule: 2\n"
_RULES_HOSTS = (
    "/test\n  X-Rule: 1\n/anotherpage\n  X-Rule: 2\nhttps://custom.domain/test\n  X-Rule: 3\n"
    "https://another.domain/test\n  X-Rule: 4\n//fake.host/actually-a-path\n  X-Rule: 5\n"
)
_RULES_SPLATS = (
    "/foo/test/*\n  X-Rule: 1/:splat\n/foo/*\n  X-Rule: 2/:splat\n"
    "/blog/:code/:name\n  X-Rule: 3/:name/:code\n/blog/*\n  X-Rule: 4/:splat\n"
    "https://:subdomain.pages.:tld/*\n  X-Rule: 5/:subdomain/:tld/:splat\n"
    "https://next.:subdomain.pages.:tld/*\n  X-Rule: 6/:subdomain/\n"
)


def _rule(name: str, rules: str, request: str, matched: str | None, status: int = 200, **kw: object) -> Case:
    """A site holding the requested path (decoded, as a file is named), so the answer is that file."""
    path = re.sub("/+", "/", unquote(request))
    files: dict[str, str | None] = {"/index.html" if path == "/" else path: None}
    return Case(
        RULES,
        f"rules engine: {name}",
        files,
        request,
        status,
        headers_file=rules,
        expect_headers={"x-rule": matched},
        **kw,  # type: ignore[arg-type]
    )


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ url-normalization.test.ts
    Case(NORMALIZATION, "returns 200 leading encoded double slash", {"/blog/index.html": None},
         "/%2fblog/index.html", 200, follow=True, location="/blog/index.html"),
    Case(NORMALIZATION, "returns 200 leading non encoded double slash", {"/blog/index.html": None},
         "//blog/index.html", 200, follow=True, location="/blog/index.html"),
    Case(NORMALIZATION, "returns 404 for non matched url", {"/blog/index.html": None},
         "/%2fexample.com/", 404, follow=True, body=""),
    # ------------------------------------------------------------------------- redirects.test.ts
    Case(REDIRECTS, "returns 404 for non matched encoded url",
         {"/christmas/starts/november/first.html": None}, "/%2f%2fbad.example.com%2f", 404, body=""),
    Case(REDIRECTS, "returns 200 for matched non encoded url (game.bin)", {"/you/lost/the/game.bin": None},
         "/you/lost/the/game.bin", 200),
    Case(REDIRECTS, "returns redirect for matched encoded url", {"/awesome/file.bin": None},
         "/awesome/file%2ebin", 307, location="/awesome/file.bin", body=""),
    Case(REDIRECTS, "returns 200 for matched non encoded url (png)", {"/mylittlepony.png": None},
         "/mylittlepony.png", 200),
    # -------------------------------------------------------------------------- handler.test.ts
    Case(HANDLER, "attaches ETag headers to responses", {"/index.html": None}, "/index.html", 200,
         expect_headers={"etag": "{etag}"}),
    Case(HANDLER, "returns 304 for a valid strong ETag in If-None-Match", {"/index.html": None},
         "/index.html", 304, headers={"if-none-match": "{etag}"}, body=""),
    Case(HANDLER, "returns 304 for a valid weak ETag in If-None-Match", {"/index.html": None},
         "/index.html", 304, headers={"if-none-match": "W/{etag}"}, body=""),
    Case(HANDLER, "returns 200 for an invalid ETag in If-None-Match", {"/index.html": None},
         "/index.html", 200, headers={"if-none-match": "a fake etag!"}),
    # The mock reports assets under /blog/ only; the site holds just those.
    Case(HANDLER, "cannot fetch assets outside of configured path (..)",
         {"/blog/test.html": "aaaaaaaaaa", "/blog/index.html": "bbbbbbbbbb"}, "/blog/../test", 404,
         html_handling="auto-trailing-slash", body=""),
    Case(HANDLER, "cannot fetch assets outside of configured path (%2E%2E)",
         {"/blog/test.html": "aaaaaaaaaa", "/blog/index.html": "bbbbbbbbbb"}, "/blog/%2E%2E/test", 404,
         html_handling="auto-trailing-slash", body=""),
    Case(HANDLER, "malformed path: /%A0 matches nothing", {"/index.html": None, "/%A0%A0.html": None},
         "/%A0", 404, html_handling="drop-trailing-slash", body=""),
    Case(HANDLER, "malformed path: /%A0%A0 matches and redirects",
         {"/index.html": None, "/%A0%A0.html": None}, "/%A0%A0", 307,
         html_handling="drop-trailing-slash", location="/%25A0%25A0"),
    Case(HANDLER, "attaches CF-Cache-Status headers (HIT)", {"/index.html": None}, "/index.html", 200,
         expect_headers={"cf-cache-status": "HIT"}),
    Case(HANDLER, "attaches CF-Cache-Status headers (MISS)", {"/index.html": None}, "/index.html", 200,
         expect_headers={"cf-cache-status": "MISS"},
         not_applicable="MISS means reading the asset took over 100 ms; the preview reads a local file"),
    _header("static header on root", "/", {"x-custom-header": "Custom-Value", "x-custom-foo-header": None},
            html_handling="auto-trailing-slash"),
    _header("static header on path", "/foo", {"x-custom-foo-header": "Custom-Foo-Value",
                                              "x-custom-header": None}),
    _header("placeholder header", "/bang/baz", {"x-custom-bang-header": "Custom-Bang-Value baz"}),
    _header("placeholder doesn't catch children", "/bang/baz/abba", {"x-custom-bang-header": None}),
    _header("splat header", "/art/attack/by/Neil/Buchanan",
            {"x-custom-art-header": "Custom-Art-Value attack/by/Neil/Buchanan", "set-cookie": "me"}),
    _header("headers are appended", "/art/nested/attack", {"set-cookie": "me, me too"}),
    _header("system headers are overwritten", "/system/override", {"etag": "very rogue"}),
    _header("system headers can be unset", "/system/underride", {"etag": None}),
    _header("custom headers can be unset and redefined", "/art/nested/unset/attack",
            {"set-cookie": "hijack"}),
    _header("custom headers can entirely unset", "/art/nested/unset/attack/totalunset",
            {"set-cookie": None}),
    _header("custom headers are applied even to redirect responses", "/foo.html",
            {"location": "/foo", "x-custom-foo-html-header": "Custom-Foo-HTML-Value"},
            files={"/foo.html": None}, html_handling="auto-trailing-slash", status=307),
    _header("custom headers are applied even to not modified responses", "/foo",
            {"x-custom-foo-header": "Custom-Foo-Value"}, headers={"if-none-match": "{etag}"}, status=304),
    Case(HANDLER, "_headers: custom headers are applied even to custom redirect responses", {}, "/foo", 301,
         headers_file=_HANDLER_HEADERS, redirects="/foo /bar 301\n", location="/bar",
         expect_headers={"x-custom-foo-header": "Custom-Foo-Value"}),
    _redirect("static redirect in front of an asset", "/foo", 301, "/bar"),
    _redirect("static redirect with no underlying asset", "/foo", 301, "/bar", files={}),
    _redirect("proxy to another non-HTML asset", "/proxy", 200, files={"/other": OTHER}, body=OTHER),
    _redirect("proxy to another nearby HTML asset implicitly", "/proxy", 200, files={"/other.html": OTHER},
              html_handling="auto-trailing-slash", body=OTHER),
    _redirect("proxy to another HTML asset explicitly", "/proxy-explicit", 200,
              files={"/other.html": OTHER}, body=OTHER),
    _redirect("proxy a non-existent asset with not_found_handling", "/proxy", 404,
              files={"/404.html": "hello from 404.html!"}, not_found_handling="404-page",
              body="hello from 404.html!"),
    _redirect("proxy a non-existent asset without not_found_handling", "/proxy", 404, files={}, body=""),
    *(
        _redirect(f"static redirects evaluate in line order ({which})", f"/{path}", 302, to,
                  not_applicable=_HOST_SOURCES)
        for which, path, to in (
            ("forwards", "competeForwards", "/hostless"),
            ("backwards", "competeBackwards", "/withhost"),
            ("wonky object order", "wonkyObjectOrder", "/withhost"),
        )
    ),
    _redirect("dynamic placeholders work", "/dynamic/foo", 302, "/foo/new-dynamic/?with#params"),
    _redirect("dynamic placeholders work (external)", "/dynamic/bar/baz/qux", 302,
              "https://fakehost/qux/bar/baz/new-dynamic/?with#params"),
    _redirect("dynamic placeholders work (too many segments)", "/dynamic/bar/baz/qux/too/many/segments", 200),
    _redirect("dynamic splats work", "/splat/foo/bar/baz", 302, "/foo/bar/baz/new-splat"),
    _redirect("dynamic splats work (empty splat)", "/splat/", 302, "/new-splat"),
    _redirect("dynamic rules are first-come-first-serve (splat)", "/splat/foo/nope", 302,
              "/foo/nope/new-splat"),
    _redirect("dynamic rules are first-come-first-serve (but/this)", "/but/this/match", 302, "/will"),
    _redirect("dynamic rules are first-come-first-serve (but/this/will)", "/but/this/will/match", 302,
              "/too"),
    _redirect("partial splats work", "/partialSplatfoo/bar/baz", 302, "/new-partialSplatfoo/bar/baz"),
    _redirect("partial placeholders work", "/partialPlaceholderfoo", 302, "/new-partialPlaceholderfoo"),
    _redirect("partial placeholders stop at a slash", "/partialPlaceholderfoo/", 200,
              not_applicable="the mock has an asset at /partialPlaceholderfoo/ itself (with html_handling "
              "none): a path ending in / is a folder, never a file, in a deployed directory"),
    Case(HANDLER, "_redirects: should prevent external redirects via double slash", {}, "/foo//google.com",
         302, redirects="/foo/* /:splat 302\n", location="/google.com"),
    Case(HANDLER, "handleRequest analytics", {}, "/", 200,
         not_applicable="internal: the analytics the platform records, which no response carries"),
    # ---------------------------------------------------------------------- rules-engine.test.ts
    _rule("simple pathname /test", _RULES_SIMPLE, "/test", "1"),
    _rule("simple pathname /some page", _RULES_SIMPLE, "/some%20page", "2"),
    _rule("cross-host request", _RULES_HOSTS, "/test", "1, 3", host="custom.domain"),
    # "//" is not canonical: the file is answered with a 307 to /fake.host/actually-a-path.
    _rule("double slash rule is a path", _RULES_HOSTS, "//fake.host/actually-a-path", "5", status=307),
    _rule("other protocol and port", _RULES_HOSTS, "/test", "1, 3", host="custom.domain:123"),
    # The upstream request's "\\" and "{}" reach the worker as "/" and "%7B%7D" (the URL parser);
    # the path is not canonically encoded ("[", "|", "$"), so the file is answered with a 307.
    _rule("escapes funky rules", "/$~.%20/!+-/[bo|%7Bo%7D]...()\n  X-Rule: 1\n",
          "/$~.%20/!+-/[bo|%7Bo%7D]...()", "1", status=307),
    _rule("splats /foo/test/yes", _RULES_SPLATS, "/foo/test/yes", "1/yes, 2/test/yes"),
    _rule("splats /foo/test/", _RULES_SPLATS, "/foo/test/", "1/, 2/test/"),
    _rule("splats /foo/test", _RULES_SPLATS, "/foo/test", "2/test"),
    _rule("splats /foo/", _RULES_SPLATS, "/foo/", "2/"),
    _rule("splats /foo", _RULES_SPLATS, "/foo", None),
    _rule("placeholders /blog/123/tricycle", _RULES_SPLATS, "/blog/123/tricycle",
          "3/tricycle/123, 4/123/tricycle"),
    _rule("host placeholders my.pages.dev", _RULES_SPLATS, "/magic", "5/my/dev/magic", host="my.pages.dev"),
    _rule("host placeholders next.my.pages.dev", _RULES_SPLATS, "/magic", "6/my/", host="next.my.pages.dev"),
    *(
        Case(RULES, f"replacer: {name}", {}, "/", 200,
             not_applicable="a unit of the string replacer; the serving cases above run it through rules")
        for name in (
            "should replace splats",
            "should replace placeholders",
            "should replace splats and placeholders",
            "should replace all instances of placeholders",
        )
    ),
)  # fmt: skip
