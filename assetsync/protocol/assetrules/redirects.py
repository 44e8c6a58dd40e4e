"""Parse a root ``_redirects`` file and match request paths against it, as Workers Static Assets does.

Pure and I/O-free: text in, rules out; a path in, a status and ``Location`` out. The URL syntax
(:mod:`.urls`) and the pattern matcher (:mod:`.rules`) are those of ``_headers`` too.

Cloudflare facts this relies on
-------------------------------
Docs: https://developers.cloudflare.com/workers/static-assets/redirects/ (source
``cloudflare/cloudflare-docs: src/content/docs/workers/static-assets/redirects.mdx`` and the partial
``src/content/partials/workers/headers_redirects_placeholders.mdx``). Code, in
``cloudflare/workers-sdk`` package ``workers-shared``: ``utils/configuration/parseRedirects.ts``,
``validateURL.ts``, ``constants.ts``, ``constructConfiguration.ts``,
``asset-worker/src/utils/rules-engine.ts`` and ``asset-worker/src/handler.ts`` (``handleRedirects``).

* One rule a line: ``source destination [status]``, split on whitespace; fewer than 2 or more than 3
  tokens is an invalid line. A ``#`` at the start of a line, or after whitespace, starts a comment
  (so ``/a /b#frag`` keeps its fragment). Blank lines are skipped. Lines are split on ``\\n`` and
  trimmed (JavaScript ``trim``).
* A line may be at most 2,000 characters, measured after trimming and before its inline comment is
  cut, so a comment counts; a line starting with ``#`` is skipped before it is measured. Sources:
  ``MAX_LINE_LENGTH`` in ``utils/configuration/constants.ts`` and its use in ``parseRedirects.ts``
  at workers-sdk f8308360283f97d33e188aee2e19c1ef9c09524a (``parseRedirects.invalid.test.ts``
  rejects a 4,005-character line; the same code is bundled in wrangler 4.86's ``cli.js``). The docs
  say 1,000 ("Each redirect declaration has a 1,000-character limit",
  https://developers.cloudflare.com/workers/platform/limits/#redirects). The platform applies the
  code's number: wrangler runs this parser before it uploads the config and the asset worker only
  sees the rules it kept, so a 1,500-character rule deploys and is served.
* Status defaults to 302; allowed are 200, 301, 302, 303, 307, 308 (parsed with JavaScript
  ``Number``, so ``0x12D`` is 301). 200 is a rewrite ("proxying") and may only point at a relative
  path on the same site: a destination with a host is an invalid line for 200.
* The source must be relative (``https://...`` sources are rejected; a source without a leading
  ``/`` gets one). The destination may be relative or ``https://`` absolute (other schemes are
  invalid); it may carry a query string and a fragment. Both are normalised like a WHATWG URL path:
  dot segments resolved, spaces/non-ASCII/``"<>`{}`` percent-encoded. The source's query string and
  fragment are dropped: query parameters are not matched on.
* Splat ``*`` matches greedily (any characters, ``/`` included) and is referenced as ``:splat``.
  Placeholders are ``:[A-Za-z]\\w*``; in the path they match one or more characters other than
  ``/``. A rule whose pattern repeats a name (two ``*``, ``*`` with ``:splat``, ``:id`` twice) fails
  to compile on Cloudflare and silently never matches; here it is reported as a warning.
* Static rules (no splat and no placeholder) are limited to 2,000, dynamic ones to 100. A rule only
  counts as static while no dynamic rule has been seen: any static-looking rule after the first
  dynamic one counts (and is matched) as dynamic. Rules over the static limit are skipped one by
  one; the first rule over the dynamic limit ends parsing ("Skipping remaining N lines of file").
  Lines are counted before their destination and status are validated, so invalid lines count too.
* Only the first rule for a source applies; later duplicates are warnings. ``/* /index.html`` (or
  ``/index``) is always rejected as an infinite loop, and so is ``/ /index.html`` unless
  ``html_handling`` is ``none``.
* Matching is first rule in file order (static rules, which all come first, by exact lookup).
  Redirects run before asset lookup: "Redirects are always followed, regardless of whether or not
  an asset matches the incoming request", and before headers. Only the first rule applies: a 200
  rewrite is not itself looked up in ``_redirects`` again.
* ``Location``: the substituted destination, trimmed; for dynamic rules with a relative destination
  runs of ``/`` collapse to one. It is resolved against the request URL; when it has no query string
  the request's query string is kept (``destination.search || search``). A destination on the
  request's own origin is sent as a relative path. (workers-sdk PR #12627, which would have merged
  the two query strings, was closed rather than merged in the copy consulted.)

Matching works on the request's pathname as sent, never decoded (see :mod:`.rules`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .rules import ParseWarning, RulePattern, Warnings, is_dynamic, rule_lines, substitute
from .urls import (
    FRAGMENT_ENCODE,
    JS_WHITESPACE,
    QUERY_ENCODE,
    collapse_slashes,
    js_split_whitespace,
    js_trim,
    normalize_path,
    origin_host,
    pct_encode,
    request_hostname,
    search_string,
    split_reference,
    url_has_host,
    validate_url,
)

__all__ = [
    "DEFAULT_STATUS",
    "MAX_DYNAMIC_RULES",
    "MAX_LINE_LENGTH",
    "MAX_STATIC_RULES",
    "PERMITTED_STATUSES",
    "ParsedRedirects",
    "RedirectMatch",
    "RedirectRule",
    "parse_redirects",
]

MAX_STATIC_RULES = 2_000
MAX_DYNAMIC_RULES = 100
MAX_LINE_LENGTH = 2_000
DEFAULT_STATUS = 302
PERMITTED_STATUSES = frozenset({200, 301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class RedirectRule:
    """One valid rule: normalised ``source`` and ``destination``, ``status``, 1-based ``line``."""

    source: str
    destination: str
    status: int
    line: int
    static: bool


@dataclass(frozen=True, slots=True)
class RedirectMatch:
    """The first rule that matched a request.

    ``location`` is the ``Location`` to send (ASCII; relative for same-site destinations).
    ``pathname`` is the destination's encoded path, which is what a 200 rewrite serves.
    """

    status: int
    location: str
    pathname: str
    rule: RedirectRule

    @property
    def is_rewrite(self) -> bool:
        """A 200 rule: serve ``pathname`` in place, without a redirect."""
        return self.status == 200


_SCHEME = re.compile(r"\w+://", re.ASCII)


def _destination(to: str, search: str, request_origin: str | None) -> tuple[str, str]:
    """``new URL(to, request.url)`` boiled down to ``(Location, pathname)``."""
    path, query, fragment = split_reference(to)
    dest_search = "?" + pct_encode(query, QUERY_ENCODE) if query else ""
    dest_hash = "#" + pct_encode(fragment, FRAGMENT_ENCODE) if fragment else ""
    host: str | None = None
    if path[:8].lower() == "https://":
        rest = path[8:].replace("\\", "/").lstrip("/")
        host, slash, tail = rest.partition("/")
        path = slash + tail
    else:
        path = path.replace("\\", "/")  # the request URL is special (https): "\" is a "/"
        if path.startswith("//"):  # scheme-relative: a new host
            host, slash, tail = path.lstrip("/").partition("/")
            path = slash + tail
    pathname = normalize_path(path or "/")
    if host:
        host = host.lower()
        if host.endswith(":443"):
            host = host[:-4]
        if host != request_origin:
            return f"https://{host}{pathname}{dest_search or search}{dest_hash}", pathname
    return f"{pathname}{dest_search or search}{dest_hash}", pathname


@dataclass(frozen=True, slots=True)
class ParsedRedirects:
    """The valid rules of a ``_redirects`` file and the warnings from parsing it."""

    rules: tuple[RedirectRule, ...]
    warnings: tuple[ParseWarning, ...]
    _static: Mapping[str, RedirectRule] = field(repr=False)
    _dynamic: tuple[tuple[RulePattern, RedirectRule], ...] = field(repr=False)

    def match(self, path: str, *, query: str = "", host: str | None = None) -> RedirectMatch | None:
        """The first rule matching the request pathname ``path`` (as sent: see
        :func:`.urls.request_pathname`), with its computed ``Location``.

        ``query`` is the request's raw query string (with or without ``?``), kept in the
        ``Location`` when the destination has none; ``host`` is the request's ``Host`` (only
        needed to tell a destination on the same origin).
        """
        hostname = request_hostname(host)
        origin = origin_host(host)
        search = search_string(query)
        rule = self._static.get(path)
        if rule is not None:
            location, pathname = _destination(rule.destination, search, origin)
            return RedirectMatch(rule.status, location, pathname, rule)
        for pattern, rule in self._dynamic:
            captures = pattern.match(path, hostname)
            if captures is None:
                continue
            to = js_trim(substitute(rule.destination, captures))
            if not _SCHEME.match(to):
                to = collapse_slashes(to)
            location, pathname = _destination(to, search, origin)
            return RedirectMatch(rule.status, location, pathname, rule)
        return None


# JavaScript's /\s+#.*$/: "." stops at line terminators, "$" is the end of the line.
_INLINE_COMMENT = re.compile(f"[{JS_WHITESPACE}]+#[^\\n\\r\u2028\u2029]*\\Z")
_JS_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_JS_RADIX = re.compile(r"0([xX][0-9A-Fa-f]+|[oO][0-7]+|[bB][01]+)", re.ASCII)
_LOOP_SOURCE_SPLAT = re.compile(r".*/\*\Z", re.DOTALL)
_LOOP_DESTINATION = re.compile(r".*/index(.html)?\Z", re.DOTALL)


def _js_number(s: str) -> float | None:
    """JavaScript ``Number(s)`` for a non-empty token, ``None`` for ``NaN``."""
    if _JS_DECIMAL.fullmatch(s):
        return float(s)
    if _JS_RADIX.fullmatch(s):
        return float(int(s, 0))
    if s in ("Infinity", "+Infinity", "-Infinity"):
        return float(s.replace("Infinity", "inf"))
    return None


def parse_redirects(
    text: str,
    *,
    html_handling: str | None = None,
    max_static_rules: int = MAX_STATIC_RULES,
    max_dynamic_rules: int = MAX_DYNAMIC_RULES,
    max_line_length: int = MAX_LINE_LENGTH,
) -> ParsedRedirects:
    """Parse ``_redirects`` text; never raises: every problem becomes a :class:`ParseWarning`.

    ``html_handling`` is the site's setting: ``/ /index.html`` is only accepted when it is ``none``.
    """
    lines = text.split("\n")
    rules: list[RedirectRule] = []
    warn = Warnings("_redirects")
    seen: set[str] = set()
    static_count = dynamic_count = 0
    can_create_static = True

    for lineno, source_line, line in rule_lines(
        lines, max_line_length, warn, " (an inline comment counts too)"
    ):
        tokens = js_split_whitespace(_INLINE_COMMENT.sub("", line, count=1))
        if not 2 <= len(tokens) <= 3:
            warn(
                f"Expected exactly 2 or 3 whitespace-separated tokens. Got {len(tokens)}.",
                lineno,
                source_line,
            )
            continue
        str_from, str_to = tokens[0], tokens[1]
        str_status = tokens[2] if len(tokens) == 3 else str(DEFAULT_STATUS)

        source, error = validate_url(str_from, only_relative=True, disallow_ports=True)
        if source is None:
            warn(error, lineno, source_line)
            continue

        static = can_create_static and not is_dynamic(source)
        if static:
            static_count += 1
            if static_count > max_static_rules:
                warn(
                    f"Maximum number of static rules supported is {max_static_rules}. Skipping line.",
                    lineno,
                    source_line,
                )
                continue
        else:
            dynamic_count += 1
            can_create_static = False
            if dynamic_count > max_dynamic_rules:
                warn(
                    f"Maximum number of dynamic rules supported is {max_dynamic_rules}. "
                    f"Skipping remaining {len(lines) - lineno + 1} lines of file.",
                    lineno,
                )
                break

        destination, error = validate_url(
            str_to, only_relative=False, disallow_ports=False, include_search=True, include_hash=True
        )
        if destination is None:
            warn(error, lineno, source_line)
            continue

        number = _js_number(str_status)
        if number is None or number not in PERMITTED_STATUSES:
            warn(
                f"Valid status codes are 200, 301, 302 (default), 303, 307, or 308. Got {str_status}.",
                lineno,
                source_line,
            )
            continue
        status = int(number)

        if not url_has_host(destination) and _LOOP_DESTINATION.match(destination):
            root_to_index = source.endswith("/") and html_handling != "none"
            if _LOOP_SOURCE_SPLAT.match(source) or root_to_index:
                warn(
                    "Infinite loop detected in this rule and has been ignored. This will cause a "
                    "redirect to strip `.html` or `/index` and end up triggering this rule again. "
                    "Please fix or remove this rule to silence this warning.",
                    lineno,
                    source_line,
                )
                continue

        if source in seen:
            warn(f"Ignoring duplicate rule for path {source}.", lineno, source_line)
            continue
        seen.add(source)

        if status == 200 and url_has_host(destination):
            warn(
                f"Proxy (200) redirects can only point to relative paths. Got {destination}",
                lineno,
                source_line,
            )
            continue

        rules.append(RedirectRule(source, destination, status, lineno, static))

    static_rules: dict[str, RedirectRule] = {}
    dynamic: list[tuple[RulePattern, RedirectRule]] = []
    for rule in rules:
        if rule.static:
            static_rules.setdefault(rule.source, rule)
            continue
        try:
            dynamic.append((RulePattern(rule.source), rule))
        except ValueError as exc:
            warn(str(exc)[0].upper() + str(exc)[1:] + ".", rule.line, None, "ignored")
    return ParsedRedirects(tuple(rules), tuple(warn), static_rules, tuple(dynamic))
