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
            "/b/*/*",  # 15: can never match
            "  X-B: 1",  # 16
            "/a",  # 17: replaces the block of line 3
            "  X-Again: 2",  # 18
        ]
    )
    parsed = parse_headers(text)
    assert [(w.line, w.message, w.text) for w in parsed.warnings] == [
        (1, "Path should come before header (orphan: 1)", "Orphan: 1"),
        (2, "Expected a path beginning with at least one forward-slash", "stray"),
        (4, "Header name cannot include spaces", "X Y: 1"),
        (5, "No header name specified", ": 1"),
        (6, "No header value specified", "X-Empty:"),
        (7, "Ignoring header: not a valid HTTP header name or value", "X-Bad\x01: 1"),
        (8, "Ignoring removal of 'bad name': not a valid header name", "! bad name"),
        (9, "Ignoring removal of 'x! y': not a valid header name", "! x! y"),
        (10, "Expected a colon-separated header pair (e.g. name: value)", "no colon"),
        (12, "No headers specified", "/empty"),
        (
            13,
            'URLs should either be relative (e.g. begin with a forward-slash), or use HTTPS (e.g. begin with "https://").',
            "ftp://x/y",
        ),
        (
            14,
            "Specifying ports is not supported. Skipping absolute URL https://h.com:8443/z.",
            "https://h.com:8443/z",
        ),
        (
            17,
            "Rule for path /a replaces the earlier rule for the same path (line 3), "
            "keeping its place in the order",
            "/a",
        ),
        (
            15,
            "The pattern /b/*/* can never match: it has more than one splat (*), so Cloudflare ignores it.",
            None,
        ),
    ]
    assert parsed.rules == (
        HeaderRule("/a", (("x-again", "2"),), (), 17),
        HeaderRule("/b/*/*", (("x-b", "1"),), (), 15),
    )
    assert parsed.update("/a").headers == (("x-again", "2"),)


def test_a_line_of_exactly_2000_characters_is_kept_and_a_longer_one_skipped() -> None:
    value = "v" * (2000 - len("X-Long: "))
    parsed = parse_headers(f"/a\nX-Long: {value}\nX-Longer: {value}\nX-After: 1")
    assert parsed.rules[0].set == (("x-long", value), ("x-after", "1"))
    assert [(w.line, w.text) for w in parsed.warnings] == [(None, None)]
    assert parsed.warnings[0].message == "Ignoring line 3 as it exceeds the maximum allowed length of 2000."


def test_a_set_after_an_append_replaces_every_earlier_value() -> None:
    ops = [HeaderOp("append", "x", "1"), HeaderOp("set", "x", "2"), HeaderOp("append", "y", "3")]
    update = apply_header_ops(ops)
    assert update.headers == (("x", "2"), ("y", "3"))
    assert update.remove == ("x", "y")
