"""Cloudflare's own ``_headers`` parser tests, as data.

Upstream: cloudflare/workers-sdk at f8308360283f97d33e188aee2e19c1ef9c09524a,
``packages/workers-shared/utils/tests/parseHeaders.valid.test.ts`` and
``packages/workers-shared/utils/tests/parseHeaders.invalid.test.ts``: each test's input and its
expected ``rules`` and ``invalid``. Facts only; the comparison is :mod:`.parse_compare`, which
keeps upstream's rules as ``constructHeaders`` (``utils/configuration/constructConfiguration.ts``)
does before they reach the asset worker: one per path.
"""

from __future__ import annotations

from typing import Any

from .parse_compare import Case, Invalid

VALID = "parseHeaders.valid.test.ts"
INVALID = "parseHeaders.invalid.test.ts"


def h(path: str, headers: dict[str, str], unset: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"path": path, "headers": headers, "unsetHeaders": list(unset)}


def _valid(test: str, text: str, *rules: dict[str, Any], **kw: Any) -> Case:
    return Case(VALID, test, "headers", text, rules, **kw)


_AAA, _BBB = "a" * 1001, "b" * 1001


def _jumbo(comment: int) -> str:
    return (
        f"\n    # Valid entry\n    /a\n      Name: Value\n    # Jumbo comment line OK, ignored as normal\n"
        f"    {'#' * comment}\n    # Huge path names rejected\n    /b\n      Name: Value\n"
        f"      {_AAA}: {_BBB}\n  "
    )


_MANY = (
    "\n    # COMMENTS DON'T COUNT TOWARDS TOTAL VALID RULES\n    "
    + "\n".join(f"/a/{i}\nx-index: {i}" for i in range(150))
    + "\n    # BUT DO GET COUNTED AS TOTAL LINES SKIPPED\n  "
)

CASES: tuple[Case, ...] = (
    _valid("should handle a single rule", "/a\n  Name: Value", h("/a", {"name": "Value"})),
    _valid("should handle headers with exclamation marks", "/a\n  !Name: Value", h("/a", {"!name": "Value"})),
    _valid("should ignore blank lines", "\n/a\n\nName: Value\n\n", h("/a", {"name": "Value"})),
    _valid(
        "should trim whitespace",
        "\n                /a\n    Name         :           Value\n",
        h("/a", {"name": "Value"}),
    ),
    _valid(
        "should ignore comments",
        "\n  # This is a comment\n  /a\n  # And one here too.\n  Name: Value\n",
        h("/a", {"name": "Value"}),
    ),
    _valid(
        "should combine headers together",
        "\n  /a\n    Set-Cookie: test=cookie; expires=never\n    Set-Cookie: another=cookie; magic!\n\n"
        "  /b\n    A: ABBA\n    B: BABA\n",
        h("/a", {"set-cookie": "test=cookie; expires=never, another=cookie; magic!"}),
        h("/b", {"a": "ABBA", "b": "BABA"}),
    ),
    _valid(
        "should support setting hosts",
        "\n  https://example.com\n    a: a\n  https://example.com/\n    b: b\n"
        "  https://example.com/blog\n    c: c\n  /blog\n    d:d\n"
        "  https://:subdomain.example.*/path\n    e:e\n",
        h("https://example.com/", {"a": "a"}),
        h("https://example.com/", {"b": "b"}),
        h("https://example.com/blog", {"c": "c"}),
        h("/blog", {"d": "d"}),
        h("https://:subdomain.example.*/path", {"e": "e"}),
        # Both blocks normalise to https://example.com/: the second replaces the first, as on
        # Cloudflare, and assetsync says so.
        ignored=(4,),
    ),
    _valid(
        "should add unset headers", "/a\n  Name: Value\n  ! Place", h("/a", {"name": "Value"}, ("Place",))
    ),
    _valid(
        "should support custom limits (maxLineLength 3000)",
        _jumbo(1001),
        h("/a", {"name": "Value"}),
        h("/b", {"name": "Value", _AAA: _BBB}),
        options={"max_line_length": 3000},
    ),
    _valid(
        "should support custom limits (maxRules 200)",
        _MANY,
        *(h(f"/a/{i}", {"x-index": str(i)}) for i in range(150)),
        options={"max_rules": 200},
    ),
    Case(
        INVALID,
        "should reject malformed initial lines",
        "headers",
        "\n    # A single token before a path\n    c\n    # A header before a path\n"
        "    Access-Control-Allow-Origin: *\n  ",
        (),
        (
            Invalid("Expected a path beginning with at least one forward-slash", 3, "c"),
            Invalid(
                "Path should come before header (access-control-allow-origin: *)",
                5,
                "Access-Control-Allow-Origin: *",
            ),
        ),
    ),
    Case(
        INVALID,
        "should reject invalid headers",
        "headers",
        "\n    # Valid header sails through\n    /a\n      Name:       Value\n    #\n    /b\n"
        "      I'm invalid!\n      !x-content-type\n      But: I'm okay!\n"
        "      ! Content-Type: application/json\n  ",
        (h("/a", {"name": "Value"}), h("/b", {"but": "I'm okay!"})),
        (
            Invalid("Expected a colon-separated header pair (e.g. name: value)", 7, "I'm invalid!"),
            Invalid("Expected a colon-separated header pair (e.g. name: value)", 8, "!x-content-type"),
            Invalid("Header name cannot include spaces", 10, "! Content-Type: application/json"),
        ),
    ),
    Case(
        INVALID,
        "should reject lines longer than 2000 chars",
        "headers",
        _jumbo(1001),
        (h("/a", {"name": "Value"}), h("/b", {"name": "Value"})),
        (Invalid("Ignoring line 10 as it exceeds the maximum allowed length of 2000."),),
    ),
    Case(
        INVALID,
        "should reject any rules after the first 100",
        "headers",
        _MANY,
        tuple(h(f"/a/{i}", {"x-index": str(i)}) for i in range(101)),
        (Invalid("Maximum number of rules supported is 100. Skipping remaining 100 lines of file."),),
    ),
    Case(
        INVALID,
        "should reject paths with multiple wildcards",
        "headers",
        "\n  # Multiple wildcards in an absolute URL\n  https://*.pages.dev/*\n    x-custom: value\n"
        "  # Multiple wildcards in a relative path\n  /blog/*/posts/*\n    x-custom: value\n"
        "  # Single wildcard is fine\n  https://*.pages.dev/\n    x-custom: value\n"
        "  /blog/*\n    x-custom: value\n",
        (h("https://*.pages.dev/", {"x-custom": "value"}), h("/blog/*", {"x-custom": "value"})),
        (
            Invalid(
                "Only one wildcard is allowed per rule. Use a named placeholder (e.g. :project) instead. "
                "Skipping https://*.pages.dev/*.",
                3,
                "https://*.pages.dev/*",
            ),
            Invalid(
                "Only one wildcard is allowed per rule. Use a named placeholder (e.g. :project) instead. "
                "Skipping /blog/*/posts/*.",
                6,
                "/blog/*/posts/*",
            ),
        ),
    ),
    Case(
        INVALID,
        "should reject paths combining wildcard with :splat placeholder",
        "headers",
        "\n  # Wildcard + :splat in an absolute URL\n  https://*.pages.dev/:splat\n    x-custom: value\n"
        "  # Wildcard + :splat in a relative path\n  /blog/*/:splat\n    x-custom: value\n"
        "  # Just :splat without wildcard is fine\n  /blog/:splat\n    x-custom: value\n",
        (h("/blog/:splat", {"x-custom": "value"}),),
        (
            Invalid(
                "Cannot combine a wildcard * with a :splat placeholder because wildcards are converted "
                "to :splat at runtime. Skipping https://*.pages.dev/:splat.",
                3,
                "https://*.pages.dev/:splat",
            ),
            Invalid(
                "Cannot combine a wildcard * with a :splat placeholder because wildcards are converted "
                "to :splat at runtime. Skipping /blog/*/:splat.",
                6,
                "/blog/*/:splat",
            ),
        ),
    ),
    Case(
        INVALID,
        "should reject malformed URLs",
        "headers",
        "\n  # Spaces should be URI encoded\n  /some page with spaces\n    valid: yup\n"
        "  # OK with URL escaped encoding\n  /some%20page\n    valid: yup\n"
        "  # Unescaped URLs are handled OK by Deno, so escape & pass them through\n"
        "  /://so;`me\n    valid: yup\n  /nons:/&@%+~{}ense\n    valid: yup\n"
        "  # Absolute URLs with a non-https protocol should be rejected\n"
        "  https://yeah.com\n    valid: yup\n  http://nah.com/blog\n    invalid: things\n"
        "  # Absolute URLs with a port should be rejected\n"
        "  https://nah.com:8080\n    invalid: also\n  https://nah.com:8080/blog\n    invalid: 2\n"
        "  //yeah.com/blog\n    valid: things\n  /yeah\n    valid: yup\n  /yeah.com\n    valid: yup\n"
        "  # Anything standalone is interpreted as a invalid header pair\n  nah.com\n  :\n  test:\n",
        (
            h("/some%20page%20with%20spaces", {"valid": "yup"}),
            h("/some%20page", {"valid": "yup"}),
            h("/://so;%60me", {"valid": "yup"}),
            h("/nons:/&@%+~%7B%7Dense", {"valid": "yup"}),
            h("https://yeah.com/", {"valid": "yup"}),
            h("//yeah.com/blog", {"valid": "things"}),
            h("/yeah", {"valid": "yup"}),
            h("/yeah.com", {"valid": "yup"}),
        ),
        (
            Invalid(
                "URLs should either be relative (e.g. begin with a forward-slash), "
                'or use HTTPS (e.g. begin with "https://").',
                16,
                "http://nah.com/blog",
            ),
            Invalid(
                "Specifying ports is not supported. Skipping absolute URL https://nah.com:8080.",
                19,
                "https://nah.com:8080",
            ),
            Invalid(
                "Specifying ports is not supported. Skipping absolute URL https://nah.com:8080/blog.",
                21,
                "https://nah.com:8080/blog",
            ),
            Invalid("Expected a colon-separated header pair (e.g. name: value)", 30, "nah.com"),
            Invalid("No header name specified", 31, ":"),
            Invalid("No header value specified", 32, "test:"),
        ),
    ),
)
