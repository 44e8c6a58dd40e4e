"""Parse a root ``_redirects`` file and match request paths against it, as Workers Static Assets does.

Pure and I/O-free: text in, rules out; a path in, a status and ``Location`` out. This module also
holds the URL and rule-pattern helpers that :mod:`.headers` shares, since both files use the same
URL syntax and the same matcher on Cloudflare.

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
* A rule, not counting its comment, may be at most 1,000 characters (``MAX_REDIRECT_LINE_LENGTH``;
  the docs say "Each redirect declaration has a 1,000-character limit"; older workers-sdk versions
  used 2,000 for the whole line).
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

Matching here works on the already percent-decoded request path: the literal parts of each pattern
are percent-decoded too, and each capture is percent-encoded again (URL path set, plus ``%``) before
it is substituted into a destination or header value. Cloudflare compares the raw, encoded path;
the two agree whenever the client sent the canonical encoding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = [
    "DEFAULT_STATUS",
    "MAX_DYNAMIC_RULES",
    "MAX_LINE_LENGTH",
    "MAX_STATIC_RULES",
    "PERMITTED_STATUSES",
    "ParseWarning",
    "ParsedRedirects",
    "RedirectMatch",
    "RedirectRule",
    "RulePattern",
    "parse_redirects",
]

MAX_STATIC_RULES = 2_000
MAX_DYNAMIC_RULES = 100
MAX_LINE_LENGTH = 1_000
DEFAULT_STATUS = 302
PERMITTED_STATUSES = frozenset({200, 301, 302, 303, 307, 308})

# --------------------------------------------------------------------------------------------------
# Shared helpers: JavaScript whitespace, WHATWG-style URL normalisation, percent-coding.
# --------------------------------------------------------------------------------------------------

# What JavaScript's String.prototype.trim and \s treat as whitespace (Python's str.isspace differs:
# it includes U+001C-U+001F and U+0085, and excludes U+FEFF).
JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_WS_RUN = re.compile(f"[{JS_WHITESPACE}]+")
_JS_TRIM = re.compile(f"^[{JS_WHITESPACE}]+|[{JS_WHITESPACE}]+$")


def js_trim(s: str) -> str:
    """``s.trim()`` as JavaScript does it."""
    return _JS_TRIM.sub("", s)


def js_split_whitespace(s: str) -> list[str]:
    """``s.split(/\\s+/)`` as JavaScript does it (``s`` already trimmed)."""
    return _JS_WS_RUN.split(s)


# WHATWG percent-encode sets, beyond C0 controls and everything above U+007E (always encoded).
PATH_ENCODE = frozenset(' "#<>?`{}')
QUERY_ENCODE = frozenset(' "#<>')
FRAGMENT_ENCODE = frozenset(' "<>`')
# A capture from a decoded path goes back into a URL or header value: a literal % must be %25 again.
CAPTURE_ENCODE = PATH_ENCODE | {"%"}


def pct_encode(s: str, extra: frozenset[str]) -> str:
    """Percent-encode C0 controls, DEL and non-ASCII (as UTF-8) and the characters in ``extra``."""
    out: list[str] = []
    for ch in s:
        o = ord(ch)
        if o < 0x20 or o >= 0x7F or ch in extra:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append(ch)
    return "".join(out)


_PCT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_BAD_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _decode_run(m: re.Match[str]) -> str:
    return bytes.fromhex(m.group().replace("%", "")).decode("utf-8")


def decode_uri_component(s: str) -> str:
    """``decodeURIComponent(s)``, or ``s`` unchanged where JavaScript would throw (bad ``%``, bad UTF-8)."""
    if "%" not in s or _BAD_PCT.search(s):
        return s
    try:
        return _PCT_RUN.sub(_decode_run, s)
    except UnicodeDecodeError:
        return s


def decode_path(pathname: str) -> str:
    """The asset worker's ``decodePath``: decode each ``/`` segment, then collapse runs of ``/``."""
    return _SLASHES.sub("/", "/".join(decode_uri_component(seg) for seg in pathname.split("/")))


_SLASHES = re.compile(r"/+")
_URI_COMPONENT_SAFE = "!*'()"  # plus ASCII letters, digits and "_.-~", which quote never encodes


def encode_path(pathname: str) -> str:
    """The asset worker's ``encodePath``: ``encodeURIComponent`` on each ``/`` segment.

    Lone surrogates (where JavaScript would throw and keep the segment raw) are encoded as if they
    were valid code points, so the result is always ASCII and fit for a ``Location`` header.
    """
    return "/".join(
        quote(seg, safe=_URI_COMPONENT_SAFE, encoding="utf-8", errors="surrogatepass")
        for seg in pathname.split("/")
    )


def split_reference(s: str) -> tuple[str, str | None, str | None]:
    """Split a URL reference into path, query (without ``?``) and fragment (without ``#``)."""
    fragment: str | None = None
    hash_at = s.find("#")
    if hash_at != -1:
        s, fragment = s[:hash_at], s[hash_at + 1 :]
    query: str | None = None
    q_at = s.find("?")
    if q_at != -1:
        s, query = s[:q_at], s[q_at + 1 :]
    return s, query, fragment


_SINGLE_DOT = frozenset({".", "%2e"})
_DOUBLE_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def normalize_path(path: str) -> str:
    """A WHATWG URL path: dot segments (also ``%2e`` forms) resolved, the path set percent-encoded."""
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    out: list[str] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        low = seg.lower()
        if low in _DOUBLE_DOT:
            if out:
                out.pop()
            if i == last:
                out.append("")
        elif low in _SINGLE_DOT:
            if i == last:
                out.append("")
        else:
            out.append(pct_encode(seg, PATH_ENCODE))
    return "/" + "/".join(out)


_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


def extract_pathname(path: str, include_search: bool, include_hash: bool) -> str:
    """workers-shared ``extractPathname``: ``new URL("//" + path, "relative://")``'s path (+search/hash)."""
    if not path.startswith("/"):
        path = "/" + path
    path = path.rstrip(_C0_OR_SPACE).translate(_TAB_NEWLINE)
    p, query, fragment = split_reference(path)
    out = normalize_path(p)
    if include_search and query:
        out += "?" + pct_encode(query, QUERY_ENCODE)
    if include_hash and fragment:
        out += "#" + pct_encode(fragment, FRAGMENT_ENCODE)
    return out


_URL_WITH_HOST = re.compile(r"https://+(?P<host>[^/]+)/?(?P<path>.*)", re.DOTALL)
_HOST_WITH_PORT = re.compile(r".*:[0-9]+", re.DOTALL)


def url_has_host(token: str) -> bool:
    """workers-shared ``urlHasHost``: does the token start ``https://`` followed by a host?"""
    return _URL_WITH_HOST.match(token) is not None


def validate_url(
    token: str,
    *,
    only_relative: bool,
    disallow_ports: bool,
    include_search: bool = False,
    include_hash: bool = False,
) -> tuple[str | None, str]:
    """workers-shared ``validateUrl``: ``(normalised, "")`` or ``(None, error message)``."""
    m = _URL_WITH_HOST.match(token)
    if m is not None:
        host = m.group("host")
        if only_relative:
            return None, f"Only relative URLs are allowed. Skipping absolute URL {token}."
        if disallow_ports and _HOST_WITH_PORT.fullmatch(host):
            return None, f"Specifying ports is not supported. Skipping absolute URL {token}."
        return f"https://{host}{extract_pathname(m.group('path'), include_search, include_hash)}", ""
    if not token.startswith("/") and only_relative:
        token = "/" + token
    if token.startswith("/"):
        return extract_pathname(token, include_search, include_hash), ""
    if only_relative:
        return None, "URLs should begin with a forward-slash."
    return None, (
        "URLs should either be relative (e.g. begin with a forward-slash), "
        'or use HTTPS (e.g. begin with "https://").'
    )


def request_hostname(host: str | None) -> str | None:
    """The ``hostname`` of a ``Host`` value: lower-cased, without its port."""
    if host is None:
        return None
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and port.isascii() else host


def origin_host(host: str | None) -> str | None:
    """The host and port of an ``https`` origin for a ``Host`` value (``:443`` dropped)."""
    if host is None:
        return None
    host = host.strip().lower()
    return host[:-4] if host.endswith(":443") else host


def search_string(query: str) -> str:
    """``URL.search`` for a raw query string given with or without its ``?``: ``""`` when empty."""
    if query.startswith("?"):
        query = query[1:]
    return "?" + pct_encode(query, QUERY_ENCODE) if query else ""


# --------------------------------------------------------------------------------------------------
# Rule patterns: the asset worker's generateRuleRegExp + replacer, on decoded paths.
# --------------------------------------------------------------------------------------------------

_PATTERN_TOKEN = re.compile(r"\*|:[A-Za-z][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r":([A-Za-z][A-Za-z0-9_]*)")
_SPLAT_RE = "[^\n\r\u2028\u2029]*"  # JavaScript's "." does not match line terminators
_JS_ESCAPED = frozenset("-/\\^$+?.()|[]{}")  # what the rules engine escapes, bar "*" (the splat)


def is_dynamic(pattern: str) -> bool:
    """Does a normalised source contain a splat or a placeholder?"""
    return "*" in pattern or _PLACEHOLDER.search(pattern) is not None


def _decode_literal(text: str) -> str:
    return "/".join(decode_uri_component(seg) for seg in text.split("/"))


class RulePattern:
    """A compiled ``_redirects``/``_headers`` source pattern, matched against decoded paths."""

    __slots__ = ("cross_host", "source", "_regex")

    def __init__(self, source: str) -> None:
        """Compile a normalised source; ``ValueError`` if Cloudflare's regex would not compile."""
        self.source = source
        self.cross_host = source.startswith("https://")
        parts: list[str] = []
        if self.cross_host:
            slash = source.find("/", len("https://"))
            if slash == -1:
                slash = len(source)
            parts.append(re.escape("https://"))
            parts.extend(self._translate(source[len("https://") : slash], source[slash : slash + 1], True))
            parts.extend(self._translate(source[slash:], "", False))
        else:
            parts.extend(self._translate(source, "", False))
        problem = self._repeated_name(source)
        if problem:
            raise ValueError(
                f"the pattern {source} can never match: it has {problem}, so Cloudflare ignores it"
            )
        self._regex = re.compile("".join(parts))

    @staticmethod
    def _repeated_name(source: str) -> str:
        """Why Cloudflare's regex for ``source`` would not compile (a repeated group name), or ``""``."""
        seen: set[str] = set()
        splats = 0
        for m in _PATTERN_TOKEN.finditer(source):
            name = "splat" if m.group() == "*" else m.group()[1:]
            splats += m.group() == "*"
            if name in seen:
                if splats > 1:
                    return "more than one splat (*)"
                if name == "splat":
                    return "both a splat (*) and a :splat placeholder"
                return f"the placeholder :{name} more than once"
            seen.add(name)
        return ""

    @staticmethod
    def _translate(text: str, follower: str, in_host: bool) -> Iterator[str]:
        pos = 0
        for m in _PATTERN_TOKEN.finditer(text):
            literal = text[pos : m.start()]
            yield re.escape(literal if in_host else _decode_literal(literal))
            token = m.group()
            if token == "*":
                yield f"(?P<splat>{_SPLAT_RE})"
            else:
                nxt = text[m.end() : m.end() + 1] or follower
                # Host placeholders stop at "." as well as "/" when followed by an escaped character.
                cls = "[^/.]+" if in_host and nxt in _JS_ESCAPED and nxt else "[^/]+"
                yield f"(?P<{token[1:]}>{cls})"
            pos = m.end()
        tail = text[pos:]
        yield re.escape(tail if in_host else _decode_literal(tail))

    def match(self, path: str, hostname: str | None) -> dict[str, str] | None:
        """The captures (re-encoded for a URL) if ``path`` matches, else ``None``.

        Rules with a host only match when ``hostname`` is given; the request's scheme and port are
        ignored, as on Cloudflare (the test string is always ``https://{hostname}{path}``).
        """
        if self.cross_host:
            if hostname is None:
                return None
            subject = f"https://{hostname}{path}"
        else:
            subject = path
        m = self._regex.fullmatch(subject)
        if m is None:
            return None
        return {k: pct_encode(v, CAPTURE_ENCODE) for k, v in m.groupdict().items() if v is not None}

    def __repr__(self) -> str:
        return f"RulePattern({self.source!r})"


def substitute(template: str, captures: Mapping[str, str]) -> str:
    """Replace each whole ``:name`` with its capture; names without a capture are left alone."""
    if ":" not in template:
        return template

    def repl(m: re.Match[str]) -> str:
        return captures.get(m.group(1), m.group(0))

    return _PLACEHOLDER.sub(repl, template)


# --------------------------------------------------------------------------------------------------
# Warnings, rules, parsing and matching.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParseWarning:
    """A line of ``_redirects`` or ``_headers`` that was ignored, or a limit that was hit."""

    file: str
    message: str
    line: int | None = None
    text: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}" + (f"  | {self.text.strip()}" if self.text else "")


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
        """The first rule matching the decoded ``path``, with its computed ``Location``.

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
                to = _SLASHES.sub("/", to)
            location, pathname = _destination(to, search, origin)
            return RedirectMatch(rule.status, location, pathname, rule)
        return None


_COMMENT = re.compile(f"(^|[{JS_WHITESPACE}]+)#.*\\Z", re.DOTALL)
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
    warnings: list[ParseWarning] = []
    seen: set[str] = set()
    static_count = dynamic_count = 0
    can_create_static = True

    def warn(message: str, lineno: int | None = None, line: str | None = None) -> None:
        warnings.append(ParseWarning("_redirects", message, lineno, line))

    for i, source_line in enumerate(lines):
        lineno = i + 1
        directive = _COMMENT.sub("", js_trim(source_line), count=1)
        if not directive:
            continue
        if len(directive) > max_line_length:
            warn(
                f"Ignoring line {lineno} as the redirect directive exceeds the maximum allowed "
                f"length of {max_line_length}."
            )
            continue
        tokens = js_split_whitespace(directive)
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
                warn(f"Maximum number of static rules supported is {max_static_rules}. Skipping line.")
                continue
        else:
            dynamic_count += 1
            can_create_static = False
            if dynamic_count > max_dynamic_rules:
                warn(
                    f"Maximum number of dynamic rules supported is {max_dynamic_rules}. "
                    f"Skipping remaining {len(lines) - i} lines of file."
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
            static_rules.setdefault(_decode_literal(rule.source), rule)
            continue
        try:
            dynamic.append((RulePattern(rule.source), rule))
        except ValueError as exc:
            warn(str(exc)[0].upper() + str(exc)[1:] + ".", rule.line, None)
    return ParsedRedirects(tuple(rules), tuple(warnings), static_rules, tuple(dynamic))
