"""Cloudflare's own parser tests, ported as data (:mod:`.parse_redirects_cases`,
:mod:`.parse_headers_cases`, :mod:`.parse_other_cases`), each run against assetsync's parsers.

Every applicable case must agree; a case that does not apply must say why, and keeps its data.
"""

from __future__ import annotations

import pytest

from . import parse_headers_cases, parse_other_cases, parse_redirects_cases
from .parse_compare import Case, Invalid, check, reason, summary

ALL: tuple[Case, ...] = (
    *parse_redirects_cases.CASES,
    *parse_headers_cases.CASES,
    *parse_other_cases.CASES,
)


@pytest.mark.parametrize("case", [c for c in ALL if not c.not_applicable], ids=lambda c: c.id)
def test_upstream_case_agrees(case: Case) -> None:
    assert check(case) is None, check(case)


def test_case_ids_are_unique_and_every_skipped_case_says_why() -> None:
    assert len({c.id for c in ALL}) == len(ALL)
    skipped = [c for c in ALL if c.not_applicable]
    assert all(len(c.not_applicable or "") > 20 for c in skipped)
    assert {c.kind for c in skipped} == {"ignore"}


def test_the_summary_counts_every_case() -> None:
    s = summary(ALL)
    assert s.applicable + sum(s.not_applicable.values()) == len(ALL)
    assert s.passed == s.applicable
    assert str(s).startswith(f"{s.passed} of {s.applicable} applicable cases agree;")


def test_the_comparison_catches_a_wrong_line_a_wrong_reason_and_a_missing_rejection() -> None:
    case = parse_redirects_cases.CASES[-1]  # html_handling "none": two loops and a duplicate
    assert check(case) is None
    wrong_line = Invalid(case.invalid[0].message, 9, case.invalid[0].text)
    wrong_reason = Invalid("Ignoring duplicate rule for path /.", 3, case.invalid[1].text)
    for invalid in [(wrong_line, *case.invalid[1:]), (case.invalid[0], wrong_reason, case.invalid[2])]:
        assert check(
            Case(case.upstream, case.test, case.kind, case.input, case.expected, invalid, case.options)
        )
    assert check(
        Case(case.upstream, case.test, case.kind, case.input, case.expected, case.invalid)
    )  # default html_handling
    assert reason("Got 4") == ("unknown", "Got 4")
