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
    "WorkerSpec": "plan",
    "AssetsConfig": "plan",
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

if TYPE_CHECKING:
    from .build import BuildOptions, BuildResult, BuildStats, build, build_manifest
    from .contenttypes import content_type
    from .engine import SyncOptions, sync, sync_async
    from .errors import (
        ApiError,
        AssetsyncError,
        AuthError,
        CacheError,
        ConfigError,
        FileTooLarge,
        LimitError,
        NotConfirmed,
        NothingToPublish,
        PartlyFailed,
        RequestRefused,
        ScanError,
        SourceNotFound,
        TooManyFiles,
        UnreadablePath,
        UsageError,
    )
    from .events import SyncAllReport, SyncReport, TenantResult
    from .hashing import HashScheme
    from .ignore import IgnoreRules
    from .manifest import Entry, Manifest, ManifestDiff
    from .plan import AssetsConfig, WorkerSpec
    from .target import Target, resolve_target
    from .tenants import Shard, SyncAllOptions, sync_all, sync_all_async


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assetsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
