"""Whether a request goes to the Worker or to the assets, as the platform's router decides.

For a version with both a Worker and assets: ``run_worker_first`` true sends every request to the
Worker; otherwise a request the assets can answer gets the assets, and any other goes to the Worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .resolve import Site


def worker_first(
    site: Site, metadata: Mapping[str, Any], method: str, pathname: str, headers: Mapping[str, str]
) -> bool:
    """True when the Worker, not the asset layer, answers ``method pathname``."""
    config = (metadata.get("assets") or {}).get("config") or {}
    if config.get("run_worker_first") is True:
        return True
    res = site.resolve(method, pathname, host=headers.get("host"))
    return res.asset is None and res.location is None
