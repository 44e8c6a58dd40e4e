"""The bindings a wrangler config declares, as the deploy metadata carries them.

This version knows ``kv_namespaces`` only; the settings resolver and the environment rules do not
depend on which kinds it knows: :data:`BINDING_KEYS` names the config keys it acts on, and
:func:`config_bindings` turns them into metadata bindings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NoReturn

__all__ = ["BINDING_KEYS", "config_bindings"]

BINDING_KEYS: frozenset[str] = frozenset({"kv_namespaces"})

Fail = Callable[[tuple[str | int, ...], str, str], NoReturn]


def config_bindings(config: Mapping[str, object], fail: Fail) -> list[dict[str, object]]:
    """The metadata bindings for ``config``'s binding keys (an environment already applied),
    vars excepted; ``fail(key_path, problem, fix)`` raises the error naming a bad entry."""
    out: list[dict[str, object]] = []
    entries = config.get("kv_namespaces")
    if entries is None:
        return out
    if not isinstance(entries, list):
        fail(("kv_namespaces",), "must be an array of tables", "Write [[kv_namespaces]] with binding and id")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            fail(("kv_namespaces", index), "must be a table", "Give it a binding and an id")
        binding, namespace_id = entry.get("binding"), entry.get("id")
        if not isinstance(binding, str) or not binding:
            fail(("kv_namespaces", index, "binding"), "must be a non-empty string", "Name the binding")
        if not isinstance(namespace_id, str) or not namespace_id:
            fail(("kv_namespaces", index, "id"), "must be a non-empty string", "Give the namespace's id")
        out.append({"type": "kv_namespace", "name": binding, "namespace_id": namespace_id})
    return out
