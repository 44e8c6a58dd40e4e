"""wrangler's environments (``[env.NAME]``), and which of a config's keys assetsync acts on.

An environment is a section that overrides the top level for one deploy, by wrangler's rules
(``packages/workers-utils/src/config/validation.ts``, ``normalizeAndValidateEnvironment``, and
``environment.ts``' ``@inheritable`` / ``@nonInheritable`` marks):

* **Inheritable** keys (compatibility settings, ``main``, ``assets``, routes, ...) take the
  environment's value, else the top level's.
* **Not inheritable** keys (``vars``, ``define`` and every kind of binding) come from the
  environment only: a top-level value does not leak into it; wrangler warns when the top level
  has one the environment does not repeat, and so does :func:`apply_env`.
* **name** is inheritable with a twist: not set in the environment, it is the top level's name
  followed by ``-<env>`` (``shop`` deployed with ``--env staging`` is the Worker ``shop-staging``).
* **Top-level only** keys (``keep_vars``, ``legacy_env``, ``env`` ...) are read from the top level
  whatever the environment; written inside an environment they mean nothing.
* An environment that is not defined is an error naming those that are; when the config defines
  none at all, wrangler only warns and deploys the top level under the suffixed name, as here.

The key lists below are wrangler 4's, newest keys included, so that a key of a newer config is
not taken for a typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import ConfigError
from .bindings import BINDING_KEYS
from .keylines import KeyPath, dotted

__all__ = ["ASSETS_KEYS", "ResolvedEnv", "apply_env", "unused_key_warnings"]

INHERITABLE: frozenset[str] = frozenset(
    {
        "name", "account_id", "compatibility_date", "compatibility_flags", "main", "assets",
        "find_additional_modules", "preserve_file_names", "base_dir", "workers_dev", "preview_urls",
        "route", "routes", "tsconfig", "jsx_factory", "jsx_fragment", "rules", "build", "no_bundle",
        "minify", "keep_names", "migrations", "exports", "triggers", "limits", "placement",
        "first_party_worker", "logfwdr", "logpush", "upload_source_maps", "observability", "access",
        "cache", "compliance_region", "python_modules", "previews",
    }
)  # fmt: skip

NOT_INHERITABLE: frozenset[str] = frozenset(
    {
        "vars", "define", "secrets", "durable_objects", "workflows", "kv_namespaces", "cloudchamber",
        "containers", "send_email", "queues", "connect", "r2_buckets", "d1_databases", "vectorize",
        "ai_search_namespaces", "ai_search", "websearch", "agent_memory", "hyperdrive", "services",
        "analytics_engine_datasets", "dispatch_namespaces", "mtls_certificates", "tail_consumers",
        "streaming_tail_consumers", "unsafe", "browser", "ai", "images", "stream", "media",
        "pipelines", "secrets_store_secrets", "artifacts", "unsafe_hello_world", "flagship",
        "worker_loaders", "ratelimits", "vpc_services", "vpc_networks", "version_metadata",
    }
) | BINDING_KEYS  # fmt: skip

TOP_LEVEL_ONLY: frozenset[str] = frozenset(
    {
        "$schema", "env", "legacy_env", "keep_vars", "send_metrics", "dependencies_instrumentation",
        "addresses", "pages_build_output_dir", "dev", "site", "alias", "wasm_modules", "text_blobs",
        "data_blobs",
    }
)  # fmt: skip

ASSETS_KEYS: frozenset[str] = frozenset(
    {"directory", "binding", "html_handling", "not_found_handling", "run_worker_first"}
)

# What assetsync acts on. ``$schema`` only tells an editor how to check the file: nothing to do.
ACTED_ON: frozenset[str] = (
    frozenset(
        {
            "$schema", "name", "main", "compatibility_date", "compatibility_flags", "assets", "vars",
            "keep_vars", "env", "legacy_env", "migrations", "triggers",
        }
    )
    | BINDING_KEYS
)  # fmt: skip

_KNOWN = INHERITABLE | NOT_INHERITABLE | TOP_LEVEL_ONLY

# Why a common key does nothing here, and what to do instead: one clause each.
_HINTS: Mapping[str, str] = {
    "account_id": "pass --account-id or set CLOUDFLARE_ACCOUNT_ID",
    "build": "run the build before assetsync",
    "routes": "assetsync does not change a Worker's routes",
    "route": "assetsync does not change a Worker's routes",
    "workers_dev": "assetsync does not change the workers.dev setting",
    "preview_urls": "assetsync does not change the preview URLs setting",
    "site": "Workers Sites is not supported: use assets",
}


@dataclass(frozen=True, slots=True)
class ResolvedEnv:
    """The config with an environment applied: what a deploy reads, and where each key came from."""

    values: dict[str, object]
    origin: dict[str, KeyPath]  # key -> () for the top level, ("env", NAME) for the environment
    warnings: tuple[str, ...]


def apply_env(path: str, raw: Mapping[str, object], env: str | None) -> ResolvedEnv:
    """``raw`` (a whole config) with the environment ``env`` applied by wrangler's rules; ``None``:
    the top level as it is. Raises :class:`ConfigError` for an environment that is not defined."""
    top = {k: v for k, v in raw.items()}
    origin: dict[str, KeyPath] = {k: () for k in top}
    if env is None:
        return ResolvedEnv(top, origin, ())
    sections = raw.get("env")
    if sections is not None and not isinstance(sections, dict):
        raise ConfigError(f"{path}: env must be a table of environments, e.g. [env.production]")
    if sections is None:
        # wrangler, too, only warns and deploys the top level under the environment's name.
        top.update(_suffixed(top, env))
        return ResolvedEnv(
            top,
            origin,
            (f"{path} defines no environments: --env {env} deploys the top level as {_shown_name(top)}",),
        )
    section = sections.get(env)
    if section is None:
        defined = ", ".join(sorted(sections)) or "none"
        raise ConfigError(
            f'{path}: no environment "{env}" (defined: {defined}). Pass one of those to --env '
            f"(or CLOUDFLARE_ENV), or add an [env.{env}] section."
        )
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: env.{env} must be a table of settings, e.g. [env.{env}]")
    here: KeyPath = ("env", env)
    values: dict[str, object] = {}
    origin = {}
    warnings: list[str] = []
    for key, value in top.items():
        if key in NOT_INHERITABLE:
            if key not in section:
                warnings.append(
                    f"{path}: {key} is set at the top level but not in env.{env}, and environments do "
                    f"not inherit it: env.{env} deploys without it (repeat it there if it needs it)"
                )
            continue
        values[key], origin[key] = value, ()
    values.update(_suffixed(top, env))
    for key, value in section.items():
        if key in TOP_LEVEL_ONLY:
            warnings.append(f"{path}: env.{env}.{key} is read from the top level only (ignored here)")
        elif value is not None or key not in INHERITABLE:  # null inherits, as wrangler's ?? does
            values[key], origin[key] = value, here
    return ResolvedEnv(values, origin, tuple(warnings))


def _suffixed(top: Mapping[str, object], env: str) -> dict[str, object]:
    """The top level's name, made the environment's: ``<name>-<env>`` (none if it has none)."""
    name = top.get("name")
    return {"name": f"{name}-{env}"} if isinstance(name, str) and name else {}


def _shown_name(values: Mapping[str, object]) -> str:
    name = values.get("name")
    return f'"{name}"' if isinstance(name, str) else "the Worker of --name or the folder"


def unused_key_warnings(path: str, resolved: ResolvedEnv) -> list[str]:
    """One line per key of ``resolved`` assetsync does not act on, and per key wrangler does not
    know (with the nearest known key when one is close), named where it is written."""
    out: list[str] = []
    for key, value in resolved.values.items():
        where = dotted((*resolved.origin.get(key, ()), key))
        if key not in _KNOWN:
            out.append(_unknown(path, where, key, _KNOWN))
        elif key not in ACTED_ON:
            hint = _HINTS.get(key, "ignored")
            out.append(f"{path}: {where} is not used by assetsync ({hint})")
        elif key == "assets" and isinstance(value, dict):
            for sub in value:
                if sub not in ASSETS_KEYS:
                    out.append(_unknown(path, f"{where}.{sub}", sub, ASSETS_KEYS))
    return out


def _unknown(path: str, where: str, key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    guess = f"; did you mean {close[0]}?" if close else ""
    return f"{path}: {where} is not a wrangler config key (ignored{guess})"
