"""The rules of Cloudflare's asset upload protocol, as code, once (see PROTOCOL.md).

Which names the API takes (scripts, dispatch namespaces, accounts), the hash and date formats,
the asset-serving modes, the platform's limits and error codes, the API's paths, and the values
a deploy is made of (modules, the Worker spec, its assets config) with the metadata they become.
The client, the CLI, the config reader and the emulator all import these and restate none, so
they cannot disagree: a name one of them accepts, every one accepts.

Pure values and predicates: no I/O, and nothing from the rest of assetsync but its errors.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError

# -- names -----------------------------------------------------------------------------------------

SCRIPT_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?")
SCRIPT_NAME_RULE = "1-63 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit"

# Namespaces and account ids go into API paths as they are: only URL-unreserved characters, so
# that no name can add a path segment ('/', '..'), a query ('?') or an escape ('%'). The API's own
# schema says no more than "non-empty"; this is the subset every client and server can agree on.
_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~-]{1,255}")
NAMESPACE_RULE = "1-255 letters, digits, '.', '-', '_' or '~', and not '.' or '..'"


def is_script_name(name: str) -> bool:
    """Whether Workers takes ``name`` as a script name."""
    return SCRIPT_NAME_RE.fullmatch(name) is not None


def _is_segment(value: str) -> bool:
    return _SEGMENT_RE.fullmatch(value) is not None and value not in (".", "..")


def is_namespace(name: str) -> bool:
    """Whether ``name`` can be a dispatch namespace (it becomes an API path segment as it is)."""
    return _is_segment(name)


def is_account_id(value: str) -> bool:
    """Whether ``value`` can be an account id in an API path (Cloudflare's are 32 hex digits)."""
    return _is_segment(value)


# A binding is a property of the Worker's ``env``; wrangler's docs ask for a valid JavaScript
# variable name, which is what ``env.NAME`` (and a service Worker's global) can reach.
BINDING_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
BINDING_NAME_RULE = "a JavaScript identifier: letters, digits, '_' or '$', not starting with a digit"


def is_binding_name(name: str) -> bool:
    """Whether ``name`` can name a binding of a Worker."""
    return BINDING_NAME_RE.fullmatch(name) is not None


# -- formats ---------------------------------------------------------------------------------------

HASH_RE = re.compile(r"[0-9a-f]{32}")  # a manifest hash, to the server an opaque key
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be a manifest path, which is raw UTF-8: not with lone surrogates (a
    file name's bytes that are not UTF-8, or JSON's ``\\ud800`` escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_date(value: str) -> bool:
    """Whether ``value`` is a compatibility date: YYYY-MM-DD, and a real day."""
    if DATE_RE.fullmatch(value) is None:
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def api_today() -> str:
    """Today as the API counts days: in UTC. A compatibility date after it is refused, and a
    deploy that names none gets it (the local date may be a day ahead of UTC)."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def date_problem(value: str, today: str) -> tuple[str, str] | None:
    """Why the API would refuse ``value`` as a compatibility date on ``today`` (YYYY-MM-DD, UTC),
    and what to write instead, as two phrases (``"is '...', <problem>. <fix>"``); None if it
    would not. The one wording of the rule, whether the date came from a flag or a config."""
    if not is_date(value):
        return (
            "which is not a real date in YYYY-MM-DD form",
            f"Write a day that exists, such as {today} (today, in UTC).",
        )
    if value > today:  # YYYY-MM-DD strings sort as their days do
        return (
            f"which is after today ({today} in UTC, the day the API goes by): the API refuses a "
            "compatibility date in the future",
            f"Use {today} or an earlier date.",
        )
    return None


# -- asset serving (assets.config), the default of each first ----------------------------------------

HTML_HANDLING = ("auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none")
NOT_FOUND_HANDLING = ("none", "404-page", "single-page-application")

# -- limits ----------------------------------------------------------------------------------------

MAX_FILE_SIZE = 25 * 1024 * 1024  # 26,214,400 bytes; exactly this size is allowed
FREE_PLAN_FILES = 20_000
# How the server groups the hashes a session lacks into buckets, each at most one upload request.
BUCKET_FILES = 2000
BUCKET_BYTES = 40 * 1024 * 1024
PAID_PLAN_FILES = 100_000

# -- the API ---------------------------------------------------------------------------------------

API_PREFIX = "/client/v4"  # every API path is below it
DEFAULT_API = "https://api.cloudflare.com" + API_PREFIX
TOKEN_LIFETIME = 3600.0  # seconds: upload and completion tokens both live one hour (their JWT exp)

# -- error codes of the API's envelope ----------------------------------------------------------------

AUTH_ERROR = 10000
UPLOAD_TOKEN_INVALID = 10001
SCRIPT_NOT_FOUND = 10007
UNKNOWN_ERROR = 10013
INVALID_SCRIPT_NAME = 10016
BAD_REQUEST = 10021
BODY_TOO_LARGE = 10027
SERVICE_NOT_FOUND = 10090
DISPATCH_SCRIPT_NOT_FOUND = 10092
TOO_MANY_FILES = 10304
METHOD_NOT_ALLOWED = 7001
NO_ROUTE = 7003  # "Could not route to ...": most often a wrong account id

# -- paths, relative to the API base ----------------------------------------------------------------


def script_path(account: str, script: str, namespace: str | None = None) -> str:
    """The script's path: an ordinary Worker's, or a user Worker's in a dispatch namespace."""
    if namespace:
        return f"/accounts/{account}/workers/dispatch/namespaces/{namespace}/scripts/{script}"
    return f"/accounts/{account}/workers/scripts/{script}"


def session_path(account: str, script: str, namespace: str | None = None) -> str:
    """The path that opens an asset upload session for the script."""
    return script_path(account, script, namespace) + "/assets-upload-session"


def upload_path(account: str) -> str:
    """Where every bucket is uploaded, with the session's token (the same for WfP)."""
    return f"/accounts/{account}/workers/assets/upload"


def secrets_path(account: str, script: str, namespace: str | None = None) -> str:
    """Where the script's secrets are set and listed (``/{name}``: one of them)."""
    return script_path(account, script, namespace) + "/secrets"


def settings_path(account: str, script: str, namespace: str | None = None) -> str:
    """The script's settings: its live version's bindings (secrets without values), dates, tags."""
    return script_path(account, script, namespace) + "/settings"


def schedules_path(account: str, script: str) -> str:
    """An account script's Cron Triggers: GET lists them, PUT ``[{"cron": ...}]`` replaces them
    all (``{"schedules": [{"cron", "created_on", "modified_on"}]}`` either way). A dispatch
    namespace's user Workers have none."""
    return script_path(account, script) + "/schedules"


def check_cron(text: str) -> str | None:
    """Why ``text`` is not a cron expression the platform takes (None: it is one): five fields,
    minute, hour, day of month, month and day of week, separated by spaces."""
    fields = text.split()
    if len(fields) != 5:
        plural = "s" if len(fields) != 1 else ""
        return f"has {len(fields)} field{plural}, not 5 (minute hour day-of-month month day-of-week)"
    return None


def subdomain_path(account: str) -> str:
    """The account's workers.dev subdomain (``{"subdomain": ...}``; 404, code 10007, if none)."""
    return f"/accounts/{account}/workers/subdomain"


def namespace_scripts_path(account: str, namespace: str) -> str:
    return f"/accounts/{account}/workers/dispatch/namespaces/{namespace}/scripts"


# -- what a deploy is made of ----------------------------------------------------------------------

MODULE_TYPES = {
    ".js": "application/javascript+module",
    ".mjs": "application/javascript+module",
    ".wasm": "application/wasm",
}


@dataclass(frozen=True, slots=True)
class Module:
    """One file of the Worker's code, sent as its own part of the deploy."""

    name: str
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class AssetsConfig:
    """``assets.config`` of the deploy: only what was set is sent."""

    html_handling: str | None = None
    not_found_handling: str | None = None
    run_worker_first: bool | tuple[str, ...] | None = None
    redirects: str | None = None  # the text of the root _redirects
    headers: str | None = None  # the text of the root _headers

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.html_handling is not None:
            if self.html_handling not in HTML_HANDLING:
                raise UsageError(f"html_handling must be one of {', '.join(HTML_HANDLING)}")
            out["html_handling"] = self.html_handling
        if self.not_found_handling is not None:
            if self.not_found_handling not in NOT_FOUND_HANDLING:
                raise UsageError(f"not_found_handling must be one of {', '.join(NOT_FOUND_HANDLING)}")
            out["not_found_handling"] = self.not_found_handling
        if self.run_worker_first is not None:
            rwf = self.run_worker_first
            out["run_worker_first"] = rwf if isinstance(rwf, bool) else list(rwf)
        if self.redirects is not None:
            out["_redirects"] = self.redirects
        if self.headers is not None:
            out["_headers"] = self.headers
        return out


# -- bindings ----------------------------------------------------------------------------------------

# The order of the kinds in the metadata's ``bindings``, as wrangler's upload form writes them (each
# kind in the order it was declared). The API does not care; sending the same list as wrangler does
# makes the two deploys of one project compare equal, and the assets binding sits where wrangler
# puts it. A type not listed (an ``unsafe`` binding's) goes last.
BINDING_ORDER: tuple[str, ...] = (
    "inherit",
    "plain_text",
    "json",
    "secret_text",
    "kv_namespace",
    "send_email",
    "durable_object_namespace",
    "workflow",
    "queue",
    "r2_bucket",
    "d1",
    "vectorize",
    "ai_search_namespace",
    "ai_search",
    "websearch",
    "agent_memory",
    "hyperdrive",
    "secrets_store_secret",
    "artifacts",
    "unsafe_hello_world",
    "flagship",
    "ratelimit",
    "vpc_service",
    "vpc_network",
    "service",
    "analytics_engine",
    "dispatch_namespace",
    "mtls_certificate",
    "pipelines",
    "worker_loader",
    "logfwdr",
    "wasm_module",
    "browser",
    "ai",
    "images",
    "stream",
    "media",
    "version_metadata",
    "assets",
    "text_blob",
    "data_blob",
)
_BINDING_RANK = {kind: rank for rank, kind in enumerate(BINDING_ORDER)}


def sort_bindings(bindings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``bindings`` in wrangler's order: by kind (:data:`BINDING_ORDER`), stable within a kind."""
    last = len(BINDING_ORDER)
    return sorted(map(dict, bindings), key=lambda b: _BINDING_RANK.get(str(b.get("type")), last))


# A deploy replaces the Worker's bindings whole; ``keep_bindings`` names the types the platform
# keeps from the live version. Current wrangler keeps secrets on every Worker deploy (set with
# `wrangler secret put`, they are in no config) and, with keep_vars, the vars set elsewhere too.
KEEP_SECRETS: tuple[str, ...] = ("secret_text", "secret_key")
KEEP_VARS: tuple[str, ...] = ("plain_text", "json")


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a deploy says besides the assets."""

    main_module: str | None = None  # None: an assets-only deploy
    assets_binding: str = "ASSETS"
    bindings: tuple[Mapping[str, Any], ...] = ()
    compatibility_date: str | None = None  # None: the day of the deploy, as wrangler defaults it
    compatibility_flags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    assets: AssetsConfig = field(default_factory=AssetsConfig)
    keep_vars: bool = False  # keep the live version's plain_text/json bindings (wrangler's keep_vars)
    migrations: tuple[Mapping[str, Any], ...] = ()  # the config's Durable Object migrations, with tags


def migrations_to_upload(
    migrations: Iterable[Mapping[str, Any]], live_tag: str | None
) -> dict[str, Any] | None:
    """``metadata.migrations`` as wrangler sends it, given the live script's migration tag: every
    step for a script without one (new, or never migrated), the steps after it otherwise, every
    step again (from ``old_tag``) when the config no longer has that tag, and ``None`` when up to
    date or when there are none. A step is the config's table without its ``tag``. The API applies
    the steps only if ``old_tag`` is the live tag."""
    migrations = list(migrations)
    if not migrations:
        return None
    tags = [m.get("tag") for m in migrations]
    steps = [{k: v for k, v in m.items() if k != "tag"} for m in migrations]
    if not live_tag:
        return {"new_tag": tags[-1], "steps": steps}
    after = tags.index(live_tag) + 1 if live_tag in tags else 0
    if after == len(tags):
        return None
    return {"old_tag": live_tag, "new_tag": tags[-1], "steps": steps[after:]}


def deploy_metadata(
    spec: WorkerSpec, completion_jwt: str, live_migration_tag: str | None = None
) -> dict[str, Any]:
    """The ``metadata`` part of the deploy (PROTOCOL.md 4.3). A Worker's says which bindings the
    platform keeps (``keep_bindings``), as wrangler's does; an assets-only deploy has no bindings
    and says nothing of them, as wrangler's does not. ``live_migration_tag`` is the live script's
    Durable Object migration tag, which decides the migrations sent (:func:`migrations_to_upload`)."""
    assets = {"jwt": completion_jwt, "config": spec.assets.to_json()}
    date = spec.compatibility_date or api_today()
    if spec.main_module is None:
        meta: dict[str, Any] = {
            "assets": assets,
            "compatibility_date": date,
            "compatibility_flags": list(spec.compatibility_flags),
        }
        if spec.tags:  # only when asked for: the plain assets-only form has no tags
            meta["tags"] = list(spec.tags)
        return meta
    meta = {
        "main_module": spec.main_module,
        "bindings": sort_bindings([*spec.bindings, {"name": spec.assets_binding, "type": "assets"}]),
        "compatibility_date": date,
        "compatibility_flags": list(spec.compatibility_flags),
        "keep_bindings": [*KEEP_VARS, *KEEP_SECRETS] if spec.keep_vars else list(KEEP_SECRETS),
        "tags": list(spec.tags),
        "assets": assets,
    }
    migrations = migrations_to_upload(spec.migrations, live_migration_tag)
    if migrations is not None:
        meta["migrations"] = migrations
    return meta


_UUID_HEX = re.compile(r"[0-9a-f]{32}")


def version_id_of(answer: Mapping[str, Any]) -> str | None:
    """The id of the version a deploy made live, from the deploy's answer: its ``version_id``, else
    its ``deployment_id`` as wrangler reads it (the id of the new version, which wrangler shows as
    "Current Version ID": 32 hex digits become a hyphenated UUID)."""
    given = answer.get("version_id")
    if isinstance(given, str) and given:
        return given
    raw = answer.get("deployment_id")
    if not isinstance(raw, str) or not raw:
        return None
    if "-" in raw:
        return raw
    if _UUID_HEX.fullmatch(raw.lower()) is None:
        return None
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
