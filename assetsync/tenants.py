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

Unchanged tenants cost no request of their own: after each deploy the tenant's record keeps what
went into it and how the live script looked (:mod:`assetsync.deployrecords`); a tenant whose
folder and settings still match its record is checked against the namespace's script list, read
once for the run, and skipped when the list shows the recorded etag and modified time
(:mod:`assetsync.tenantcheck`). Anything else is a deploy. ``verify="full"`` deploys every tenant.
A dry run adds a plan (:mod:`assetsync.tenantplan`): what the run would deploy and what it costs.

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

from .deployrecords import DeployRecord, Digests, RecordStore, Scope, manifest_digest, settings_digest
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
from .folder.cache import default_cache_dir
from .namespace import delete_scripts, list_scripts
from .protocol import SCRIPT_NAME_RULE, is_script_name
from .retry import Retries
from .settings import Settings, resolve_project, run_options
from .tenantcheck import (
    NO_RECORD,
    UNCHECKED,
    VERIFY_FULL,
    LiveScripts,
    live_verdict,
    local_verdict,
    pages_for,
)
from .tenantplan import CLOUDFLARE_BUDGET, UNCHANGED, RateBudget, TenantPlan, estimate_uploads
from .wire.client import ApiClient
from .wire.plan import check_namespace as check_namespace_name
from .wire.target import Target

TAG = "assetsync"  # every script sync-all deploys carries it; prune never touches one without it
TENANTS_AT_ONCE = 16  # tenants between start and deploy at any moment
VERIFY = ("list", "full")  # how an unchanged tenant is told: by its record and the list, or by a deploy


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
    ``settings.offline`` (dry runs only): no request at all; tenants are judged by their records.

    ``verify``: ``"list"`` skips a tenant whose folder and settings match its record while the
    namespace's list shows its script as recorded; ``"full"`` deploys every tenant. Records live
    in ``records_dir``, default the settings' ``cache_dir``, else the user cache folder.
    ``budget``: the token's rate limit a dry run's plan counts with (default: the settings'
    ``rate_limit``, or what the server's answers state if that is tighter, else Cloudflare's).
    """

    settings: Settings
    shard: Shard | None = None
    prune: bool = False
    tenants_at_once: int = TENANTS_AT_ONCE
    builds_at_once: int = 0  # tenants hashed at once; 0: the number of cores
    verify: str = "list"
    records_dir: str | None = None
    budget: RateBudget | None = None


def _check_options(options: SyncAllOptions) -> None:
    s = options.settings
    given = [k for k in ("folder", "project_dir", "config_path", "name", "tenant") if getattr(s, k)]
    if given:
        raise UsageError(
            f"sync-all sets {', '.join(given)} for each tenant: leave it out of the run's settings"
        )
    if options.verify not in VERIFY:
        raise UsageError(f"--verify {options.verify!r}: use one of {', '.join(VERIFY)}")
    if s.offline and not s.dry_run:
        raise UsageError("--offline only goes with --dry-run")
    if s.offline and options.prune:
        raise UsageError(
            "--offline and --prune: what --prune would delete needs the namespace's list. Drop one of them."
        )


def records_for(
    options: SyncAllOptions, target: Target, namespace: str, warn: Callable[[str], None] | None = None
) -> RecordStore:
    """The deploy records of ``namespace`` on ``target`` (its API base, or an embedded
    emulator's data folder, and its account) in ``options``' folder for them."""
    api = target.base_url if target.kind == "api" else f"emulator {os.path.realpath(target.data_dir or '')}"
    folder = options.records_dir or options.settings.cache_dir or default_cache_dir()
    return RecordStore.in_folder(folder, Scope(api, target.account_id, namespace), warn or (lambda m: None))


@dataclass(frozen=True, slots=True)
class _Cost:
    """What a tenant's deploy takes besides its session and its deploy request (dry runs)."""

    uploads: int = 0
    other: int = 0
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class _Run:
    """What every tenant of one run shares."""

    options: SyncAllOptions
    target: Target
    client: ApiClient
    slots: UploadSlots
    builds: asyncio.Semaphore
    records: RecordStore
    live: LiveScripts
    emit: Callable[[TenantEvent], None]
    warn: Callable[[str], None] | None


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
    _check_options(options)
    o = run_options(options.settings)
    namespace = check_namespace(options.settings.namespace)
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
    if o.dry_run:
        budget = options.budget or (RateBudget.of(o.rate_limit) if o.rate_limit else CLOUDFLARE_BUDGET)
        report.plan = TenantPlan(budget.shared_by(shard.count) if shard else budget, unverified=o.offline)
    emit = on_event or (lambda event: None)
    retries = Retries(o.attempts, o.backoff)
    # Uploads take at most o.concurrency connections; sessions and deploys one per tenant in progress.
    connections = o.concurrency + options.tenants_at_once
    # One pacer for every request of the run; a shard of N takes 1/N of the rate limit.
    share = shard.count if shard else 1
    async with target.client(
        timeout=o.timeout, max_connections=connections, rate_limit=o.rate_limit, share=share
    ) as client:
        # The scripts sync-all deployed (tagged): what unchanged tenants are checked against, and
        # what prune chooses from; listed once, when first needed.
        live = LiveScripts(lambda: list_scripts(client, namespace, with_tags=(TAG,), retries=retries))
        with records_for(options, target, namespace, warn) as records:
            try:
                if options.prune:
                    if not tenants:
                        raise UsageError(
                            f"{os.path.abspath(root)} holds no tenant folders: refusing to prune, which "
                            f"would delete every script tagged {TAG!r}. To do that, use: assetsync scripts "
                            f"delete --namespace {namespace} --tag {TAG}"
                        )
                    present = {t.name for t in tenants}
                    tagged = sorted((await live.scripts()).values(), key=lambda s: s.name)
                    report.prune_candidates = [
                        s.name
                        for s in tagged
                        if s.name not in present and (shard is None or shard.holds(s.name))
                    ]
                    ask = report.prune_candidates and not o.dry_run and confirm_prune is not None
                    if ask and confirm_prune is not None and not confirm_prune(report.prune_candidates):
                        raise NotConfirmed("pruning was not confirmed: nothing was deployed or deleted.")

                run = _Run(
                    options,
                    target,
                    client,
                    UploadSlots.up_to(o.concurrency),  # the one limit for every tenant
                    asyncio.Semaphore(max(1, options.builds_at_once or os.cpu_count() or 1)),
                    records,
                    live,
                    emit,
                    warn,
                )
                gate = asyncio.Semaphore(max(1, options.tenants_at_once))
                listed_offline = False

                async def one(tenant: Tenant) -> TenantResult:
                    nonlocal listed_offline
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
                            emit(TenantFinished(row, client.requests_sent))
                            return row
                        row, cost = await _sync_tenant(tenant, run)
                        if row.error_type == AuthError.__name__ and report.aborted is None:
                            report.aborted = f"the API refused the token ({row.tenant}: {row.error})"
                        if report.plan is not None:
                            if not row.ok:
                                report.plan.add_failed()
                            elif row.check == UNCHANGED:
                                report.plan.add_unchanged(row.check)
                                listed_offline = o.offline
                            else:
                                report.plan.add_deploy(
                                    row.check or VERIFY_FULL, cost.uploads, cost.other, cost.estimated
                                )
                        emit(TenantFinished(row, client.requests_sent))
                        return row

                report.tenants = list(await asyncio.gather(*(one(t) for t in selected)))
                if report.prune_candidates and not o.dry_run and report.aborted is None:
                    deletions = await delete_scripts(client, namespace, report.prune_candidates, retries)
                    report.prune_results = [d.to_json() for d in deletions]
            finally:
                live.close()
        if live.error is not None and warn is not None:
            warn(
                f"the script list of namespace {namespace} could not be read ({live.error}); tenants "
                "whose record matched were deployed rather than skipped"
            )
        report.requests = client.requests_sent
        if report.plan is not None:
            plan = report.plan
            plan.list_pages = pages_for(len(tenants)) if listed_offline else live.pages
            plan.other += len(report.prune_candidates)
            plan.spent = client.requests_sent
            heard = client.pacer.server  # the budget the server's answers stated, if they did
            if heard is not None and options.budget is None:  # it replaces the one assumed
                stated = RateBudget.of(heard).shared_by(plan.budget.share)
                given = [plan.budget] if o.rate_limit is not None else []
                plan.budget = min([*given, stated], key=lambda b: b.per_second)
    report.seconds = time.perf_counter() - t0
    return report


async def _sync_tenant(tenant: Tenant, run: _Run) -> tuple[TenantResult, _Cost]:
    """One tenant: checked, then skipped or deployed (a dry run: what its deploy would cost);
    whatever goes wrong becomes its row."""
    run.emit(TenantStarted(tenant.name))
    t0 = time.perf_counter()
    warnings: list[str] = []
    settings = run.options.settings

    def tenant_warn(message: str) -> None:
        warnings.append(message)
        if run.warn is not None:
            run.warn(f"{tenant.name}: {message}")

    def progress(event: Event) -> None:
        run.emit(TenantProgress(tenant.name, event))

    check: str | None = None
    cost = _Cost()
    try:
        folder, sync_options = resolve_tenant(tenant, settings, tenant_warn)
        syncer = Syncer(folder, sync_options, run.target, run.client, progress, tenant_warn, slots=run.slots)
        async with run.builds:
            result = await syncer.build_in_thread()
        check = VERIFY_FULL
        if run.options.verify == "list":
            check = await _check(tenant, run, result.manifest.to_json(), syncer, sync_options)
        if check == UNCHANGED:
            sync_report = syncer.report
            sync_report.skipped = sync_report.files
            sync_report.preview_url = run.target.preview_url(tenant.name, sync_options.namespace)
            sync_report.durations["total"] = time.perf_counter() - t0
        elif settings.offline:  # a dry run that sends nothing: every file counts as missing
            sizes = {e.hash: e.size for e in result.manifest.values()}
            cost = _Cost(estimate_uploads(sizes.values()), _migration_read(syncer), estimated=True)
            sync_report = syncer.report
        else:
            sync_report = await syncer.publish(result, t0=t0)
            if settings.dry_run:
                cost = _Cost(len(sync_report.plan), _migration_read(syncer))
            else:
                _record(tenant, run, syncer, sync_options)
    except AssetsyncError as exc:
        return _failed(tenant, exc.exit_code, exc, t0, warnings, check), cost
    except Exception as exc:  # an OS error no check foresaw, or a bug: still only this tenant's row
        return _failed(tenant, 1, exc, t0, warnings, check), cost
    row = TenantResult(
        tenant.name,
        tenant.folder,
        ok=True,
        report=sync_report,
        seconds=time.perf_counter() - t0,
        warnings=warnings,
        check=check,
    )
    return row, cost


async def _check(tenant: Tenant, run: _Run, manifest_json: str, syncer: Syncer, options: SyncOptions) -> str:
    """The tenant's verdict (:mod:`assetsync.tenantcheck`); the list is read only for a tenant
    whose record matches what it would deploy now."""
    digests = Digests(manifest_digest(manifest_json), settings_digest(syncer.deploy_spec(), options.modules))
    record = run.records.get(tenant.name)
    if record is None:
        return NO_RECORD
    verdict = local_verdict(record, digests)
    if verdict is not None:
        return verdict
    if run.options.settings.offline:
        return UNCHANGED  # by the record alone: the plan says so
    listed, script = await run.live.find(tenant.name)
    return live_verdict(record, script) if listed else UNCHECKED


def _record(tenant: Tenant, run: _Run, syncer: Syncer, options: SyncOptions) -> None:
    """Keep what the tenant's deploy sent and how the live script looked in the deploy's answer."""
    if syncer.deployed is None:
        return
    manifest, spec, answer = syncer.deployed
    digests = Digests(manifest_digest(manifest.to_json()), settings_digest(spec, options.modules))
    etag, modified = answer.get("etag"), answer.get("modified_on")
    run.records.put(
        tenant.name,
        DeployRecord(
            digests,
            etag if isinstance(etag, str) and etag else None,
            modified if isinstance(modified, str) and modified else None,
        ),
    )


def _migration_read(syncer: Syncer) -> int:
    """1 when the deploy would first read the live migration tag (a Worker with migrations)."""
    spec = syncer.spec
    return 1 if spec.main_module and spec.migrations else 0


def _failed(
    tenant: Tenant, code: int, exc: BaseException, t0: float, warnings: list[str], check: str | None
) -> TenantResult:
    return TenantResult(
        tenant.name,
        tenant.folder,
        ok=False,
        exit_code=code,
        error_type=type(exc).__name__,
        error=str(exc) or repr(exc),
        seconds=time.perf_counter() - t0,
        warnings=warnings,
        check=check,
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
