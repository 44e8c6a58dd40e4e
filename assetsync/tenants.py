"""Publishing a whole platform: every tenant folder under one root, into one dispatch namespace.

Each immediate subfolder of the root is a tenant: its script is named after the folder, its
hashes are salted with that name, and it is tagged ``assetsync`` and ``tenant:<name>``. Each
tenant is resolved as `sync` resolves a project (:func:`assetsync.settings.resolve`): the run's
flags, then the wrangler config in the tenant's folder, then the defaults.

All tenants share one HTTP connection pool and one limit on uploads in flight
(:class:`~assetsync.engine.UploadSlots`), so a server that pushes back slows the whole run and
2,000 tenants never mean 2,000 times the load; a separate, smaller limit bounds how many tenants
are being hashed at once (on worker threads, so the event loop keeps uploading meanwhile). A
tenant's failure is its own row: the others go on. Only an API that refuses the token stops the
run, since every request after that would be refused too.

Sharding (:class:`Shard`) hashes each tenant's name, so a tenant keeps its shard when others
are added or removed, and ``N`` CI jobs together cover the platform exactly once. Pruning
deletes the namespace's scripts tagged ``assetsync`` whose folder is gone (in this shard only),
never a script without that tag.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from .engine import Syncer, SyncOptions, UploadSlots
from .errors import AssetsyncError, AuthError, ConfigError, NotConfirmed, SourceNotFound, UsageError
from .events import (
    Event,
    SyncAllReport,
    TenantEvent,
    TenantFinished,
    TenantProgress,
    TenantResult,
    TenantStarted,
)
from .namespace import delete_scripts, list_scripts
from .protocol import SCRIPT_NAME_RULE, is_script_name
from .retry import Retries
from .settings import Settings, resolve_project, run_options
from .wire.client import ApiClient
from .wire.plan import check_namespace as check_namespace_name
from .wire.target import Target

TAG = "assetsync"  # every script sync-all deploys carries it; prune never touches one without it
TENANTS_AT_ONCE = 16  # tenants between start and deploy at any moment


@dataclass(frozen=True, slots=True)
class Shard:
    """Share ``index`` (1-based) of ``count``: the tenants whose name hashes to it."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise UsageError(
                f"--shard {self.index}/{self.count}: use I/N with 1 <= I <= N (shards count from 1)"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/8"`` -> Shard(2, 8)."""
        index, sep, count = text.strip().partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise UsageError(
                f"--shard {text!r}: use I/N, e.g. 2/8 for the second of 8 shards (shards count from 1)"
            )
        return cls(int(index), int(count))

    def holds(self, name: str) -> bool:
        """Whether tenant ``name`` belongs to this shard: by the SHA-256 of the name, not by its
        position among the others, so adding a tenant never moves another one."""
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str  # the folder's name, which is also the script's
    folder: str  # absolute path


def discover(root: str) -> list[Tenant]:
    """The tenants under ``root``, sorted by name: every subfolder not starting with ``.``.

    A symlink whose target is missing still counts (its row then says what is wrong): dropping
    it silently would let ``--prune`` delete that tenant's live site.
    """
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise SourceNotFound(
            f"{root}: no such folder. sync-all needs the folder that holds one subfolder per tenant.",
            path=root,
        )
    try:
        entries = list(os.scandir(root))
    except OSError as exc:
        raise SourceNotFound(f"{root}: cannot be listed ({exc.strerror or exc}).", path=root) from None
    tenants = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            keep = entry.is_dir() or (entry.is_symlink() and not os.path.exists(entry.path))
        except OSError:
            keep = True  # cannot even tell: let its row say why
        if keep:
            tenants.append(Tenant(entry.name, entry.path))
    return sorted(tenants, key=lambda t: t.name)


def check_namespace(namespace: str | None) -> str:
    if not namespace:
        raise UsageError("sync-all publishes into a dispatch namespace: give one with --namespace")
    return check_namespace_name(namespace)


def tenant_settings(tenant: Tenant, settings: Settings) -> Settings:
    """What sync-all asks for one tenant: the run's ``settings``, with the tenant's folder as the
    project, its name as the script's, and its tags."""
    tags = tuple(dict.fromkeys((TAG, f"tenant:{tenant.name}", *settings.tags)))
    return replace(settings, project_dir=tenant.folder, name=tenant.name, tags=tags)


def resolve_tenant(
    tenant: Tenant, settings: Settings, warn: Callable[[str], None] | None = None
) -> tuple[str, SyncOptions]:
    """The folder to publish and the options for one tenant: the run's ``settings`` (the flags),
    then the wrangler config in the tenant's folder (``settings.env`` applied), then the defaults,
    as for `sync`; ``warn`` gets what the config holds that is not deployed.

    The root ``wrangler.*`` files are deployment settings, never assets. The script is named
    after the folder, with or without an environment.
    """
    name = tenant.name
    if not is_script_name(name):
        raise UsageError(
            f"{tenant.folder}: {name!r} is not a valid Worker name ({SCRIPT_NAME_RULE}). sync-all names "
            "each script after its folder: rename the folder."
        )
    if not os.path.isdir(tenant.folder):
        raise SourceNotFound(f"{tenant.folder}: not a folder (a broken symlink?).", path=tenant.folder)
    project = resolve_project(tenant_settings(tenant, settings))
    cfg, folder = project.config, project.folder
    if cfg.declared_name and cfg.declared_name != name:
        raise ConfigError(
            f"{cfg.path}: name = {cfg.declared_name!r}, but sync-all names each script after its folder "
            f"({name!r}). Remove the name, or rename the folder."
        )
    if project.main and _inside(project.main, folder):
        where = "--main" if settings.main else f"{cfg.path}: main ="
        raise ConfigError(
            f"{where} {project.main!r} lies inside the asset folder {folder}, so the Worker's source "
            "would be served as an asset. Set assets.directory to a folder that does not hold it."
        )
    if warn is not None:
        for line in project.warnings:
            warn(line)
    return folder, project.options


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


@dataclass(frozen=True, slots=True)
class SyncAllOptions:
    """How to publish every tenant under a root.

    ``settings`` are the flags of the run, the same for every tenant (``namespace`` required;
    ``concurrency`` is the limit on uploads in flight across all tenants); sync-all gives each
    tenant its folder, name and salt, so ``folder``, ``project_dir``, ``config_path``, ``name``
    and ``tenant`` stay unset. ``settings.salt`` False: tenants' hashes are not salted.
    """

    settings: Settings
    shard: Shard | None = None
    prune: bool = False
    tenants_at_once: int = TENANTS_AT_ONCE
    builds_at_once: int = 0  # tenants hashed at once; 0: the number of cores


def _check_settings(s: Settings) -> None:
    given = [k for k in ("folder", "project_dir", "config_path", "name", "tenant") if getattr(s, k)]
    if given:
        raise UsageError(
            f"sync-all sets {', '.join(given)} for each tenant: leave it out of the run's settings"
        )


async def sync_all_async(
    root: str,
    options: SyncAllOptions,
    target: Target,
    *,
    confirm_prune: Callable[[list[str]], bool] | None = None,
    on_event: Callable[[TenantEvent], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> SyncAllReport:
    """Publish every tenant of ``root`` (of ``options.shard``) and, with ``options.prune``,
    delete the tagged scripts whose folder is gone.

    Returns a report with one row per tenant; it raises only for what stops the whole run
    before any tenant starts (a missing root, bad options, a listing for prune that fails, or
    ``confirm_prune`` answering no: :class:`NotConfirmed`).
    """
    t0 = time.perf_counter()
    _check_settings(options.settings)
    o = run_options(options.settings)
    namespace = check_namespace(options.settings.namespace)
    if o.offline:
        raise UsageError("sync-all needs the server: --offline is not supported")
    tenants = discover(root)
    shard = options.shard
    selected = [t for t in tenants if shard is None or shard.holds(t.name)]
    report = SyncAllReport(
        target="emulator" if target.kind == "emulator" else target.base_url,
        account_id=target.account_id,
        namespace=namespace,
        shard=str(shard) if shard else None,
        tenants_found=len(tenants),
        dry_run=o.dry_run,
    )
    emit = on_event or (lambda event: None)
    retries = Retries(o.attempts, o.backoff)
    # Uploads take at most o.concurrency connections; sessions and deploys one per tenant in progress.
    connections = o.concurrency + options.tenants_at_once
    # One pacer for every request of the run; a shard of N takes 1/N of the rate limit.
    share = shard.count if shard else 1
    async with target.client(
        timeout=o.timeout, max_connections=connections, rate_limit=o.rate_limit, share=share
    ) as client:
        if options.prune:
            if not tenants:
                raise UsageError(
                    f"{os.path.abspath(root)} holds no tenant folders: refusing to prune, which would "
                    f"delete every script tagged {TAG!r}. To do that, use: assetsync scripts delete "
                    f"--namespace {namespace} --tag {TAG}"
                )
            present = {t.name for t in tenants}
            tagged = await list_scripts(client, namespace, with_tags=(TAG,), retries=retries)
            report.prune_candidates = [
                s.name for s in tagged if s.name not in present and (shard is None or shard.holds(s.name))
            ]
            ask = report.prune_candidates and not o.dry_run and confirm_prune is not None
            if ask and confirm_prune is not None and not confirm_prune(report.prune_candidates):
                raise NotConfirmed("pruning was not confirmed: nothing was deployed or deleted.")

        slots = UploadSlots.up_to(o.concurrency)  # the one limit for every tenant
        gate = asyncio.Semaphore(max(1, options.tenants_at_once))
        builds = asyncio.Semaphore(max(1, options.builds_at_once or os.cpu_count() or 1))

        async def one(tenant: Tenant) -> TenantResult:
            async with gate:
                if report.aborted is not None:
                    row = TenantResult(
                        tenant.name,
                        tenant.folder,
                        ok=False,
                        exit_code=AuthError.exit_code,
                        error_type=AuthError.__name__,
                        error=f"not attempted: {report.aborted}",
                    )
                    emit(TenantFinished(row))
                    return row
                row = await _sync_tenant(tenant, options, target, client, slots, builds, emit, warn)
                if row.error_type == AuthError.__name__ and report.aborted is None:
                    report.aborted = f"the API refused the token ({row.tenant}: {row.error})"
                emit(TenantFinished(row))
                return row

        report.tenants = list(await asyncio.gather(*(one(t) for t in selected)))
        if report.prune_candidates and not o.dry_run and report.aborted is None:
            deletions = await delete_scripts(client, namespace, report.prune_candidates, retries)
            report.prune_results = [d.to_json() for d in deletions]
    report.seconds = time.perf_counter() - t0
    return report


async def _sync_tenant(
    tenant: Tenant,
    options: SyncAllOptions,
    target: Target,
    client: ApiClient,
    slots: UploadSlots,
    builds: asyncio.Semaphore,
    emit: Callable[[TenantEvent], None],
    warn: Callable[[str], None] | None,
) -> TenantResult:
    """One tenant, start to deploy; whatever goes wrong becomes its row."""
    emit(TenantStarted(tenant.name))
    t0 = time.perf_counter()
    warnings: list[str] = []

    def tenant_warn(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(f"{tenant.name}: {message}")

    def progress(event: Event) -> None:
        emit(TenantProgress(tenant.name, event))

    try:
        folder, sync_options = resolve_tenant(tenant, options.settings, tenant_warn)
        syncer = Syncer(folder, sync_options, target, client, progress, tenant_warn, slots=slots)
        async with builds:
            result = await syncer.build_in_thread()
        sync_report = await syncer.publish(result, t0=t0)
    except AssetsyncError as exc:
        return _failed(tenant, exc.exit_code, exc, t0, warnings)
    except Exception as exc:  # an OS error no check foresaw, or a bug: still only this tenant's row
        return _failed(tenant, 1, exc, t0, warnings)
    return TenantResult(
        tenant.name,
        tenant.folder,
        ok=True,
        report=sync_report,
        seconds=time.perf_counter() - t0,
        warnings=warnings,
    )


def _failed(tenant: Tenant, code: int, exc: BaseException, t0: float, warnings: list[str]) -> TenantResult:
    return TenantResult(
        tenant.name,
        tenant.folder,
        ok=False,
        exit_code=code,
        error_type=type(exc).__name__,
        error=str(exc) or repr(exc),
        seconds=time.perf_counter() - t0,
        warnings=warnings,
    )


def sync_all(
    root: str,
    options: SyncAllOptions,
    target: Target | None = None,
    *,
    confirm_prune: Callable[[list[str]], bool] | None = None,
    on_event: Callable[[TenantEvent], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> SyncAllReport:
    """The blocking form of :func:`sync_all_async`; ``target`` defaults to
    :func:`~assetsync.local.resolve_target`'s choice."""
    from .local import resolve_target

    return asyncio.run(
        sync_all_async(
            root,
            options,
            target or resolve_target(),
            confirm_prune=confirm_prune,
            on_event=on_event,
            warn=warn,
        )
    )
