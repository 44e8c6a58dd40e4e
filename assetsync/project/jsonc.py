"""JSONC, the JSON with comments that wrangler reads its ``.json`` and ``.jsonc`` configs as.

wrangler parses both with ``jsonc-parser`` (``parseJSONC``), which takes ``//`` and ``/* */``
comments and, in current versions (``allowTrailingComma: true``), trailing commas. Older
wranglers rejected trailing commas; we accept them, as current wrangler does. Comments and
trailing commas are blanked out by :func:`strip_jsonc` (a small scanner that knows about
strings), then the stdlib ``json`` parses the result. Blanking keeps every character's line and
column, so a syntax error points at the right place in the user's file.
"""

from __future__ import annotations

import json
import re
from typing import NoReturn

__all__ = ["JsoncError", "parse_jsonc", "strip_jsonc"]


class JsoncError(ValueError):
    """Text that is not JSONC: ``msg`` says what is wrong and ``fix`` what to do; ``pos`` is the
    offset, ``line`` and ``column`` (1-based) where it is, all None when the place is not known."""

    def __init__(self, msg: str, pos: int | None, text: str = "", fix: str = "") -> None:
        super().__init__(msg if pos is None else f"{msg} at offset {pos}")
        self.msg = msg
        self.pos = pos
        where: tuple[int | None, int | None] = (None, None) if pos is None else _line_column(text, pos)
        self.line, self.column = where
        self.fix = fix


def _line_column(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of ``pos``, counted the way ``json`` counts them (``\\n`` only)."""
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def parse_jsonc(text: str) -> tuple[object, str]:
    """The value of the JSONC ``text``, and the plain JSON it was parsed from (same positions).

    Raises :class:`JsoncError` for anything JSON does not allow, past comments and trailing
    commas: ``NaN`` and ``Infinity`` too, which Python's ``json`` takes and wrangler does not.
    """
    plain = strip_jsonc(text)
    try:
        return json.loads(plain, parse_constant=_reject_constant), plain
    except json.JSONDecodeError as exc:
        raise JsoncError(
            f"not valid JSON ({exc.msg})",
            exc.pos,
            plain,
            "Fix the syntax there (comments and trailing commas are allowed)",
        ) from None


def _reject_constant(name: str) -> NoReturn:
    """Python's json takes NaN and Infinity; JSON (and wrangler's parser) do not."""
    raise JsoncError(f"{name} is not a JSON value", None, fix="Replace it with a number or a quoted string")


_BLANKABLE = re.compile(r"[^\r\n]")


def strip_jsonc(text: str) -> str:
    """``text`` with its comments and trailing commas replaced by spaces, for ``json.loads``.

    The result has the same length and the same line breaks, so any position ``json`` reports in
    it is the position in ``text``. Strings are copied untouched: ``"http://x"``, ``"/* */"``,
    ``"a\\"//b"`` and ``",]"`` stay as they are. A trailing comma is one followed (past blanks and
    comments) by ``]`` or ``}`` and preceded by a value; a comma after ``[``, ``{`` or another comma
    is left for ``json`` to reject, as wrangler's parser would.

    Anything else that is not JSON is left alone for ``json.loads`` to report. Raises
    :class:`JsoncError` only for a ``/*`` that is never closed.
    """
    out = list(text)
    n = len(text)
    i = 0
    last = -1  # index of the last significant character (a string counts as its closing quote)
    before = ""  # the significant character before ``last``, once blanked commas are skipped
    while i < n:
        ch = text[i]
        if ch == "/" and text.startswith("//", i):
            while i < n and text[i] not in "\r\n":
                out[i] = " "
                i += 1
            continue
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise JsoncError(
                    "unterminated /* comment", i, text, "Fix the syntax there (close the comment with */)"
                )
            out[i : end + 2] = _BLANKABLE.sub(" ", text[i : end + 2])
            i = end + 2
            continue
        if ch.isspace():
            i += 1
            continue
        if ch in "]}" and last >= 0 and text[last] == "," and before not in ("", "[", "{", ","):
            out[last] = " "  # a trailing comma: what came before it is now the previous token
        else:
            before = text[last] if last >= 0 else ""
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i = min(i, n - 1)  # an unterminated string is json's to report
        last = i
        i += 1
    return "".join(out)
