"""The emulated Cloudflare API: upload sessions, bucket uploads, deploys, and scripts.

Routes follow PROTOCOL.md sections 4 and 5, plus what a plain ``wrangler deploy`` asks along the
way (services, deployments, versions, settings, subdomain), answered as the recorded traces show
the real API does. Every answer is a Cloudflare envelope; every error names what to fix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..protocol import (
    FREE_PLAN_FILES,
    HASH_RE,
    HTML_HANDLING,
    MAX_FILE_SIZE,
    NAMESPACE_RULE,
    NOT_FOUND_HANDLING,
    SCRIPT_NAME_RULE,
    is_date,
    is_namespace,
    is_script_name,
    is_utf8,
)
from ..protocol.contenttypes import content_type
from .envelope import (
    BAD_REQUEST,
    BODY_TOO_LARGE,
    DISPATCH_SCRIPT_NOT_FOUND,
    INVALID_SCRIPT_NAME,
    SCRIPT_NOT_FOUND,
    SERVICE_NOT_FOUND,
    TOO_MANY_FILES,
    UPLOAD_TOKEN_INVALID,
    ApiError,
    envelope,
)
from .formdata import read_form, stream_form
from .ingest import BlobSink
from .store import Script, Store, Version, scope_of
from .tokens import COMPLETION, UPLOAD, Tokens

log = logging.getLogger("assetsync.emulator")


@dataclass(frozen=True, slots=True)
class Limits:
    """What the emulated API accepts; defaults are the platform's free plan."""

    max_files: int = FREE_PLAN_FILES
    max_file_size: int = MAX_FILE_SIZE
    bucket_bytes: int = 40 * 1024 * 1024
    bucket_files: int = 2000
    max_upload_body: int = 128 * 1024 * 1024
    max_json_body: int = 64 * 1024 * 1024
    max_script_body: int = 64 * 1024 * 1024
    # Cloudflare's request limits (Workers docs, "Request limits"): a 16 KB URL, request headers
    # of 32 KB in all and 16 KB each.
    max_url: int = 16 * 1024
    max_headers: int = 32 * 1024
    max_header: int = 16 * 1024


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_script_name(name: str) -> None:
    if not is_script_name(name):
        raise ApiError(400, INVALID_SCRIPT_NAME, f"invalid Worker name {name!r}: use {SCRIPT_NAME_RULE}")


def _check_namespace(ns: str | None) -> None:
    if ns is not None and not is_namespace(ns):
        raise ApiError(400, BAD_REQUEST, f"invalid dispatch namespace name {ns!r}: use {NAMESPACE_RULE}")


async def _read_json(request: Request, cap: int) -> Any:
    return (await _read_json_raw(request, cap))[0]


async def _read_json_raw(request: Request, cap: int) -> tuple[Any, bytes]:
    """The parsed JSON body and its raw bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise ApiError(
            413, BODY_TOO_LARGE, f"request body of {int(declared):,} bytes is over the {cap:,}-byte limit"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise ApiError(413, BODY_TOO_LARGE, f"request body is over the {cap:,}-byte limit")
    return _json(bytes(body), "the request body"), bytes(body)


def _json(raw: bytes, what: str) -> Any:
    """``raw`` parsed as JSON, or a 400 that says why not (nesting past the parser's depth too)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, BAD_REQUEST, f"{what} is not valid JSON ({exc})") from None
    except RecursionError:
        raise ApiError(400, BAD_REQUEST, f"{what} is nested too deeply to be read as JSON") from None


class Api:
    """Route handlers over one :class:`Store` and one :class:`Tokens`."""

    def __init__(self, store: Store, tokens: Tokens, limits: Limits | None = None) -> None:
        self.store = store
        self.tokens = tokens
        self.limits = limits or Limits()
        self.on_deploy: Callable[[str, str], None] | None = None  # (script, namespace) went live

    # -- helpers -------------------------------------------------------------------------

    def _auth(self, request: Request) -> str:
        account = request.path_params["account"]
        self.tokens.check_api(request.headers.get("authorization"), account)
        return str(account)

    def _validate_manifest(self, manifest: Any) -> dict[str, tuple[int, str]]:
        """Check the manifest's shape and limits; returns hash -> (size, first path)."""
        if not isinstance(manifest, dict):
            raise ApiError(
                400, BAD_REQUEST, 'Invalid manifest: expected {"manifest": {"/path": {"hash", "size"}}}'
            )
        if len(manifest) > self.limits.max_files:
            raise ApiError(
                400,
                TOO_MANY_FILES,
                f"Invalid manifest: manifest contains {len(manifest)} files which exceeds the limit of "
                f"{self.limits.max_files:,} files per version",
            )
        hashes: dict[str, tuple[int, str]] = {}
        fullmatch, limit = HASH_RE.fullmatch, self.limits.max_file_size
        for path, entry in manifest.items():
            # One cheap test per field on the common path; the precise message only on failure.
            try:
                digest, size = entry["hash"], entry["size"]
            except (TypeError, KeyError):
                digest = size = None
            if (
                path[:1] != "/"
                or (not path.isascii() and not is_utf8(path))
                or type(digest) is not str
                or type(size) is not int
                or not 0 <= size <= limit
                or not fullmatch(digest)
                or "\0" in path
            ):
                self._manifest_error(path, entry)
            known = hashes.get(digest)
            if known is None:
                hashes[digest] = (size, path)
            elif known[0] != size:
                raise ApiError(400, BAD_REQUEST, f"Invalid manifest: hash {digest} is listed with two sizes")
        return hashes

    def _manifest_error(self, path: str, entry: Any) -> None:
        """Raise the 400 that says what is wrong with one manifest entry."""
        if not path.startswith("/") or "\0" in path:
            raise ApiError(
                400, BAD_REQUEST, f"Invalid manifest: path {path!r} must start with '/' and hold no NUL"
            )
        if not is_utf8(path):
            raise ApiError(
                400, BAD_REQUEST, f"Invalid manifest: path {path!r} is not valid Unicode (a lone surrogate)"
            )
        if not isinstance(entry, dict):
            raise ApiError(400, BAD_REQUEST, f"Invalid manifest: entry for {path!r} is not an object")
        digest, size = entry.get("hash"), entry.get("size")
        if not isinstance(digest, str) or not HASH_RE.fullmatch(digest):
            raise ApiError(
                400, BAD_REQUEST, f"Invalid manifest: hash of {path!r} is not 32 lowercase hex digits"
            )
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ApiError(
                400, BAD_REQUEST, f"Invalid manifest: size of {path!r} is not a non-negative integer"
            )
        raise ApiError(
            400,
            BAD_REQUEST,
            f"Invalid manifest: {path!r} is {size:,} bytes, "
            f"over the {self.limits.max_file_size:,}-byte limit",
        )

    def _buckets(self, missing: dict[str, tuple[int, str]]) -> list[list[str]]:
        buckets: list[list[str]] = []
        current: list[str] = []
        size = 0
        for digest, (n, _) in missing.items():
            if current and (size + n > self.limits.bucket_bytes or len(current) >= self.limits.bucket_files):
                buckets.append(current)
                current, size = [], 0
            current.append(digest)
            size += n
        if current:
            buckets.append(current)
        return buckets

    # -- upload session and uploads ------------------------------------------------------

    async def upload_session(self, request: Request) -> Response:
        account = self._auth(request)
        ns = request.path_params.get("namespace")
        script = request.path_params["script"]
        _check_namespace(ns)
        _check_script_name(script)
        body, raw = await _read_json_raw(request, self.limits.max_json_body)
        if not isinstance(body, dict) or "manifest" not in body:
            raise ApiError(400, BAD_REQUEST, 'Invalid manifest: expected a JSON body {"manifest": {...}}')
        hashes = self._validate_manifest(body["manifest"])
        scope = scope_of(account, ns)
        present = self.store.present(scope, hashes)
        # The content type a part without one gets: that of the first path carrying the hash.
        missing = {h: (n, content_type(p)) for h, (n, p) in hashes.items() if h not in present}
        # Kept as sent: the body is {"manifest": ...}, JSON already (no second encoding).
        sid = self.store.create_session(account, ns, script, raw.decode("utf-8"), missing, body["manifest"])
        if not missing:
            jwt = self.tokens.mint(COMPLETION, account, ns, script, sid)
            return envelope({"jwt": jwt, "buckets": []})
        jwt = self.tokens.mint(UPLOAD, account, ns, script, sid)
        return envelope({"jwt": jwt, "buckets": self._buckets(missing)})

    async def upload(self, request: Request) -> Response:
        account = request.path_params["account"]
        grant = self.tokens.verify_bearer(request.headers.get("authorization"), UPLOAD)
        if grant.account != account:
            raise ApiError(401, UPLOAD_TOKEN_INVALID, "the upload token was issued for another account")
        session = self.store.session(grant.session)
        if session is None:
            raise ApiError(401, UPLOAD_TOKEN_INVALID, "the upload session of this token no longer exists")
        scope = scope_of(account, grant.namespace)
        base64 = request.query_params.get("base64", "false").lower() == "true"
        sink = BlobSink(self.store, grant.session, scope, base64)
        # A full bucket, base64-encoded with its part headers, must always fit.
        lim = self.limits
        biggest = max(lim.bucket_bytes, lim.max_file_size)
        cap = max(lim.max_upload_body, biggest * 4 // 3 + lim.bucket_files * 512 + 65536)
        try:
            await stream_form(request, sink, cap)
        finally:
            sink.close()
        if self.store.session_remaining(grant.session, scope) == 0:
            jwt = self.tokens.mint(COMPLETION, account, grant.namespace, grant.script, grant.session)
            return envelope({"jwt": jwt}, 201)
        return envelope({}, 202)

    # -- deploys -------------------------------------------------------------------------

    async def _script_body(self, request: Request) -> tuple[dict[str, Any], list[tuple[str, str, bytes]]]:
        """The metadata and module parts of a script upload (multipart, or the SDK's JSON form)."""
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = await _read_json(request, self.limits.max_script_body)
            metadata = body.get("metadata") if isinstance(body, dict) else None
            modules: list[tuple[str, str, bytes]] = []
        else:
            parts = await read_form(request, self.limits.max_script_body)
            meta_parts = [p for p in parts if p.name == "metadata"]
            if len(meta_parts) != 1:
                raise ApiError(400, BAD_REQUEST, "expected exactly one 'metadata' part in the script upload")
            metadata = _json(bytes(meta_parts[0].body), "the 'metadata' part")
            modules = [
                (p.filename or p.name, p.content_type or "application/javascript+module", bytes(p.body))
                for p in parts
                if p.name != "metadata"
            ]
        if not isinstance(metadata, dict):
            raise ApiError(400, BAD_REQUEST, "the script metadata must be a JSON object")
        names = [m[0] for m in modules]
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise ApiError(400, BAD_REQUEST, f"the module {twice!r} is uploaded twice: send each module once")
        main = metadata.get("main_module") or metadata.get("body_part")
        if main is not None and not isinstance(main, str):
            raise ApiError(400, BAD_REQUEST, "main_module must be the name of a module part (a string)")
        if main is not None and main not in {m[0] for m in modules}:
            raise ApiError(400, BAD_REQUEST, f"main_module {main!r} is not among the uploaded module parts")
        date = metadata.get("compatibility_date")
        if date is not None and not (isinstance(date, str) and is_date(date)):
            raise ApiError(400, BAD_REQUEST, f"compatibility_date {date!r} is not a YYYY-MM-DD date")
        tags = metadata.get("tags")
        if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            raise ApiError(400, BAD_REQUEST, "tags must be a list of strings")
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
        config = assets.get("config") or {}
        if not isinstance(config, dict):
            raise ApiError(400, BAD_REQUEST, "metadata.assets.config must be an object")
        if config.get("html_handling", "auto-trailing-slash") not in HTML_HANDLING:
            raise ApiError(
                400, BAD_REQUEST, f"assets.config.html_handling must be one of {', '.join(HTML_HANDLING)}"
            )
        if config.get("not_found_handling", "none") not in NOT_FOUND_HANDLING:
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
        if assets.get("jwt"):
            grant = self.tokens.verify(str(assets["jwt"]), COMPLETION)
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
            stored = self.store.present(scope, (e["hash"] for e in manifest.values()))
            out: dict[str, list[Any]] = {}
            for path, entry in manifest.items():
                blob = stored.get(entry["hash"])
                if blob is None:  # cannot happen after the check above, unless the store was edited
                    raise ApiError(400, BAD_REQUEST, f"asset {path} is not stored in this scope")
                out[path] = [entry["hash"], blob[0], blob[1]]
            return out
        if metadata.get("keep_assets") or assets.get("keep_assets"):
            live = self.store.script(account, ns or "", script)
            version = self.store.version(live.version) if live and live.version else None
            if version is None or version.manifest is None:
                raise ApiError(
                    400, BAD_REQUEST, "keep_assets: the script has no previous version with assets"
                )
            return version.manifest
        raise ApiError(400, BAD_REQUEST, "metadata.assets needs a completion 'jwt' (or keep_assets: true)")

    async def _new_version(self, request: Request) -> tuple[str, str, str, Version]:
        account = self._auth(request)
        ns = request.path_params.get("namespace")
        script = request.path_params["script"]
        _check_namespace(ns)
        _check_script_name(script)
        metadata, modules = await self._script_body(request)
        manifest = self._assets(metadata, account, ns, script)
        version = self.store.create_version(account, ns or "", script, manifest, metadata, modules)
        return account, ns or "", script, version

    async def deploy(self, request: Request) -> Response:
        account, ns, script, version = await self._new_version(request)
        live = self.store.activate(account, ns, script, version.id, version.metadata.get("tags"))
        if self.on_deploy is not None:
            self.on_deploy(script, ns)
        log.info("deployed %s%s version %d", f"{ns}/" if ns else "", script, version.number)
        return envelope(self._script_json(live, version))

    async def create_version(self, request: Request) -> Response:
        _, _, _, version = await self._new_version(request)
        return envelope(
            {
                "id": version.id,
                "number": version.number,
                "metadata": {"source": "wrangler"},
                "resources": {"script": {"etag": self._etag(version), "handlers": ["fetch"]}, "bindings": []},
                "startup_time_ms": 1,
            }
        )

    async def create_deployment(self, request: Request) -> Response:
        account = self._auth(request)
        script = request.path_params["script"]
        body = await _read_json(request, self.limits.max_json_body)
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
        if self.on_deploy is not None:
            self.on_deploy(script, "")
        return envelope(self._deployment_json(live, version))

    # -- JSON shapes ---------------------------------------------------------------------

    @staticmethod
    def _etag(version: Version) -> str:
        return hashlib.sha256(version.id.encode()).hexdigest()

    def _script_json(self, s: Script, version: Version | None = None) -> dict[str, Any]:
        if version is None and s.version:
            version = self.store.version(s.version)
        md = version.metadata if version else {}
        return {
            "id": s.name,
            "tag": hashlib.md5(f"{s.account}/{s.namespace}/{s.name}".encode()).hexdigest(),
            "tags": s.tags,
            "etag": self._etag(version) if version else None,
            "handlers": ["fetch"],
            "named_handlers": [],
            "modified_on": iso(s.modified),
            "created_on": iso(s.created),
            "usage_model": "standard",
            "compatibility_date": md.get("compatibility_date"),
            "compatibility_flags": md.get("compatibility_flags", []),
            "has_assets": bool(version and version.manifest is not None),
            "has_modules": bool(md.get("main_module")),
            "logpush": False,
            "placement_mode": None,
            "startup_time_ms": 1,
            "deployment_id": s.deployment,
            "pipeline_hash": None,
            "mutable_pipeline_id": None,
        }

    def _deployment_json(self, s: Script, version: Version) -> dict[str, Any]:
        return {
            "id": s.deployment,
            "source": "wrangler",
            "strategy": "percentage",
            "author_email": "emulator@assetsync.local",
            "created_on": iso(s.modified),
            "versions": [{"version_id": version.id, "percentage": 100}],
        }

    # -- scripts in a dispatch namespace -------------------------------------------------

    def _ns_script(self, request: Request) -> tuple[str, str, str]:
        account = self._auth(request)
        ns, script = request.path_params["namespace"], request.path_params["script"]
        _check_namespace(ns)
        return account, ns, script

    async def get_ns_script(self, request: Request) -> Response:
        account, ns, script = self._ns_script(request)
        s = self.store.script(account, ns, script)
        if s is None:
            raise ApiError(404, DISPATCH_SCRIPT_NOT_FOUND, "Worker not found in dispatch namespace.")
        return envelope(
            {
                "created_on": iso(s.created),
                "modified_on": iso(s.modified),
                "dispatch_namespace": ns,
                "script": self._script_json(s),
            }
        )

    async def delete_ns_script(self, request: Request) -> Response:
        account, ns, script = self._ns_script(request)
        if not self.store.delete_script(account, ns, script):
            raise ApiError(404, DISPATCH_SCRIPT_NOT_FOUND, "Worker not found in dispatch namespace.")
        return envelope(None)

    @staticmethod
    def _tag_filters(raw: str) -> list[tuple[str, bool]]:
        filters = []
        for item in filter(None, raw.split(",")):
            tag, sep, want = item.rpartition(":")
            if not sep or not tag or want not in ("yes", "no"):
                raise ApiError(400, BAD_REQUEST, f"tag filter {item!r} must look like 'tag:yes' or 'tag:no'")
            filters.append((tag, want == "yes"))
        return filters

    def _matching(self, account: str, ns: str, raw_tags: str | None) -> list[Script]:
        scripts = self.store.scripts(account, ns)
        if raw_tags is None:
            return scripts
        filters = self._tag_filters(raw_tags)
        return [s for s in scripts if all((tag in s.tags) == want for tag, want in filters)]

    async def list_ns_scripts(self, request: Request) -> Response:
        account = self._auth(request)
        ns = request.path_params["namespace"]
        _check_namespace(ns)
        try:
            page = max(1, int(request.query_params.get("page", "1")))
            per_page = min(1000, max(1, int(request.query_params.get("per_page", "100"))))
        except ValueError:
            raise ApiError(400, BAD_REQUEST, "page and per_page must be whole numbers") from None
        scripts = self._matching(account, ns, request.query_params.get("tags"))
        chunk = scripts[(page - 1) * per_page : page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(scripts)}
        return envelope([self._script_json(s) for s in chunk], extra={"result_info": info})

    async def delete_ns_scripts(self, request: Request) -> Response:
        account = self._auth(request)
        ns = request.path_params["namespace"]
        _check_namespace(ns)
        raw = request.query_params.get("tags")
        if not raw:
            raise ApiError(400, BAD_REQUEST, "deleting scripts in bulk needs a ?tags=tag:yes filter")
        for s in self._matching(account, ns, raw):
            self.store.delete_script(account, ns, s.name)
        return envelope(None)

    async def list_namespaces(self, request: Request) -> Response:
        account = self._auth(request)
        names = sorted({s.namespace for s in self.store.all_live() if s.account == account and s.namespace})
        return envelope([{"namespace_name": n, "namespace_id": n, "script_count": 0} for n in names])

    # -- what plain `wrangler deploy` asks along the way ---------------------------------

    def _live(self, request: Request, code: int = SCRIPT_NOT_FOUND) -> Script:
        account = self._auth(request)
        s = self.store.script(account, "", request.path_params["script"])
        if s is None:
            raise ApiError(404, code, "This Worker does not exist on your account.")
        return s

    async def get_service(self, request: Request) -> Response:
        s = self._live(request, SERVICE_NOT_FOUND)
        script = {**self._script_json(s), "last_deployed_from": "wrangler"}
        return envelope(
            {
                "id": s.name,
                "created_on": iso(s.created),
                "modified_on": iso(s.modified),
                "default_environment": {
                    "environment": "production",
                    "created_on": iso(s.created),
                    "modified_on": iso(s.modified),
                    "script": script,
                },
            }
        )

    async def get_worker(self, request: Request) -> Response:
        s = self._live(request)
        return envelope(
            {
                "id": hashlib.md5(s.name.encode()).hexdigest(),
                "name": s.name,
                "created_on": iso(s.created),
                "updated_on": iso(s.modified),
                "tags": s.tags,
                "logpush": False,
                "observability": s.settings.get("observability", {"enabled": False}),
                "subdomain": {"enabled": s.subdomain, "previews_enabled": s.subdomain},
                "tail_consumers": [],
            }
        )

    async def list_deployments(self, request: Request) -> Response:
        s = self._live(request)
        version = self.store.version(s.version) if s.version else None
        deployments = [self._deployment_json(s, version)] if version else []
        return envelope({"deployments": deployments})

    def _settings_json(self, s: Script) -> dict[str, Any]:
        return {
            "logpush": False,
            "tail_consumers": [],
            "observability": s.settings.get("observability", {"enabled": False}),
            "tags": s.tags,
        }

    async def get_settings(self, request: Request) -> Response:
        return envelope(self._settings_json(self._live(request)))

    async def patch_settings(self, request: Request) -> Response:
        s = self._live(request)
        body = await _read_json(request, self.limits.max_json_body)
        if not isinstance(body, dict):
            raise ApiError(400, BAD_REQUEST, "settings must be a JSON object")
        settings = {**s.settings, **{k: v for k, v in body.items() if k != "tags"}}
        fields: dict[str, Any] = {"settings": settings}
        if isinstance(body.get("tags"), list):
            fields["tags"] = body["tags"]
        self.store.update_script(s.account, s.namespace, s.name, **fields)
        return envelope(self._settings_json(self._live(request)))

    async def list_secrets(self, request: Request) -> Response:
        self._live(request)
        return envelope([])

    async def account_subdomain(self, request: Request) -> Response:
        self._auth(request)
        return envelope({"subdomain": "assetsync-local"})

    async def script_subdomain(self, request: Request) -> Response:
        s = self._live(request)
        if request.method == "POST":
            body = await _read_json(request, self.limits.max_json_body)
            enabled = bool(body.get("enabled", True)) if isinstance(body, dict) else True
            self.store.update_script(s.account, s.namespace, s.name, subdomain=int(enabled))
            return envelope({"enabled": enabled, "previews_enabled": enabled})
        return envelope({"enabled": s.subdomain, "previews_enabled": s.subdomain})

    # -- routing -------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        acct = "/accounts/{account}/workers"
        ns = acct + "/dispatch/namespaces/{namespace}/scripts"
        return [
            Route(acct + "/scripts/{script}/assets-upload-session", self.upload_session, methods=["POST"]),
            Route(ns + "/{script}/assets-upload-session", self.upload_session, methods=["POST"]),
            Route(acct + "/assets/upload", self.upload, methods=["POST"]),
            Route(acct + "/scripts/{script}", self.deploy, methods=["PUT"]),
            Route(ns + "/{script}", self.deploy, methods=["PUT"]),
            Route(ns + "/{script}", self.get_ns_script, methods=["GET"]),
            Route(ns + "/{script}", self.delete_ns_script, methods=["DELETE"]),
            Route(ns, self.list_ns_scripts, methods=["GET"]),
            Route(ns, self.delete_ns_scripts, methods=["DELETE"]),
            Route(acct + "/dispatch/namespaces", self.list_namespaces, methods=["GET"]),
            Route(acct + "/services/{script}", self.get_service, methods=["GET"]),
            Route(acct + "/workers/{script}", self.get_worker, methods=["GET"]),
            Route(acct + "/scripts/{script}/versions", self.create_version, methods=["POST"]),
            Route(acct + "/scripts/{script}/deployments", self.list_deployments, methods=["GET"]),
            Route(acct + "/scripts/{script}/deployments", self.create_deployment, methods=["POST"]),
            Route(acct + "/scripts/{script}/settings", self.get_settings, methods=["GET"]),
            Route(acct + "/scripts/{script}/script-settings", self.get_settings, methods=["GET"]),
            Route(acct + "/scripts/{script}/script-settings", self.patch_settings, methods=["PATCH"]),
            Route(acct + "/scripts/{script}/settings", self.patch_settings, methods=["PATCH"]),
            Route(acct + "/scripts/{script}/secrets", self.list_secrets, methods=["GET"]),
            Route(acct + "/subdomain", self.account_subdomain, methods=["GET"]),
            Route(acct + "/scripts/{script}/subdomain", self.script_subdomain, methods=["GET", "POST"]),
        ]
