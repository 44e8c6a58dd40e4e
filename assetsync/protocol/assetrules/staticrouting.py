"""``run_worker_first`` as a list of route globs: how the platform reads it and matches a request.

The API (and wrangler before a deploy) splits the list into rules that send a request to the
user Worker (``/api/*``) and rules that keep it with the assets (``!/api/docs/*``), refusing a
list it cannot route by; the platform's router then checks the asset rules first, then the Worker
rules, against the request URL's pathname.

Cloudflare facts this relies on
-------------------------------
workers-sdk ``packages/workers-shared`` at f8308360283f97d33e188aee2e19c1ef9c09524a:
``utils/configuration/parseStaticRouting.ts`` (the split, the limits in ``constants.ts`` and the
error messages, word for word: tools that read them keep working) and ``generateStaticRoutingRuleMatcher``
in ``asset-worker/src/utils/rules-engine.ts``: a rule is a glob where only ``*`` is special (any
run of characters, ``/`` included; ``:name`` and every regex character are literal), anchored at
both ends, matched against ``new URL(request.url).pathname`` (as sent, percent-escapes kept; the
query never takes part). Pure and I/O-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_RULES",
    "MAX_RULE_LENGTH",
    "StaticRouting",
    "StaticRoutingError",
    "glob_matches",
    "parse_static_routing",
]

MAX_RULES = 100  # rules in one run_worker_first list
MAX_RULE_LENGTH = 100  # characters in one rule, at most
_ANY = "[^\n\r\u2028\u2029]*"  # JavaScript's ".*": "." stops at line terminators


class StaticRoutingError(ValueError):
    """A ``run_worker_first`` list the platform refuses; the message is Cloudflare's own."""


@dataclass(frozen=True, slots=True)
class StaticRouting:
    """The two halves of a ``run_worker_first`` list, each rule as written (``!`` dropped)."""

    user_worker: tuple[str, ...]
    asset_worker: tuple[str, ...] = ()

    def to_worker(self, pathname: str) -> bool | None:
        """Where the router sends ``pathname``: False (an asset rule matches, checked first), True
        (a Worker rule matches), or None (no rule matches: the assets are asked)."""
        if glob_matches(self.asset_worker, pathname):
            return False
        if glob_matches(self.user_worker, pathname):
            return True
        return None


def parse_static_routing(rules: Sequence[str]) -> StaticRouting:
    """Split a ``run_worker_first`` list, or raise :class:`StaticRoutingError` saying why not."""
    if not rules:
        raise StaticRoutingError("No `run_worker_first` rules were provided; must provide at least 1 rule.")
    if len(rules) > MAX_RULES:
        raise StaticRoutingError(
            f"Too many `run_worker_first` rules were provided; {len(rules)} rules provided exceeds "
            f"max of {MAX_RULES}."
        )
    user: list[str] = []
    assets: list[str] = []
    raw_assets: list[str] = []  # as written, "!" kept: that is how their problems are named
    invalid: list[str] = []
    for rule in rules:
        if rule.startswith("!/"):
            assets.append(rule[1:])
            raw_assets.append(rule)
        elif rule.startswith("/"):
            user.append(rule)
        elif rule.startswith("!"):
            invalid.append(f"'{rule}': negative rules must start with '!/'")
        else:
            invalid.append(f"'{rule}': rules must start with '/' or '!/'")
    if assets and not user:
        raise StaticRoutingError(
            "Only negative `run_worker_first` rules were provided; must provide at least 1 non-negative rule"
        )
    invalid += _problems(user) + _problems(raw_assets)
    if invalid:
        raise StaticRoutingError("Invalid routes in `run_worker_first`:\n" + "\n".join(invalid))
    return StaticRouting(tuple(user), tuple(assets))


def _problems(rules: list[str]) -> list[str]:
    """Rules that are too long, repeated, or made redundant by a glob that covers them."""
    out: list[str] = []
    seen: set[str] = set()
    for rule in rules:
        if len(rule.encode("utf-16-le")) // 2 > MAX_RULE_LENGTH:  # JavaScript's length: UTF-16 units
            out.append(f"'{rule}': all rules must be less than {MAX_RULE_LENGTH} characters in length")
        if rule in seen:
            out.append(f"'{rule}': rule is a duplicate; rules must be unique")
        if rule.endswith("*"):
            out += [
                f"'{other}': rule '{rule}' makes it redundant"
                for other in rules
                if other != rule and other.startswith(rule[:-1])
            ]
        seen.add(rule)
    return out


def _compile(rule: str) -> re.Pattern[str]:
    """The rule as a regex for ``fullmatch`` (JavaScript's ``^...$`` without flags)."""
    return re.compile(_ANY.join(re.escape(part) for part in rule.split("*")))


_compiled: dict[str, re.Pattern[str]] = {}


def glob_matches(rules: Iterable[str], pathname: str) -> bool:
    """Does any rule match ``pathname`` (a URL pathname as the parser leaves it)?"""
    for rule in rules:
        pattern = _compiled.get(rule)
        if pattern is None:
            if len(_compiled) > 4096:
                _compiled.clear()
            pattern = _compiled[rule] = _compile(rule)
        if pattern.fullmatch(pathname):
            return True
    return False
