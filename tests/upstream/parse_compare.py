"""What a ported parser case is, how it is run against assetsync, and the counts the README quotes.

Every ``parse_*_cases`` module exposes ``CASES``, a tuple of :class:`Case`. A case holds one
upstream test's input and expected result as data; :func:`check` runs it through assetsync's
parser and says how the answers differ, or ``None`` when they agree. A case that cannot apply to
assetsync keeps its data and says why in ``not_applicable``. :func:`summary` counts them all.

Invalid lines are compared by reason, not wording: :func:`reason` maps a message, upstream's or
ours, to a short key, so assetsync may say more (what to do) as long as it rejects the same line
for the same cause. Line numbers and the rejected line's text are compared wherever upstream
states them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from assetsync.protocol.assetrules.headers import parse_headers
from assetsync.protocol.assetrules.redirects import parse_redirects
from assetsync.protocol.assetrules.rules import ParseWarning
from assetsync.protocol.assetrules.urls import js_trim

MIRROR_COMMIT = "f8308360283f97d33e188aee2e19c1ef9c09524a"


@dataclass(frozen=True)
class Invalid:
    """One entry of upstream's ``invalid`` list: its message, and its line number and text if given."""

    message: str
    line: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class Case:
    """One upstream test (or one assertion of it), as data.

    ``kind`` picks the runner: ``redirects`` and ``headers`` parse ``input`` (a string) with
    ``options``; ``expected`` is upstream's ``rules`` (dicts as upstream writes them) and
    ``invalid`` its ``invalid``. ``ignored`` lists the lines where assetsync adds a note of its
    own (``kind="ignored"``: Cloudflare keeps the line but it can never take effect).
    """

    upstream: str  # file under packages/workers-shared/utils/tests/
    test: str  # the upstream test's title
    kind: str
    input: Any
    expected: Any = ()
    invalid: tuple[Invalid, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    ignored: tuple[int, ...] = ()
    not_applicable: str | None = None

    @property
    def id(self) -> str:
        return f"{self.upstream.removesuffix('.test.ts')}: {self.test}"


# Reason keys, first match wins; applied to upstream's messages and ours alike.
_REASONS: tuple[tuple[str, str], ...] = (
    ("too-long", r"exceeds the maximum allowed length|characters long, over the limit"),
    ("tokens", r"Expected exactly 2 or 3 whitespace-separated tokens\. Got (\d+)"),
    ("status", r"Valid status codes are .* Got (\S+)\."),
    ("duplicate", r"Ignoring duplicate rule for path (\S+)\."),
    ("relative-only", r"Only relative URLs are allowed\. Skipping absolute URL (\S+)\."),
    ("port", r"Specifying ports is not supported\. Skipping absolute URL (\S+)\."),
    ("not-a-url", r"URLs should either be relative"),
    ("proxy-absolute", r"Proxy \(200\) redirects can only point to relative paths\. Got (\S+)"),
    ("loop", r"Infinite loop detected"),
    ("static-limit", r"Maximum number of static rules supported is (\d+)"),
    ("dynamic-limit", r"Maximum number of dynamic rules supported is (\d+)\. Skipping remaining (\d+) lines"),
    ("header-limit", r"Maximum number of rules supported is (\d+)\. Skipping remaining (\d+) lines"),
    ("two-wildcards", r"Only one wildcard is allowed per rule"),
    ("wildcard-and-splat", r"Cannot combine a wildcard \* with a :splat placeholder"),
    ("no-path", r"Expected a path beginning with at least one forward-slash"),
    ("path-first", r"Path should come before header \((.*)\)"),
    ("no-colon", r"Expected a colon-separated header pair"),
    ("name-space", r"Header name cannot include spaces"),
    ("no-name", r"No header name specified"),
    ("no-value", r"No header value specified"),
    ("no-headers", r"No headers specified"),
)


def reason(message: str) -> tuple[str, ...]:
    """The reason key of a message and the values it names (a count, a status, a path)."""
    for key, pattern in _REASONS:
        m = re.search(pattern, message)
        if m:
            return (key, *m.groups())
    return ("unknown", message)


def _line_of(w: Invalid) -> int | None:
    """Upstream's line number, also where it only says it in the message ("Ignoring line N")."""
    if w.line is not None:
        return w.line
    m = re.match(r"Ignoring line (\d+) ", w.message)
    return int(m.group(1)) if m else None


def _compare_invalid(expected: Iterable[Invalid], warnings: Iterable[ParseWarning]) -> list[str]:
    ours = [w for w in warnings if w.kind == "rejected"]
    theirs = list(expected)
    problems: list[str] = []
    if len(ours) != len(theirs):
        problems.append(f"{len(theirs)} rejected lines upstream, {len(ours)} here: {[str(w) for w in ours]}")
    for t, o in zip(theirs, ours, strict=False):
        if reason(t.message) != reason(o.message):
            problems.append(f"reason {reason(t.message)} upstream, {reason(o.message)} here ({o})")
        line = _line_of(t)
        if line is not None and line != o.line:
            problems.append(f"line {line} upstream, {o.line} here ({o})")
        if t.text is not None and (o.text is None or js_trim(o.text) != t.text):
            problems.append(f"text {t.text!r} upstream, {o.text!r} here")
    return problems


def _compare_ignored(case: Case, warnings: Iterable[ParseWarning]) -> list[str]:
    notes = sorted(w.line or 0 for w in warnings if w.kind == "ignored")
    if notes != sorted(case.ignored):
        return [f"notes of our own on lines {list(case.ignored)} expected, got {notes}"]
    return []


def _check_redirects(case: Case) -> list[str]:
    parsed = parse_redirects(case.input, **case.options)
    ours = [(r.source, r.destination, r.status, r.line) for r in parsed.rules]
    theirs = [(r["from"], r["to"], r["status"], r["lineNumber"]) for r in case.expected]
    problems = (
        [] if ours == theirs else [f"rules differ:\n  upstream {theirs[:5]}...\n  here     {ours[:5]}..."]
    )
    return (
        problems + _compare_invalid(case.invalid, parsed.warnings) + _compare_ignored(case, parsed.warnings)
    )


HeaderKey = tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]]


def construct_headers(rules: Iterable[dict[str, Any]]) -> list[HeaderKey]:
    """Upstream's parsed rules as ``constructHeaders`` keeps them: keyed by path, so a later block
    for a path replaces an earlier one in the earlier one's place; removal names compare
    case-insensitively (``Headers.delete``)."""
    by_path: dict[str, HeaderKey] = {}
    for r in rules:
        unset = tuple(n.lower() for n in r["unsetHeaders"])
        by_path[r["path"]] = (r["path"], tuple(r["headers"].items()), unset)
    return list(by_path.values())


def _check_headers(case: Case) -> list[str]:
    parsed = parse_headers(case.input, **case.options)
    ours = [(r.path, r.set, r.unset) for r in parsed.rules]
    theirs = construct_headers(case.expected)
    problems = (
        [] if ours == theirs else [f"rules differ:\n  upstream {theirs[:5]}...\n  here     {ours[:5]}..."]
    )
    return (
        problems + _compare_invalid(case.invalid, parsed.warnings) + _compare_ignored(case, parsed.warnings)
    )


RUNNERS: dict[str, Callable[[Case], list[str]]] = {
    "redirects": _check_redirects,
    "headers": _check_headers,
}


def check(case: Case) -> str | None:
    """How assetsync's answer differs from upstream's for an applicable case, or ``None``."""
    if case.not_applicable:
        raise ValueError(f"{case.id} is not applicable: {case.not_applicable}")
    problems = RUNNERS[case.kind](case)
    return "\n".join(problems) or None


@dataclass(frozen=True)
class Summary:
    """The counts for the README: applicable cases, how many agree, and why the rest do not apply."""

    applicable: int
    passed: int
    not_applicable: dict[str, int]

    def __str__(self) -> str:
        skipped = sum(self.not_applicable.values())
        lines = [f"{self.passed} of {self.applicable} applicable cases agree; {skipped} not applicable:"]
        lines += [f"  {n} {why}" for why, n in self.not_applicable.items()]
        return "\n".join(lines)


def summary(cases: Iterable[Case]) -> Summary:
    """Run every applicable case and count."""
    cases = list(cases)
    applicable = [c for c in cases if not c.not_applicable]
    passed = sum(check(c) is None for c in applicable)
    reasons = Counter(c.not_applicable for c in cases if c.not_applicable)
    return Summary(len(applicable), passed, {str(k): v for k, v in reasons.items()})
