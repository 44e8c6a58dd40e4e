"""The last call of a deploy (PROTOCOL.md 4.3), and wrangler's versions-then-deployment form of it.

A deploy's metadata and module parts are checked, its assets are taken from the completed upload
session its token names (or kept from the live version), and the new version goes live; an
``on_deploy`` hook hears of each script that went live, which is how dev mode reloads pages.
"""

from __future__ import annotations

import logging
from operator import itemgetter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...protocol import HTML_HANDLING, MODULE_TYPES, NOT_FOUND_HANDLING, is_date
from ...protocol.assetrules.staticrouting import StaticRoutingError, parse_static_routing
from ..envelope import BAD_REQUEST, SCRIPT_NOT_FOUND, UPLOAD_TOKEN_INVALID, ApiError, envelope
from ..formdata import read_form
from ..store import Version, scope_of
from ..tokens import COMPLETION
from .base import RouteGroup, parse_json
from .bindings import bindings_for, shown
from .shapes import deployment_json, etag, script_json

log = logging.getLogger("assetsync.emulator")

Modules = list[tuple[str, str, bytes]]  # (name, content type, body) of each module part


class Deploys(RouteGroup):
    """Creates versions of scripts and makes them live."""

    async def deploy(self, request: Request) -> Response:
        account, ns, script, version = await self._new_version(request)
        live = self.store.activate(account, ns, script, version.id, version.metadata.get("tags"))
        self._went_live(account, script, ns)
        log.info("deployed %s%s version %d", f"{ns}/" if ns else "", script, version.number)
        return envelope(script_json(self.store, live, version))

    async def create_version(self, request: Request) -> Response:
        _, _, _, version = await self._new_version(request)
        return envelope(
            {
                "id": version.id,
                "number": version.number,
                "metadata": {"source": "wrangler"},
                "resources": {
                    "script": {"etag": etag(version), "handlers": ["fetch"]},
                    "bindings": [shown(b) for b in version.bindings],
                },
                "startup_time_ms": 1,
            }
        )

    async def create_deployment(self, request: Request) -> Response:
        account = self.account(request)
        script = request.path_params["script"]
        body = await self.json_body(request)
        versions = body.get("versions") if isinstance(body, dict) else None
        if (
            not isinstance(versions, list)
            or not versions
            or not all(
                isinstance(v, dict)
                and isinstance(v.get("version_id"), str)
                and type(v.get("percentage", 0)) in (int, float)
                for v in versions
            )
        ):
            raise ApiError(
                400,
                BAD_REQUEST,
                "a deployment needs versions: [{version_id: string, percentage: number}, ...]",
            )
        chosen = max(versions, key=lambda v: v.get("percentage", 0))
        version = self.store.version(str(chosen.get("version_id")))
        if version is None or (version.account, version.namespace, version.script) != (account, "", script):
            raise ApiError(404, SCRIPT_NOT_FOUND, f"version {chosen.get('version_id')} of {script} not found")
        live = self.store.activate(account, "", script, version.id)
        self._went_live(account, script, "")
        return envelope(deployment_json(live, version))

    def _went_live(self, account: str, script: str, ns: str) -> None:
        if self.state.on_deploy is not None:
            self.state.on_deploy(account, script, ns)

    async def _new_version(self, request: Request) -> tuple[str, str, str, Version]:
        account, ns, script = self.addressed(request)
        metadata, modules = await self._script_body(request)
        _check_migrations(metadata.get("migrations"), self.store.migration_tag(account, ns or "", script))
        previous = self.store.latest_version(account, ns or "", script)
        bindings = bindings_for(metadata, previous.bindings if previous else [])
        manifest = self._assets(metadata, account, ns, script)
        version = self.store.create_version(account, ns or "", script, manifest, metadata, modules, bindings)
        return account, ns or "", script, version

    async def _script_body(self, request: Request) -> tuple[dict[str, Any], Modules]:
        """The metadata and module parts of a script upload (multipart, or the SDK's JSON form)."""
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = await self.json_body(request, self.limits.max_script_body)
            metadata = body.get("metadata") if isinstance(body, dict) else None
            modules: Modules = []
        else:
            parts = await read_form(request, self.limits.max_script_body)
            meta_parts = [p for p in parts if p.name == "metadata"]
            if len(meta_parts) != 1:
                raise ApiError(400, BAD_REQUEST, "expected exactly one 'metadata' part in the script upload")
            metadata = parse_json(bytes(meta_parts[0].body), "the 'metadata' part")
            modules = [
                (p.filename or p.name, p.content_type or MODULE_TYPES[".js"], bytes(p.body))
                for p in parts
                if p.name != "metadata"
            ]
        if not isinstance(metadata, dict):
            raise ApiError(400, BAD_REQUEST, "the script metadata must be a JSON object")
        _check_metadata(metadata, modules)
        return metadata, modules

    def _assets(
        self, metadata: dict[str, Any], account: str, ns: str | None, script: str
    ) -> dict[str, list[Any]] | None:
        """The deployed asset manifest (path -> [hash, size, content type]), or None for no assets."""
        assets = metadata.get("assets")
        if assets is None:
            return None
        if not isinstance(assets, dict):
            raise ApiError(400, BAD_REQUEST, "metadata.assets must be an object")
        _check_assets_config(assets.get("config") or {})
        if assets.get("jwt"):
            return self._uploaded(str(assets["jwt"]), account, ns, script)
        if metadata.get("keep_assets") or assets.get("keep_assets"):
            live = self.store.script(account, ns or "", script)
            version = self.store.version(live.version) if live and live.version else None
            if version is None or version.manifest is None:
                raise ApiError(
                    400, BAD_REQUEST, "keep_assets: the script has no previous version with assets"
                )
            return version.manifest
        raise ApiError(400, BAD_REQUEST, "metadata.assets needs a completion 'jwt' (or keep_assets: true)")

    def _uploaded(self, jwt: str, account: str, ns: str | None, script: str) -> dict[str, list[Any]]:
        """The manifest of the completed upload session a completion token names, for this script."""
        grant = self.state.tokens.verify(jwt, COMPLETION)
        if (grant.account, grant.namespace, grant.script) != (account, ns, script):
            where = f"namespace {grant.namespace!r}" if grant.namespace else "the account's Workers"
            raise ApiError(
                403,
                UPLOAD_TOKEN_INVALID,
                f"the assets completion token was issued for script {grant.script!r} in {where}, "
                "not for this one",
            )
        session = self.store.session(grant.session)
        scope = scope_of(account, ns)
        if session is None or self.store.session_remaining(grant.session, scope):
            raise ApiError(
                400,
                BAD_REQUEST,
                "the asset upload of this token is incomplete: upload every bucket first",
            )
        manifest = session.manifest
        digests = list(map(itemgetter("hash"), manifest.values()))
        stored = self.store.present(scope, digests)
        try:  # one comprehension: a watch-mode deploy makes this of 10,000 entries each time
            return {path: [h, *stored[h]] for path, h in zip(manifest, digests, strict=True)}
        except KeyError:  # cannot happen after the check above, unless the store was edited
            path = next(p for p, h in zip(manifest, digests, strict=True) if h not in stored)
            raise ApiError(400, BAD_REQUEST, f"asset {path} is not stored in this scope") from None


def _check_metadata(metadata: dict[str, Any], modules: Modules) -> None:
    """A 400 for metadata that names a module not sent, a bad date or bad tags; or for a module
    sent twice."""
    names = [m[0] for m in modules]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ApiError(400, BAD_REQUEST, f"the module {twice!r} is uploaded twice: send each module once")
    main = metadata.get("main_module") or metadata.get("body_part")
    if main is not None and not isinstance(main, str):
        raise ApiError(400, BAD_REQUEST, "main_module must be the name of a module part (a string)")
    if main is not None and main not in set(names):
        raise ApiError(400, BAD_REQUEST, f"main_module {main!r} is not among the uploaded module parts")
    date = metadata.get("compatibility_date")
    if date is not None and not (isinstance(date, str) and is_date(date)):
        raise ApiError(400, BAD_REQUEST, f"compatibility_date {date!r} is not a YYYY-MM-DD date")
    tags = metadata.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise ApiError(400, BAD_REQUEST, "tags must be a list of strings")


def _check_migrations(migrations: Any, live_tag: str | None) -> None:
    """A 400 for Durable Object migrations that do not start from the script's live tag (the
    platform applies steps to the state they were written against, or not at all)."""
    if migrations is None:
        return
    if not isinstance(migrations, dict) or not isinstance(migrations.get("new_tag"), str):
        raise ApiError(400, BAD_REQUEST, "migrations must be an object with a string new_tag")
    if not isinstance(migrations.get("steps", []), list):
        raise ApiError(400, BAD_REQUEST, "migrations.steps must be a list")
    old = migrations.get("old_tag")
    if old != live_tag:
        raise ApiError(
            400,
            BAD_REQUEST,
            f"migrations: old_tag is {old!r} but the script's migration tag is {live_tag!r}: "
            "send the migrations after the live tag",
        )


def _check_assets_config(config: Any) -> None:
    """A 400 for an ``assets.config`` the platform would refuse (each mode's default is valid)."""
    if not isinstance(config, dict):
        raise ApiError(400, BAD_REQUEST, "metadata.assets.config must be an object")
    if config.get("html_handling", HTML_HANDLING[0]) not in HTML_HANDLING:
        raise ApiError(
            400, BAD_REQUEST, f"assets.config.html_handling must be one of {', '.join(HTML_HANDLING)}"
        )
    if config.get("not_found_handling", NOT_FOUND_HANDLING[0]) not in NOT_FOUND_HANDLING:
        raise ApiError(
            400,
            BAD_REQUEST,
            f"assets.config.not_found_handling must be one of {', '.join(NOT_FOUND_HANDLING)}",
        )
    for key in ("_redirects", "_headers"):
        if not isinstance(config.get(key, ""), str):
            raise ApiError(400, BAD_REQUEST, f"assets.config.{key} must be the text of the {key} file")
    rwf = config.get("run_worker_first", False)
    if not (isinstance(rwf, bool) or (isinstance(rwf, list) and all(isinstance(r, str) for r in rwf))):
        raise ApiError(
            400,
            BAD_REQUEST,
            "assets.config.run_worker_first must be true, false or a list of route patterns",
        )
    if isinstance(rwf, list):  # the platform splits it into its router's rules, or refuses it
        try:
            parse_static_routing(rwf)
        except StaticRoutingError as exc:
            raise ApiError(400, BAD_REQUEST, f"assets.config.run_worker_first: {exc}") from None
