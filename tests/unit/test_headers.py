"""_headers rules one at a time: every warning with its line and text, and how operations combine."""

from __future__ import annotations

from assetsync.protocol.assetrules.headers import HeaderOp, HeaderRule, apply_header_ops, parse_headers


def test_a_rule_sets_its_header_on_a_matching_path() -> None:
    assert parse_headers("/a\n  X-Test: 1\n").update("/a").headers == (("x-test", "1"),)


def test_every_bad_line_is_reported_with_its_line_and_text_and_parsing_goes_on() -> None:
    text = "\n".join(
        [
            "Orphan: 1",  # 1: a header before any path
            "stray",  # 2: neither a path nor a header
            "/a",  # 3
            "  X Y: 1",  # 4
            "  : 1",  # 5
            "  X-Empty:",  # 6
            "  X-Bad\x01: 1",  # 7
            "  ! bad name",  # 8
            "  ! x! y",  # 9: only the first "! " is the operator
            "  no colon",  # 10
            "  X-Ok: yes",  # 11
            "/empty",  # 12: no headers
            "ftp://x/y",  # 13
            "https://h.com:8443/z",  # 14
            "/b/*/*",  # 15: two splats
            "  X-B: 1",  # 16: goes with its rejected path, unreported
            "/a",  # 17: replaces the block of line 3
            "  X-Again: 2",  # 18
            "/c/:id/:id",  # 19: can never match
            "  X-C: 1",  # 20
        ]
    )
    parsed = parse_headers(text)
    assert [(w.line, w.message, w.text, w.kind) for w in parsed.warnings] == [
        (1, "Path should come before header (orphan: 1)", "Orphan: 1", "rejected"),
        (2, "Expected a path beginning with at least one forward-slash", "stray", "rejected"),
        (4, "Header name cannot include spaces", "X Y: 1", "rejected"),
        (5, "No header name specified", ": 1", "rejected"),
        (6, "No header value specified", "X-Empty:", "rejected"),
        (7, "Ignoring header: not a valid HTTP header name or value", "X-Bad\x01: 1", "ignored"),
        (8, "Ignoring removal of 'bad name': not a valid header name", "! bad name", "ignored"),
        (9, "Ignoring removal of 'x! y': not a valid header name", "! x! y", "ignored"),
        (10, "Expected a colon-separated header pair (e.g. name: value)", "no colon", "rejected"),
        (12, "No headers specified", "/empty", "rejected"),
        (
            13,
            'URLs should either be relative (e.g. begin with a forward-slash), or use HTTPS (e.g. begin with "https://").',
            "ftp://x/y",
            "rejected",
        ),
        (
            14,
            "Specifying ports is not supported. Skipping absolute URL https://h.com:8443/z.",
            "https://h.com:8443/z",
            "rejected",
        ),
        (
            15,
            "Only one wildcard is allowed per rule. Use a named placeholder (e.g. :project) instead. "
            "Skipping /b/*/*.",
            "/b/*/*",
            "rejected",
        ),
        (
            17,
            "Rule for path /a replaces the earlier rule for the same path (line 3), "
            "keeping its place in the order",
            "/a",
            "ignored",
        ),
        (
            19,
            "The pattern /c/:id/:id can never match: it has the placeholder :id more than once, "
            "so Cloudflare ignores it.",
            None,
            "ignored",
        ),
    ]
    assert parsed.rules == (
        HeaderRule("/a", (("x-again", "2"),), (), 17),
        HeaderRule("/c/:id/:id", (("x-c", "1"),), (), 19),
    )
    assert parsed.update("/a").headers == (("x-again", "2"),)


def test_a_line_of_exactly_2000_characters_is_kept_and_a_longer_one_skipped() -> None:
    value = "v" * (2000 - len("X-Long: "))
    parsed = parse_headers(f"/a\nX-Long: {value}\nX-Longer: {value}\nX-After: 1")
    assert parsed.rules[0].set == (("x-long", value), ("x-after", "1"))
    assert [(w.line, w.text) for w in parsed.warnings] == [(3, None)]
    assert parsed.warnings[0].message == (
        "This line is 2,002 characters long, over the limit of 2,000, so it is ignored. Shorten it."
    )


def test_a_set_after_an_append_replaces_every_earlier_value() -> None:
    ops = [HeaderOp("append", "x", "1"), HeaderOp("set", "x", "2"), HeaderOp("append", "y", "3")]
    update = apply_header_ops(ops)
    assert update.headers == (("x", "2"), ("y", "3"))
    assert update.remove == ("x", "y")


def test_a_bare_percent_in_a_rule_path_matches_the_path_as_sent() -> None:
    parsed = parse_headers("/100%/*\n  X-Pct: :splat\n/%\n  X-Bare: 1\n/50%-off%21.txt\n  X-Sale: 1\n")
    assert parsed.update("/100%/a%20b").headers == (("x-pct", "a%20b"),)
    assert parsed.update("/%").headers == (("x-bare", "1"),)
    assert parsed.update("/50%-off%21.txt").headers == (("x-sale", "1"),)
    for other_spelling in ("/100%25/a", "/%25", "/50%-off!.txt"):
        assert parsed.update(other_spelling).headers == ()
