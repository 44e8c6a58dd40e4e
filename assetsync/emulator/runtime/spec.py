"""What workerd needs to run one deployed version: its modules, compatibility settings and env.

The host Worker (``host.js``) asks for this by version id and hands it to workerd's Worker Loader.
Plain bindings (``plain_text``, ``json``, ``secret_text``, ``version_metadata``) become env values
here; ``assets``, ``kv_namespace``, ``service`` and ``dispatch_namespace`` are described for the
host, which gives the Worker a stub of one of its own entrypoints for each. Kinds the local runtime
does not model (R2, D1, queues, Durable Objects...) are left out of env, and said once.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from ..store import Version

SHIM_NAME = "__assetsync_main.js"
# The oldest date the platform gives a Worker uploaded without one (its first compatibility date).
DEFAULT_DATE = "2021-11-03"
# The AsyncLocalStorage the shim counts subrequests with; nodejs_compat brings it too.
ALS_FLAGS = ("nodejs_als", "nodejs_compat", "nodejs_compat_v2")

# Module part content types (as wrangler uploads them) -> the Worker Loader's module kinds.
MODULE_KINDS = {
    "application/javascript+module": "js",
    "text/javascript+module": "js",
    "application/javascript": "cjs",
    "text/javascript": "cjs",
    "application/node": "cjs",
    "text/plain": "text",
    "application/octet-stream": "data",
    "application/wasm": "wasm",
    "application/json": "json",
}
SKIPPED_MODULES = ("application/source-map",)


class NotRunnable(Exception):
    """A version the local runtime cannot run, with the reason in words."""


@cache
def shim_template() -> str:
    return resources.files(__package__).joinpath("shim.js").read_text("utf-8")


def clamp_date(date: str | None, newest: str) -> str:
    """The compatibility date to run with: the version's, but never past what this workerd knows
    (workerd refuses a date it was built before)."""
    date = date or DEFAULT_DATE
    return min(date, newest)


def worker_spec(
    version: Version,
    modules: list[tuple[str, str, bytes]],
    newest_date: str,
) -> tuple[dict[str, Any], list[str]]:
    """The host's description of ``version``, and the binding kinds it has that are left out."""
    md = version.metadata
    main = md.get("main_module")
    if not main:
        if md.get("body_part"):
            raise NotRunnable(
                "it is a service-worker-syntax Worker (body_part); the local runtime runs ES module "
                "Workers: export default { fetch(request, env, ctx) { ... } }"
            )
        raise NotRunnable("it has no main module (an assets-only deploy)")
    out_modules: dict[str, Any] = {}
    for name, ctype, body in modules:
        kind = MODULE_KINDS.get(ctype.split(";")[0].strip().lower())
        if kind is None:
            if ctype in SKIPPED_MODULES:
                continue
            kind = "data"
        out_modules[name] = _module(kind, body)
    flags = list(md.get("compatibility_flags") or [])
    if not any(f in flags for f in ALS_FLAGS):
        flags.append("nodejs_als")
    values, described, left_out = _bindings(version)
    spec = {
        "version": version.id,
        "account": version.account,
        "namespace": version.namespace,
        "script": version.script,
        "compatibilityDate": clamp_date(md.get("compatibility_date"), newest_date),
        "compatibilityFlags": flags,
        "modules": out_modules,
        "shim": shim_template().replace("__MAIN__", json.dumps("./" + main.lstrip("/"))),
        "values": values,
        "bindings": described,
    }
    return spec, left_out


def _module(kind: str, body: bytes) -> dict[str, Any]:
    if kind in ("data", "wasm"):
        return {kind: base64.b64encode(body).decode("ascii")}
    text = body.decode("utf-8", errors="replace")
    if kind == "json":
        return {"json": json.loads(text)}
    return {kind: text}


def _bindings(version: Version) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    values: dict[str, Any] = {}
    described: list[dict[str, Any]] = []
    left_out: list[str] = []
    for b in version.bindings:
        kind, name = b.get("type"), b.get("name")
        if not isinstance(name, str):
            continue
        if kind in ("plain_text", "secret_text"):
            values[name] = b.get("text", "")
        elif kind == "json":
            values[name] = b.get("json")
        elif kind == "version_metadata":
            stamp = datetime.fromtimestamp(version.created, UTC).isoformat().replace("+00:00", "Z")
            tag = (version.metadata.get("annotations") or {}).get("workers/tag", "")
            values[name] = {"id": version.id, "tag": tag, "timestamp": stamp}
        elif kind == "assets":
            described.append({"type": "assets", "name": name})
        elif kind == "kv_namespace":
            described.append({"type": "kv", "name": name, "id": b.get("namespace_id")})
        elif kind == "service":
            described.append(
                {
                    "type": "service",
                    "name": name,
                    "service": b.get("service"),
                    "entrypoint": b.get("entrypoint"),
                }
            )
        elif kind == "dispatch_namespace":
            described.append(
                {"type": "dispatch", "name": name, "namespace": b.get("namespace"), "outbound": _outbound(b)}
            )
        else:
            left_out.append(f"{name} ({kind})")
    return values, described, left_out


def _outbound(binding: dict[str, Any]) -> dict[str, Any] | None:
    """A dispatch namespace binding's outbound Worker and the parameter names it takes."""
    outbound = binding.get("outbound")
    if not isinstance(outbound, dict):
        return None
    worker = outbound.get("worker") or {}
    params = [p.get("name") for p in outbound.get("params") or [] if isinstance(p, dict)]
    return {"service": worker.get("service"), "params": [p for p in params if isinstance(p, str)]}
