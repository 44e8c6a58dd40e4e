"""A deploy's settings, decided in one place: what was asked for, then the wrangler config, then
the defaults.

`sync`, `watch` and `dev` (and a library caller) describe what was asked for as a
:class:`Settings` and get the folder and the engine's options from :func:`resolve`; `sync-all`
resolves each tenant the same way, its flags given once for the run and the tenant's folder as
the project (:func:`assetsync.tenants.resolve_tenant`). A new setting is added here once, and
every entry point deploys the same project the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from .engine import SyncOptions
from .errors import ConfigError, UsageError
from .folder.build import BuildOptions
from .folder.hashing import HashScheme
from .project.deployfiles import read_modules
from .project.wrangler import CONFIG_FILE_NAMES, ProjectConfig, load_config
from .protocol import FREE_PLAN_FILES, AssetsConfig, WorkerSpec
from .retry import Backoff
from .wire.plan import (
    check_binding_name,
    check_compatibility_date,
    check_main_module,
    check_namespace,
    check_script_name,
    parse_binding,
    script_name_from_folder,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What was asked for. ``None`` (or empty) where nothing was said: the wrangler config, else a
    default, decides. The engine's own knobs left ``None`` keep :class:`SyncOptions`' defaults."""

    folder: str | None = None
    # The project's own folder: its wrangler config is searched there, and it is the folder to
    # publish (its config files excepted) if neither ``folder`` nor the config's assets.directory
    # names one. None: the config is searched in the current folder, and there is no such default.
    project_dir: str | None = None
    config_path: str | None = None  # None: a wrangler.json(c)/toml in the project folder, if any
    name: str | None = None
    namespace: str | None = None
    tenant: str | None = None  # the hashes' salt; in a namespace it defaults to the script name
    salt: bool = True  # False: no salt even in a namespace
    hash_scheme: str = "sha256"
    main: str | None = None
    assets_binding: str | None = None
    bindings: tuple[str, ...] = ()  # "kv:NAME=NAMESPACE_ID" or "text:NAME=VALUE"
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
    dry_run: bool = False
    offline: bool = False
    allow_empty: bool = False


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


def resolve(s: Settings) -> tuple[str, SyncOptions]:
    """The folder to publish and the engine's options: ``s``, then the wrangler config, then the
    defaults. Raises :class:`UsageError` or :class:`ConfigError` naming what to fix."""
    project = resolve_project(s)
    return project.folder, project.options


def resolve_project(s: Settings) -> Project:
    """:func:`resolve`, with the config and the entry file it used, for rules of a caller's own."""
    cfg = load_config(s.config_path, search=s.project_dir)
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
    spec = _worker_spec(s, cfg, main)
    _check_before_upload(s, cfg, main, spec)
    modules = read_modules(main, "--main" if s.main else f"{cfg.path}: main") if main else ()
    options = replace(
        run_options(s), script=name, namespace=s.namespace, build=build, worker=spec, modules=modules
    )
    return Project(folder, options, cfg, main)


def run_options(s: Settings) -> SyncOptions:
    """What holds for a whole run, whatever it publishes: the engine's knobs (concurrency,
    timeout, attempts, back-off) and the run's mode, from ``s`` over :class:`SyncOptions`' defaults;
    no script, folder or config yet."""
    d = SyncOptions(script="", dry_run=s.dry_run, offline=s.offline, allow_empty=s.allow_empty)
    return replace(
        d,
        concurrency=d.concurrency if s.concurrency is None else s.concurrency,
        timeout=d.timeout if s.timeout is None else s.timeout,
        attempts=d.attempts if s.attempts is None else s.attempts,
        backoff=d.backoff if s.backoff is None else s.backoff,
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
        return check_script_name(cfg.name, f"Fix the name in {cfg.path}, or pass --name.")
    base = os.path.basename(os.path.abspath(folder))
    return check_script_name(
        script_name_from_folder(base), f"It was made from the folder name {base!r}: pass --name."
    )


def _worker_spec(s: Settings, cfg: ProjectConfig, main: str | None) -> WorkerSpec:
    """What the deploy says besides the assets; the config's vars only go with a Worker."""
    bindings: tuple[dict[str, Any], ...] = tuple(parse_binding(b) for b in s.bindings)
    if main:
        bindings += cfg.var_bindings()
    rwf = s.run_worker_first
    return WorkerSpec(
        main_module=os.path.basename(main) if main else None,
        assets_binding=s.assets_binding or cfg.assets_binding or "ASSETS",
        bindings=bindings,
        compatibility_date=s.compatibility_date or cfg.compatibility_date,
        compatibility_flags=s.compatibility_flags or cfg.compatibility_flags,
        tags=s.tags,
        assets=AssetsConfig(
            html_handling=s.html_handling or cfg.html_handling,
            not_found_handling=s.not_found_handling or cfg.not_found_handling,
            run_worker_first=rwf if rwf is not None else cfg.run_worker_first,
        ),
    )
