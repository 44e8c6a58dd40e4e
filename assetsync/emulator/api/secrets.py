"""A script's secrets and settings, for an account's Workers and a dispatch namespace's alike.

``PUT .../secrets`` sets one secret, ``PATCH .../secrets-bulk`` sets and removes several at once,
``GET .../secrets`` lists them (names and types: values never leave the emulator),
``GET``/``DELETE .../secrets/{name}`` read or remove one; ``GET .../settings``
shows the live version's bindings (secrets without their values), compatibility date and flags
and tags, and ``PATCH .../settings`` edits them (a multipart ``settings`` part, as wrangler and
the SDKs send it, or a JSON body). As on the platform, each edit of a secret or a binding is a
new version of the script, made from the live one and deployed at once; it is refused (10215)
while a newer version than the live one waits undeployed.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..envelope import BAD_REQUEST, DISPATCH_SCRIPT_NOT_FOUND, SCRIPT_NOT_FOUND, ApiError, envelope
from ..formdata import read_form
from ..store import Script, Version
from .base import RouteGroup, parse_json
from .bindings import (
    BINDING_NAME_IN_USE,
    BINDING_NOT_FOUND,
    SECRET_TYPES,
    Binding,
    check_bindings,
    check_secret,
    effective,
    secrets_of,
    shown,
)
from .shapes import full_settings_json

VERSION_NOT_DEPLOYED = 10215
MISSING_SETTINGS_PART = 10201
_VERSIONED = ("compatibility_date", "compatibility_flags")  # settings that belong to a version


class Secrets(RouteGroup):
    """Secrets and settings of one script, under ``.../scripts/{script}`` (either form)."""

    async def put_secret(self, request: Request) -> Response:
        s, live = self._live(request)
        body = await self.json_body(request)
        secret = _secret_of(body)
        clash = _named(live.bindings, secret["name"])
        if clash is not None and clash["type"] not in SECRET_TYPES:
            raise ApiError(400, BINDING_NAME_IN_USE, f"Binding name '{secret['name']}' already in use.")
        self._release(s, live, [b for b in live.bindings if b["name"] != secret["name"]] + [secret])
        return envelope(shown(secret))

    async def bulk_secrets(self, request: Request) -> Response:
        """``PATCH .../secrets-bulk``: ``{"secrets": {NAME: secret or null}}``, a JSON merge patch
        (null deletes), as one new version: newer wrangler's ``secret bulk``."""
        s, live = self._live(request)
        body = await self.json_body(request)
        patch = body.get("secrets") if isinstance(body, dict) else None
        if not isinstance(patch, dict):
            raise ApiError(
                400, BAD_REQUEST, 'expected {"secrets": {"NAME": {"name", "text", "type"} or null}}'
            )
        bindings = list(live.bindings)
        for name, given in patch.items():
            old = _named(bindings, name)
            if old is not None and old["type"] not in SECRET_TYPES:
                raise ApiError(400, BINDING_NAME_IN_USE, f"Binding name '{name}' already in use.")
            bindings = [b for b in bindings if b["name"] != name]
            if given is not None:
                bindings.append(_secret_of({**given, "name": name} if isinstance(given, dict) else given))
        self._release(s, live, bindings)
        return envelope(secrets_of(bindings))

    async def list_secrets(self, request: Request) -> Response:
        return envelope(secrets_of(self._live(request)[1].bindings))

    async def get_secret(self, request: Request) -> Response:
        return envelope(shown(self._secret(request)[2]))

    async def delete_secret(self, request: Request) -> Response:
        s, live, secret = self._secret(request)
        self._release(s, live, [b for b in live.bindings if b is not secret])
        return envelope(None)

    async def get_settings(self, request: Request) -> Response:
        s, live = self._live(request)
        return envelope(full_settings_json(s, live))

    async def patch_settings(self, request: Request) -> Response:
        s, live = self._live(request)
        edit = await self._settings_body(request)
        if "tags" in edit and not (
            isinstance(edit["tags"], list) and all(isinstance(t, str) for t in edit["tags"])
        ):
            raise ApiError(400, BAD_REQUEST, "settings.tags must be a list of strings")
        bindings = live.bindings
        if "bindings" in edit:
            given = check_bindings(edit["bindings"], "settings.bindings", values=False)
            bindings = effective(given, (), live.bindings, bare_inherits=True)
        metadata = {**live.metadata, **{k: edit[k] for k in _VERSIONED if k in edit}}
        if bindings is not live.bindings or metadata != live.metadata:
            live = self._release(s, live, bindings, metadata)
        rest = {k: v for k, v in edit.items() if k not in ("bindings", "tags", *_VERSIONED)}
        self.store.update_script(
            s.account, s.namespace, s.name, settings={**s.settings, **rest}, tags=edit.get("tags", s.tags)
        )
        s = self.store.script(s.account, s.namespace, s.name) or s
        return envelope(full_settings_json(s, live))

    async def _settings_body(self, request: Request) -> dict[str, Any]:
        """The settings of a PATCH: the ``settings`` part of a multipart body, or a JSON body."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parts = [p for p in await read_form(request, self.limits.max_json_body) if p.name == "settings"]
            if not parts:
                raise ApiError(
                    400,
                    MISSING_SETTINGS_PART,
                    "Missing settings part in multipart upload. "
                    "Ensure you include a settings part in the upload.",
                )
            body = parse_json(bytes(parts[0].body), "the 'settings' part")
        else:
            body = await self.json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, BAD_REQUEST, "settings must be a JSON object")
        return body

    def _live(self, request: Request) -> tuple[Script, Version]:
        """The script the path names and its live version; 404 if it has none."""
        account, ns, script = self.addressed(request)
        s = self.store.script(account, ns or "", script)
        live = self.store.version(s.version) if s and s.version else None
        if s is None or live is None:
            if ns:
                raise ApiError(404, DISPATCH_SCRIPT_NOT_FOUND, "Worker not found in dispatch namespace.")
            raise ApiError(404, SCRIPT_NOT_FOUND, "This Worker does not exist on your account.")
        return s, live

    def _secret(self, request: Request) -> tuple[Script, Version, Binding]:
        """The script, its live version and the secret the path names; 404 (10056) without one."""
        s, live = self._live(request)
        name = request.path_params["secret"]
        found = _named(live.bindings, name)
        if found is None or found["type"] not in SECRET_TYPES:
            raise ApiError(404, BINDING_NOT_FOUND, f"Binding '{name}' not found.")
        return s, live, found

    def _release(
        self, s: Script, live: Version, bindings: list[Binding], metadata: dict[str, Any] | None = None
    ) -> Version:
        """Deploy a new version of the live one with ``bindings``: how every edit takes effect."""
        latest = self.store.latest_version(s.account, s.namespace, s.name)
        if latest is not None and latest.id != live.id:
            raise ApiError(
                400,
                VERSION_NOT_DEPLOYED,
                f"the latest version of {s.name} (number {latest.number}) is not deployed: deploy it "
                "first, then edit its secrets or settings",
            )
        version = self.store.derive_version(live, bindings, metadata)
        self.store.activate(s.account, s.namespace, s.name, version.id)
        if self.state.on_deploy is not None:
            self.state.on_deploy(s.account, s.name, s.namespace)
        return version


def _named(bindings: list[Binding], name: str) -> Binding | None:
    return next((b for b in bindings if b["name"] == name), None)


def _secret_of(body: Any) -> Binding:
    """The secret binding a PUT body describes: ``{"name", "text", "type": "secret_text"}``, or
    a ``secret_key``; a 400 naming what is missing (never quoting a value)."""
    if not isinstance(body, dict):
        raise ApiError(400, BAD_REQUEST, 'a secret is a JSON object {"name", "text", "type": "secret_text"}')
    name, kind = body.get("name"), body.get("type", "secret_text")
    if not isinstance(name, str) or not name:
        raise ApiError(400, BAD_REQUEST, "the secret has no name")
    if kind not in SECRET_TYPES:
        raise ApiError(400, BAD_REQUEST, f"a secret's type is secret_text or secret_key, not {kind!r}")
    secret = {**body, "type": kind}
    check_secret(secret, where="the request body")
    return secret
