"""Where each key of a config file is written, so that a message about a value can name its line.

Neither ``json`` nor ``tomllib`` keeps positions, so these re-read the text: a token scan for
JSON, a line-based one for TOML. Good enough for messages, not a parser.
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib

__all__ = ["KeyPath", "json_key_lines", "toml_key_lines"]

KeyPath = tuple[str | int, ...]  # ("assets", "directory"), ("compatibility_flags", 1)


def json_key_lines(text: str) -> dict[KeyPath, int]:
    """Line of each key (and array element) in valid JSON ``text``, by key path."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines: dict[KeyPath, int] = {}
    kinds: list[str] = []  # "{" or "[" for each open container
    keys: list[str | int] = []  # the current key or index in each open container
    expect_key = False
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', text, re.S):
        token = match.group()
        line = bisect.bisect_right(starts, match.start())
        kind = kinds[-1] if kinds else ""
        if kind == "{" and expect_key and token.startswith('"'):
            keys[-1] = json.loads(token)
            lines[tuple(keys)] = line
            expect_key = False
            continue
        if kind == "[" and token not in ("]", ","):
            lines[tuple(keys)] = line
        if token in ("{", "["):
            kinds.append(token)
            keys.append("" if token == "{" else 0)
            expect_key = token == "{"
        elif token in ("}", "]"):
            kinds.pop()
            keys.pop()
            expect_key = False
        elif token == ",":
            last_key = keys[-1]
            if kind == "[" and isinstance(last_key, int):
                keys[-1] = last_key + 1
            elif kind == "{":
                expect_key = True
    return lines


_TOML_ATOM = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_TOML_DOTTED = rf"{_TOML_ATOM}(?:[ \t]*\.[ \t]*{_TOML_ATOM})*"
_TOML_HEADER = re.compile(rf"^[ \t]*(\[\[?)[ \t]*({_TOML_DOTTED})[ \t]*\]\]?")
_TOML_KEY = re.compile(rf"^[ \t]*({_TOML_DOTTED})[ \t]*=[ \t]*(.*)$")


def _toml_key_path(expression: str) -> tuple[str, ...]:
    """``a."b.c".d`` -> ``("a", "b.c", "d")``, letting tomllib do the unquoting."""
    try:
        node: object = tomllib.loads(f"{expression} = 0")
    except tomllib.TOMLDecodeError:
        return ()
    parts: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        key, node = next(iter(node.items()))
        parts.append(key)
    return tuple(parts)


def toml_key_lines(text: str) -> dict[KeyPath, int]:
    """Line of each key, table header and dotted key in TOML ``text``, by full key path.

    A line-based reading, good enough for messages: it follows ``[table]`` headers and
    ``[[array]]`` tables (the n-th ``[[kv_namespaces]]`` is ``("kv_namespaces", n)``, as the
    parsed config indexes it), and skips the inside of multi-line strings. Keys inside inline
    tables or arrays are found through their parent.
    """
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    counts: dict[KeyPath, int] = {}  # how many [[path]] tables so far
    in_string: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _TOML_HEADER.match(line)
        if header:
            path = _toml_key_path(header.group(2))
            if header.group(1) == "[[":
                counts[path] = counts.get(path, -1) + 1
                table = (*path, counts[path])
                lines.setdefault(path, number)
                lines[table] = number
            else:
                table = path
                lines.setdefault(path, number)
            continue
        key = _TOML_KEY.match(line)
        if key:
            lines.setdefault((*table, *_toml_key_path(key.group(1))), number)
            value = key.group(2)
            for quote in ('"""', "'''"):
                if value.startswith(quote) and value.count(quote) % 2 == 1:
                    in_string = quote
    return lines
