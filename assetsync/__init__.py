"""assetsync: publish folders of static files to Cloudflare Workers and Workers for Platforms.

The public API is what ``__all__`` lists; everything else is private. Names are imported on
first use so that ``import assetsync`` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "build_manifest": "build",
    "build": "build",
    "BuildOptions": "build",
    "BuildResult": "build",
    "BuildStats": "build",
    "Manifest": "manifest",
    "ManifestDiff": "manifest",
    "Entry": "manifest",
    "HashScheme": "hashing",
    "sync": "engine",
    "sync_async": "engine",
    "SyncOptions": "engine",
    "SyncReport": "events",
    "sync_all": "tenants",
    "sync_all_async": "tenants",
    "SyncAllOptions": "tenants",
    "Shard": "tenants",
    "SyncAllReport": "events",
    "TenantResult": "events",
    "WorkerSpec": "protocol",
    "AssetsConfig": "protocol",
    "Target": "target",
    "resolve_target": "target",
    "ApiError": "errors",
    "AuthError": "errors",
    "RequestRefused": "errors",
    "content_type": "contenttypes",
    "IgnoreRules": "ignore",
    "AssetsyncError": "errors",
    "UsageError": "errors",
    "ConfigError": "errors",
    "ScanError": "errors",
    "SourceNotFound": "errors",
    "NothingToPublish": "errors",
    "UnreadablePath": "errors",
    "LimitError": "errors",
    "FileTooLarge": "errors",
    "TooManyFiles": "errors",
    "CacheError": "errors",
    "PartlyFailed": "errors",
    "NotConfirmed": "errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # "X as X": re-exported for type checkers, which cannot read __all__ above
    from .build import (
        BuildOptions as BuildOptions,
    )
    from .build import (
        BuildResult as BuildResult,
    )
    from .build import (
        BuildStats as BuildStats,
    )
    from .build import (
        build as build,
    )
    from .build import (
        build_manifest as build_manifest,
    )
    from .contenttypes import (
        content_type as content_type,
    )
    from .engine import (
        SyncOptions as SyncOptions,
    )
    from .engine import (
        sync as sync,
    )
    from .engine import (
        sync_async as sync_async,
    )
    from .errors import (
        ApiError as ApiError,
    )
    from .errors import (
        AssetsyncError as AssetsyncError,
    )
    from .errors import (
        AuthError as AuthError,
    )
    from .errors import (
        CacheError as CacheError,
    )
    from .errors import (
        ConfigError as ConfigError,
    )
    from .errors import (
        FileTooLarge as FileTooLarge,
    )
    from .errors import (
        LimitError as LimitError,
    )
    from .errors import (
        NotConfirmed as NotConfirmed,
    )
    from .errors import (
        NothingToPublish as NothingToPublish,
    )
    from .errors import (
        PartlyFailed as PartlyFailed,
    )
    from .errors import (
        RequestRefused as RequestRefused,
    )
    from .errors import (
        ScanError as ScanError,
    )
    from .errors import (
        SourceNotFound as SourceNotFound,
    )
    from .errors import (
        TooManyFiles as TooManyFiles,
    )
    from .errors import (
        UnreadablePath as UnreadablePath,
    )
    from .errors import (
        UsageError as UsageError,
    )
    from .events import (
        SyncAllReport as SyncAllReport,
    )
    from .events import (
        SyncReport as SyncReport,
    )
    from .events import (
        TenantResult as TenantResult,
    )
    from .hashing import (
        HashScheme as HashScheme,
    )
    from .ignore import (
        IgnoreRules as IgnoreRules,
    )
    from .manifest import (
        Entry as Entry,
    )
    from .manifest import (
        Manifest as Manifest,
    )
    from .manifest import (
        ManifestDiff as ManifestDiff,
    )
    from .protocol import (
        AssetsConfig as AssetsConfig,
    )
    from .protocol import (
        WorkerSpec as WorkerSpec,
    )
    from .target import (
        Target as Target,
    )
    from .target import (
        resolve_target as resolve_target,
    )
    from .tenants import (
        Shard as Shard,
    )
    from .tenants import (
        SyncAllOptions as SyncAllOptions,
    )
    from .tenants import (
        sync_all as sync_all,
    )
    from .tenants import (
        sync_all_async as sync_all_async,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assetsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
