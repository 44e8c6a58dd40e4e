"""A deploy's settings, decided in one place: what was asked for, then the wrangler config, then
the defaults.

The wrangler config is found as wrangler finds it (upward from the current folder, or
``config_path``), with the environment ``env`` applied by wrangler's rules
(:mod:`assetsync.project.environments`). The deploy's bindings are the config's vars and bindings,
then the flags': a ``--var`` or ``--binding`` replaces the config's binding of the same name and
adds one otherwise; two bindings of one name are an error before anything is uploaded.
What the config holds that assetsync does not act on comes back as warnings (:attr:`Project.warnings`).

`sync`, `watch` and `dev` (and a library caller) describe what was asked for as a
:class:`Settings` and get the folder and the engine's options from :func:`resolve`; `sync-all`
resolves each tenant the same way, its flags given once for the run and the tenant's folder as
the project (:func:`assetsync.tenants.resolve_tenant`). A new setting is added here once, and
every entry point deploys the same project the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .engine import SyncOptions
from .errors import ConfigError, UsageError
from .folder.build import BuildOptions
from .folder.hashing import HashScheme
from .project.bindingflag import flag_binding
from .project.deployfiles import read_modules
from .project.wrangler import CONFIG_FILE_NAMES, ProjectConfig, load_config
from .protocol import FREE_PLAN_FILES, AssetsConfig, WorkerSpec
from .protocol.ratelimit import RateLimit
from .retry import Backoff
from .wire.plan import (
    check_binding_name,
    check_compatibility_date,
    check_main_module,
    check_namespace,
    check_script_name,
    script_name_from_folder,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What was asked for. ``None`` (or empty) where nothing was said: the wrangler config, else a
    default, decides. The engine's own knobs left ``None`` keep :class:`SyncOptions`' defaults."""

    folder: str | None = None
    # The project's own folder: its wrangler config is searched there (not in its parents: such a
    # project, a sync-all tenant, stands on its own), and it is the folder to publish (its config
    # files excepted) if neither ``folder`` nor the config's assets.directory names one. None: the
    # config is searched as wrangler searches it, from the current folder up, and there is no
    # such default.
    project_dir: str | None = None
    config_path: str | None = None  # None: a wrangler.json(c)/toml found by the search, if any
    env: str | None = None  # the config's environment ([env.NAME]) to deploy
    name: str | None = None
    namespace: str | None = None
    tenant: str | None = None  # the hashes' salt; in a namespace it defaults to the script name
    salt: bool = True  # False: no salt even in a namespace
    hash_scheme: str = "sha256"
    main: str | None = None
    assets_binding: str | None = None
    bindings: tuple[str, ...] = ()  # --binding: "kv:NAME=NAMESPACE_ID", "text:NAME=VALUE", ... (flag_binding)
    vars: tuple[str, ...] = ()  # "KEY:VALUE": plain_text bindings over the config's vars; the last wins
    keep_vars: bool = False  # keep the vars set elsewhere (also when the config's keep_vars says so)
    compatibility_date: str | None = None
    compatibility_flags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    html_handling: str | None = None
    not_found_handling: str | None = None
    run_worker_first: bool | tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    default_ignores: bool = True
    max_files: int = FREE_PLAN_FILES
    cache: bool = True
    cache_dir: str | None = None
    concurrency: int | None = None
    timeout: float | None = None
    attempts: int | None = None
    backoff: Backoff | None = None
    rate_limit: RateLimit | None = None  # --rate-limit: the most of the API's rate limit a run may use
    dry_run: bool = False
    offline: bool = False
    allow_empty: bool = False
    strict_rules: bool = False  # --strict: a _redirects/_headers line the platform ignores is an error


def build_options(s: Settings, tenant: str | None = None) -> BuildOptions:
    """How to read the folder: hash scheme and salt, ignore rules, file limit, cache."""
    return BuildOptions(
        scheme=HashScheme(s.hash_scheme, tenant or ""),
        ignore=s.ignore,
        default_ignores=s.default_ignores,
        max_files=s.max_files,
        use_cache=s.cache,
        cache_dir=s.cache_dir,
    )


@dataclass(frozen=True, slots=True)
class Project:
    """A deploy resolved: the folder, the engine's options, and what they came from."""

    folder: str
    options: SyncOptions
    config: ProjectConfig  # empty when there was none
    main: str | None  # the Worker's entry file, from the flag or the config
    warnings: tuple[str, ...] = ()  # what the config (or a flag) asked for that is not deployed


def resolve(s: Settings, warn: Callable[[str], None] | None = None) -> tuple[str, SyncOptions]:
    """The folder to publish and the engine's options: ``s``, then the wrangler config, then the
    defaults; ``warn`` gets a line per setting that is not deployed (a config key assetsync does
    not act on, say). Raises :class:`UsageError` or :class:`ConfigError` naming what to fix."""
    project = resolve_project(s)
    if warn is not None:
        for line in project.warnings:
            warn(line)
    return project.folder, project.options


def resolve_project(s: Settings) -> Project:
    """:func:`resolve`, with the config and the entry file it used, for rules of a caller's own."""
    cfg = load_config(s.config_path, search=s.project_dir, env=s.env, upward=s.project_dir is None)
    folder = s.folder or cfg.assets_directory or s.project_dir
    if not folder:
        raise UsageError("which folder? Pass FOLDER, or run where a wrangler config names assets.directory")
    name = _script_name(s, cfg, folder)
    if s.namespace is not None:
        check_namespace(s.namespace)
    if not s.salt and s.tenant:
        raise UsageError("--no-salt and --tenant contradict each other")
    tenant = s.tenant
    if s.namespace and not tenant and s.salt and s.hash_scheme == "sha256":
        tenant = name  # isolation by default in a dispatch namespace, as Cloudflare advises
    build = build_options(s, tenant)
    if s.project_dir and _same_folder(folder, s.project_dir):
        build = replace(build, ignore=build.ignore + tuple(f"/{n}" for n in CONFIG_FILE_NAMES))
    main = s.main or cfg.main
    spec, dropped = _worker_spec(s, cfg, main)
    _check_before_upload(s, cfg, main, spec)
    modules = read_modules(main, "--main" if s.main else f"{cfg.path}: main") if main else ()
    crons = cfg.crons
    unset: tuple[str, ...] = ()
    if crons is not None and s.namespace:
        why = "a dispatch namespace's user Worker has no Cron Triggers"
        unset = (f"{cfg.path}: triggers.crons is not set: {why}",)
        crons = None
    options = replace(
        run_options(s),
        script=name,
        namespace=s.namespace,
        build=build,
        worker=spec,
        modules=modules,
        crons=crons,
    )
    return Project(folder, options, cfg, main, (*cfg.warnings, *dropped, *unset))


def run_options(s: Settings) -> SyncOptions:
    """What holds for a whole run, whatever it publishes: the engine's knobs (concurrency,
    timeout, attempts, back-off) and the run's mode, from ``s`` over :class:`SyncOptions`' defaults;
    no script, folder or config yet."""
    d = SyncOptions(
        script="",
        dry_run=s.dry_run,
        offline=s.offline,
        allow_empty=s.allow_empty,
        strict_rules=s.strict_rules,
    )
    return replace(
        d,
        concurrency=d.concurrency if s.concurrency is None else s.concurrency,
        timeout=d.timeout if s.timeout is None else s.timeout,
        attempts=d.attempts if s.attempts is None else s.attempts,
        backoff=d.backoff if s.backoff is None else s.backoff,
        rate_limit=s.rate_limit,
    )


def _check_before_upload(s: Settings, cfg: ProjectConfig, main: str | None, spec: WorkerSpec) -> None:
    """What the API would refuse only at the deploy, after the upload, refused now, naming where
    it was set: a main module that is not JavaScript, a compatibility date that is not a real day
    or is in the future, an assets binding that is not a binding name. A flag's problem is a
    :class:`UsageError`; the config's, a :class:`ConfigError` in the same words."""
    if main:
        check_main_module(main, "--main" if s.main else f"{cfg.path}: main")
    checks = (
        (
            check_compatibility_date,
            spec.compatibility_date,
            s.compatibility_date,
            "--compatibility-date",
            "compatibility_date",
        ),
        (
            check_binding_name,
            s.assets_binding or cfg.assets_binding,
            s.assets_binding,
            "--assets-binding",
            "assets.binding",
        ),
    )
    for check, value, flag, flag_name, key in checks:
        if value:
            check(value, flag_name if flag else f"{cfg.path}: {key}", UsageError if flag else ConfigError)


def _same_folder(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _script_name(s: Settings, cfg: ProjectConfig, folder: str) -> str:
    if s.name:
        return check_script_name(s.name, "Fix --name.")
    if cfg.name:
        made = f' (the name "{cfg.declared_name}" for the environment "{cfg.env}")' if cfg.env else ""
        return check_script_name(cfg.name, f"Fix the name in {cfg.path}{made}, or pass --name.")
    base = os.path.basename(os.path.abspath(folder))
    return check_script_name(
        script_name_from_folder(base), f"It was made from the folder name {base!r}: pass --name."
    )


def _worker_spec(s: Settings, cfg: ProjectConfig, main: str | None) -> tuple[WorkerSpec, tuple[str, ...]]:
    """What the deploy says besides the assets, and a warning if bindings were asked for that an
    assets-only deploy (no ``main``) cannot carry."""
    assets_binding = s.assets_binding or cfg.assets_binding or "ASSETS"
    bindings, flagged = _bindings(s, cfg)
    dropped: tuple[str, ...] = ()
    if main:
        _check_assets_binding(s, cfg, assets_binding, bindings, flagged)
    elif bindings:
        names = ", ".join(str(b["name"]) for b in bindings)
        dropped = (
            f"bindings not deployed: {names}. Without a main module (--main or the config's main) the "
            "deploy is assets-only, and carries no bindings.",
        )
        bindings = ()
    rwf = s.run_worker_first
    spec = WorkerSpec(
        main_module=os.path.basename(main) if main else None,
        assets_binding=assets_binding,
        bindings=bindings,
        compatibility_date=s.compatibility_date or cfg.compatibility_date,
        compatibility_flags=s.compatibility_flags or cfg.compatibility_flags,
        tags=s.tags,
        keep_vars=s.keep_vars or cfg.keep_vars,
        migrations=cfg.migrations if main else (),
        assets=AssetsConfig(
            html_handling=s.html_handling or cfg.html_handling,
            not_found_handling=s.not_found_handling or cfg.not_found_handling,
            run_worker_first=rwf if rwf is not None else cfg.run_worker_first,
        ),
    )
    return spec, dropped


def parse_vars(texts: tuple[str, ...]) -> dict[str, str]:
    """``--var KEY:VALUE`` flags as names to values (the value may hold colons; the last wins)."""
    out: dict[str, str] = {}
    for text in texts:
        key, sep, value = text.partition(":")
        if not sep or not key:
            raise UsageError(f"--var {text!r}: use KEY:VALUE (the value may hold more colons)")
        out[key] = value
    return out


def _bindings(s: Settings, cfg: ProjectConfig) -> tuple[tuple[dict[str, Any], ...], set[str]]:
    """The config's vars and bindings, then the flags' (a flag's name replaces the config's);
    and the names the flags give."""
    cli_vars = parse_vars(s.vars)
    flags = [flag_binding(b) for b in s.bindings]
    given: dict[str, str] = {name: "--var" for name in cli_vars}
    for binding in flags:
        name = str(binding["name"])
        if name in given:
            raise UsageError(
                f'--binding {name}: the name "{name}" is already given by {given[name]} {name}. '
                "Binding names must be unique: rename one."
            )
        given[name] = "--binding"
    by_binding = {name for name, flag in given.items() if flag == "--binding"}
    from_vars = [b for b in cfg.var_bindings(cli_vars) if b["name"] not in by_binding]
    rest = [dict(b) for b in cfg.bindings if b["name"] not in given]
    return (*from_vars, *rest, *flags), set(given)


def _check_assets_binding(
    s: Settings, cfg: ProjectConfig, name: str, bindings: tuple[Mapping[str, Any], ...], flagged: set[str]
) -> None:
    """No binding may take the assets binding's name: a usage error if a flag gave either name,
    else the config's error."""
    clash = next((b for b in bindings if b["name"] == name), None)
    if clash is None:
        return
    given = (
        "--assets-binding" if s.assets_binding else "assets.binding" if cfg.assets_binding else "the default"
    )
    message = (
        f'the {clash["type"]} binding "{name}" has the assets binding\'s name ({given}). Binding names '
        "must be unique: rename it, or give the assets binding another name (--assets-binding, or "
        "assets.binding in the config)."
    )
    if s.assets_binding or name in flagged:
        raise UsageError(message)
    raise ConfigError(f"{cfg.path}: {message}")
