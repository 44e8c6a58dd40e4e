"""_redirects rules one at a time: the URL helpers, the rule patterns, parsing and matching."""

from __future__ import annotations

import pytest

from assetsync.protocol.assetrules.redirects import RedirectMatch, RedirectRule, parse_redirects
from assetsync.protocol.assetrules.rules import ParseWarning, RulePattern
from assetsync.protocol.assetrules.urls import (
    PATH_ENCODE,
    decode_path,
    decode_uri_component,
    encode_path,
    extract_pathname,
    normalize_path,
    pct_encode,
    request_hostname,
    request_pathname,
    split_reference,
    validate_url,
)


def location(rules: str, path: str, *, query: str = "", host: str | None = None) -> str | None:
    parsed = parse_redirects(rules)
    assert parsed.warnings == ()
    m = parsed.match(path, query=query, host=host)
    return None if m is None else m.location


def test_a_rule_with_the_default_status_is_a_302() -> None:
    match = parse_redirects("/a /b").match("/a")
    assert match is not None and (match.status, match.location) == (302, "/b")


# ---------------------------------------------------------------------------------- URL helpers


def test_percent_encoding_covers_controls_del_and_non_ascii_only() -> None:
    assert pct_encode("\x00\x1f \x7e\x7f", frozenset()) == "%00%1F ~%7F"
    assert pct_encode("a b", PATH_ENCODE) == "a%20b"
    assert pct_encode("é\U0001f600", frozenset()) == "%C3%A9%F0%9F%98%80"
    assert pct_encode("\ud800", frozenset()) == "%ED%A0%80"  # a lone surrogate still encodes


def test_decoding_leaves_text_javascript_would_refuse() -> None:
    assert decode_uri_component("%41%42") == "AB"
    assert decode_uri_component("%41%zz") == "%41%zz"  # one bad escape: nothing is decoded
    assert decode_uri_component("%41%") == "%41%"
    assert decode_uri_component("%C3") == "%C3"  # bad UTF-8
    assert decode_uri_component("plain") == "plain"


def test_paths_decode_segment_by_segment() -> None:
    assert decode_path("/%zz/%41//b") == "/%zz/A/b"
    assert decode_path("/a%2Fb") == "/a/b"


def test_paths_encode_like_encode_uri_component_per_segment() -> None:
    assert encode_path("/a!*'()b/c d/é") == "/a!*'()b/c%20d/%C3%A9"
    assert encode_path("/\ud800") == "/%ED%A0%80"


def test_split_reference() -> None:
    assert split_reference("/a") == ("/a", None, None)
    assert split_reference("/a?") == ("/a", "", None)
    assert split_reference("/a?b?c#d#e") == ("/a", "b?c", "d#e")


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("a/b", "/a/b"),
        ("a/../b", "/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/a/%2E%2e/b", "/b"),
        ("/a/.%2E/b", "/b"),
        ("/a/%2E/b", "/a/b"),
        ("/../a", "/a"),
        ("/a b", "/a%20b"),
    ],
)
def test_normalize_path_resolves_dot_segments(path: str, normal: str) -> None:
    assert normalize_path(path) == normal


@pytest.mark.parametrize(
    ("path", "pathname"),
    [("/..", ""), ("/%2E%2e", ""), ("/a/../..", ""), ("/./..", ""), ("/a/..", "/"), ("/../a/..", "/")],
)
def test_a_rule_path_emptied_by_dot_segments_stays_empty_as_in_node(path: str, pathname: str) -> None:
    assert extract_pathname(path, False, False) == pathname
    assert normalize_path(path) == "/"  # a request's https: URL always keeps its root


def test_a_source_of_dot_dot_never_matches_the_root() -> None:
    parsed = parse_redirects("/.. /elsewhere\n/a/%2e%2e/.. /x")
    assert [r.source for r in parsed.rules] == [""]
    assert [w.message for w in parsed.warnings] == ["Ignoring duplicate rule for path ."]
    assert parsed.match("/") is None


def test_extract_pathname_drops_trailing_controls_and_spaces() -> None:
    assert extract_pathname("/a \x01", False, False) == "/a"
    assert extract_pathname("a\tb\n", False, False) == "/ab"
    assert extract_pathname("/a?q=1#f", True, True) == "/a?q=1#f"
    assert extract_pathname("/a?q=1#f", False, False) == "/a"


def test_validate_url() -> None:
    assert validate_url("/a?q#f", only_relative=True, disallow_ports=True) == ("/a", "")
    assert validate_url("a", only_relative=True, disallow_ports=True) == ("/a", "")
    assert validate_url("https://x.com/a#f", only_relative=False, disallow_ports=False) == (
        "https://x.com/a",
        "",
    )
    assert validate_url("https://x.com:8443/a", only_relative=False, disallow_ports=True) == (
        None,
        "Specifying ports is not supported. Skipping absolute URL https://x.com:8443/a.",
    )


@pytest.mark.parametrize(
    ("target", "pathname"),
    [
        ("/", "/"),
        ("/100%/a%2Fb%41", "/100%/a%2Fb%41"),  # escapes stay as sent, a bare % stays bare
        ("/caf\xc3\xa9 x", "/caf%C3%A9%20x"),  # raw UTF-8 bytes (as latin-1) and a space
        ("/a/%2e%2E/b/./c\\d", "/b/c/d"),
        ("//a//b", "//a//b"),
        ('/<"{`}>', "/%3C%22%7B%60%7D%3E"),
        ("/[a]:@!$&'()*+,;=", "/[a]:@!$&'()*+,;="),
    ],
)
def test_request_pathname_is_what_the_url_parser_leaves(target: str, pathname: str) -> None:
    assert request_pathname(target.encode("latin-1")) == pathname


@pytest.mark.parametrize(
    ("host", "name"),
    [
        (None, None),
        (" Example.COM:8080 ", "example.com"),
        ("example.com", "example.com"),
        ("host:abc", "host:abc"),  # not a port
        ("a:b:80", "a:b"),
        ("[::1]:8080", "[::1]"),
        ("[::1]", "[::1]"),
        ("[::1]:", "[::1]"),
        ("[a]b]", "[a]"),
        ("[bad", "[bad"),
    ],
)
def test_request_hostname(host: str | None, name: str | None) -> None:
    assert request_hostname(host) == name


# -------------------------------------------------------------------------------- rule patterns


def test_pattern_literals_match_the_path_as_sent_never_decoded() -> None:
    assert location("/x%zz/%41 /b", "/x%zz/%41") == "/b"
    assert location("/x%zz/%41 /b", "/x%zz/A") is None
    assert location("/x%zz/%41/* /b", "/x%zz/%41/c") == "/b"
    assert location("/50%-off%21/* /b/:splat", "/50%-off%21/a%2Fb") == "/b/a%2Fb"


def test_placeholders_in_paths_take_dots() -> None:
    assert location("/blog/:slug/x /p/:slug", "/blog/a.b/x") == "/p/a.b"
    assert location("/blog/:slug /p/:slug", "/blog/a.b") == "/p/a.b"


def test_host_patterns() -> None:
    p = RulePattern("https://example.com/%41/b/*")
    assert repr(p) == "RulePattern('https://example.com/%41/b/*')" and p.cross_host
    assert p.match("/%41/b/c", "example.com") == {"splat": "c"}
    assert p.match("/A/b/c", "example.com") is None
    assert p.match("/%41/b/c", None) is None
    assert RulePattern("https://example.com").match("", "example.com") == {}
    assert RulePattern("https://:host").match("", "example.com") == {"host": "example.com"}
    # A host placeholder before an escaped character stops at dots; before another, it does not.
    assert RulePattern("https://example.:tld/*").match("/x", "example.co.uk") is None
    assert RulePattern("https://example.:tld/*").match("/x", "example.com") == {"tld": "com", "splat": "x"}
    assert RulePattern("https://:sub~x.com/").match("/", "a.b~x.com") == {"sub": "a.b"}
    assert RulePattern("https://:sub.example.com").match("", "a.b.example.com") is None
    # Host text is compared as written, never percent-decoded.
    assert RulePattern("https://a%2Eb.com/").match("/", "a%2Eb.com") == {}
    assert RulePattern("https://a%41.:tld/").match("/", "a%41.com") == {"tld": "com"}
    assert RulePattern("https://:sub.a%41.com/").match("/", "x.a%41.com") == {"sub": "x"}


@pytest.mark.parametrize(
    ("line", "warning"),
    [
        (
            "/a/*/b/* /c",
            "The pattern /a/*/b/* can never match: it has more than one splat (*), so Cloudflare ignores it.",
        ),
        (
            "/s/*/:splat /q",
            "The pattern /s/*/:splat can never match: it has both a splat (*) and a :splat placeholder, "
            "so Cloudflare ignores it.",
        ),
    ],
)
def test_patterns_that_never_match_say_why(line: str, warning: str) -> None:
    parsed = parse_redirects(line)
    assert [(w.line, w.message, w.text) for w in parsed.warnings] == [(1, warning, None)]


# ---------------------------------------------------------------------------------- destinations


@pytest.mark.parametrize(
    ("rules", "path", "host", "expected"),
    [
        ("/a https://other.com/x/y", "/a", None, "https://other.com/x/y"),
        ("/a https://other.com/x/y", "/a", "other.com", "/x/y"),
        ("/a https://Xample.com/x", "/a", None, "https://xample.com/x"),
        ("/a //Xample.com/x", "/a", None, "https://xample.com/x"),
        ("/a https://other.com:443/x", "/a", None, "https://other.com/x"),
        ("/a https://other.com:443/x", "/a", "other.com", "/x"),
        ("/a https://other.com:8443/x", "/a", "other.com", "https://other.com:8443/x"),
        ("/a https:///\\\\other.com/x", "/a", None, "https://other.com/x"),
        ("/a /b\\c", "/a", None, "/b/c"),
        ("/a //evil.com/x/y", "/a", None, "https://evil.com/x/y"),
        ("/a //evil.com", "/a", None, "https://evil.com/"),
        ("/a/* https://example.com/:splat", "/a/x", "example.com", "/x"),
    ],
)
def test_destinations(rules: str, path: str, host: str | None, expected: str) -> None:
    assert location(rules, path, host=host) == expected


def test_a_match_names_its_rule() -> None:
    parsed = parse_redirects("# c\n/a /b 301\n/c/* /d 308")
    assert parsed.match("/a") == RedirectMatch(301, "/b", "/b", RedirectRule("/a", "/b", 301, 2, True))
    m = parsed.match("/c/x")
    assert m is not None and m.rule == RedirectRule("/c/*", "/d", 308, 3, False)
    assert not m.is_rewrite


# ------------------------------------------------------------------------------------- parsing


def test_warning_text() -> None:
    assert str(ParseWarning("_redirects", "m")) == "_redirects: m"
    assert str(ParseWarning("_redirects", "m", 3, "  /a b c d ")) == "_redirects:3: m  | /a b c d"
    assert str(ParseWarning("_redirects", "m", 3, "")) == "_redirects:3: m"


def test_infinity_is_no_status() -> None:
    for status in ("Infinity", "+Infinity", "-Infinity"):
        parsed = parse_redirects(f"/a /b {status}")
        assert parsed.rules == ()
        assert parsed.warnings[0].message.endswith(f"Got {status}.")
    assert [r.status for r in parse_redirects("/a /b 0x12D\n/c /d 3.07e2").rules] == [301, 307]


def test_a_line_of_exactly_2000_characters_comment_included_is_kept_and_one_more_is_not() -> None:
    rule = f"/{'a' * 900} /{'b' * 900} 301"
    line = f"  {rule} # {'c' * (2000 - len(rule) - 3)}  "  # surrounding whitespace is trimmed first
    assert len(line.strip()) == 2000
    parsed = parse_redirects(f"{line}\n{line.replace('# ', '#  ')}")
    assert [r.line for r in parsed.rules] == [1]
    assert [(w.line, w.text, w.kind) for w in parsed.warnings] == [(2, None, "rejected")]
    assert parsed.warnings[0].message.startswith(
        "This line is 2,001 characters long, over the limit of 2,000"
    )
    # A full-line comment is skipped before it is measured.
    assert parse_redirects(f"#{'c' * 5000}\n/a /b").warnings == ()


LOOP = (
    "Infinite loop detected in this rule and has been ignored. This will cause a redirect to strip "
    "`.html` or `/index` and end up triggering this rule again. Please fix or remove this rule to "
    "silence this warning."
)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("/a /b /c /d", "Expected exactly 2 or 3 whitespace-separated tokens. Got 4."),
        ("https://x.com/a /b", "Only relative URLs are allowed. Skipping absolute URL https://x.com/a."),
        (
            "/a ftp://x",
            'URLs should either be relative (e.g. begin with a forward-slash), or use HTTPS (e.g. begin with "https://").',
        ),
        ("/a /b 404", "Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got 404."),
        ("/* /index.html", LOOP),
        ("/ok /dup", "Ignoring duplicate rule for path /ok."),
        ("/p /https-only 200", ""),
        (
            "/a https://x.com/ 200",
            "Proxy (200) redirects can only point to relative paths. Got https://x.com/",
        ),
    ],
)
def test_a_bad_line_is_reported_with_its_text_and_the_next_lines_still_count(bad: str, message: str) -> None:
    text = f"/ok /first\n  {bad}  \n/next /there"
    parsed = parse_redirects(text)
    assert location(text.replace(f"  {bad}  ", ""), "/next") == "/there"
    m = parsed.match("/next")
    assert m is not None and m.location == "/there"
    if message:
        assert [(w.line, w.message, w.text) for w in parsed.warnings] == [(2, message, f"  {bad}  ")]


def test_an_over_long_line_is_skipped_and_the_next_lines_still_count() -> None:
    parsed = parse_redirects(f"/{'a' * 2000} /b\n/next /there")
    assert [(w.line, w.text) for w in parsed.warnings] == [(1, None)]
    assert [r.source for r in parsed.rules] == ["/next"]
