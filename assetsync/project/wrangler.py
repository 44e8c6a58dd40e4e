"""Read an existing Workers project's wrangler configuration (``wrangler.json``/``.jsonc``/``.toml``).

assetsync publishes into projects that wrangler already manages, so it finds and reads the same
file wrangler would, the same way, applies an environment by wrangler's rules
(:mod:`.environments`), and takes from it what a deploy needs: the Worker's name, entry point,
compatibility settings, the ``assets`` table, the ``vars``, ``keep_vars``, the bindings
(:mod:`.bindings`) and Durable Object ``migrations`` (:mod:`.migrations`). Every other key is
named in a warning (:attr:`ProjectConfig.warnings`): real configs carry keys assetsync has no use
for, and none is dropped silently.

What wrangler does, and what we copy (checked in ``cloudflare/workers-sdk``,
``packages/workers-utils/src/config/config-helpers.ts`` and ``.../parse.ts`` next to it):

* **Where it looks.** ``findWranglerConfig`` looks for ``wrangler.json`` in the current folder
  and then each parent up to the file system's root, then for ``wrangler.jsonc`` the same way,
  then ``wrangler.toml``: *one file name at a time*, so a ``wrangler.json`` in a parent beats a
  ``wrangler.toml`` in the current folder, and JSON wins over TOML. :func:`find_config` does the
  same (or looks in one folder only, as ``sync-all`` does for each tenant).
* **An explicit path** (wrangler's ``--config``) always wins over the search.
* **Paths** in the file (``main``, ``assets.directory``) are relative to the file's folder, not
  the current one: a config found in a parent folder means the same from any subfolder.
* **JSON syntax.** ``.json`` and ``.jsonc`` both go through the same JSONC parser (``jsonc-parser``,
  ``parseJSONC``): comments and trailing commas are allowed (:mod:`.jsonc`).
* **Encoding.** A UTF-8 BOM is dropped; a UTF-16/UTF-32 BOM is an error (wrangler does the same).
* **vars.** wrangler uploads a string var as a ``plain_text`` binding and *any other* value
  (number, boolean, array, table, null) as a ``json`` binding holding that value, so
  ``env.DEBUG`` is the boolean ``true`` in the Worker, not the string ``"true"``. Folding those
  into plain text would change what the Worker sees, so they are kept apart: :attr:`ProjectConfig.vars`
  holds the strings, :attr:`ProjectConfig.json_vars` holds the JSON text of the others.

Validation follows wrangler's rules for the fields we read and fails early, with a
:class:`~assetsync.errors.ConfigError` that names the file, the key (inside its environment) and,
when it can be found, the line, and says what to write instead. Environments that are not applied
are neither read nor validated, as in wrangler.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, NoReturn

from ..errors import ConfigError, UsageError
from ..protocol import HTML_HANDLING, NOT_FOUND_HANDLING, api_today, check_cron, date_problem
from ..protocol.assetrules.staticrouting import StaticRoutingError, parse_static_routing
from .bindings import config_bindings
from .configfile import CONFIG_FILE_NAMES, Format, describe, find_config, find_redirect, read_config
from .environments import ResolvedEnv, apply_env, unused_key_warnings
from .keylines import KeyPath, dotted
from .migrations import config_migrations

__all__ = ["CONFIG_FILE_NAMES", "ProjectConfig", "find_config", "load_config"]

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """What a deploy takes from a wrangler configuration, its environment applied.

    Every field is ``None`` or empty when the file does not set it, and when no file was found.
    """

    path: str | None = None
    """Absolute path of the file read; ``None`` if there was none."""
    env: str | None = None
    """The environment applied (``[env.NAME]``), if any."""
    name: str | None = None
    """The Worker's name: with an environment, its own name, else the top level's + ``-<env>``."""
    declared_name: str | None = None
    """The name as written (the environment's, else the top level's), without wrangler's suffix."""
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
    keep_vars: bool = False
    """``keep_vars`` (top level only): the deploy keeps the vars set elsewhere (the dashboard)."""
    bindings: tuple[Mapping[str, object], ...] = ()
    """Every other binding the config declares, as the deploy metadata carries it."""
    warnings: tuple[str, ...] = ()
    """One line per key assetsync does not act on (and per environment rule a config breaks)."""
    migrations: tuple[Mapping[str, object], ...] = ()
    """The Durable Object ``migrations``, with their tags (:mod:`.migrations`)."""
    crons: tuple[str, ...] | None = None
    """``triggers.crons``, the Cron Triggers a deploy sets; ``None``: leave the script's as they
    are (an empty list removes them all, as wrangler deploy does)."""

    def var_bindings(self, overrides: Mapping[str, str] = _EMPTY) -> tuple[dict[str, Any], ...]:
        """The ``vars`` as the bindings wrangler uploads for them (with a Worker only):
        ``plain_text`` then ``json``; ``overrides`` (``--var``) replace a var of the same name
        with a string, or add one."""
        plain = {**self.vars, **overrides}
        text = tuple({"type": "plain_text", "name": k, "text": v} for k, v in plain.items())
        return text + tuple(
            {"type": "json", "name": k, "json": json.loads(v)}
            for k, v in self.json_vars.items()
            if k not in overrides
        )


# --------------------------------------------------------------------------------------------------
# Loading


def load_config(
    path: str | None = None, *, search: str | None = None, env: str | None = None, upward: bool = True
) -> ProjectConfig:
    """Read and validate a wrangler config, with the environment ``env`` applied.

    ``path`` given: read that file (it must exist; ``search`` is then ignored, as wrangler's
    ``--config`` beats its search). Otherwise :func:`find_config` from the folder ``search``
    (default: the current folder); if nothing is found, return an empty :class:`ProjectConfig`
    (and with ``env``, raise :class:`UsageError`: there is no environment to apply).

    Raises :class:`ConfigError` for a file that is missing, unreadable, malformed, holds a value
    of the wrong type, or has no environment ``env``.
    """
    redirect: tuple[str, ...] = ()
    if path is None:
        start = os.getcwd() if search is None else search
        path = find_config(start, upward=upward)
        redirect = _redirect_warning(find_redirect(start, upward=upward), path)
        if path is None:
            if env is not None:
                where = f"{os.path.abspath(start)}{' or its parents' if upward else ''}"
                raise UsageError(
                    f"--env {env}: no wrangler config in {where}, so no environment to apply. "
                    "Run from the project's folder, or pass --config."
                )
            return ProjectConfig(warnings=redirect)
    path = os.path.abspath(path)
    raw, fmt, located = read_config(path)
    resolved = apply_env(path, raw, env)
    config = _build(resolved, _Source(path, fmt, located, resolved.origin), env)
    return replace(config, warnings=(*redirect, *config.warnings)) if redirect else config


def _redirect_warning(redirect: str | None, path: str | None) -> tuple[str, ...]:
    """A build tool's pointer to the config of its output, which `wrangler deploy` would follow:
    assetsync does not (what it points at is a build's, bundled by wrangler), so it says which
    file it reads instead, and how to deploy the built one."""
    if redirect is None:
        return ()
    reading = f"reads {path}" if path else "found no wrangler config"
    return (
        f"{redirect} redirects wrangler deploy to a build's config; assetsync does not follow it and "
        f"{reading}: pass --config with the built wrangler.json to deploy that",
    )


# --------------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True, slots=True)
class _Source:
    path: str
    fmt: Format
    lines: dict[KeyPath, int]
    origin: Mapping[str, KeyPath]  # top-level key -> where it was written: () or ("env", NAME)

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path)

    def written(self, key: KeyPath) -> KeyPath:
        """``key`` (a path in the config, its environment applied) where it is written."""
        if key and isinstance(key[0], str):
            return (*self.origin.get(key[0], ()), *key)
        return key

    def where(self, written: KeyPath) -> str:
        """The file, and the line of ``written`` (else of its nearest written parent) if known."""
        for size in range(len(written), 0, -1):
            line = self.lines.get(written[:size])
            if line is not None:
                return f"{self.path}, line {line}"
        return self.path

    def fail(self, key: KeyPath, problem: str, fix: str) -> NoReturn:
        """Raise the ConfigError for ``key``: file, line if known, the key, what to do."""
        key = self.written(key)
        end = "" if fix.endswith(".") else "."
        raise ConfigError(f"{self.where(key)}: {dotted(key)} {problem}. {fix}{end}")

    def table_word(self) -> str:
        return "a table" if self.fmt == "toml" else "an object"


def _opt_string(src: _Source, table: Mapping[str, object], key: KeyPath, *, empty_ok: bool) -> str | None:
    value = table.get(str(key[-1]))
    if value is None:
        return None
    if not isinstance(value, str):
        fix = "Write one string instead" if isinstance(value, list | dict) else "Put the value in quotes"
        src.fail(key, f"is {describe(value, src.fmt)}, but must be a string", fix)
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
            key, f"is {describe(value, src.fmt)}, which wrangler does not accept", f"Use one of {listed}"
        )
    return value


def _string_list(src: _Source, value: list[object], key: KeyPath) -> tuple[str, ...]:
    for index, item in enumerate(value):
        if not isinstance(item, str):
            src.fail(
                (*key, index),
                f"is {describe(item, src.fmt)}, but every entry must be a string",
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
            f"is {describe(text, src.fmt)}, written with an en or em dash",
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
        rules = _string_list(src, value, key)
        try:
            parse_static_routing(rules)
        except StaticRoutingError as exc:
            src.fail(
                key,
                f"cannot route requests, as the platform would say: {exc}",
                "Write each rule as /path/* (the Worker first) or !/path/* (the assets first), with at "
                "least one of the former",
            )
        return rules
    src.fail(
        key,
        f"is {describe(value, src.fmt)}, but must be true, false or an array of route patterns",
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
                f"is {describe(node, src.fmt)}, which a Worker var cannot hold",
                "Put it in quotes to make it a string",
            )

    check(value, key)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _vars(src: _Source, raw: Mapping[str, object]) -> tuple[dict[str, str], dict[str, str]]:
    """The string vars, and the others as JSON text."""
    vars_value = raw.get("vars")
    plain: dict[str, str] = {}
    encoded: dict[str, str] = {}
    if vars_value is None:
        return plain, encoded
    if not isinstance(vars_value, dict):
        src.fail(
            ("vars",),
            f"is {describe(vars_value, src.fmt)}, but must be {src.table_word()} of names to values",
            'Write one entry per variable, e.g. API_URL = "https://example.com"'
            if src.fmt == "toml"
            else 'Write one entry per variable, e.g. "vars": {"API_URL": "https://example.com"}',
        )
    for var, value in vars_value.items():
        if isinstance(value, str):
            plain[var] = value
        else:
            encoded[var] = _json_text(src, value, ("vars", var))
    return plain, encoded


def _opt_bool(src: _Source, raw: Mapping[str, object], key: str) -> bool | None:
    value = raw.get(key)
    if value is None or isinstance(value, bool):
        return value
    src.fail((key,), f"is {describe(value, src.fmt)}, but must be true or false", "Write true or false")


def _check_legacy_env(src: _Source, raw: Mapping[str, object], env: str | None) -> None:
    """``legacy_env = false`` asks for service environments, which wrangler deprecates and
    assetsync does not deploy: with an environment, say so rather than deploy elsewhere."""
    if _opt_bool(src, raw, "legacy_env") is False and env is not None:
        src.fail(
            ("legacy_env",),
            "is false (service environments), which assetsync does not deploy",
            f'Remove it: each environment is then its own Worker named "<name>-{env}", '
            "as with legacy_env = true, wrangler's default",
        )


def _crons(src: _Source, raw: Mapping[str, object]) -> tuple[str, ...] | None:
    """``triggers.crons``, each a five-field cron expression, checked before anything is sent."""
    triggers = raw.get("triggers")
    if triggers is None:
        return None
    example = (
        '[triggers]\ncrons = ["0 3 * * *"]' if src.fmt == "toml" else '"triggers": {"crons": ["0 3 * * *"]}'
    )
    if not isinstance(triggers, dict):
        src.fail(
            ("triggers",),
            f"is {describe(triggers, src.fmt)}, but must be {src.table_word()}",
            f"Write it as {src.table_word()} of crons, e.g. {example}",
        )
    value = triggers.get("crons")
    if value is None:
        return None
    if not isinstance(value, list):
        src.fail(
            ("triggers", "crons"),
            f"is {describe(value, src.fmt)}, but must be an array of strings",
            f"Write it as a list, e.g. {example}",
        )
    crons = _string_list(src, value, ("triggers", "crons"))
    for index, cron in enumerate(crons):
        problem = check_cron(cron)
        if problem is not None:
            src.fail(
                ("triggers", "crons", index),
                f"({cron!r}) {problem}",
                'Write e.g. "0 3 * * *" (03:00 UTC daily)',
            )
    return crons


def _build(resolved: ResolvedEnv, src: _Source, env: str | None) -> ProjectConfig:
    """Validate the fields we use (the environment applied) and assemble the ProjectConfig."""
    raw = resolved.values
    name = _opt_string(src, raw, ("name",), empty_ok=True)
    declared = name
    if name and env is not None and not src.origin.get("name"):
        declared = name.removesuffix(f"-{env}")  # the top level's name, suffixed by apply_env
    main = _opt_string(src, raw, ("main",), empty_ok=False)
    compatibility_date = _compatibility_date(src, raw)
    _check_legacy_env(src, raw, env)

    flags_value = raw.get("compatibility_flags")
    flags: tuple[str, ...] = ()
    if flags_value is not None:
        if not isinstance(flags_value, list):
            src.fail(
                ("compatibility_flags",),
                f"is {describe(flags_value, src.fmt)}, but must be an array of strings",
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
                f"is {describe(assets_value, src.fmt)}, but must be {src.table_word()}",
                f"Write it as {src.table_word()} with a directory, e.g. {example}",
            )
        assets = assets_value
    assets_binding = _opt_string(src, assets, ("assets", "binding"), empty_ok=False)

    plain, encoded = _vars(src, raw)
    bindings = tuple(MappingProxyType(b) for b in config_bindings(raw, src.fail))

    return ProjectConfig(
        path=src.path,
        env=env,
        name=name,
        declared_name=declared,
        main=_resolve(src, main),
        compatibility_date=compatibility_date,
        compatibility_flags=flags,
        assets_directory=_resolve(src, _opt_string(src, assets, ("assets", "directory"), empty_ok=False)),
        assets_binding=assets_binding,
        html_handling=_opt_choice(src, assets, ("assets", "html_handling"), HTML_HANDLING),
        not_found_handling=_opt_choice(src, assets, ("assets", "not_found_handling"), NOT_FOUND_HANDLING),
        run_worker_first=_run_worker_first(src, assets),
        vars=MappingProxyType(plain) if plain else _EMPTY,
        json_vars=MappingProxyType(encoded) if encoded else _EMPTY,
        keep_vars=bool(_opt_bool(src, raw, "keep_vars")),
        bindings=bindings,
        warnings=(*resolved.warnings, *unused_key_warnings(src.path, resolved)),
        migrations=config_migrations(raw, src.fail),
        crons=_crons(src, raw),
    )
