"""What ``_redirects`` and ``_headers`` rules share: the source-pattern matcher and parse warnings.

A pattern is the asset worker's ``generateRuleRegExp`` and its replacer (``rules-engine.ts``):
a splat ``*`` matches greedily (``/`` included) and is referenced as ``:splat``; placeholders
``:[A-Za-z]\\w*`` match one or more characters other than ``/``; a pattern that repeats a name
fails to compile on Cloudflare and silently never matches, here it is a warning.

Matching works, as on Cloudflare, on the request's pathname as the URL parser leaves it
(``new URL(request.url).pathname``: percent-escapes kept as sent, raw UTF-8 and the WHATWG path set
percent-encoded, see :func:`.urls.request_pathname`), against the normalised rule text, never
decoded. So ``/100%/*`` matches a request for ``/100%/x`` but not ``/100%25/x``, and a capture is
substituted into a destination or header value exactly as it was sent. Pure and I/O-free.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from .urls import js_trim

_PATTERN_TOKEN = re.compile(r"\*|:[A-Za-z][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r":([A-Za-z][A-Za-z0-9_]*)")
_SPLAT_RE = "[^\n\r\u2028\u2029]*"  # JavaScript's "." does not match line terminators
_JS_ESCAPED = frozenset("-/\\^$+?.()|[]{}")  # what the rules engine escapes, bar "*" (the splat)


def is_dynamic(pattern: str) -> bool:
    """Does a normalised source contain a splat or a placeholder?"""
    return "*" in pattern or _PLACEHOLDER.search(pattern) is not None


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
            yield re.escape(literal)
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
        yield re.escape(tail)

    def match(self, path: str, hostname: str | None) -> dict[str, str] | None:
        """The captures if the request pathname ``path`` (as sent, not decoded) matches, else ``None``.

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
        return {k: v for k, v in m.groupdict().items() if v is not None}

    def __repr__(self) -> str:
        return f"RulePattern({self.source!r})"


def substitute(template: str, captures: Mapping[str, str]) -> str:
    """Replace each whole ``:name`` with its capture; names without a capture are left alone."""
    if ":" not in template:
        return template

    def repl(m: re.Match[str]) -> str:
        return captures.get(m.group(1), m.group(0))

    return _PLACEHOLDER.sub(repl, template)


WarningKind = Literal["rejected", "ignored"]


@dataclass(frozen=True, slots=True)
class ParseWarning:
    """A line of ``_redirects`` or ``_headers`` that was ignored, or a limit that was hit.

    ``kind`` says whose verdict it is: ``"rejected"`` lines are the ones Cloudflare's own parser
    drops (wrangler warns about each); ``"ignored"`` lines pass Cloudflare's parser but can never
    take effect there (a pattern that cannot compile, a block replaced by a later one for the
    same path, a header the runtime would refuse), so they are dropped here and said out loud.
    """

    file: str
    message: str
    line: int | None = None
    text: str | None = None
    kind: WarningKind = "rejected"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}" + (f"  | {self.text.strip()}" if self.text else "")


class Warnings(list[ParseWarning]):
    """The warnings of one parse of ``file``; calling it adds one."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    def __call__(
        self, message: str, lineno: int | None = None, line: str | None = None, kind: WarningKind = "rejected"
    ) -> None:
        self.append(ParseWarning(self.file, message, lineno, line, kind))


def rule_lines(
    lines: list[str], max_length: int, warn: Warnings, counted: str = ""
) -> Iterator[tuple[int, str, str]]:
    """The lines of a rule file to read, as (line number, the line as written, the line trimmed
    as JavaScript trims it): blank lines and comments are skipped, and so is a line over
    ``max_length`` characters, with a warning (``counted``: what its length includes besides)."""
    for i, raw in enumerate(lines):
        line = js_trim(raw)
        if not line or line.startswith("#"):
            continue
        if len(line) > max_length:
            warn(
                f"This line is {len(line):,} characters long, over the limit of {max_length:,}"
                f"{counted}, so it is ignored. Shorten it.",
                i + 1,
            )
            continue
        yield i + 1, raw, line
