"""assetsync: publish folders of static files to Cloudflare Workers and Workers for Platforms.

The public API is the ``if TYPE_CHECKING:`` block below, and nothing else: type checkers read
it as written, and at run time :data:`__all__` and the lazy loader are derived from that same
block (parsed at import, about 2 ms), so there is one list to keep. A name is imported from its
module on first use, so ``import assetsync`` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # the exports: "X as X" marks a re-export for type checkers
    from .engine import (
        SyncOptions as SyncOptions,
        sync as sync,
        sync_async as sync_async,
    )
    from .errors import (
        ApiError as ApiError,
        AssetsyncError as AssetsyncError,
        AuthError as AuthError,
        CacheError as CacheError,
        ConfigError as ConfigError,
        FilesChanging as FilesChanging,
        FileTooLarge as FileTooLarge,
        Interrupted as Interrupted,
        LimitError as LimitError,
        NetworkError as NetworkError,
        NotConfirmed as NotConfirmed,
        NothingToPublish as NothingToPublish,
        PartlyFailed as PartlyFailed,
        ProtocolError as ProtocolError,
        RateLimited as RateLimited,
        RequestRefused as RequestRefused,
        ScanError as ScanError,
        ServerError as ServerError,
        SourceNotFound as SourceNotFound,
        TooManyFiles as TooManyFiles,
        UnreadablePath as UnreadablePath,
        UsageError as UsageError,
    )
    from .events import (
        JSON_SCHEMA as JSON_SCHEMA,
        Built as Built,
        DeletionJSON as DeletionJSON,
        Deployed as Deployed,
        Deploying as Deploying,
        ErrorJSON as ErrorJSON,
        Event as Event,
        Restarting as Restarting,
        Retrying as Retrying,
        SessionOpened as SessionOpened,
        SyncAllReport as SyncAllReport,
        SyncReport as SyncReport,
        TenantEvent as TenantEvent,
        TenantFinished as TenantFinished,
        TenantProgress as TenantProgress,
        TenantResult as TenantResult,
        TenantStarted as TenantStarted,
        Uploaded as Uploaded,
        error_json as error_json,
        failure_json as failure_json,
        json_document as json_document,
    )
    from .folder.build import (
        BuildOptions as BuildOptions,
        BuildResult as BuildResult,
        BuildStats as BuildStats,
        build as build,
        build_manifest as build_manifest,
    )
    from .folder.hashing import (
        HashScheme as HashScheme,
    )
    from .folder.ignore import (
        IgnoreRules as IgnoreRules,
    )
    from .folder.manifest import (
        Entry as Entry,
        Manifest as Manifest,
        ManifestDiff as ManifestDiff,
    )
    from .local import (
        PreviewServer as PreviewServer,
        embedded_target as embedded_target,
        resolve_target as resolve_target,
    )
    from .namespace import (
        Deletion as Deletion,
        ScriptInfo as ScriptInfo,
        delete_from_namespace as delete_from_namespace,
        delete_scripts as delete_scripts,
        list_namespace as list_namespace,
        list_scripts as list_scripts,
    )
    from .protocol import (
        AssetsConfig as AssetsConfig,
        Module as Module,
        WorkerSpec as WorkerSpec,
    )
    from .protocol.contenttypes import (
        content_type as content_type,
    )
    from .protocol.ratelimit import (
        RateLimit as RateLimit,
    )
    from .ratepacer import (
        Pacer as Pacer,
    )
    from .retry import (
        Backoff as Backoff,
        Retries as Retries,
    )
    from .secrets import (
        SecretInfo as SecretInfo,
        delete_secret as delete_secret,
        delete_secret_from as delete_secret_from,
        list_secrets as list_secrets,
        list_secrets_of as list_secrets_of,
        put_secrets as put_secrets,
        put_secrets_to as put_secrets_to,
        script_settings as script_settings,
        settings_of as settings_of,
    )
    from .settings import (
        Settings as Settings,
        resolve as resolve,
    )
    from .tenantplan import (
        RateBudget as RateBudget,
        TenantPlan as TenantPlan,
    )
    from .tenants import (
        Shard as Shard,
        SyncAllOptions as SyncAllOptions,
        sync_all as sync_all,
        sync_all_async as sync_all_async,
    )
    from .watcher import (
        DeployLine as DeployLine,
        PhaseTimes as PhaseTimes,
        Step as Step,
        WatchArgs as WatchArgs,
        Watcher as Watcher,
        watch as watch,
        watch_async as watch_async,
    )
    from .watchevents import (
        Debouncer as Debouncer,
        EventSource as EventSource,
        FileObserver as FileObserver,
        ReportPaths as ReportPaths,
        WatchdogSource as WatchdogSource,
    )
    from .watchplan import (
        BuildGate as BuildGate,
        Inputs as Inputs,
    )
    from .wire.client import (
        ApiClient as ApiClient,
    )
    from .wire.target import (
        Target as Target,
    )


def _exports() -> dict[str, str]:
    """Each exported name and the module it lives in, read from the block above."""
    import ast

    with open(__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    block = next(node for node in tree.body if isinstance(node, ast.If))
    return {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


_EXPORTS = _exports()
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assetsync' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
