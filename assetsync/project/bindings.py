"""Every binding kind of a wrangler config, converted into the deploy metadata as wrangler converts it.

A Worker's deploy replaces its whole binding list, so a binding the config declares and the deploy
leaves out is gone from the Worker. :func:`config_bindings` therefore turns every binding key of an
(environment-resolved) wrangler config into the ``bindings`` entries wrangler's upload form writes
(``cloudflare/workers-sdk``: ``convertConfigToBindings``, then ``createWorkerUploadForm``): the
same type names and fields (``kv_namespaces[].id`` becomes ``namespace_id``, a D1 database
``{"type": "d1", "id": ...}``, a dispatch namespace's ``outbound.parameters`` become
``params: [{"name": ...}]``...), optional fields only when set, in wrangler's order (by kind, as
:data:`~assetsync.protocol.BINDING_ORDER` lists them, each kind in config order).

Where wrangler may create a missing resource at deploy time (a KV namespace without ``id``, an R2
binding without ``bucket_name``...), assetsync creates nothing: the missing field is an error that
says what to write. Vars are not here (the config reader turns them into ``plain_text``/``json``);
neither is the assets binding, which the deploy adds.

Durable Object migrations, which wrangler sends outside ``bindings``, are :mod:`.migrations`'.

Malformed input calls ``fail(key_path, problem, fix)``, which raises the caller's error naming the
file and key (the config reader's :class:`~assetsync.errors.ConfigError`; a usage error for
``--binding``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NoReturn, cast

from ..protocol import sort_bindings

__all__ = [
    "BINDING_KEYS",
    "config_bindings",
    "duplicate_name",
    "declare",
    "unsent_parts",
]

KeyPath = tuple[str | int, ...]
Fail = Callable[[KeyPath, str, str], NoReturn]
Binding = dict[str, object]

_MISSING = object()
_WORKFLOW_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")  # wrangler's isValidWorkflowName
_R2_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")  # wrangler's isValidR2BucketName


def describe(value: object) -> str:
    """What a config value is, for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {json.dumps(value if len(value) <= 40 else value[:37] + '...')}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"  # a TOML date or time


def _dotted(key: KeyPath) -> str:
    """``("queues", "producers", 0)`` -> ``queues.producers[0]``."""
    return "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else k) for i, k in enumerate(key))


@dataclass(frozen=True, slots=True)
class Entry:
    """One binding's table in the config and where it is: typed reads that fail naming the key."""

    value: Mapping[str, object]
    key: KeyPath
    fail: Fail

    def has(self, field: str) -> bool:
        return field in self.value

    def _bad(self, field: str, noun: str, fix: str) -> NoReturn:
        self.fail((*self.key, field), f"is {describe(self.value[field])}, but must be {noun}", fix)

    def string(self, field: str, what: str | None = None) -> str | None:
        """``field`` as a string; required and not empty when ``what`` says what it holds."""
        if field not in self.value:
            if what is not None:
                self.fail((*self.key, field), "is missing", f"Set it to {what}")
            return None
        value = self.value[field]
        if not isinstance(value, str):
            self._bad(field, "a string", "Put the value in quotes")
        if what is not None and not value:
            self.fail((*self.key, field), "is empty", f"Set it to {what}")
        return value

    def required(self, field: str, what: str) -> str:
        value = self.string(field, what)
        assert value is not None  # string() fails when a required field is absent
        return value

    def named(self, field: str, what: str, rule: re.Pattern[str], noun: str, fix: str) -> str:
        """A required ``field`` that must also follow ``rule`` (a name the platform restricts)."""
        value = self.required(field, what)
        if rule.fullmatch(value) is None:
            self.fail((*self.key, field), f"is {describe(value)}, which is not {noun}", fix)
        return value

    def _optional(self, field: str, ok: Callable[[object], bool], noun: str, fix: str) -> object:
        """``field`` if it passes ``ok``; ``None`` when absent."""
        value = self.value.get(field)
        if field in self.value and not ok(value):
            self._bad(field, noun, fix)
        return value

    def number(self, field: str) -> float | None:
        def ok(v: object) -> bool:
            return isinstance(v, int | float) and not isinstance(v, bool)

        return cast(float | None, self._optional(field, ok, "a number", "Write a number, without quotes"))

    def boolean(self, field: str) -> bool | None:
        fix = "Write true or false, without quotes"
        return cast(bool | None, self._optional(field, lambda v: isinstance(v, bool), "true or false", fix))

    def table(self, field: str) -> Mapping[str, object] | None:
        fix = "Write it as a table/object of fields"
        return cast(
            dict[str, object] | None, self._optional(field, lambda v: isinstance(v, dict), "an object", fix)
        )

    def strings(self, field: str) -> list[str] | None:
        def ok(v: object) -> bool:
            return isinstance(v, list) and all(isinstance(item, str) for item in v)

        value = self._optional(field, ok, "an array of strings", 'Write a list such as ["a", "b"]')
        return None if value is None else list(cast(list[str], value))


def _set(out: Binding, **fields: object) -> Binding:
    """``out`` with the fields that are set (wrangler leaves unset ones out of the JSON)."""
    out.update((k, v) for k, v in fields.items() if v is not None)
    return out


# -- each kind: the fields after name and type, as the upload form writes them ----------------------


def _kv(e: Entry) -> Binding:
    e.string("preview_id")
    return {"namespace_id": e.required("id", "the namespace's id (`wrangler kv namespace list` shows it)")}


def _send_email(e: Entry) -> Binding:
    if e.has("destination_address") and e.has("allowed_destination_addresses"):
        e.fail(
            e.key,
            'has both "destination_address" and "allowed_destination_addresses"',
            "Keep one of them",
        )
    return _set(
        {},
        destination_address=e.string("destination_address"),
        allowed_destination_addresses=e.strings("allowed_destination_addresses"),
        allowed_sender_addresses=e.strings("allowed_sender_addresses"),
    )


def _durable_object(e: Entry) -> Binding:
    out: Binding = {"class_name": e.required("class_name", "the name of the Durable Object's class")}
    script, environment = e.string("script_name"), e.string("environment")
    if environment is not None and script is None:
        e.fail((*e.key, "environment"), 'is set without "script_name"', 'Add "script_name", or remove it')
    return _set(out, script_name=script or None, environment=environment or None)


def _workflow(e: Entry) -> Binding:
    rule = "Use 1-64 letters, digits, '_' or '-', starting with a letter, digit or '_'"
    name = e.named("name", "the Workflow's name", _WORKFLOW_NAME, "a Workflow name", rule)
    out: Binding = {"workflow_name": name, "class_name": e.required("class_name", "the Workflow's class")}
    return _set(out, script_name=e.string("script_name"))


def _queue(e: Entry) -> Binding:
    out: Binding = {"queue_name": e.required("queue", "the queue's name (`wrangler queues list`)")}
    return _set(out, delivery_delay=e.number("delivery_delay"))


def _r2(e: Entry) -> Binding:
    what = "the bucket's name (`wrangler r2 bucket list`)"
    rule = "Use 3-63 lowercase letters, digits or '-', starting and ending with a letter or digit"
    bucket = e.named("bucket_name", what, _R2_BUCKET, "an R2 bucket name", rule)
    e.string("preview_bucket_name")
    return _set({"bucket_name": bucket}, jurisdiction=e.string("jurisdiction"))


def _d1(e: Entry) -> Binding:
    for field in ("database_name", "preview_database_id", "migrations_dir", "migrations_table"):
        e.string(field)
    out: Binding = {"id": e.required("database_id", "the database's id (`wrangler d1 list`)")}
    return _set(out, internalEnv=e.string("database_internal_env"))


def _one(field: str, what: str) -> Callable[[Entry], Binding]:
    """A kind whose one required field is sent as it is."""
    return lambda e: {field: e.required(field, what)}


def _nothing(e: Entry) -> Binding:
    return {}


def _hello_world(e: Entry) -> Binding:
    return _set({}, enable_timer=e.boolean("enable_timer"))


def _ratelimit(e: Entry) -> Binding:
    namespace_id = e.required("namespace_id", "the rate limit's namespace id (a number in quotes)")
    simple = e.table("simple")
    if simple is None:
        e.fail((*e.key, "simple"), "is missing", "Add simple = { limit = 100, period = 60 }")
    inner = Entry(simple, (*e.key, "simple"), e.fail)
    limit, period = inner.number("limit"), inner.number("period")
    if limit is None or period not in (10, 60):
        e.fail(
            (*e.key, "simple"),
            "needs a numeric limit and a period of 10 or 60",
            "Write e.g. { limit = 100, period = 60 }",
        )
    return {"namespace_id": namespace_id, "simple": dict(simple)}


def _vpc_network(e: Entry) -> Binding:
    if e.has("tunnel_id") == e.has("network_id"):
        e.fail(e.key, 'needs exactly one of "tunnel_id" and "network_id"', "Keep one of them")
    field = "tunnel_id" if e.has("tunnel_id") else "network_id"
    return {field: e.required(field, "the id")}


def _service(e: Entry) -> Binding:
    out: Binding = {"service": e.required("service", "the name of the Worker to bind to")}
    if e.has("cross_account_grant"):
        out["cross_account_grant"] = e.value["cross_account_grant"]
    # wrangler leaves out an empty environment or entrypoint, but sends props even when empty
    environment, entrypoint = e.string("environment") or None, e.string("entrypoint") or None
    props = e.table("props")
    return _set(
        out, environment=environment, entrypoint=entrypoint, props=None if props is None else dict(props)
    )


def _analytics_engine(e: Entry) -> Binding:
    dataset = e.string("dataset")
    if dataset == "":
        e.fail((*e.key, "dataset"), "is empty", "Name the dataset, or remove the key")
    return _set({}, dataset=dataset)


def _dispatch_namespace(e: Entry) -> Binding:
    out: Binding = {"namespace": e.required("namespace", "the dispatch namespace's name")}
    if not e.has("outbound"):
        return out
    outbound = Entry(e.table("outbound") or {}, (*e.key, "outbound"), e.fail)
    worker = _set(
        {"service": outbound.required("service", "the outbound Worker's name")},
        environment=outbound.string("environment"),
    )
    params = outbound.strings("parameters")
    out["outbound"] = _set(
        {"worker": worker}, params=None if params is None else [{"name": p} for p in params]
    )
    return out


def _pipeline(e: Entry) -> Binding:
    stream, pipeline = e.string("stream"), e.string("pipeline")
    if stream:
        return {"stream": stream}
    if pipeline:
        return {"pipeline": pipeline}
    e.fail((*e.key, "stream"), "is missing", "Set it to the name of the stream the pipeline reads")


def _ai(e: Entry) -> Binding:
    return _set({}, staging=e.boolean("staging"))


def _logfwdr(e: Entry) -> Binding:
    return {"destination": e.required("destination", "the log destination")}


@dataclass(frozen=True, slots=True)
class _Kind:
    key: str  # the config key
    type: str  # the binding's type in the metadata
    shape: Literal["list", "one", "bindings", "producers"]
    convert: Callable[[Entry], Binding]
    name_field: str = "binding"


_KINDS: tuple[_Kind, ...] = (
    _Kind("kv_namespaces", "kv_namespace", "list", _kv),
    _Kind("send_email", "send_email", "list", _send_email, "name"),
    _Kind("durable_objects", "durable_object_namespace", "bindings", _durable_object, "name"),
    _Kind("workflows", "workflow", "list", _workflow),
    _Kind("queues", "queue", "producers", _queue),
    _Kind("r2_buckets", "r2_bucket", "list", _r2),
    _Kind("d1_databases", "d1", "list", _d1),
    _Kind("vectorize", "vectorize", "list", _one("index_name", "the Vectorize index's name")),
    _Kind(
        "ai_search_namespaces", "ai_search_namespace", "list", _one("namespace", "the AI Search namespace")
    ),
    _Kind("ai_search", "ai_search", "list", _one("instance_name", "the AI Search instance's name")),
    _Kind("websearch", "websearch", "one", _nothing),
    _Kind("agent_memory", "agent_memory", "list", _one("namespace", "the Agent Memory namespace")),
    _Kind("hyperdrive", "hyperdrive", "list", _one("id", "the Hyperdrive config's id")),
    _Kind(
        "secrets_store_secrets",
        "secrets_store_secret",
        "list",
        lambda e: {
            "store_id": e.required("store_id", "the secrets store's id"),
            "secret_name": e.required("secret_name", "the secret's name in the store"),
        },
    ),
    _Kind("artifacts", "artifacts", "list", _one("namespace", "the artifacts namespace")),
    _Kind("unsafe_hello_world", "unsafe_hello_world", "list", _hello_world),
    _Kind("flagship", "flagship", "list", _one("app_id", "the Flagship app's id")),
    _Kind("ratelimits", "ratelimit", "list", _ratelimit, "name"),
    _Kind("vpc_services", "vpc_service", "list", _one("service_id", "the VPC service's id")),
    _Kind("vpc_networks", "vpc_network", "list", _vpc_network),
    _Kind("services", "service", "list", _service),
    _Kind("analytics_engine_datasets", "analytics_engine", "list", _analytics_engine),
    _Kind("dispatch_namespaces", "dispatch_namespace", "list", _dispatch_namespace),
    _Kind("mtls_certificates", "mtls_certificate", "list", _one("certificate_id", "the certificate's id")),
    _Kind("pipelines", "pipelines", "list", _pipeline),
    _Kind("worker_loaders", "worker_loader", "list", _nothing),
    _Kind("logfwdr", "logfwdr", "bindings", _logfwdr, "name"),
    _Kind("browser", "browser", "one", _nothing),
    _Kind("ai", "ai", "one", _ai),
    _Kind("images", "images", "one", _nothing),
    _Kind("stream", "stream", "one", _nothing),
    _Kind("media", "media", "one", _nothing),
    _Kind("version_metadata", "version_metadata", "one", _nothing),
)

BINDING_KEYS: frozenset[str] = frozenset({kind.key for kind in _KINDS} | {"unsafe"})
"""The top-level config keys that hold bindings (``vars`` and ``assets`` aside). ``unsafe`` is
here for its ``bindings``, sent as they are written; see :func:`unsent_parts` for the rest."""

# -- the config ----------------------------------------------------------------------------------------


def _entries(config: Mapping[str, object], kind: _Kind, fail: Fail) -> Iterable[Entry]:
    """The binding tables under ``kind.key``, each with its key path; the container checked."""
    value = config.get(kind.key)
    if value is None:
        return []
    key: KeyPath = (kind.key,)
    if kind.shape == "one":
        items: list[tuple[object, KeyPath]] = [(value, key)]
    else:
        if kind.shape in ("bindings", "producers"):
            field = kind.shape
            if not isinstance(value, dict):
                fail(
                    key,
                    f'is {describe(value)}, but must be an object with "{field}"',
                    f"Write the bindings under {kind.key}.{field}",
                )
            value = value.get(field, [])
            key = (*key, field)
        if not isinstance(value, list):
            fail(
                key,
                f"is {describe(value)}, but must be an array of objects",
                f'Write one object per binding, each with "{kind.name_field}"',
            )
        items = [(item, (*key, i)) for i, item in enumerate(value)]
    out = []
    for item, at in items:
        if not isinstance(item, dict):
            fail(
                at,
                f"is {describe(item)}, but must be an object",
                f'Write the binding as an object with "{kind.name_field}"',
            )
        out.append(Entry(item, at, fail))
    return out


def _name(e: Entry, field: str) -> str:
    return e.required(field, "the name the Worker reaches the binding by (env.NAME)")


def config_bindings(config: Mapping[str, object], fail: Fail) -> list[dict[str, object]]:
    """The metadata ``bindings`` wrangler sends for ``config``'s binding keys (vars aside), in its
    order. Every binding is checked (required fields, types) and every name must be unique among
    them, the ``vars`` and ``assets.binding``, as wrangler requires."""
    out: list[Binding] = []
    vars_ = config.get("vars")
    names: list[tuple[str, KeyPath]] = (
        [(var, ("vars", var)) for var in vars_] if isinstance(vars_, dict) else []
    )
    for kind in _KINDS:
        for e in _entries(config, kind, fail):
            name = _name(e, kind.name_field)
            names.append((name, (*e.key, kind.name_field)))
            out.append({"name": name, "type": kind.type, **kind.convert(e)})
    unsafe = config.get("unsafe")
    if unsafe is not None:
        for e in _entries(config, _Kind("unsafe", "", "bindings", _nothing, "name"), fail):
            name = _name(e, "name")
            names.append((name, (*e.key, "name")))
            out.append({**e.value, "name": name, "type": e.required("type", "the binding's type")})
    assets = config.get("assets")
    if isinstance(assets, dict) and isinstance(assets.get("binding"), str):
        names.append((assets["binding"], ("assets", "binding")))
    seen: dict[str, KeyPath] = {}
    for name, at in names:
        if name in seen:
            fail(
                at,
                f"{json.dumps(name)} is also the name of {_dotted(seen[name])}",
                "Give each binding its own name: the Worker reaches each one as env.NAME",
            )
        seen[name] = at
    return sort_bindings(out)


def declare(key: str, name: str, fields: Mapping[str, object]) -> object:
    """One binding named ``name`` as the config key ``key`` holds it (the table alone, in an
    array, or under ``bindings`` / ``producers``), for :func:`config_bindings` to convert."""
    kind = next(k for k in _KINDS if k.key == key)
    entry = {kind.name_field: name, **fields}
    return {"one": entry, "list": [entry]}.get(kind.shape) or {kind.shape: [entry]}


def duplicate_name(bindings: Iterable[Mapping[str, object]]) -> str | None:
    """The first name two of ``bindings`` share (config, flags and the assets binding together)."""
    seen: set[object] = set()
    for binding in bindings:
        name = binding.get("name")
        if name in seen:
            return str(name)
        seen.add(name)
    return None


def unsent_parts(config: Mapping[str, object]) -> list[str]:
    """Parts of the binding keys that a deploy's metadata does not carry, so assetsync does not act
    on them (wrangler does, with other API calls or other metadata): worth a warning each."""
    out = []
    queues = config.get("queues")
    if isinstance(queues, dict) and queues.get("consumers"):
        out.append("queues.consumers")  # wrangler attaches consumers through the Queues API
    unsafe = config.get("unsafe")
    if isinstance(unsafe, dict):
        out += [f"unsafe.{key}" for key in unsafe if key != "bindings"]
    return out
