"""``--binding KIND:NAME=VALUE``: a binding given on the command line, converted as the config's.

The flag covers the kinds that one value (or none) describes; each becomes a one-binding config
that :func:`~.bindings.config_bindings` converts and checks, so a flag and the same binding written
in ``wrangler.toml`` deploy the same metadata. Kinds with more fields are written in the config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NoReturn

from ..errors import UsageError
from .bindings import KeyPath, config_bindings, declare

__all__ = ["FLAG_KINDS", "flag_binding"]

FLAG_KINDS: Mapping[str, tuple[str, str | None, str]] = {
    # KIND -> (the config key, the field VALUE fills or None for KIND:NAME, what VALUE is)
    "kv": ("kv_namespaces", "id", "NAMESPACE_ID"),
    "r2": ("r2_buckets", "bucket_name", "BUCKET"),
    "d1": ("d1_databases", "database_id", "DATABASE_ID"),
    "queue": ("queues", "queue", "QUEUE"),
    "service": ("services", "service", "WORKER"),
    "durable_object": ("durable_objects", "class_name", "CLASS"),
    "hyperdrive": ("hyperdrive", "id", "CONFIG_ID"),
    "vectorize": ("vectorize", "index_name", "INDEX"),
    "analytics_engine": ("analytics_engine_datasets", "dataset", "DATASET"),
    "dispatch_namespace": ("dispatch_namespaces", "namespace", "NAMESPACE"),
    "mtls_certificate": ("mtls_certificates", "certificate_id", "CERTIFICATE_ID"),
    "ai": ("ai", None, ""),
    "browser": ("browser", None, ""),
    "images": ("images", None, ""),
    "version_metadata": ("version_metadata", None, ""),
    "worker_loader": ("worker_loaders", None, ""),
}
# the metadata's type names work too (kv_namespace:, plain_text:, as the flag always took)
_ALIASES = {"kv_namespace": "kv", "r2_bucket": "r2", "durable_object_namespace": "durable_object"}
SYNTAX = (
    "use KIND:NAME=VALUE (text, json, "
    + ", ".join(kind for kind, (_, field, _) in FLAG_KINDS.items() if field)
    + ") or KIND:NAME ("
    + ", ".join(kind for kind, (_, field, _) in FLAG_KINDS.items() if not field)
    + ")"
)


def flag_binding(text: str) -> dict[str, object]:
    """The metadata binding of one ``--binding``: ``text:NAME=VALUE``, ``json:NAME=JSON``, a kind
    of :data:`FLAG_KINDS` with its value (``kv:NAME=NAMESPACE_ID``) or without (``ai:NAME``).
    Raises :class:`UsageError` quoting the flag."""
    raw_kind, colon, rest = text.partition(":")
    kind = _ALIASES.get(raw_kind, raw_kind)
    name, eq, value = rest.partition("=")
    if not colon or not name:
        raise UsageError(f"--binding {text!r}: {SYNTAX}")
    if kind in ("text", "plain_text", "json"):
        if not eq:
            raise UsageError(f"--binding {text!r}: use {raw_kind}:NAME=VALUE")
        if kind != "json":
            return {"type": "plain_text", "name": name, "text": value}
        try:
            return {"type": "json", "name": name, "json": json.loads(value)}
        except ValueError:
            raise UsageError(
                f"--binding {text!r}: {value!r} is not JSON. Write JSON, e.g. json:{name}='{{\"a\": 1}}' "
                f"or json:{name}='\"text\"'"
            ) from None
    if kind not in FLAG_KINDS:
        raise UsageError(f"--binding {text!r}: unknown kind {raw_kind!r}; {SYNTAX}")
    key, field, value_is = FLAG_KINDS[kind]
    if (field is None) == bool(eq):  # the kind's own form, as its name was written
        form = f"{raw_kind}:NAME=" + value_is if field else f"{raw_kind}:NAME, without a value"
        raise UsageError(f"--binding {text!r}: use {form}")

    def fail(at: KeyPath, problem: str, fix: str) -> NoReturn:
        raise UsageError(
            f"--binding {text!r}: {at[-1] if at[-1] == field else 'the binding'} {problem}. {fix}."
        )

    return config_bindings({key: declare(key, name, {field: value} if field else {})}, fail)[0]
