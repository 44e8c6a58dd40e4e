"""The JSON the API answers with for a script, its deployment and its settings.

Shaped field for field as the recorded traces show the real API answers, since wrangler and the
SDKs read more of it than assetsync does; several routes answer with the same shapes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from ..store import Listed, Script, Store, Version
from .bindings import shown


def iso(ts: float) -> str:
    """A timestamp as the API writes it: UTC, microseconds, ``Z``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def etag(version: Version) -> str:
    return etag_of(version.id)


def etag_of(version_id: str) -> str:
    return hashlib.sha256(version_id.encode()).hexdigest()


def script_json(store: Store, s: Script, version: Version | None = None) -> dict[str, Any]:
    """A script as deployed and fetched; ``version`` defaults to its live one."""
    if version is None and s.version:
        version = store.version(s.version)
    tag = store.migration_tag(s.account, s.namespace, s.name)
    if version is None:
        return listed_json(Listed(s, "", {}, False, tag))
    return listed_json(Listed(s, version.id, version.metadata, version.manifest is not None, tag))


def listed_json(item: Listed) -> dict[str, Any]:
    """A script as listed (a page of them comes from one query: :meth:`Store.listed`)."""
    s, md, tag = item.script, item.metadata, item.migration_tag
    return {
        "id": s.name,
        "tag": hashlib.md5(f"{s.account}/{s.namespace}/{s.name}".encode()).hexdigest(),
        "tags": s.tags,
        "etag": etag_of(item.version) if item.version else None,
        "handlers": ["fetch"],
        "named_handlers": [],
        "modified_on": iso(s.modified),
        "created_on": iso(s.created),
        "usage_model": "standard",
        "compatibility_date": md.get("compatibility_date"),
        "compatibility_flags": md.get("compatibility_flags", []),
        "has_assets": item.has_assets,
        "has_modules": bool(md.get("main_module")),
        "logpush": False,
        "placement_mode": None,
        "startup_time_ms": 1,
        # What wrangler reads as the "Current Version ID": the live version's id, not the
        # deployment's (that one is in GET .../deployments).
        "deployment_id": item.version or None,
        "pipeline_hash": None,
        "mutable_pipeline_id": None,
        **({"migration_tag": tag} if tag else {}),  # what a deploy's migrations must start from
    }


def deployment_json(s: Script, version: Version) -> dict[str, Any]:
    """The script's live deployment: all traffic to ``version``."""
    return {
        "id": s.deployment,
        "source": "wrangler",
        "strategy": "percentage",
        "author_email": "emulator@assetsync.local",
        "created_on": iso(s.modified),
        "versions": [{"version_id": version.id, "percentage": 100}],
    }


def settings_json(s: Script) -> dict[str, Any]:
    return {
        "logpush": False,
        "tail_consumers": [],
        "observability": s.settings.get("observability", {"enabled": False}),
        "tags": s.tags,
    }


def full_settings_json(s: Script, live: Version) -> dict[str, Any]:
    """``GET .../settings``: the script's settings and its live version's (secrets without values)."""
    md = live.metadata
    return {
        **settings_json(s),
        "bindings": [shown(b) for b in live.bindings],
        "compatibility_date": md.get("compatibility_date"),
        "compatibility_flags": md.get("compatibility_flags", []),
        "placement": md.get("placement") or {},
        "usage_model": "standard",
    }
