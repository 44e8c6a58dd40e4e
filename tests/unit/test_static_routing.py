"""run_worker_first globs beyond Cloudflare's own parser tests: what a rule matches, and the
platform's limits at their edges."""

from __future__ import annotations

import pytest

from assetsync.protocol.assetrules.staticrouting import (
    MAX_RULE_LENGTH,
    MAX_RULES,
    StaticRouting,
    StaticRoutingError,
    glob_matches,
    parse_static_routing,
)


@pytest.mark.parametrize(
    ("rule", "pathname", "matches"),
    [
        ("/api/*", "/api/", True),
        ("/api/*", "/api/a/b", True),
        ("/api/*", "/api", False),
        ("/api*", "/api", True),
        ("/api*", "/apis/x", True),
        ("/*.html", "/a/b.html", True),
        ("/*.html", "/a/bhtml", False),  # "." is literal
        ("/a+b", "/a+b", True),
        ("/a+b", "/aab", False),  # "+" is literal
        ("/:id", "/:id", True),
        ("/:id", "/42", False),  # no placeholders: ":id" is literal
        ("/(x|y)", "/(x|y)", True),
        ("/(x|y)", "/x", False),
        ("/caf%C3%A9/*", "/caf%C3%A9/menu", True),  # the pathname as sent: escapes kept
        ("/café/*", "/caf%C3%A9/menu", False),
        ("/a*b*c", "/a-b-c", True),
        ("/a*b*c", "/a-c", False),
        ("/x", "/x\n", False),  # anchored at the very end (Python's "$" would allow a newline)
        ("/*", "/a\nb", False),  # "*" is JavaScript's ".*": it stops at line terminators
    ],
)
def test_a_rule_is_a_glob_where_only_the_star_is_special(rule: str, pathname: str, matches: bool) -> None:
    assert glob_matches([rule], pathname) is matches


def test_no_rules_match_nothing_and_any_rule_of_several_may_match() -> None:
    assert glob_matches([], "/") is False
    assert glob_matches(["/a", "/b/*"], "/b/c") is True


def test_asset_rules_are_checked_before_worker_rules() -> None:
    routing = parse_static_routing(["/api/*", "!/api/docs/*"])
    assert routing == StaticRouting(("/api/*",), ("/api/docs/*",))
    assert routing.to_worker("/api/orders") is True
    assert routing.to_worker("/api/docs/intro") is False
    assert routing.to_worker("/about") is None


def test_limits_at_their_edges() -> None:
    assert len(parse_static_routing([f"/r/{i}" for i in range(MAX_RULES)]).user_worker) == MAX_RULES
    longest = "/" + "a" * (MAX_RULE_LENGTH - 1)
    assert parse_static_routing([longest]).user_worker == (longest,)
    with pytest.raises(StaticRoutingError, match="must be less than 100 characters"):
        parse_static_routing([longest + "a"])
    # JavaScript counts UTF-16 units: one emoji is two
    with pytest.raises(StaticRoutingError, match="must be less than 100 characters"):
        parse_static_routing(["/" + "a" * (MAX_RULE_LENGTH - 2) + "\U0001f41d"])


def test_every_problem_is_listed_at_once_in_upstreams_order() -> None:
    with pytest.raises(StaticRoutingError) as info:
        parse_static_routing(["api", "/a/*", "/a/b", "!nope", "/a/*", "!/x", "!/x"])
    assert str(info.value) == (
        "Invalid routes in `run_worker_first`:\n"
        "'api': rules must start with '/' or '!/'\n"
        "'!nope': negative rules must start with '!/'\n"
        "'/a/b': rule '/a/*' makes it redundant\n"
        "'/a/*': rule is a duplicate; rules must be unique\n"
        "'/a/b': rule '/a/*' makes it redundant\n"
        "'!/x': rule is a duplicate; rules must be unique"
    )
