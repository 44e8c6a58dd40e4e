"""Cloudflare's own ``_redirects`` parser tests, as data.

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a,
``packages/workers-shared/utils/tests/parseRedirects.valid.test.ts`` and
``packages/workers-shared/utils/tests/parseRedirects.invalid.test.ts``: each test's input and its
expected ``rules`` and ``invalid``. Facts only; the comparison is :mod:`.parse_compare`.
"""

from __future__ import annotations

from typing import Any

from .parse_compare import Case, Invalid

VALID = "parseRedirects.valid.test.ts"
INVALID = "parseRedirects.invalid.test.ts"
LOOP = "Infinite loop detected in this rule and has been ignored."


def r(src: str, dst: str, status: int, line: int) -> dict[str, Any]:
    return {"from": src, "to": dst, "status": status, "lineNumber": line}


def _valid(test: str, text: str, *rules: dict[str, Any], **options: Any) -> Case:
    return Case(VALID, test, "redirects", text, rules, options=options)


def _dynamic(n: int) -> str:
    return "\n".join(f"/a/{i}/* /b/{i}/:splat" for i in range(n))


def _static(n: int) -> str:
    return "\n".join(f"/a/{i} /b/{i}" for i in range(n))


_HEAD = "\n    # COMMENTS DON'T COUNT TOWARDS TOTAL VALID RULES\n    "
_TAIL = "\n    # BUT DO GET COUNTED AS TOTAL LINES SKIPPED\n  "
_HEAD_TAB = "\n\t  # COMMENTS DON'T COUNT TOWARDS TOTAL VALID RULES\n\t  "
_TAIL_TAB = "\n\t  # BUT DO GET COUNTED AS TOTAL LINES SKIPPED\n\t"
_AAA, _BBB = "a" * 1001, "b" * 1001
_HUGE_4K = f"/{'a' * 2000} /{'b' * 2000} 301"


def _jumbo(comment: int, huge: str) -> str:
    return (
        f"\n    # Valid entry\n    /a /b\n    # Jumbo comment line OK, ignored as normal\n    {'#' * comment}"
        f"\n    # Huge path names rejected\n    {huge}\n  "
    )


CASES: tuple[Case, ...] = (
    _valid("should handle a single rule", "/a /b 301", r("/a", "/b", 301, 1)),
    _valid("should ignore blank lines", "\n/a /b 301\n", r("/a", "/b", 301, 2)),
    _valid("should trim whitespace", "\n  /a /b 301\n", r("/a", "/b", 301, 2)),
    _valid(
        "should ignore comments",
        "\n  # This is a comment\n  /a /b 301\n  # And one here too.\n",
        r("/a", "/b", 301, 3),
    ),
    _valid("should handle a single comment-only line", "# This is just a comment"),
    _valid("should handle an indented comment-only line", "  # indented comment"),
    _valid(
        "should handle multiple consecutive comment lines",
        "\n# First comment\n# Second comment\n  # Indented comment\n/a /b 301\n# Comment after rule\n"
        "# Another comment\n/c /d\n# Final comment\n",
        r("/a", "/b", 301, 5),
        r("/c", "/d", 302, 8),
    ),
    _valid(
        "should handle a file with only comments",
        "\n# This file has no redirects\n# Just comments\n  # Some indented\n# And more comments\n",
    ),
    _valid("should default to 302", "\n  /a /b 302\n  /c /d\n", r("/a", "/b", 302, 2), r("/c", "/d", 302, 3)),
    _valid(
        "should preserve querystrings on to",
        "\n  /a /b?query=string 302\n  /c?this=rejected /d 301\n"
        "  /ext https://some.domain:1234/route?q=string#anchor\n",
        r("/a", "/b?query=string", 302, 2),
        r("/c", "/d", 301, 3),
        r("/ext", "https://some.domain:1234/route?q=string#anchor", 302, 4),
    ),
    _valid("should preserve fragments", "\n  /a /b#blah 302\n", r("/a", "/b#blah", 302, 2)),
    _valid(
        "should preserve fragments which contain a hash sign",
        "\n  /a /b##blah-1 302\n",
        r("/a", "/b##blah-1", 302, 2),
    ),
    _valid(
        "should preserve fragments which contain a hash sign and are full URLs",
        "\n  /a https://example.com/b##blah-1 302\n",
        r("/a", "https://example.com/b##blah-1", 302, 2),
    ),
    _valid("should accept 200 (proxying) redirects", "\n\t/a /b 200\n", r("/a", "/b", 200, 2)),
    _valid(
        "should accept absolute URLs that end with index.html",
        "\n\t/foo https://bar.com/index.html 302\n",
        r("/foo", "https://bar.com/index.html", 302, 2),
    ),
    _valid(
        "should accept going to absolute URLs with ports",
        "\n\t/foo https://bar.com:123/index.html 302\n\t/cat https://cat.com:12345 302\n"
        "\t/dog https://dog.com:12345\n\t",
        r("/foo", "https://bar.com:123/index.html", 302, 2),
        r("/cat", "https://cat.com:12345/", 302, 3),
        r("/dog", "https://dog.com:12345/", 302, 4),
    ),
    _valid(
        "should accept relative URLs that don't point to .html files",
        "\n\t/* /foo 200\n",
        r("/*", "/foo", 200, 2),
    ),
    _valid("should support inline comments", "/a /b 301 # redirect a to b", r("/a", "/b", 301, 1)),
    _valid(
        "should support inline comments without status code",
        "/a /b # redirect with default status",
        r("/a", "/b", 302, 1),
    ),
    _valid(
        "should support inline comments after URL fragments",
        "/a /b#section 301 # redirect to section",
        r("/a", "/b#section", 301, 1),
    ),
    _valid(
        "should support inline comments without space after hash",
        "/a /b 301 #no space comment",
        r("/a", "/b", 301, 1),
    ),
    _valid(
        "should support multiple rules with inline comments",
        "\n    /a /b 301 # first rule\n    /c /d # second rule with default status\n"
        "    # full line comment\n    /e /f 307 # third rule\n  ",
        r("/a", "/b", 301, 2),
        r("/c", "/d", 302, 3),
        r("/e", "/f", 307, 5),
    ),
    _valid(
        "should support inline comments with absolute URLs containing fragments",
        "/a https://x.com/b#c # comment",
        r("/a", "https://x.com/b#c", 302, 1),
    ),
    _valid("should support empty inline comments (just hash)", "/a /b #", r("/a", "/b", 302, 1)),
    _valid(
        "should support inline comments with multiple hashes in URL fragment",
        "/a /b##anchor # comment",
        r("/a", "/b##anchor", 302, 1),
    ),
    _valid(
        "should support custom limits (maxLineLength 3000)",
        _jumbo(1001, f"/{_AAA} /{_BBB} 301"),
        r("/a", "/b", 302, 3),
        r(f"/{_AAA}", f"/{_BBB}", 301, 7),
        max_line_length=3000,
    ),
    _valid(
        "should support custom limits (maxDynamicRules 200)",
        _HEAD + _dynamic(150) + _TAIL,
        *(r(f"/a/{i}/*", f"/b/{i}/:splat", 302, i + 3) for i in range(150)),
        max_dynamic_rules=200,
    ),
    _valid(
        "should support custom limits (maxStaticRules 3000)",
        _HEAD_TAB + _static(2050) + _TAIL_TAB,
        *(r(f"/a/{i}", f"/b/{i}", 302, i + 3) for i in range(2050)),
        max_static_rules=3000,
    ),
    _valid(
        "should support custom limits (both)",
        _HEAD_TAB + _static(2050) + "\n\t    " + _dynamic(150) + _TAIL_TAB,
        *(r(f"/a/{i}", f"/b/{i}", 302, i + 3) for i in range(2050)),
        *(r(f"/a/{i}/*", f"/b/{i}/:splat", 302, i + 2053) for i in range(150)),
        max_dynamic_rules=200,
        max_static_rules=3000,
    ),
    Case(
        INVALID,
        "should reject malformed lines",
        "redirects",
        "\n    # Single token\n    /c\n    # Four tokens\n    /d /e 302 !important\n  ",
        (),
        (
            Invalid("Expected exactly 2 or 3 whitespace-separated tokens. Got 1.", 3, "/c"),
            Invalid("Expected exactly 2 or 3 whitespace-separated tokens. Got 4.", 5, "/d /e 302 !important"),
        ),
    ),
    Case(
        INVALID,
        "should reject invalid status codes",
        "redirects",
        "\n    # Valid token sails through\n    /a /b 301\n    # 418 NOT OK\n    /c /d 418\n  ",
        (r("/a", "/b", 301, 3),),
        (
            Invalid(
                "Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got 418.", 5, "/c /d 418"
            ),
        ),
    ),
    Case(
        INVALID,
        "should reject duplicate 'from' paths",
        "redirects",
        "\n    # Valid entry\n    /a /b\n    # Nonsensical but permitted (for now)\n    /b /a\n"
        "    # Duplicate 'from'\n    /a /c\n  ",
        (r("/a", "/b", 302, 3), r("/b", "/a", 302, 5)),
        (Invalid("Ignoring duplicate rule for path /a.", 7, "/a /c"),),
    ),
    Case(
        INVALID,
        "should reject lines longer than 2000 chars",
        "redirects",
        _jumbo(2001, _HUGE_4K),
        (r("/a", "/b", 302, 3),),
        (Invalid("Ignoring line 7 as it exceeds the maximum allowed length of 2000."),),
    ),
    Case(
        INVALID,
        "should reject any dynamic rules after the first 100",
        "redirects",
        _HEAD + _dynamic(150) + _TAIL,
        tuple(r(f"/a/{i}/*", f"/b/{i}/:splat", 302, i + 3) for i in range(100)),
        (Invalid("Maximum number of dynamic rules supported is 100. Skipping remaining 52 lines of file."),),
    ),
    Case(
        INVALID,
        "should reject any static rules after the first 2000",
        "redirects",
        _HEAD + _static(2050) + _TAIL,
        tuple(r(f"/a/{i}", f"/b/{i}", 302, i + 3) for i in range(2000)),
        (Invalid("Maximum number of static rules supported is 2000. Skipping line."),) * 50,
    ),
    Case(
        INVALID,
        "should reject a combination of lots of static and dynamic rules",
        "redirects",
        _HEAD + _static(2050) + "\n      " + _dynamic(150) + _TAIL,
        (
            *(r(f"/a/{i}", f"/b/{i}", 302, i + 3) for i in range(2000)),
            *(r(f"/a/{i}/*", f"/b/{i}/:splat", 302, i + 2053) for i in range(100)),
        ),
        (
            *(Invalid("Maximum number of static rules supported is 2000. Skipping line."),) * 50,
            Invalid("Maximum number of dynamic rules supported is 100. Skipping remaining 52 lines of file."),
        ),
    ),
    Case(
        INVALID,
        "should reject malformed URLs",
        "redirects",
        "\n  # Spaces rejected on token length\n  /some page /somewhere else\n"
        "  # OK with URL escaped encoding\n  /some%20page /somewhere%20else\n"
        "  # Unescaped URLs are handled OK by Deno, so escape & pass them through\n"
        "  /://so;`me /nons:/&@%+~{}ense\n"
        "  # Absolute URLs aren't OK for 'from', but are fine for 'to'\n"
        "  https://yeah.com https://nah.com\n  /nah https://yeah.com\n"
        "  # This is actually parsed as /yeah.com, which we might want to detect but is ok for now\n"
        "  yeah.com https://nah.com\n",
        (
            r("/some%20page", "/somewhere%20else", 302, 5),
            r("/://so;%60me", "/nons:/&@%+~%7B%7Dense", 302, 7),
            r("/nah", "https://yeah.com/", 302, 10),
            r("/yeah.com", "https://nah.com/", 302, 12),
        ),
        (
            Invalid(
                "Expected exactly 2 or 3 whitespace-separated tokens. Got 4.", 3, "/some page /somewhere else"
            ),
            Invalid(
                "Only relative URLs are allowed. Skipping absolute URL https://yeah.com.",
                9,
                "https://yeah.com https://nah.com",
            ),
        ),
    ),
    Case(
        INVALID,
        "should reject non-relative URLs for proxying (200) redirects",
        "redirects",
        "\n\t/a https://example.com/b 200\n",
        (),
        (
            Invalid(
                "Proxy (200) redirects can only point to relative paths. Got https://example.com/b",
                2,
                "/a https://example.com/b 200",
            ),
        ),
    ),
    Case(
        INVALID,
        "should reject wildcard patterns to index",
        "redirects",
        "\n/* /index.html 200\n/* /index 200\n/ /index.html\n/ /index\n",
        (),
        (
            Invalid(LOOP, 2, "/* /index.html 200"),
            Invalid(LOOP, 3, "/* /index 200"),
            Invalid(LOOP, 4, "/ /index.html"),
            Invalid(LOOP, 5, "/ /index"),
        ),
    ),
    Case(
        INVALID,
        "should allow root patterns to index when HTML handling disabled",
        "redirects",
        "\n/* /index.html 200\n/* /index 200\n/ /index.html\n/ /index\n",
        (r("/", "/index.html", 302, 4),),
        (
            Invalid(LOOP, 2, "/* /index.html 200"),
            Invalid(LOOP, 3, "/* /index 200"),
            Invalid("Ignoring duplicate rule for path /.", 5, "/ /index"),
        ),
        options={"html_handling": "none"},
    ),
)
