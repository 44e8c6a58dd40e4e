"""What the preview server answers: html_handling, not_found_handling, _redirects and _headers.

The html_handling table is Cloudflare's (workers-sdk ``fixtures/workers-shared-asset-config/
test-cases/html-handling-test-cases.ts``, condensed to one request per row); the full upstream
tables, encoding included, run over real sockets in ``tests/upstream``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from assetsync.emulator.preview.resolve import Resolution, Site, SiteConfig
from assetsync.protocol.assetrules.headers import HeaderOp, apply_header_ops, parse_headers
from assetsync.protocol.assetrules.redirects import (
    MAX_DYNAMIC_RULES,
    MAX_STATIC_RULES,
    parse_redirects,
)

AUTO, FORCE, DROP, NONE = "auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none"
HTML_MODES = (AUTO, FORCE, DROP, NONE)
NOT_FOUND_MODES = ("none", "404-page", "single-page-application")

INDEX = ("/index.html",)
BOTH = ("/both.html", "/both/index.html")
FILE = ("/file.html",)
FOLDER = ("/folder/index.html",)
FILE_BIN = ("/file-bin", "/file-bin.html")


def site(paths: tuple[str, ...] | list[str] | set[str], **config: str) -> Site:
    return Site(paths, SiteConfig(**config))


def get(s: Site, path: str, **kw: str) -> Resolution:
    return s.resolve("GET", path, **kw)


# (files, request, expected): "=/key" serves key with 200, "307 /loc" redirects, "404" is a bare 404.
HTML_TABLE: dict[str, list[tuple[tuple[str, ...], str, str]]] = {
    AUTO: [
        (INDEX, "/", "=/index.html"),
        (INDEX, "/index", "307 /"),
        (INDEX, "/index.html", "307 /"),
        (BOTH, "/both", "=/both.html"),
        (BOTH, "/both.html", "307 /both"),
        (BOTH, "/both/", "=/both/index.html"),
        (BOTH, "/both/index", "307 /both/"),
        (BOTH, "/both/index.html", "307 /both/"),
        (FILE, "/file", "=/file.html"),
        (FILE, "/file.html", "307 /file"),
        (FILE, "/file/", "307 /file"),
        (FILE, "/file/index", "307 /file"),
        (FILE, "/file/index.html", "307 /file"),
        (FOLDER, "/folder", "307 /folder/"),
        (FOLDER, "/folder.html", "307 /folder/"),
        (FOLDER, "/folder/", "=/folder/index.html"),
        (FOLDER, "/folder/index", "307 /folder/"),
        (FOLDER, "/folder/index.html", "307 /folder/"),
        (FILE_BIN, "/file-bin", "=/file-bin"),
        (FILE_BIN, "/file-bin.html", "=/file-bin.html"),
        (FILE_BIN, "/file-bin/", "404"),
        (FILE_BIN, "/file-bin/index", "404"),
        (FILE_BIN, "/file-bin/index.html", "404"),
    ],
    FORCE: [
        (INDEX, "/", "=/index.html"),
        (INDEX, "/index", "307 /"),
        (INDEX, "/index.html", "307 /"),
        (BOTH, "/both", "307 /both/"),
        (BOTH, "/both.html", "=/both.html"),
        (BOTH, "/both/", "=/both/index.html"),
        (BOTH, "/both/index", "307 /both/"),
        (BOTH, "/both/index.html", "307 /both/"),
        (FILE, "/file", "307 /file/"),
        (FILE, "/file.html", "307 /file/"),
        (FILE, "/file/", "=/file.html"),
        (FILE, "/file/index", "307 /file/"),
        (FILE, "/file/index.html", "307 /file/"),
        (FOLDER, "/folder", "307 /folder/"),
        (FOLDER, "/folder.html", "307 /folder/"),
        (FOLDER, "/folder/", "=/folder/index.html"),
        (FOLDER, "/folder/index", "307 /folder/"),
        (FOLDER, "/folder/index.html", "307 /folder/"),
        (FILE_BIN, "/file-bin", "=/file-bin"),
        (FILE_BIN, "/file-bin.html", "307 /file-bin/"),
        (FILE_BIN, "/file-bin/", "=/file-bin.html"),
        (FILE_BIN, "/file-bin/index", "307 /file-bin/"),
        (FILE_BIN, "/file-bin/index.html", "307 /file-bin/"),
    ],
    DROP: [
        (INDEX, "/", "=/index.html"),
        (INDEX, "/index", "307 /"),
        (INDEX, "/index.html", "307 /"),
        (BOTH, "/both", "=/both.html"),
        (BOTH, "/both.html", "307 /both"),
        (BOTH, "/both/", "307 /both"),
        (BOTH, "/both/index", "307 /both"),
        (BOTH, "/both/index.html", "=/both/index.html"),
        (FILE, "/file", "=/file.html"),
        (FILE, "/file.html", "307 /file"),
        (FILE, "/file/", "307 /file"),
        (FILE, "/file/index", "307 /file"),
        (FILE, "/file/index.html", "307 /file"),
        (FOLDER, "/folder", "=/folder/index.html"),
        (FOLDER, "/folder.html", "307 /folder"),
        (FOLDER, "/folder/", "307 /folder"),
        (FOLDER, "/folder/index", "307 /folder"),
        (FOLDER, "/folder/index.html", "307 /folder"),
        (FILE_BIN, "/file-bin", "=/file-bin"),
        (FILE_BIN, "/file-bin.html", "=/file-bin.html"),
        (FILE_BIN, "/file-bin/", "404"),
        (FILE_BIN, "/file-bin/index", "404"),
        (FILE_BIN, "/file-bin/index.html", "404"),
    ],
    NONE: [
        (INDEX, "/", "404"),
        (INDEX, "/index", "404"),
        (INDEX, "/index.html", "=/index.html"),
        (BOTH, "/both", "404"),
        (BOTH, "/both.html", "=/both.html"),
        (BOTH, "/both/", "404"),
        (BOTH, "/both/index.html", "=/both/index.html"),
        (FILE, "/file", "404"),
        (FILE, "/file/index.html", "404"),
        (FOLDER, "/folder", "404"),
        (FOLDER, "/folder.html", "404"),
        (FOLDER, "/folder/", "404"),
        (FOLDER, "/folder/index.html", "=/folder/index.html"),
        (FILE_BIN, "/file-bin", "=/file-bin"),
        (FILE_BIN, "/file-bin.html", "=/file-bin.html"),
        (FILE_BIN, "/file-bin/", "404"),
    ],
}


def _expect(res: Resolution, expected: str) -> None:
    if expected.startswith("="):
        assert (res.status, res.asset, res.location) == (200, expected[1:], None)
    elif expected.startswith("307 "):
        assert (res.status, res.asset, res.location) == (307, None, expected[4:])
    else:
        assert (res.status, res.asset, res.location) == (int(expected), None, None)


@pytest.mark.parametrize(
    ("mode", "files", "request_path", "expected"),
    [(mode, files, req, exp) for mode, rows in HTML_TABLE.items() for files, req, exp in rows],
    ids=[f"{mode}:{','.join(files)}:{req}" for mode, rows in HTML_TABLE.items() for files, req, _ in rows],
)
def test_html_handling_matches_cloudflares_table(
    mode: str, files: tuple[str, ...], request_path: str, expected: str
) -> None:
    s = site(files, html_handling=mode)
    res = get(s, request_path)
    _expect(res, expected)
    if res.location is not None:  # one hop lands on a served asset
        follow = get(s, res.location)
        assert follow.status == 200 and follow.asset in files


def test_docs_table_for_a_file_and_a_folder_in_auto_mode() -> None:
    s = site(["/file.html", "/folder/index.html"])
    assert get(s, "/file") == Resolution(200, "/file.html")
    assert get(s, "/file.html") == Resolution(307, location="/file")
    assert get(s, "/folder") == Resolution(307, location="/folder/")
    assert get(s, "/folder/") == Resolution(200, "/folder/index.html")


def test_default_config_is_auto_trailing_slash_and_no_not_found_handling() -> None:
    s = Site(["/index.html", "/a.html"])
    assert s.config == SiteConfig(AUTO, "none")
    assert get(s, "/a") == Resolution(200, "/a.html")
    assert get(s, "/missing") == Resolution(404)


@pytest.mark.parametrize("mode", HTML_MODES)
def test_non_html_files_are_served_exactly_in_every_mode(mode: str) -> None:
    s = site(["/style.css", "/img/logo.png", "/robots.txt", "/index"], html_handling=mode)
    for key in ("/style.css", "/img/logo.png", "/robots.txt", "/index"):
        assert get(s, key) == Resolution(200, key)
    assert get(s, "/style.css/").status == 404
    assert get(s, "/img").status == 404


def test_keys_with_spaces_and_non_ascii_redirect_to_encoded_locations() -> None:
    s = site(["/docs/a b.html", "/café/index.html", "/bin%2F"])
    assert get(s, "/docs/a b") == Resolution(200, "/docs/a b.html")
    assert get(s, "/docs/a b.html") == Resolution(307, location="/docs/a%20b")
    assert get(s, "/café") == Resolution(307, location="/caf%C3%A9/")
    assert get(s, "/café/") == Resolution(200, "/café/index.html")
    # A key that looks encoded is served at its own encoding (its % encoded again) only.
    assert get(s, "/bin%252F") == Resolution(200, "/bin%2F")
    assert get(s, "/bin%2F").status == 404 and get(s, "/bin/").status == 404


def test_html_handling_redirects_keep_the_query_string() -> None:
    s = site(["/file.html"])
    assert get(s, "/file.html", query="a=1&b=2").location == "/file?a=1&b=2"
    assert get(s, "/file.html", query="?a=1").location == "/file?a=1"
    assert get(s, "/file.html", query="?").location == "/file"


def test_repeated_slashes_redirect_to_the_canonical_path() -> None:
    s = site(["/a/b.txt", "/index.html", "/docs/index.html"])
    assert get(s, "/a//b.txt") == Resolution(307, location="/a/b.txt")
    assert get(s, "//index.html") == Resolution(307, location="/")
    assert get(s, "/docs//", query="x=1") == Resolution(307, location="/docs/?x=1")
    assert get(s, "/a//missing").status == 404


def test_same_content_at_two_paths_uses_etags_like_cloudflare() -> None:
    # drop-trailing-slash: /both/index.html is only reachable exactly, unless it has the same
    # content (ETag) as /both.html, which /both serves.
    paths = ["/both.html", "/both/index.html"]
    cfg = SiteConfig(html_handling=DROP)
    assert get(Site(paths, cfg), "/both/index.html") == Resolution(200, "/both/index.html")
    same = Site(paths, cfg, etags={"/both.html": "h1", "/both/index.html": "h1"})
    assert get(same, "/both/index.html") == Resolution(307, location="/both")


# ------------------------------------------------------------------------------- not_found_handling

NESTED_404 = ["/index.html", "/404.html", "/blog/404.html", "/blog/posts/a.html", "/docs/x.html"]


@pytest.mark.parametrize(
    ("request_path", "page"),
    [
        ("/missing", "/404.html"),
        ("/docs/missing", "/404.html"),
        ("/blog/missing", "/blog/404.html"),
        ("/blog/posts/missing", "/blog/404.html"),
        ("/blog/posts/deep/er/missing.png", "/blog/404.html"),
        ("/blog/", "/blog/404.html"),  # the folder itself is searched first
        ("/blog", "/404.html"),  # a file named "blog" in "/" is missing: "/"'s page
    ],
)
def test_404_page_is_the_nearest_one_walking_up(request_path: str, page: str) -> None:
    s = site(NESTED_404, not_found_handling="404-page")
    assert get(s, request_path) == Resolution(404, page)
    assert s.resolve("HEAD", request_path) == Resolution(404, page)


def test_404_page_mode_without_any_404_html_is_a_bare_404() -> None:
    s = site(["/index.html", "/docs/404.htm"], not_found_handling="404-page")
    assert get(s, "/missing") == Resolution(404)


def test_existing_assets_win_over_not_found_handling() -> None:
    s = site(NESTED_404, not_found_handling="404-page")
    assert get(s, "/blog/posts/a") == Resolution(200, "/blog/posts/a.html")
    # The 404 page itself is an HTML file like any other.
    assert get(s, "/blog/404") == Resolution(200, "/blog/404.html")


@pytest.mark.parametrize("mode", HTML_MODES)
def test_single_page_application_serves_root_index_with_200(mode: str) -> None:
    s = site(
        ["/index.html", "/app.js", "/docs/index.html"],
        html_handling=mode,
        not_found_handling="single-page-application",
    )
    for path in ("/missing", "/deep/client/route", "/app.js/x", "/docs/missing"):
        assert get(s, path) == Resolution(200, "/index.html"), path
    assert get(s, "/app.js") == Resolution(200, "/app.js")


def test_single_page_application_without_index_html_is_a_bare_404() -> None:
    s = site(["/app.js"], not_found_handling="single-page-application")
    assert get(s, "/missing") == Resolution(404)


def test_single_page_application_still_canonicalises_index_html() -> None:
    s = site(["/index.html"], not_found_handling="single-page-application")
    assert get(s, "/index.html") == Resolution(307, location="/")


# ----------------------------------------------------------------------------------------- methods


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "post"])
def test_other_methods_get_405_where_there_is_something_to_serve(method: str) -> None:
    s = site(["/index.html", "/file.html"])
    assert s.resolve(method, "/file") == Resolution(405)
    assert s.resolve(method, "/file.html") == Resolution(405)  # would be a redirect for GET
    assert s.resolve(method, "/missing") == Resolution(404)


def test_405_also_for_a_not_found_page_and_head_is_like_get() -> None:
    s = site(["/404.html", "/a.txt"], not_found_handling="404-page")
    assert s.resolve("POST", "/missing") == Resolution(405)
    for path in ("/a.txt", "/missing", "/a.txt/"):
        assert s.resolve("HEAD", path) == get(s, path)
    assert s.resolve("get", "/a.txt") == Resolution(200, "/a.txt")


# ---------------------------------------------------------------------------------------- redirects


@pytest.mark.parametrize(
    ("rules", "request_path", "status", "location"),
    [
        ("/old /new", "/old", 302, "/new"),
        ("/old /new 301", "/old", 301, "/new"),
        ("/old /new 303", "/old", 303, "/new"),
        ("/old /new 307", "/old", 307, "/new"),
        ("/old /new 308", "/old", 308, "/new"),
        ("/old /new 0x12D", "/old", 301, "/new"),  # JavaScript Number()
        ("/blog/* /posts/:splat", "/blog/2024/hello", 302, "/posts/2024/hello"),
        ("/blog/* /posts/:splat", "/blog/", 302, "/posts/"),
        ("/blog/* https://blog.example.net/:splat 301", "/blog/a/b", 301, "https://blog.example.net/a/b"),
        ("/u/:user/p/:post /people/:user?post=:post", "/u/ann/p/7", 302, "/people/ann?post=7"),
        ("/m/:title /media/:title", "/m/a b", 302, "/media/a%20b"),
        ("/m/:title /media/:title", "/m/50%25", 302, "/media/50%25"),
        ("/m/:title /media/:title", "/m/50%", 302, "/media/50%"),  # substituted as sent
        ("/m/:title /media/:title", "/m/é", 302, "/media/%C3%A9"),
        ("/p/:id_2 /q/:id_2/:id", "/p/9", 302, "/q/9/:id"),  # whole names; unknown ones stay
        ("/page/ /page2/#fragment 301", "/page/", 301, "/page2/#fragment"),
        ("/a /b#frag", "/a", 302, "/b#frag"),
        ("/twitch https://twitch.tv", "/twitch", 302, "https://twitch.tv/"),
        ("/café /thé", "/café", 302, "/th%C3%A9"),
        ("/some%20page /other", "/some page", 302, "/other"),
        ("/x/* //y/:splat", "/x/a", 302, "/y/a"),  # runs of / collapse in dynamic destinations
        ("/up /a/../b/./c", "/up", 302, "/b/c"),
    ],
)
def test_redirect_rules(rules: str, request_path: str, status: int, location: str) -> None:
    s = site(["/old", "/index.html"], redirects=rules)
    assert s.warnings == ()
    assert get(s, request_path) == Resolution(status, location=location)


@pytest.mark.parametrize(
    ("rules", "query", "location"),
    [
        ("/a /b", "x=1", "/b?x=1"),  # no query in the destination: the request's is kept
        ("/a /b?y=2", "x=1", "/b?y=2"),  # the destination's query wins
        ("/a https://ext.example/b", "x=1", "https://ext.example/b?x=1"),
        ("/a https://ext.example/b?y=2#f", "x=1", "https://ext.example/b?y=2#f"),
        ("/a /b#f", "x=1", "/b?x=1#f"),
    ],
)
def test_redirect_query_strings(rules: str, query: str, location: str) -> None:
    s = site([], redirects=rules)
    assert get(s, "/a", query=query).location == location


def test_a_query_string_in_the_source_is_not_matched() -> None:
    s = site([], redirects="/shop?id=1 /blog 301")
    assert get(s, "/shop") == Resolution(301, location="/blog")
    assert get(s, "/shop", query="id=2") == Resolution(301, location="/blog?id=2")


def test_absolute_destination_on_the_request_origin_becomes_relative() -> None:
    s = site([], redirects="/a https://Example.com/b")
    assert get(s, "/a", host="example.com").location == "/b"
    assert get(s, "/a", host="example.com:443").location == "/b"
    assert get(s, "/a", host="other.example").location == "https://example.com/b"
    assert get(s, "/a").location == "https://example.com/b"


def test_redirects_win_over_assets_and_apply_to_every_method() -> None:
    s = site(["/old.html", "/new.html"], redirects="/old.html /new 301\n/old /new 308")
    assert get(s, "/old.html") == Resolution(301, location="/new")
    assert get(s, "/old") == Resolution(308, location="/new")
    assert s.resolve("POST", "/old") == Resolution(308, location="/new")


def test_first_matching_rule_wins_static_rules_before_dynamic_ones() -> None:
    rules = "\n".join(["/a/b /static", "/a/* /splat", "/a/:x /placeholder", "/a/c /late-static"])
    s = site([], redirects=rules)
    assert get(s, "/a/b").location == "/static"
    assert get(s, "/a/c").location == "/splat"  # the later static-looking rule never wins
    assert get(s, "/a/x/y").location == "/splat"


def test_rewrite_200_serves_another_asset_without_changing_the_url() -> None:
    files = ["/users/id.html", "/img/a.png", "/index.html"]
    rules = "/users/:id /users/id.html 200\n/pics/* /img/:splat 200\n/gone /nothing-here 200"
    s = site(files, redirects=rules)
    assert get(s, "/pics/a.png") == Resolution(200, "/img/a.png")
    assert get(s, "/pics/missing.png") == Resolution(404)
    assert get(s, "/gone") == Resolution(404)
    # Cloudflare then applies html_handling to the target: an .html target 307s to its pretty URL.
    assert get(s, "/users/42") == Resolution(307, location="/users/id")
    assert get(site(files, redirects=rules, html_handling=NONE), "/users/42") == Resolution(
        200, "/users/id.html"
    )


def test_rewrite_200_to_a_missing_path_uses_not_found_handling() -> None:
    s = site(["/index.html"], redirects="/app/* /nowhere 200", not_found_handling="single-page-application")
    assert get(s, "/app/x") == Resolution(200, "/index.html")


def test_only_the_first_rule_applies_a_rewrite_is_not_redirected_again() -> None:
    s = site(["/b", "/c"], redirects="/a /b 200\n/b /c 200", html_handling=NONE)
    assert get(s, "/a") == Resolution(200, "/b")
    assert get(s, "/b") == Resolution(200, "/c")


def test_docs_example_file_parses_cleanly() -> None:
    text = """
/home301 / 301
/home302 / 302
/querystrings /?query=string 301
/twitch https://twitch.tv
/trailing /trailing/ 301
/notrailing/ /nottrailing 301
/page/ /page2/#fragment 301
/blog/* https://blog.my.domain/:splat
/products/:code/:name /products?code=:code&name=:name
"""
    parsed = parse_redirects(text)
    assert parsed.warnings == ()
    assert [(r.source, r.status, r.static) for r in parsed.rules][:2] == [
        ("/home301", 301, True),
        ("/home302", 302, True),
    ]
    assert [r.static for r in parsed.rules][-2:] == [False, False]
    m = parsed.match("/products/42/widget", query="tracking=abc")
    assert m is not None and m.location == "/products?code=42&name=widget"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/c", "Expected exactly 2 or 3 whitespace-separated tokens. Got 1."),
        ("/d /e 302 !important", "Expected exactly 2 or 3 whitespace-separated tokens. Got 4."),
        ("/some page /somewhere else", "Expected exactly 2 or 3 whitespace-separated tokens. Got 4."),
        ("/c /d 418", "Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got 418."),
        ("/c /d abc", "Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got abc."),
        (
            "https://yeah.com https://nah.com",
            "Only relative URLs are allowed. Skipping absolute URL https://yeah.com.",
        ),
        ("/a http://insecure.example/", "URLs should either be relative"),
        (
            "/a https://example.com/b 200",
            "Proxy (200) redirects can only point to relative paths. Got https://example.com/b",
        ),
        ("/* /index.html 200", "Infinite loop detected"),
        ("/x/* /index 301", "Infinite loop detected"),
        ("/ /index.html", "Infinite loop detected"),
        ("/a/*/b/* /c", "more than one splat"),  # _redirects: Cloudflare keeps it, it never matches
        ("/a/* /b/:splat/:splat", ""),  # fine: the destination may repeat
        ("/p/:id/:id /q", "the placeholder :id more than once"),
        ("/s/*/:splat /q", "both a splat (*) and a :splat placeholder"),
    ],
)
def test_invalid_redirect_lines_are_warnings(line: str, message: str) -> None:
    parsed = parse_redirects(f"# header comment\n{line}\n")
    if not message:
        assert parsed.warnings == () and len(parsed.rules) == 1
        return
    assert len(parsed.warnings) == 1
    w = parsed.warnings[0]
    assert message in w.message and w.line == 2 and w.file == "_redirects"
    assert str(w).startswith("_redirects:2: ")


def test_redirect_parsing_details() -> None:
    text = "\n".join(
        [
            "  # indented comment",
            "/a /b # trailing comment",
            "/a /c",  # duplicate source
            "yeah.com https://nah.com",  # becomes /yeah.com
            "/ /index.html",  # fine when html_handling is none
            "\t/t\t/u\t301\t",
        ]
    )
    parsed = parse_redirects(text, html_handling="none")
    assert [(r.source, r.destination, r.status, r.line) for r in parsed.rules] == [
        ("/a", "/b", 302, 2),
        ("/yeah.com", "https://nah.com/", 302, 4),
        ("/", "/index.html", 302, 5),
        ("/t", "/u", 301, 6),
    ]
    assert [(w.line, w.message) for w in parsed.warnings] == [(3, "Ignoring duplicate rule for path /a.")]


def test_redirect_line_length_limit_is_2000_with_the_comment() -> None:
    ok = f"/{'a' * 900} /{'b' * 900} 301"
    long = f"/{'a' * 400} /{'b' * 400} 301  # {'c' * 2000}"
    parsed = parse_redirects(f"{ok}\n{long}")
    assert len(parsed.rules) == 1
    assert [(w.line, w.message) for w in parsed.warnings] == [
        (
            2,
            "This line is 2,811 characters long, over the limit of 2,000 (an inline comment counts "
            "too), so it is ignored. Shorten it.",
        )
    ]


def test_redirect_rule_limits() -> None:
    statics = [f"/a/{i} /b/{i}" for i in range(MAX_STATIC_RULES + 50)]
    dynamics = [f"/d/{i}/* /e/{i}/:splat" for i in range(MAX_DYNAMIC_RULES + 50)]
    lines = ["# comments do not count", *statics, *dynamics, "# but are skipped lines"]
    parsed = parse_redirects("\n".join(lines))
    assert sum(r.static for r in parsed.rules) == MAX_STATIC_RULES
    assert sum(not r.static for r in parsed.rules) == MAX_DYNAMIC_RULES
    msgs = [w.message for w in parsed.warnings]
    assert (
        msgs[:50] == [f"Maximum number of static rules supported is {MAX_STATIC_RULES}. Skipping line."] * 50
    )
    assert msgs[50:] == [
        f"Maximum number of dynamic rules supported is {MAX_DYNAMIC_RULES}. "
        "Skipping remaining 51 lines of file."
    ]
    s = Site([], SiteConfig(redirects="\n".join(lines)))
    assert get(s, "/a/1999").location == "/b/1999"
    assert get(s, "/a/2000").status == 404
    assert get(s, "/d/99/x").location == "/e/99/x"
    assert get(s, "/d/100/x").status == 404


def test_static_looking_rules_after_a_dynamic_one_count_as_dynamic() -> None:
    parsed = parse_redirects("/x/* /y\n/a /b\n/c /d", max_dynamic_rules=2)
    assert [(r.source, r.static) for r in parsed.rules] == [("/x/*", False), ("/a", False)]
    assert parsed.warnings[0].message.startswith("Maximum number of dynamic rules supported is 2.")


def test_site_collects_warnings_from_both_files() -> None:
    s = site([], redirects="/a /b 418", headers="X-Orphan: 1")
    assert [w.file for w in s.warnings] == ["_redirects", "_headers"]


# ------------------------------------------------------------------------------------------ headers

DOCS_HEADERS = """# This is a comment
/secure/page
\tX-Frame-Options: DENY
\tX-Content-Type-Options: nosniff
\tReferrer-Policy: no-referrer

/static/*
\tAccess-Control-Allow-Origin: *
\tX-Robots-Tag: nosnippet

https://myworker.mysubdomain.workers.dev/*
\tX-Robots-Tag: noindex
"""


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        (
            "custom.domain",
            "/secure/page",
            [
                ("x-frame-options", "DENY"),
                ("x-content-type-options", "nosniff"),
                ("referrer-policy", "no-referrer"),
            ],
        ),
        (
            "custom.domain",
            "/static/image.jpg",
            [("access-control-allow-origin", "*"), ("x-robots-tag", "nosnippet")],
        ),
        ("myworker.mysubdomain.workers.dev", "/home", [("x-robots-tag", "noindex")]),
        (
            "myworker.mysubdomain.workers.dev",
            "/secure/page",
            [
                ("x-frame-options", "DENY"),
                ("x-content-type-options", "nosniff"),
                ("referrer-policy", "no-referrer"),
                ("x-robots-tag", "noindex"),
            ],
        ),
        (
            "MyWorker.mysubdomain.workers.dev:8787",  # hostname: case and port do not matter
            "/static/styles.css",
            [
                ("access-control-allow-origin", "*"),
                ("x-robots-tag", "nosnippet"),
                ("x-robots-tag", "noindex"),
            ],
        ),
        (None, "/home", []),  # host rules need a host
    ],
)
def test_headers_docs_example(host: str | None, path: str, expected: list[tuple[str, str]]) -> None:
    s = site(["/home", "/secure/page", "/static/image.jpg", "/static/styles.css"], headers=DOCS_HEADERS)
    assert s.warnings == ()
    res = s.resolve("GET", path, host=host) if host else get(s, path)
    assert list(res.headers) == expected
    assert set(res.remove) == {name for name, _ in expected}


def test_headers_removal_and_merge_order() -> None:
    text = """
/*
  Content-Security-Policy: default-src 'self';
  X-Shared: first
/*.jpg
  ! Content-Security-Policy
  ! Cache-Control
  X-Shared: second
/photos/*
  Content-Security-Policy: img-src *
"""
    parsed = parse_headers(text)
    assert parsed.warnings == ()
    assert parsed.operations("/a.jpg") == (
        HeaderOp("set", "content-security-policy", "default-src 'self';"),
        HeaderOp("set", "x-shared", "first"),
        HeaderOp("unset", "content-security-policy"),
        HeaderOp("unset", "cache-control"),
        HeaderOp("append", "x-shared", "second"),
    )
    s = site(["/a.jpg", "/photos/b.jpg"], headers=text)
    res = get(s, "/a.jpg")
    assert res.headers == (("x-shared", "first"), ("x-shared", "second"))
    assert set(res.remove) == {"content-security-policy", "cache-control", "x-shared"}
    # Set again after a removal: the later rule's value (an append to nothing) is what remains.
    res = get(s, "/photos/b.jpg")
    assert ("content-security-policy", "img-src *") in res.headers
    assert ("content-security-policy", "default-src 'self';") not in res.headers


def test_header_splats_and_placeholders_in_values() -> None:
    text = """
/movies/:title
  x-movie-name: You are watching ":title"
/files/*
  Link: </canonical/:splat>; rel="canonical"
  X-Unknown: :nope stays
https://:sub.example.com/*
  X-Sub: :sub
"""
    s = site([], headers=text)
    assert get(s, "/movies/up").headers == (("x-movie-name", 'You are watching "up"'),)
    assert get(s, "/movies/a b").headers == (("x-movie-name", 'You are watching "a%20b"'),)
    assert get(s, "/movies/a/b").headers == ()  # a placeholder stops at /
    assert get(s, "/files/a/b.pdf").headers == (
        ("link", '</canonical/a/b.pdf>; rel="canonical"'),
        ("x-unknown", ":nope stays"),
    )
    assert s.resolve("GET", "/x", host="blog.example.com").headers == (("x-sub", "blog"),)
    assert s.resolve("GET", "/x", host="a.b.example.com").headers == ()  # host placeholders stop at "."


def test_repeated_header_names_join_and_values_keep_colons() -> None:
    parsed = parse_headers("/a\n  X-Thing: one\n  x-thing: two\n  Link: https://x.example/a:b\n")
    assert parsed.rules[0].set == (("x-thing", "one, two"), ("link", "https://x.example/a:b"))


def test_headers_apply_to_redirects_404s_and_405s_and_match_the_original_path() -> None:
    text = "/*\n  X-All: yes\n/old\n  X-Old: yes\n/new.txt\n  X-New: yes"
    s = site(["/new.txt"], headers=text, redirects="/old /new.txt 200\n/moved /new.txt 301")
    assert get(s, "/moved") == Resolution(
        301, location="/new.txt", headers=(("x-all", "yes"),), remove=("x-all",)
    )
    assert get(s, "/missing").headers == (("x-all", "yes"),)
    assert s.resolve("POST", "/new.txt").headers == (("x-all", "yes"), ("x-new", "yes"))
    rewritten = get(s, "/old")
    assert rewritten.asset == "/new.txt"
    assert rewritten.headers == (("x-all", "yes"), ("x-old", "yes"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("c", "Expected a path beginning with at least one forward-slash"),
        ("Access-Control-Allow-Origin: *", "Path should come before header (access-control-allow-origin: *)"),
        ("/b\n  I'm invalid!", "Expected a colon-separated header pair (e.g. name: value)"),
        ("/b\n  !x-content-type", "Expected a colon-separated header pair (e.g. name: value)"),
        ("/b\n  ! Content-Type: application/json", "Header name cannot include spaces"),
        ("/b\n  :", "No header name specified"),
        ("/b\n  test:", "No header value specified"),
        (
            "http://nah.com/blog",
            "URLs should either be relative (e.g. begin with a forward-slash), or use HTTPS",
        ),
        (
            "https://nah.com:8080/blog",
            "Specifying ports is not supported. Skipping absolute URL https://nah.com:8080/blog.",
        ),
        ("/lonely", "No headers specified"),
        ("/b\n  X(bad): 1", "not a valid HTTP header name or value"),
        ("/b\n  ! Bad Name", "not a valid header name"),
        ("/a/*/b/*\n  X: 1", "Only one wildcard is allowed per rule"),
        ("/a/*/:splat\n  X: 1", "Cannot combine a wildcard * with a :splat placeholder"),
    ],
)
def test_invalid_header_lines_are_warnings(text: str, message: str) -> None:
    parsed = parse_headers(text + "\n/ok\n  X-Ok: 1\n")
    assert {w.file for w in parsed.warnings} == {"_headers"}
    first, *rest = (w.message for w in parsed.warnings)
    assert message in first
    assert rest in ([], ["No headers specified"])  # a block left with no valid header line
    assert parsed.operations("/ok") == (HeaderOp("set", "x-ok", "1"),)


def test_headers_normalise_paths_like_cloudflare() -> None:
    parsed = parse_headers(
        "/some page with spaces\n  a: 1\n/nons:/&@%+~{}ense\n  a: 1\nhttps://yeah.com\n  a: 1\n"
    )
    assert [r.path for r in parsed.rules] == [
        "/some%20page%20with%20spaces",
        "/nons:/&@%+~%7B%7Dense",
        "https://yeah.com/",
    ]
    assert parsed.operations("/some%20page%20with%20spaces") == (HeaderOp("set", "a", "1"),)


def test_header_rule_limit_keeps_101_like_cloudflare_and_line_limit_is_2000() -> None:
    text = "\n".join(f"/a/{i}\nx-index: {i}" for i in range(150))
    # The shape of workers-sdk's own test: its expected message counts these lines too.
    parsed = parse_headers(f"\n    # COMMENTS DON'T COUNT\n    {text}\n    # BUT DO GET COUNTED\n  ")
    assert len(parsed.rules) == 101
    assert [w.message for w in parsed.warnings] == [
        "Maximum number of rules supported is 100. Skipping remaining 100 lines of file."
    ]
    huge = f"{'a' * 1000}: {'b' * 1005}"
    parsed = parse_headers(f"/a\n  Name: Value\n  {'#' * 2010}\n  {huge}\n")
    assert parsed.rules[0].set == (("name", "Value"),)
    assert [(w.line, w.message) for w in parsed.warnings] == [
        (4, "This line is 2,007 characters long, over the limit of 2,000, so it is ignored. Shorten it.")
    ]


def test_a_repeated_header_path_replaces_the_earlier_block_in_place() -> None:
    parsed = parse_headers("/a\n  X: 1\n/*\n  Y: 2\n/a\n  Z: 3\n")
    assert [(r.path, r.set) for r in parsed.rules] == [("/a", (("z", "3"),)), ("/*", (("y", "2"),))]
    assert "replaces the earlier rule" in parsed.warnings[0].message
    assert parsed.operations("/a") == (HeaderOp("set", "z", "3"), HeaderOp("set", "y", "2"))


def test_apply_header_ops_net_effect() -> None:
    ops = [
        HeaderOp("set", "a", "1"),
        HeaderOp("append", "a", "2"),
        HeaderOp("unset", "b"),
        HeaderOp("set", "c", "3"),
        HeaderOp("unset", "c"),
        HeaderOp("append", "c", "4"),
    ]
    update = apply_header_ops(ops)
    assert update.headers == (("a", "1"), ("a", "2"), ("c", "4"))
    assert update.remove == ("a", "b", "c")


# ------------------------------------------------------------------------------- config and safety


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [({"html_handling": "auto"}, "'auto'"), ({"not_found_handling": "spa"}, "'spa'")],
)
def test_invalid_config_values_raise_naming_the_allowed_ones(kwargs: dict[str, str], bad: str) -> None:
    with pytest.raises(ValueError) as info:
        SiteConfig(**kwargs)
    msg = str(info.value)
    assert bad in msg
    allowed = HTML_MODES if "html_handling" in kwargs else NOT_FOUND_MODES
    assert all(mode in msg for mode in allowed)


@pytest.mark.parametrize(
    "path",
    ["/a/../secret.txt", "/./secret.txt", "/secret.txt/.", "/secret.txt\x00", "secret.txt", "", "/a/.."],
)
@pytest.mark.parametrize("not_found", NOT_FOUND_MODES)
def test_dot_segments_nul_and_relative_paths_never_match_an_asset(path: str, not_found: str) -> None:
    files = ["/secret.txt", "/a/../secret.txt", "/a/404.html", "/404.html", "/index.html", "/a/index.html"]
    res = get(site(files, not_found_handling=not_found), path)
    expected = {"none": Resolution(404), "404-page": Resolution(404, "/404.html")}.get(
        not_found, Resolution(200, "/index.html")
    )
    assert res == expected


def test_large_site_resolves_from_precomputed_sets() -> None:
    paths = [f"/section{i // 1000}/page{i}.html" for i in range(100_000)] + ["/index.html", "/404.html"]
    s = site(paths, not_found_handling="404-page")
    assert len(s) == 100_002
    assert get(s, "/section42/page42001") == Resolution(200, "/section42/page42001.html")
    assert get(s, "/section42/page42001.html") == Resolution(307, location="/section42/page42001")
    assert get(s, "/section42/nope") == Resolution(404, "/404.html")


# ------------------------------------------------------------------------------------- properties

_SEGMENTS = st.sampled_from(
    ["", "a", "b", "index", "index.html", "a.html", "404.html", "x y", "é", ".", ".."]
)
_KEYS = st.lists(_SEGMENTS, min_size=1, max_size=4).map(lambda segs: "/" + "/".join(segs))
_RULE_TEXT = st.lists(
    st.sampled_from([*"/ab*:#!?. \n\t%2Fxh0123456789", "https://", "index.html", ":splat", " 200", " 301"])
).map("".join)
_ALLOWED_STATUS = {200, 301, 302, 303, 307, 308, 404, 405}


@settings(max_examples=400, deadline=None)
@given(
    paths=st.sets(_KEYS, max_size=12),
    request_path=st.one_of(st.text(), _KEYS, _KEYS.map(lambda k: k + "/")),
    method=st.sampled_from(["GET", "HEAD", "POST", "get", "BREW"]),
    html=st.sampled_from(HTML_MODES),
    not_found=st.sampled_from(NOT_FOUND_MODES),
    redirects=st.one_of(st.none(), _RULE_TEXT),
    headers=st.one_of(st.none(), _RULE_TEXT),
    query=st.text(max_size=5),
)
def test_resolve_never_raises_and_only_serves_given_keys(
    paths: set[str],
    request_path: str,
    method: str,
    html: str,
    not_found: str,
    redirects: str | None,
    headers: str | None,
    query: str,
) -> None:
    s = Site(paths, SiteConfig(html, not_found, redirects, headers))
    res = s.resolve(method, request_path, query=query, host="example.com")
    assert res.asset is None or res.asset in paths
    assert res.status in _ALLOWED_STATUS
    assert (res.location is not None) == (300 <= res.status < 400)
    if res.asset is not None:
        assert res.status in (200, 404) and method.upper() in ("GET", "HEAD")
    if res.location is not None:
        assert res.location.isascii()
    assert all(name.islower() or not name.isalpha() for name in res.remove)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_never_raise_on_arbitrary_text(text: str) -> None:
    parse_redirects(text)
    parse_headers(text)
    Site(["/index.html"], SiteConfig(redirects=text, headers=text)).resolve("GET", "/index.html")
