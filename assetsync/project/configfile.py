"""Finding a wrangler config file and reading it into a table, as wrangler does; what the
values mean is :mod:`.wrangler`'s business."""

from __future__ import annotations

import datetime
import json
import os
import re
import tomllib
from typing import Literal

from ..errors import ConfigError
from .jsonc import JsoncError, parse_jsonc
from .keylines import KeyPath, json_key_lines, toml_key_lines

__all__ = [
    "CONFIG_FILE_NAMES",
    "DEPLOY_REDIRECT",
    "Format",
    "describe",
    "find_config",
    "find_redirect",
    "read_config",
]

Format = Literal["toml", "json"]

# wrangler's own search order (findWranglerConfig): JSON first, TOML last.
CONFIG_FILE_NAMES: tuple[str, ...] = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")


# Where build tools (Cloudflare's Vite plugin) leave a pointer to the config of what they built;
# `wrangler deploy` follows it (findRedirectedWranglerConfig).
DEPLOY_REDIRECT = os.path.join(".wrangler", "deploy", "config.json")


def _folders(start: str, upward: bool) -> list[str]:
    """``start`` (absolute), then, ``upward``, each of its parents up to the root."""
    folders = [os.path.abspath(start)]
    while upward and os.path.dirname(folders[-1]) != folders[-1]:
        folders.append(os.path.dirname(folders[-1]))
    return folders


def find_redirect(start: str, *, upward: bool = True) -> str | None:
    """The :data:`DEPLOY_REDIRECT` file found from ``start`` as a config is found, or ``None``."""
    for folder in _folders(start, upward):
        candidate = os.path.join(folder, DEPLOY_REDIRECT)
        if os.path.isfile(candidate):
            return candidate
    return None


def find_config(start: str, *, upward: bool = True) -> str | None:
    """The wrangler config file for the folder ``start``, or ``None``; an absolute path.

    As wrangler: each name in :data:`CONFIG_FILE_NAMES` in turn, looked for in ``start`` and
    then (``upward``) each of its parents up to the root, so the first name found anywhere up the
    tree wins. ``upward=False``: ``start`` only. A missing ``start`` simply has no config.
    """
    folders = _folders(start, upward)
    for name in CONFIG_FILE_NAMES:
        for folder in folders:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return candidate
    return None


def read_config(path: str) -> tuple[dict[str, object], Format, dict[KeyPath, int]]:
    """The table in the config file ``path``, its format, and the line of each key path.

    Raises :class:`ConfigError` for a file that is missing, unreadable, badly encoded or not valid
    TOML/JSONC, naming the file and, when known, the line and column.
    """
    fmt = _format_of(path)
    raw, lines = _parse(path, _read_text(path), fmt)
    return raw, fmt, lines


def _format_of(path: str) -> Format:
    """Pick the parser from the extension, as wrangler does (``.json`` and ``.jsonc`` alike)."""
    lowered = path.lower()
    if lowered.endswith(".toml"):
        return "toml"
    if lowered.endswith((".json", ".jsonc")):
        return "json"
    # wrangler would silently read such a file as an empty config; an explicit path that we
    # cannot read is far more likely a mistake, so say so.
    raise ConfigError(
        f"{path}: not a wrangler configuration file name. "
        "Pass a file ending in .toml, .json or .jsonc (e.g. wrangler.toml)."
    )


_BAD_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "UTF-32 LE"),
    (b"\xfe\xff", "UTF-16 BE"),
    (b"\xff\xfe", "UTF-16 LE"),
)


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file. Check the path of the wrangler config.") from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a folder, not a file. Pass the wrangler config file itself "
            "(e.g. .../wrangler.toml), or search the folder instead."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}. Check the path and its permissions."
        ) from None
    for bom, encoding in _BAD_BOMS:
        if data.startswith(bom):
            raise ConfigError(f"{path} is encoded as {encoding}. Save it as UTF-8 (without a BOM).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}, line {line}: not valid UTF-8 text. Save the file as UTF-8.") from None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)$")


def _parse(path: str, text: str, fmt: Format) -> tuple[dict[str, object], dict[KeyPath, int]]:
    """Parse ``text``; return the top-level table and where (line) each key path was written."""
    if fmt == "toml":
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _toml_syntax_error(path, exc) from None
        return table, toml_key_lines(text)

    try:
        raw, plain = parse_jsonc(text)
    except JsoncError as exc:
        where = path if exc.line is None else f"{path}, line {exc.line}, column {exc.column}"
        raise ConfigError(f"{where}: {exc.msg}. {exc.fix}.") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: the top level is {describe(raw, 'json')}, but a wrangler config is an object. "
            'Wrap the settings in { ... }, e.g. { "name": "my-worker" }.'
        )
    return raw, json_key_lines(plain)


def _toml_syntax_error(path: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(exc)
    line = getattr(exc, "lineno", None)  # Python 3.14+ carries the position as attributes
    column = getattr(exc, "colno", None)
    match = _TOML_POSITION.search(message)
    if match:
        message = message[: match.start()]
        line, column = int(match.group(1)), int(match.group(2))
    elif _TOML_AT_END.search(message):
        message = _TOML_AT_END.sub("", message)
        return ConfigError(
            f"{path}, at the end of the file: not valid TOML ({message}). "
            "Fix the syntax (look for an unclosed string, bracket or table header)."
        )
    where = f"{path}, line {line}, column {column}" if line is not None else path
    return ConfigError(f"{where}: not valid TOML ({message}). Fix the syntax there.")


def describe(value: object, fmt: Format) -> str:
    """What a value is, in the vocabulary of the file's format, with the value when short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, dict):
        return "a table" if fmt == "toml" else "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return f"an unquoted TOML date/time ({value.isoformat()})"
    return type(value).__name__
