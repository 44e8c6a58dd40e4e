"""Parse a root ``_headers`` file and work out, for a request path, which headers to set or remove.

Pure and I/O-free. Paths are read and matched as in ``_redirects``: the same URL syntax
(:mod:`.urls`) and the same pattern matcher (:mod:`.rules`).

Cloudflare facts this relies on
-------------------------------
Docs: https://developers.cloudflare.com/workers/static-assets/headers/ (source
``cloudflare/cloudflare-docs: src/content/partials/workers/custom_headers.mdx``). Code, in
``cloudflare/workers-sdk`` package ``workers-shared``: ``utils/configuration/parseHeaders.ts``,
``constants.ts``, ``validateURL.ts``, ``constructConfiguration.ts`` (``constructHeaders``) and
``asset-worker/src/utils/headers.ts`` (``attachCustomHeaders``) with ``utils/rules-engine.ts``.

* Lines are split on ``\\n`` and trimmed; blank lines and lines starting with ``#`` are skipped. A
  line longer than 2,000 characters ("The entire line, including spacing, header name, and value")
  is ignored with a warning.
* A line that starts with ``/`` or with ``<non-space>://`` opens a rule. ``https://host/path`` rules
  are allowed (no port); other absolute URLs are invalid. The path is normalised like a URL path
  (dot segments resolved, spaces etc. percent-encoded). A path with two splats, or a splat and
  ``:splat``, is rejected (a splat is ``:splat`` at runtime). The header lines under a rejected
  path are skipped without a word. An opened rule with no header lines is dropped ("No headers
  specified").
* Inside a rule, ``Name: value`` (split at the first ``:``, both trimmed, the name lower-cased)
  sets a header; a name containing a space, an empty name or an empty value is an invalid line.
  Repeating a name in one rule joins the values with ``", "``. ``! Name`` (exclamation mark and a
  space) removes a header. Any other line without ``:`` is invalid, as is a header before any path.
* At most 100 rules: when a further path line is reached with 100 rules already complete, parsing
  stops ("Skipping remaining N lines of file"); the rule still open at that point is kept, so 101
  rules can survive (workers-sdk's own test expects 101).
* Rules are kept in a map keyed by path: a later block for the same path replaces the earlier one
  but keeps the earlier one's position (JavaScript object semantics).
* Matching: every rule whose pattern matches the request applies, in file order. For each, its
  removals are applied first, then its headers: the first time a name is set from ``_headers`` it
  replaces whatever the response had (``Headers.set``); later matching rules append
  (``Headers.append``). Splats and ``:placeholders`` in values are replaced with the captures.
  Host rules match on ``https://{hostname}{path}`` whatever the request's scheme and port.
* Custom headers are attached to every response of the asset worker (assets, 404s, 405s and
  redirects, including ``_redirects`` ones) and are matched on the original request path, not on a
  200 rewrite's target.

Beyond Cloudflare: a header name that is not an HTTP token, or a value with NUL/CR/LF or a
character beyond U+00FF (not a ``ByteString``), would make ``Headers.set``/``delete`` throw at
request time; such lines are dropped here with a warning instead. A rule whose pattern cannot
compile (a repeated placeholder), which Cloudflare silently never matches, gets a
warning too, as does a repeated path block: these carry ``kind="ignored"``, Cloudflare's own
rejections ``kind="rejected"``. Also, ``No headers specified`` is reported at the
empty rule's own line (Cloudflare reports the line of the next path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from .rules import ParseWarning, RulePattern, Warnings, rule_lines, substitute
from .urls import JS_WHITESPACE, js_trim, request_hostname, validate_url

__all__ = [
    "MAX_HEADER_RULES",
    "MAX_LINE_LENGTH",
    "HeaderOp",
    "HeaderRule",
    "HeaderUpdate",
    "ParsedHeaders",
    "apply_header_ops",
    "parse_headers",
]

MAX_HEADER_RULES = 100
MAX_LINE_LENGTH = 2_000
UNSET_OPERATOR = "! "
HEADER_SEPARATOR = ":"

_LINE_IS_PROBABLY_A_PATH = re.compile(f"[^{JS_WHITESPACE}]+://|/")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00\r\n]|[^\x00-\xff]")  # NUL, CR, LF; beyond Latin-1 is no ByteString


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """One rule: its normalised ``path`` pattern, headers to set (lower-case names) and to remove."""

    path: str
    set: tuple[tuple[str, str], ...]
    unset: tuple[str, ...]
    line: int


@dataclass(frozen=True, slots=True)
class HeaderOp:
    """One step, in Cloudflare's order: ``set`` replaces, ``append`` adds, ``unset`` deletes."""

    action: Literal["set", "append", "unset"]
    name: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class HeaderUpdate:
    """The net effect of a list of :class:`HeaderOp` on a response.

    Apply it by deleting every header named in ``remove`` from the response it would otherwise
    send, then adding each pair of ``headers`` (a name may appear more than once: several values,
    in order). ``remove`` holds every name ``_headers`` touches, the ones it sets included, since
    a set replaces the response's own value. Names are lower-case.
    """

    headers: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


def apply_header_ops(ops: tuple[HeaderOp, ...] | list[HeaderOp]) -> HeaderUpdate:
    """Fold ordered operations into the set of headers to send and the base headers to drop."""
    custom: dict[str, list[str]] = {}
    dropped: dict[str, None] = {}
    for op in ops:
        if op.action == "unset":
            dropped[op.name] = None
            custom.pop(op.name, None)
        elif op.action == "set":
            dropped[op.name] = None
            custom[op.name] = [op.value]
        else:
            dropped[op.name] = None
            custom.setdefault(op.name, []).append(op.value)
    return HeaderUpdate(
        tuple((name, value) for name, values in custom.items() for value in values),
        tuple(dropped),
    )


@dataclass(frozen=True, slots=True)
class ParsedHeaders:
    """The valid rules of a ``_headers`` file and the warnings from parsing it."""

    rules: tuple[HeaderRule, ...]
    warnings: tuple[ParseWarning, ...]
    _compiled: tuple[tuple[RulePattern, HeaderRule], ...] = field(repr=False)

    def operations(self, path: str, *, host: str | None = None) -> tuple[HeaderOp, ...]:
        """Every operation for the request pathname ``path`` (as sent: see
        :func:`.urls.request_pathname`) and ``Host``, in Cloudflare's order."""
        hostname = request_hostname(host)
        ops: list[HeaderOp] = []
        set_before: set[str] = set()
        for pattern, rule in self._compiled:
            captures = pattern.match(path, hostname)
            if captures is None:
                continue
            ops.extend(HeaderOp("unset", name) for name in rule.unset)
            for name, value in rule.set:
                value = substitute(value, captures)
                if name in set_before:
                    ops.append(HeaderOp("append", name, value))
                else:
                    ops.append(HeaderOp("set", name, value))
                    set_before.add(name)
        return tuple(ops)

    def update(self, path: str, *, host: str | None = None) -> HeaderUpdate:
        """The net :class:`HeaderUpdate` for a request path."""
        return apply_header_ops(self.operations(path, host=host))


_SPLAT_PLACEHOLDER = re.compile(r":splat(?![A-Za-z0-9_])")


def _wildcard_error(path: str) -> str:
    """Why a rule path with more than one splat cannot work (``*`` becomes ``:splat``), or ``""``."""
    splats = path.count("*")
    if splats > 1:
        return (
            "Only one wildcard is allowed per rule. Use a named placeholder (e.g. :project) "
            f"instead. Skipping {path}."
        )
    if splats and _SPLAT_PLACEHOLDER.search(path):
        return (
            "Cannot combine a wildcard * with a :splat placeholder because wildcards are "
            f"converted to :splat at runtime. Skipping {path}."
        )
    return ""


@dataclass
class _OpenRule:
    path: str
    text: str
    line: int
    headers: dict[str, str]
    unset: list[str]


def parse_headers(
    text: str, *, max_rules: int = MAX_HEADER_RULES, max_line_length: int = MAX_LINE_LENGTH
) -> ParsedHeaders:
    """Parse ``_headers`` text; never raises: every problem becomes a :class:`ParseWarning`."""
    lines = text.split("\n")
    complete: list[_OpenRule] = []
    warn = Warnings("_headers")
    rule: _OpenRule | None = None
    # After a rejected path line, its header lines go with it, unreported (as on Cloudflare).
    skip_until_next_path = False

    def close(current: _OpenRule) -> None:
        if current.headers or current.unset:
            complete.append(current)
        else:
            warn("No headers specified", current.line, current.text)

    for lineno, _, line in rule_lines(lines, max_line_length, warn):
        if _LINE_IS_PROBABLY_A_PATH.match(line):
            skip_until_next_path = False
            if len(complete) >= max_rules:
                warn(
                    f"Maximum number of rules supported is {max_rules}. "
                    f"Skipping remaining {len(lines) - lineno + 1} lines of file.",
                    lineno,
                )
                break
            if rule is not None:
                close(rule)
            path, error = validate_url(line, only_relative=False, disallow_ports=True)
            if path is not None:
                error = _wildcard_error(path)
            if path is None or error:
                warn(error, lineno, line)
                rule = None
                skip_until_next_path = True
                continue
            rule = _OpenRule(path, line, lineno, {}, [])
            continue

        if skip_until_next_path:
            continue

        if HEADER_SEPARATOR not in line:
            if rule is None:
                warn("Expected a path beginning with at least one forward-slash", lineno, line)
            elif line.startswith(UNSET_OPERATOR):
                name = line.replace(UNSET_OPERATOR, "", 1)
                if _TOKEN.fullmatch(name):
                    rule.unset.append(name.lower())
                else:
                    warn(f"Ignoring removal of {name!r}: not a valid header name", lineno, line, "ignored")
            else:
                warn("Expected a colon-separated header pair (e.g. name: value)", lineno, line)
            continue

        raw_name, _, raw_value = line.partition(HEADER_SEPARATOR)
        name = js_trim(raw_name).lower()
        if " " in name:
            warn("Header name cannot include spaces", lineno, line)
            continue
        value = js_trim(raw_value)
        if not name:
            warn("No header name specified", lineno, line)
            continue
        if not value:
            warn("No header value specified", lineno, line)
            continue
        if rule is None:
            warn(f"Path should come before header ({name}: {value})", lineno, line)
            continue
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            warn("Ignoring header: not a valid HTTP header name or value", lineno, line, "ignored")
            continue
        existing = rule.headers.get(name)
        rule.headers[name] = f"{existing}, {value}" if existing else value

    if rule is not None:
        close(rule)

    by_path: dict[str, _OpenRule] = {}
    for r in complete:
        if r.path in by_path:
            warn(
                f"Rule for path {r.path} replaces the earlier rule for the same path "
                f"(line {by_path[r.path].line}), keeping its place in the order",
                r.line,
                r.text,
                "ignored",
            )
        by_path[r.path] = r

    rules = tuple(
        HeaderRule(r.path, tuple(r.headers.items()), tuple(r.unset), r.line) for r in by_path.values()
    )
    compiled: list[tuple[RulePattern, HeaderRule]] = []
    for hr in rules:
        try:
            compiled.append((RulePattern(hr.path), hr))
        except ValueError as exc:
            warn(str(exc)[0].upper() + str(exc)[1:] + ".", hr.line, None, "ignored")
    return ParsedHeaders(rules, tuple(warn), tuple(compiled))
