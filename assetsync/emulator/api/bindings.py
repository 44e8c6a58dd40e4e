"""A script's bindings as the upload API treats them: checked, inherited, kept, and shown.

A deploy's ``bindings`` replace the script's, except the kinds its ``keep_bindings`` names: a
binding of such a kind that the previous version had survives, unless the new list names one of
the same name. A deploy without ``keep_bindings`` keeps the secrets, as the API always did before
the list existed: wrangler sends none on a plain deploy (and only with ``keep_vars`` asks for
``secret_text`` and ``secret_key`` along with the vars), and warns only of secrets its config
shadows, so a plain deploy must keep the others. ``{"type": "inherit", "name": N}`` (with
``old_name`` to rename it) takes binding N as the previous version had it. Secret values are
stored with the version but never shown: every answer goes through :func:`shown`. Pure
functions over JSON values, apart from the errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..envelope import BAD_REQUEST, ApiError

SECRET_TYPES = ("secret_text", "secret_key")  # also what a deploy without keep_bindings keeps
BINDING_NAME_IN_USE = 10053  # "Binding name 'X' already in use."
BINDING_NOT_FOUND = 10056  # "Binding 'X' not found."
_KEY_MATERIAL = ("key_base64", "key_jwk")  # what a secret_key binding holds besides its description

Binding = dict[str, Any]


def check_bindings(raw: Any, where: str = "metadata.bindings", values: bool = True) -> list[Binding]:
    """``raw`` as a list of bindings, each an object with a name and a type, the names unique (and
    with ``values``, each secret with its value); a 400 naming the first that is not."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, BAD_REQUEST, f"{where} must be a list of objects, each with a name and a type")
    seen: set[str] = set()
    for i, b in enumerate(raw):
        if not isinstance(b, dict):
            raise ApiError(400, BAD_REQUEST, f"{where}[{i}] must be an object with a name and a type")
        name, kind = b.get("name"), b.get("type")
        if not isinstance(name, str) or not name:
            raise ApiError(400, BAD_REQUEST, f"{where}[{i}] has no name: every binding needs one")
        if not isinstance(kind, str) or not kind:
            raise ApiError(400, BAD_REQUEST, f"binding {name!r} ({where}[{i}]) has no type")
        if name in seen:
            raise ApiError(400, BINDING_NAME_IN_USE, f"Binding name '{name}' already in use.")
        seen.add(name)
        if values:
            check_secret(b, where=f"{where}[{i}]")
    return raw


def check_secret(b: Binding, where: str) -> None:
    """A 400 for a secret binding that lacks what its kind needs (its value is never quoted)."""
    name, kind = b.get("name"), b.get("type")
    if kind == "secret_text" and not isinstance(b.get("text"), str):
        raise ApiError(400, BAD_REQUEST, f"secret_text binding {name!r} ({where}) needs its value as 'text'")
    if kind == "secret_key" and not (
        isinstance(b.get("format"), str)
        and isinstance(b.get("usages"), list)
        and "algorithm" in b
        and any(k in b for k in _KEY_MATERIAL)
    ):
        raise ApiError(
            400,
            BAD_REQUEST,
            f"secret_key binding {name!r} ({where}) needs format, algorithm, usages, and the key "
            "(key_base64 or key_jwk)",
        )


def check_keep(raw: Any) -> tuple[str, ...]:
    """``keep_bindings``: binding types, or a 400."""
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        raise ApiError(400, BAD_REQUEST, 'keep_bindings must be a list of binding types: ["secret_text"]')
    return tuple(raw)


def bindings_for(metadata: dict[str, Any], previous: list[Binding]) -> list[Binding]:
    """The bindings of the version a deploy's ``metadata`` makes, ``previous`` being the script's
    latest version's (none for a new script); a 400 for bindings the API would refuse."""
    new = check_bindings(metadata.get("bindings"))
    keep = metadata.get("keep_bindings")
    return effective(new, SECRET_TYPES if keep is None else check_keep(keep), previous)


def effective(
    new: list[Binding], keep: Iterable[str], previous: list[Binding], bare_inherits: bool = False
) -> list[Binding]:
    """The bindings a new version has: ``new`` with its inherits resolved against ``previous``,
    then what ``previous`` had of the ``keep`` kinds under names ``new`` does not use.

    ``bare_inherits``: a binding given as only a name and a type also inherits, when the previous
    version has one of that name and type (how a settings edit says "leave this one as it is").
    """
    before = {b["name"]: b for b in previous}
    out: list[Binding] = []
    for b in new:
        source = str(b.get("old_name") or b["name"])
        old = before.get(source)
        if b["type"] == "inherit":
            if old is None:
                raise ApiError(400, BINDING_NOT_FOUND, f"Binding '{source}' not found.")
            out.append({**old, "name": b["name"]})
        elif bare_inherits and set(b) == {"name", "type"} and old is not None and old["type"] == b["type"]:
            out.append(dict(old))
        else:
            out.append(b)
    check_bindings(out)
    named = {b["name"] for b in out}
    kept = set(keep)
    return out + [dict(b) for b in previous if b["type"] in kept and b["name"] not in named]


def shown(b: Binding) -> Binding:
    """A binding as an answer may show it: a secret's name and type (and a key's description),
    never its value."""
    if b.get("type") == "secret_text":
        return {"name": b["name"], "type": "secret_text"}
    if b.get("type") == "secret_key":
        return {k: v for k, v in b.items() if k not in _KEY_MATERIAL}
    return dict(b)


def secrets_of(bindings: list[Binding]) -> list[Binding]:
    """The secret bindings, as shown."""
    return [shown(b) for b in bindings if b.get("type") in SECRET_TYPES]
