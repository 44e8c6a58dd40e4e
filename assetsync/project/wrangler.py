"""Read an existing Workers project's wrangler configuration (``wrangler.json``/``.jsonc``/``.toml``).

assetsync publishes into projects that wrangler already manages, so it reads the same file wrangler
would, the same way, and takes from it only what publishing assets needs: the Worker's name, entry
point, compatibility settings, the ``assets`` table and the ``vars``. Everything else (bindings,
routes, observability...) is ignored, not rejected: real configs carry many keys we do not use.

What wrangler does, and what we copy (checked in ``cloudflare/workers-sdk``:
``packages/wrangler/src/config/config-helpers.ts``, since moved to
``packages/workers-utils/src/config/config-helpers.ts``; and ``.../parse.ts`` next to it):

* **Precedence.** ``findWranglerConfig`` tries ``wrangler.json``, then ``wrangler.jsonc``, then
  ``wrangler.toml``. So *JSON wins over TOML*, whatever order one might guess from the docs
  listing TOML first. :func:`find_config` uses that order.
* **Where it looks.** wrangler walks up the parent folders (``find-up``), one file name at a time,
  so a ``wrangler.json`` in a parent beats a ``wrangler.toml`` in the current folder. We do not
  walk up: :func:`find_config` looks in the one folder it is given, so a config is never picked up
  from an unrelated parent project by accident. Pass ``path`` explicitly to read one elsewhere.
* **An explicit path** (wrangler's ``--config``) always wins over the search.
* **JSON syntax.** ``.json`` and ``.jsonc`` both go through the same JSONC parser (``jsonc-parser``,
  ``parseJSONC``): comments and trailing commas are allowed (:mod:`.jsonc`).
* **Encoding.** A UTF-8 BOM is dropped; a UTF-16/UTF-32 BOM is an error (wrangler does the same).
* **vars.** wrangler uploads a string var as a ``plain_text`` binding and *any other* value
  (number, boolean, array, table, null) as a ``json`` binding holding that value, so
  ``env.DEBUG`` is the boolean ``true`` in the Worker, not the string ``"true"``. Folding those
  into plain text would change what the Worker sees, so they are kept apart: :attr:`ProjectConfig.vars`
  holds the strings, :attr:`ProjectConfig.json_vars` holds the JSON text of the others.
* **Environments.** ``[env.<name>]`` sections are not applied: only the top-level values are read.
  They are not validated either, and never cause an error.

Validation follows wrangler's rules for the fields we read and fails early, with a
:class:`~assetsync.errors.ConfigError` that names the file, the key and, when it can be found, the
line, and says what to write instead.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NoReturn

from ..errors import ConfigError
from ..protocol import HTML_HANDLING, NOT_FOUND_HANDLING, api_today, date_problem
from .jsonc import JsoncError, parse_jsonc
from .keylines import KeyPath, json_key_lines, toml_key_lines

__all__ = ["CONFIG_FILE_NAMES", "ProjectConfig", "find_config", "load_config"]

# wrangler's own search order (findWranglerConfig): JSON first, TOML last.
CONFIG_FILE_NAMES: tuple[str, ...] = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")


_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """The parts of a wrangler configuration that publishing assets needs (top level only).

    Every field is ``None`` or empty when the file does not set it, and when no file was found.
    """

    path: str | None = None
    """Absolute path of the file read; ``None`` if there was none."""
    name: str | None = None
    main: str | None = None
    """The Worker's entry point, made absolute against the config file's folder."""
    compatibility_date: str | None = None
    """``YYYY-MM-DD``."""
    compatibility_flags: tuple[str, ...] = ()
    assets_directory: str | None = None
    """``assets.directory``, made absolute against the config file's folder."""
    assets_binding: str | None = None
    html_handling: str | None = None
    not_found_handling: str | None = None
    run_worker_first: bool | tuple[str, ...] | None = None
    vars: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    """String ``vars``: wrangler uploads each as a ``plain_text`` binding."""
    json_vars: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    """Non-string ``vars``, as compact JSON text: wrangler uploads each as a ``json`` binding."""

    def var_bindings(self) -> tuple[dict[str, Any], ...]:
        """The ``vars`` as the bindings wrangler uploads for them (with a Worker only)."""
        text = tuple({"type": "plain_text", "name": k, "text": v} for k, v in self.vars.items())
        return text + tuple(
            {"type": "json", "name": k, "json": json.loads(v)} for k, v in self.json_vars.items()
        )


# --------------------------------------------------------------------------------------------------
# Finding and reading the file


def find_config(start: str) -> str | None:
    """The wrangler config file in the folder ``start``, or ``None``.

    Only ``start`` itself is searched (not its parents), in wrangler's order: ``wrangler.json``,
    ``wrangler.jsonc``, ``wrangler.toml``. A missing ``start`` simply has no config. The result is
    an absolute path.
    """
    for name in CONFIG_FILE_NAMES:
        candidate = os.path.join(start, name)
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def load_config(path: str | None = None, *, search: str | None = None) -> ProjectConfig:
    """Read and validate a wrangler config.

    ``path`` given: read that file (it must exist; ``search`` is then ignored, as wrangler's
    ``--config`` beats its search). Otherwise look in the folder ``search`` (default: the current
    folder) with :func:`find_config`; if nothing is there, return an empty :class:`ProjectConfig`.

    Raises :class:`ConfigError` for a file that is missing, unreadable, malformed or holds a value
    of the wrong type.
    """
    if path is None:
        path = find_config(os.getcwd() if search is None else search)
        if path is None:
            return ProjectConfig()
    path = os.path.abspath(path)
    fmt = _format_of(path)
    text = _read_text(path)
    raw, located = _parse(path, text, fmt)
    return _build(raw, _Source(path, fmt, located))


def _format_of(path: str) -> Literal["toml", "json"]:
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


# --------------------------------------------------------------------------------------------------
# Parsing

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)$")


def _parse(
    path: str, text: str, fmt: Literal["toml", "json"]
) -> tuple[dict[str, object], dict[KeyPath, int]]:
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
            f"{path}: the top level is {_describe(raw, 'json')}, but a wrangler config is an object. "
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


# --------------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True, slots=True)
class _Source:
    path: str
    fmt: Literal["toml", "json"]
    lines: dict[KeyPath, int]

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path)

    def fail(self, key: KeyPath, problem: str, fix: str) -> NoReturn:
        """Raise the ConfigError for ``key``: file, line if known, the key, what to do."""
        line = None
        for size in range(len(key), 0, -1):  # the key itself, else its nearest written parent
            line = self.lines.get(key[:size])
            if line is not None:
                break
        where = self.path if line is None else f"{self.path}, line {line}"
        end = "" if fix.endswith(".") else "."
        raise ConfigError(f"{where}: {_dotted(key)} {problem}. {fix}{end}")

    def table_word(self) -> str:
        return "a table" if self.fmt == "toml" else "an object"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _dotted(key: KeyPath) -> str:
    """``("assets", "html_handling")`` -> ``assets.html_handling``; ``("f", 1)`` -> ``f[1]``."""
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            text += name if not text else f".{name}"
    return text


def _describe(value: object, fmt: Literal["toml", "json"]) -> str:
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


def _opt_string(src: _Source, table: Mapping[str, object], key: KeyPath, *, empty_ok: bool) -> str | None:
    value = table.get(str(key[-1]))
    if value is None:
        return None
    if not isinstance(value, str):
        fix = "Write one string instead" if isinstance(value, list | dict) else "Put the value in quotes"
        src.fail(key, f"is {_describe(value, src.fmt)}, but must be a string", fix)
    if not value and not empty_ok:
        src.fail(key, "is empty", "Give it a value, or remove the key")
    return value


def _opt_choice(
    src: _Source, table: Mapping[str, object], key: KeyPath, choices: Collection[str]
) -> str | None:
    value = _opt_string(src, table, key, empty_ok=True)
    if value is not None and value not in choices:
        listed = ", ".join(f'"{choice}"' for choice in sorted(choices))
        src.fail(
            key, f"is {_describe(value, src.fmt)}, which wrangler does not accept", f"Use one of {listed}"
        )
    return value


def _string_list(src: _Source, value: list[object], key: KeyPath) -> tuple[str, ...]:
    for index, item in enumerate(value):
        if not isinstance(item, str):
            src.fail(
                (*key, index),
                f"is {_describe(item, src.fmt)}, but every entry must be a string",
                "Put the entry in quotes",
            )
    return tuple(item for item in value if isinstance(item, str))


def _compatibility_date(src: _Source, raw: Mapping[str, object]) -> str | None:
    key: KeyPath = ("compatibility_date",)
    value = raw.get("compatibility_date")
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        # ``compatibility_date = 2024-09-23`` is a TOML date, which wrangler rejects (not a string).
        src.fail(
            key,
            "is an unquoted TOML date, but wrangler needs a string",
            f'Put it in quotes: compatibility_date = "{value.isoformat()}"',
        )
    text = _opt_string(src, raw, key, empty_ok=False)
    if text is None:
        return None
    if "\u2013" in text or "\u2014" in text:
        src.fail(
            key,
            f"is {_describe(text, src.fmt)}, written with an en or em dash",
            'Use plain hyphens (-), as in "2024-09-23"',
        )
    words = date_problem(text, api_today())  # the flag's words too: the rule is the API's
    if words is not None:
        src.fail(key, f"is {text!r}, {words[0]}", words[1])
    return text


def _resolve(src: _Source, value: str | None) -> str | None:
    """A path from the config, made absolute against the config file's folder (as wrangler does)."""
    if value is None:
        return None
    return os.path.normpath(os.path.join(src.folder, value))


def _run_worker_first(src: _Source, assets: Mapping[str, object]) -> bool | tuple[str, ...] | None:
    key: KeyPath = ("assets", "run_worker_first")
    value = assets.get("run_worker_first")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list):
        return _string_list(src, value, key)
    src.fail(
        key,
        f"is {_describe(value, src.fmt)}, but must be true, false or an array of route patterns",
        'Use true/false, or a list such as ["/api/*", "!/api/docs/*"]',
    )


def _json_text(src: _Source, value: object, key: KeyPath) -> str:
    """A non-string var as the JSON wrangler would upload; reject what JSON cannot hold."""

    def check(node: object, at: KeyPath) -> None:
        if isinstance(node, float) and not math.isfinite(node):
            src.fail(at, f"is {node!r}, which JSON cannot represent", "Use a finite number or a string")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                check(item, (*at, index))
        elif isinstance(node, dict):
            for name, item in node.items():
                check(item, (*at, name))
        elif not (node is None or isinstance(node, str | int | float)):
            src.fail(
                at,
                f"is {_describe(node, src.fmt)}, which a Worker var cannot hold",
                "Put it in quotes to make it a string",
            )

    check(value, key)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _build(raw: dict[str, object], src: _Source) -> ProjectConfig:
    """Validate the top-level fields we use and assemble the ProjectConfig."""
    name = _opt_string(src, raw, ("name",), empty_ok=True)
    main = _opt_string(src, raw, ("main",), empty_ok=False)
    compatibility_date = _compatibility_date(src, raw)

    flags_value = raw.get("compatibility_flags")
    flags: tuple[str, ...] = ()
    if flags_value is not None:
        if not isinstance(flags_value, list):
            src.fail(
                ("compatibility_flags",),
                f"is {_describe(flags_value, src.fmt)}, but must be an array of strings",
                'Write it as a list, e.g. ["nodejs_compat"]',
            )
        flags = _string_list(src, flags_value, ("compatibility_flags",))

    assets_value = raw.get("assets")
    assets: Mapping[str, object] = {}
    if assets_value is not None:
        if not isinstance(assets_value, dict):
            example = (
                '[assets]\ndirectory = "./public"'
                if src.fmt == "toml"
                else '"assets": {"directory": "./public"}'
            )
            src.fail(
                ("assets",),
                f"is {_describe(assets_value, src.fmt)}, but must be {src.table_word()}",
                f"Write it as {src.table_word()} with a directory, e.g. {example}",
            )
        assets = assets_value

    vars_value = raw.get("vars")
    plain: dict[str, str] = {}
    encoded: dict[str, str] = {}
    if vars_value is not None:
        if not isinstance(vars_value, dict):
            src.fail(
                ("vars",),
                f"is {_describe(vars_value, src.fmt)}, but must be {src.table_word()} of names to values",
                'Write one entry per variable, e.g. API_URL = "https://example.com"'
                if src.fmt == "toml"
                else 'Write one entry per variable, e.g. "vars": {"API_URL": "https://example.com"}',
            )
        for var, value in vars_value.items():
            if isinstance(value, str):
                plain[var] = value
            else:
                encoded[var] = _json_text(src, value, ("vars", var))

    return ProjectConfig(
        path=src.path,
        name=name,
        main=_resolve(src, main),
        compatibility_date=compatibility_date,
        compatibility_flags=flags,
        assets_directory=_resolve(src, _opt_string(src, assets, ("assets", "directory"), empty_ok=False)),
        assets_binding=_opt_string(src, assets, ("assets", "binding"), empty_ok=False),
        html_handling=_opt_choice(src, assets, ("assets", "html_handling"), HTML_HANDLING),
        not_found_handling=_opt_choice(src, assets, ("assets", "not_found_handling"), NOT_FOUND_HANDLING),
        run_worker_first=_run_worker_first(src, assets),
        vars=MappingProxyType(plain) if plain else _EMPTY,
        json_vars=MappingProxyType(encoded) if encoded else _EMPTY,
    )
