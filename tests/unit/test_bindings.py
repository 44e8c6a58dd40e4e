"""Every binding kind of a wrangler config as wrangler's upload form writes it, the checks on each,
Durable Object migrations, and the --binding flag.

The expected shapes are the ones read in cloudflare/workers-sdk (convertConfigToBindings, then
createWorkerUploadForm); tests/system/test_wrangler_parity.py checks them against real wrangler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import pytest

from assetsync.errors import ConfigError, UsageError
from assetsync.project.bindingflag import flag_binding
from assetsync.project.bindings import (
    BINDING_KEYS,
    KeyPath,
    config_bindings,
    duplicate_name,
    unsent_parts,
)
from assetsync.project.migrations import config_migrations
from assetsync.project.wrangler import load_config
from assetsync.protocol import BINDING_ORDER, migrations_to_upload


def fail(key: KeyPath, problem: str, fix: str) -> NoReturn:
    raise ConfigError(f"{key!r} {problem}. {fix}")


def convert(config: dict[str, Any]) -> list[dict[str, object]]:
    return config_bindings(config, fail)


# Each config key (in an order unlike wrangler's) and what wrangler sends for it, in wrangler's order.
EVERY_KIND: dict[str, Any] = {
    "version_metadata": {"binding": "VERSION"},
    "images": {"binding": "IMAGES"},
    "ai": {"binding": "AI", "staging": True},
    "browser": {"binding": "BROWSER"},
    "mtls_certificates": [{"binding": "CERT", "certificate_id": "cert-id"}],
    "dispatch_namespaces": [
        {"binding": "DISPATCH", "namespace": "ns"},
        {
            "binding": "DISPATCH_OUT",
            "namespace": "ns2",
            "outbound": {"service": "outbound", "environment": "production", "parameters": ["a", "b"]},
        },
    ],
    "analytics_engine_datasets": [{"binding": "AE"}, {"binding": "AE2", "dataset": "ds"}],
    "services": [
        {"binding": "SVC", "service": "other"},
        {"binding": "SVC2", "service": "other", "entrypoint": "Api", "environment": "", "props": {}},
    ],
    "secrets_store_secrets": [{"binding": "SECRET", "store_id": "store", "secret_name": "key"}],
    "hyperdrive": [{"binding": "HYPER", "id": "hd-id", "localConnectionString": "postgres://x"}],
    "vectorize": [{"binding": "VEC", "index_name": "idx"}],
    "d1_databases": [
        {"binding": "DB", "database_id": "d1-id", "database_name": "main", "migrations_dir": "m"}
    ],
    "r2_buckets": [
        {"binding": "R2", "bucket_name": "my-bucket", "preview_bucket_name": "dev-bucket"},
        {"binding": "R2EU", "bucket_name": "eu-bucket", "jurisdiction": "eu"},
    ],
    "queues": {"producers": [{"binding": "QUEUE", "queue": "jobs"}], "consumers": [{"queue": "jobs"}]},
    "workflows": [{"binding": "FLOW", "name": "my-flow", "class_name": "Flow"}],
    "durable_objects": {
        "bindings": [
            {"name": "COUNTER", "class_name": "Counter"},
            {"name": "REMOTE", "class_name": "Room", "script_name": "chat", "environment": "production"},
        ]
    },
    "send_email": [{"name": "MAIL", "destination_address": "a@example.com"}],
    "kv_namespaces": [
        {"binding": "KV", "id": "kv-id", "preview_id": "kv-dev"},
        {"binding": "KV2", "id": "k2"},
    ],
}
WRANGLER_SENDS: list[dict[str, object]] = [
    {"name": "KV", "type": "kv_namespace", "namespace_id": "kv-id"},
    {"name": "KV2", "type": "kv_namespace", "namespace_id": "k2"},
    {"name": "MAIL", "type": "send_email", "destination_address": "a@example.com"},
    {"name": "COUNTER", "type": "durable_object_namespace", "class_name": "Counter"},
    {
        "name": "REMOTE",
        "type": "durable_object_namespace",
        "class_name": "Room",
        "script_name": "chat",
        "environment": "production",
    },
    {"name": "FLOW", "type": "workflow", "workflow_name": "my-flow", "class_name": "Flow"},
    {"name": "QUEUE", "type": "queue", "queue_name": "jobs"},
    {"name": "R2", "type": "r2_bucket", "bucket_name": "my-bucket"},
    {"name": "R2EU", "type": "r2_bucket", "bucket_name": "eu-bucket", "jurisdiction": "eu"},
    {"name": "DB", "type": "d1", "id": "d1-id"},
    {"name": "VEC", "type": "vectorize", "index_name": "idx"},
    {"name": "HYPER", "type": "hyperdrive", "id": "hd-id"},
    {"name": "SECRET", "type": "secrets_store_secret", "store_id": "store", "secret_name": "key"},
    {"name": "SVC", "type": "service", "service": "other"},
    # an empty environment is left out, empty props are not (wrangler's `x && {...}` on {} and "")
    {"name": "SVC2", "type": "service", "service": "other", "entrypoint": "Api", "props": {}},
    {"name": "AE", "type": "analytics_engine"},
    {"name": "AE2", "type": "analytics_engine", "dataset": "ds"},
    {"name": "DISPATCH", "type": "dispatch_namespace", "namespace": "ns"},
    {
        "name": "DISPATCH_OUT",
        "type": "dispatch_namespace",
        "namespace": "ns2",
        "outbound": {
            "worker": {"service": "outbound", "environment": "production"},
            "params": [{"name": "a"}, {"name": "b"}],
        },
    },
    {"name": "CERT", "type": "mtls_certificate", "certificate_id": "cert-id"},
    {"name": "BROWSER", "type": "browser"},
    {"name": "AI", "type": "ai", "staging": True},
    {"name": "IMAGES", "type": "images"},
    {"name": "VERSION", "type": "version_metadata"},
]


def test_every_kind_is_sent_as_wrangler_writes_it_in_its_order() -> None:
    assert convert(EVERY_KIND) == WRANGLER_SENDS
    # the config's key order does not matter, the order within a kind does
    assert convert(dict(reversed(EVERY_KIND.items()))) == WRANGLER_SENDS
    kv = {"kv_namespaces": [{"binding": "B", "id": "2"}, {"binding": "A", "id": "1"}]}
    assert [b["name"] for b in convert(kv)] == ["B", "A"]


def test_the_kinds_wrangler_has_besides() -> None:
    config = {
        "worker_loaders": [{"binding": "LOADER"}],
        "pipelines": [{"binding": "P1", "stream": "s"}, {"binding": "P2", "pipeline": "old"}],
        "ratelimits": [{"name": "LIMIT", "namespace_id": "1001", "simple": {"limit": 10, "period": 60}}],
        "vpc_networks": [{"binding": "NET", "tunnel_id": "t"}],
        "vpc_services": [{"binding": "VPC", "service_id": "s"}],
        "flagship": [{"binding": "FLAGS", "app_id": "app"}],
        "unsafe_hello_world": [{"binding": "HELLO", "enable_timer": False}],
        "artifacts": [{"binding": "ART", "namespace": "n"}],
        "agent_memory": [{"binding": "MEM", "namespace": "n"}],
        "websearch": {"binding": "WEB"},
        "ai_search": [{"binding": "SEARCH", "instance_name": "i"}],
        "ai_search_namespaces": [{"binding": "SEARCHNS", "namespace": "n"}],
        "logfwdr": {"bindings": [{"name": "LOGS", "destination": "d"}]},
        "stream": {"binding": "STREAM"},
        "media": {"binding": "MEDIA"},
        "unsafe": {"bindings": [{"name": "RAW", "type": "future_kind", "anything": [1]}], "metadata": {}},
    }
    assert convert(config) == [
        {"name": "SEARCHNS", "type": "ai_search_namespace", "namespace": "n"},
        {"name": "SEARCH", "type": "ai_search", "instance_name": "i"},
        {"name": "WEB", "type": "websearch"},
        {"name": "MEM", "type": "agent_memory", "namespace": "n"},
        {"name": "ART", "type": "artifacts", "namespace": "n"},
        {"name": "HELLO", "type": "unsafe_hello_world", "enable_timer": False},
        {"name": "FLAGS", "type": "flagship", "app_id": "app"},
        {"name": "LIMIT", "type": "ratelimit", "namespace_id": "1001", "simple": {"limit": 10, "period": 60}},
        {"name": "VPC", "type": "vpc_service", "service_id": "s"},
        {"name": "NET", "type": "vpc_network", "tunnel_id": "t"},
        {"name": "P1", "type": "pipelines", "stream": "s"},
        {"name": "P2", "type": "pipelines", "pipeline": "old"},
        {"name": "LOADER", "type": "worker_loader"},
        {"name": "LOGS", "type": "logfwdr", "destination": "d"},
        {"name": "STREAM", "type": "stream"},
        {"name": "MEDIA", "type": "media"},
        {"name": "RAW", "type": "future_kind", "anything": [1]},  # unsafe: as written, last
    ]
    assert unsent_parts(config) == ["unsafe.metadata"]
    assert unsent_parts(EVERY_KIND) == ["queues.consumers"]


def test_the_binding_keys_are_every_key_the_upload_form_takes() -> None:
    assert {
        "kv_namespaces",
        "r2_buckets",
        "d1_databases",
        "services",
        "queues",
        "durable_objects",
        "analytics_engine_datasets",
        "dispatch_namespaces",
        "ai",
        "vectorize",
        "hyperdrive",
        "version_metadata",
        "browser",
        "send_email",
        "mtls_certificates",
        "workflows",
        "images",
        "secrets_store_secrets",
        "pipelines",
        "ratelimits",
        "worker_loaders",
        "unsafe",
    } <= BINDING_KEYS
    assert not BINDING_KEYS & {"vars", "assets", "wasm_modules", "text_blobs", "data_blobs"}
    every_type = {b["type"] for b in WRANGLER_SENDS}
    assert every_type <= set(BINDING_ORDER)


def test_nothing_declared_is_no_binding() -> None:
    assert convert({}) == []
    assert convert({"kv_namespaces": [], "queues": {}, "durable_objects": {"bindings": []}}) == []


@pytest.mark.parametrize(
    ("config", "key", "problem"),
    [
        # wrangler would create these resources at deploy time; assetsync creates nothing
        ({"kv_namespaces": [{"binding": "K"}]}, ("kv_namespaces", 0, "id"), "is missing"),
        ({"r2_buckets": [{"binding": "R"}]}, ("r2_buckets", 0, "bucket_name"), "is missing"),
        (
            {"d1_databases": [{"binding": "D", "database_name": "x"}]},
            ("d1_databases", 0, "database_id"),
            "is missing",
        ),
        ({"queues": {"producers": [{"binding": "Q"}]}}, ("queues", "producers", 0, "queue"), "is missing"),
        ({"dispatch_namespaces": [{"binding": "N"}]}, ("dispatch_namespaces", 0, "namespace"), "is missing"),
        # required fields, types, containers
        ({"kv_namespaces": [{"id": "x"}]}, ("kv_namespaces", 0, "binding"), "is missing"),
        ({"kv_namespaces": [{"binding": "K", "id": ""}]}, ("kv_namespaces", 0, "id"), "is empty"),
        (
            {"kv_namespaces": [{"binding": "K", "id": 7}]},
            ("kv_namespaces", 0, "id"),
            "is the number 7, but must be a string",
        ),
        ({"kv_namespaces": [{"binding": 1, "id": "x"}]}, ("kv_namespaces", 0, "binding"), "is the number 1"),
        ({"kv_namespaces": {"binding": "K"}}, ("kv_namespaces",), "is an object, but must be an array"),
        ({"kv_namespaces": ["K"]}, ("kv_namespaces", 0), 'is the string "K", but must be an object'),
        ({"ai": "AI"}, ("ai",), 'is the string "AI", but must be an object'),
        ({"ai": {}}, ("ai", "binding"), "is missing"),
        ({"ai": {"binding": ""}}, ("ai", "binding"), "is empty"),
        ({"ai": {"binding": "AI", "staging": "yes"}}, ("ai", "staging"), "must be true or false"),
        ({"durable_objects": [{"name": "D"}]}, ("durable_objects",), 'must be an object with "bindings"'),
        (
            {"durable_objects": {"bindings": [{"name": "D"}]}},
            ("durable_objects", "bindings", 0, "class_name"),
            "is missing",
        ),
        (
            {"durable_objects": {"bindings": [{"name": "D", "class_name": "C", "environment": "e"}]}},
            ("durable_objects", "bindings", 0, "environment"),
            'is set without "script_name"',
        ),
        (
            {"queues": {"producers": [{"binding": "Q", "queue": "q", "delivery_delay": "5"}]}},
            ("queues", "producers", 0, "delivery_delay"),
            "must be a number",
        ),
        (
            {"r2_buckets": [{"binding": "R", "bucket_name": "Bad_Name"}]},
            ("r2_buckets", 0, "bucket_name"),
            "not an R2 bucket name",
        ),
        (
            {"workflows": [{"binding": "W", "name": "-x", "class_name": "C"}]},
            ("workflows", 0, "name"),
            "not a Workflow name",
        ),
        (
            {"send_email": [{"name": "M", "destination_address": "a", "allowed_destination_addresses": []}]},
            ("send_email", 0),
            "has both",
        ),
        (
            {"send_email": [{"name": "M", "allowed_sender_addresses": "a@b"}]},
            ("send_email", 0, "allowed_sender_addresses"),
            "must be an array of strings",
        ),
        ({"services": [{"binding": "S"}]}, ("services", 0, "service"), "is missing"),
        (
            {"services": [{"binding": "S", "service": "s", "props": []}]},
            ("services", 0, "props"),
            "must be an object",
        ),
        (
            {"dispatch_namespaces": [{"binding": "N", "namespace": "n", "outbound": {}}]},
            ("dispatch_namespaces", 0, "outbound", "service"),
            "is missing",
        ),
        (
            {"analytics_engine_datasets": [{"binding": "A", "dataset": ""}]},
            ("analytics_engine_datasets", 0, "dataset"),
            "is empty",
        ),
        ({"pipelines": [{"binding": "P"}]}, ("pipelines", 0, "stream"), "is missing"),
        (
            {"ratelimits": [{"name": "L", "namespace_id": "1", "simple": {"limit": 1, "period": 30}}]},
            ("ratelimits", 0, "simple"),
            "period of 10 or 60",
        ),
        (
            {"vpc_networks": [{"binding": "V"}]},
            ("vpc_networks", 0),
            'exactly one of "tunnel_id" and "network_id"',
        ),
        (
            {"secrets_store_secrets": [{"binding": "S", "store_id": "s"}]},
            ("secrets_store_secrets", 0, "secret_name"),
            "is missing",
        ),
        ({"unsafe": {"bindings": [{"name": "U"}]}}, ("unsafe", "bindings", 0, "type"), "is missing"),
    ],
)
def test_a_malformed_binding_fails_naming_its_key(config: dict[str, Any], key: KeyPath, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        convert(config)
    assert str(info.value).startswith(f"{key!r} ") and problem in str(info.value)


@pytest.mark.parametrize(
    ("config", "key", "other"),
    [
        (
            {"kv_namespaces": [{"binding": "X", "id": "1"}, {"binding": "X", "id": "2"}]},
            ("kv_namespaces", 1, "binding"),
            "kv_namespaces[0].binding",
        ),
        (
            {"kv_namespaces": [{"binding": "X", "id": "1"}], "ai": {"binding": "X"}},
            ("ai", "binding"),
            "kv_namespaces[0].binding",
        ),
        (
            {"vars": {"X": "1"}, "durable_objects": {"bindings": [{"name": "X", "class_name": "C"}]}},
            ("durable_objects", "bindings", 0, "name"),
            "vars.X",
        ),
        ({"assets": {"binding": "X"}, "browser": {"binding": "X"}}, ("assets", "binding"), "browser.binding"),
    ],
)
def test_binding_names_are_unique_among_bindings_vars_and_assets(
    config: dict[str, Any], key: KeyPath, other: str
) -> None:
    with pytest.raises(ConfigError) as info:
        convert(config)
    assert str(info.value).startswith(
        f'{key!r} "X" is also the name of {other}. Give each binding its own name'
    )


def test_duplicate_name_across_flags_and_config() -> None:
    assert duplicate_name([{"name": "A"}, {"name": "B"}]) is None
    assert duplicate_name([{"name": "A"}, {"name": "B"}, {"name": "A"}]) == "A"


# -- Durable Object migrations ----------------------------------------------------------------------

STEPS = (
    {"tag": "v1", "new_sqlite_classes": ["Counter"]},
    {"tag": "v2", "renamed_classes": [{"from": "Counter", "to": "Tally"}]},
    {"tag": "v3", "deleted_classes": ["Old"]},
)


def test_migrations_to_upload_follow_the_live_tag_as_wrangler() -> None:
    one, two, three = ({k: v for k, v in s.items() if k != "tag"} for s in STEPS)
    assert migrations_to_upload(STEPS, None) == {"new_tag": "v3", "steps": [one, two, three]}
    assert migrations_to_upload(STEPS, "v1") == {"old_tag": "v1", "new_tag": "v3", "steps": [two, three]}
    assert migrations_to_upload(STEPS, "v3") is None  # up to date
    # a live tag the config no longer has: every step again, from that tag
    assert migrations_to_upload(STEPS, "v0") == {"old_tag": "v0", "new_tag": "v3", "steps": [one, two, three]}
    assert migrations_to_upload((), "v1") is None


def test_config_migrations_are_checked() -> None:
    assert config_migrations({"migrations": list(STEPS)}, fail) == STEPS
    assert config_migrations({}, fail) == ()
    bad_ones: list[tuple[dict[str, Any], KeyPath, str]] = [
        ({"migrations": {"tag": "v1"}}, ("migrations",), "is an object, but must be an array"),
        ({"migrations": [{"new_classes": ["A"]}]}, ("migrations", 0, "tag"), "is missing"),
        (
            {"migrations": [{"tag": "v1", "new_classes": "A"}]},
            ("migrations", 0, "new_classes"),
            "must be an array of strings",
        ),
        (
            {"migrations": [{"tag": "v1", "renamed_classes": [{"from": "A"}]}]},
            ("migrations", 0, "renamed_classes"),
            "must be an array of {from: string, to: string}",
        ),
    ]
    for bad, key, problem in bad_ones:
        with pytest.raises(ConfigError) as info:
            config_migrations(bad, fail)
        assert str(info.value).startswith(f"{key!r} ") and problem in str(info.value)


# -- --binding ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "binding"),
    [
        ("kv:CACHE=abc123", {"type": "kv_namespace", "name": "CACHE", "namespace_id": "abc123"}),
        ("kv_namespace:C=x", {"type": "kv_namespace", "name": "C", "namespace_id": "x"}),
        ("text:GREETING=hello=world", {"type": "plain_text", "name": "GREETING", "text": "hello=world"}),
        ("text:URL=https://x", {"type": "plain_text", "name": "URL", "text": "https://x"}),
        ("plain_text:EMPTY=", {"type": "plain_text", "name": "EMPTY", "text": ""}),
        ('json:LIMITS={"a": [1, true]}', {"type": "json", "name": "LIMITS", "json": {"a": [1, True]}}),
        ("r2:FILES=my-files", {"type": "r2_bucket", "name": "FILES", "bucket_name": "my-files"}),
        ("d1:DB=abc", {"type": "d1", "name": "DB", "id": "abc"}),
        ("queue:JOBS=jobs", {"type": "queue", "name": "JOBS", "queue_name": "jobs"}),
        ("service:API=api-worker", {"type": "service", "name": "API", "service": "api-worker"}),
        (
            "durable_object:ROOM=Room",
            {"type": "durable_object_namespace", "name": "ROOM", "class_name": "Room"},
        ),
        (
            "dispatch_namespace:D=customers",
            {"type": "dispatch_namespace", "name": "D", "namespace": "customers"},
        ),
        ("ai:AI", {"type": "ai", "name": "AI"}),
        ("version_metadata:V", {"type": "version_metadata", "name": "V"}),
    ],
)
def test_binding_flags_convert_as_the_config_does(text: str, binding: dict[str, object]) -> None:
    assert flag_binding(text) == binding


@pytest.mark.parametrize("text", ["kv", "kvNAME=x", "kv:=x", "text:=x", "", "nosuch:B=x"])
def test_malformed_binding_flags_say_the_syntax(text: str) -> None:
    with pytest.raises(UsageError) as info:
        flag_binding(text)
    assert "use KIND:NAME=VALUE (text, json, kv, r2, d1," in str(info.value)
    assert str(info.value).endswith("or KIND:NAME (ai, browser, images, version_metadata, worker_loader)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kv:NAME", "use kv:NAME=NAMESPACE_ID"),
        ("kv_namespace:NAME", "use kv_namespace:NAME=NAMESPACE_ID"),
        ("r2:B", "use r2:NAME=BUCKET"),
        ("text:T", "use text:NAME=VALUE"),
        ("ai:AI=x", "use ai:NAME, without a value"),
    ],
)
def test_a_kind_written_in_the_wrong_form_says_its_own(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        flag_binding(text)
    assert str(info.value) == f"--binding {text!r}: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nosuch:B=x", "--binding 'nosuch:B=x': unknown kind 'nosuch'; use KIND:NAME=VALUE"),
        ("kv:C=", "--binding 'kv:C=': id is empty. Set it to the namespace's id"),
        (
            "r2:B=Not_A_Bucket",
            "--binding 'r2:B=Not_A_Bucket': bucket_name is the string \"Not_A_Bucket\", which is not an R2",
        ),
        ("json:J=nope", "--binding 'json:J=nope': 'nope' is not JSON. Write JSON"),
    ],
)
def test_a_bad_binding_flag_value_is_named(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        flag_binding(text)
    assert str(info.value).startswith(message)


def test_the_config_reader_names_the_file_and_line_of_a_bad_binding(tmp_path: Path) -> None:
    toml = tmp_path / "wrangler.toml"
    toml.write_text(
        'name = "w"\n\n[[durable_objects.bindings]]\nname = "A"\nclass_name = "A"\n\n'
        '[[durable_objects.bindings]]\nname = "B"\n\n[[kv_namespaces]]\nbinding = "K"\nid = "k"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(str(toml))
    assert str(info.value) == (
        f"{toml}, line 7: durable_objects.bindings[1].class_name is missing. "
        "Set it to the name of the Durable Object's class."
    )
    jsonc = tmp_path / "wrangler.jsonc"
    jsonc.write_text(
        '{\n  "kv_namespaces": [\n    {"binding": "K", "id": "k"},\n    {"binding": "K", "id": "j"}\n  ]\n}'
    )
    with pytest.raises(ConfigError) as info:
        load_config(str(jsonc))
    assert str(info.value).startswith(
        f'{jsonc}, line 4: kv_namespaces[1].binding "K" is also the name of kv_namespaces[0].binding.'
    )
    toml.write_text('[[kv_namespaces]]\nbinding = "K"\nid = "k"\n')
    assert load_config(str(toml)).bindings == ({"name": "K", "type": "kv_namespace", "namespace_id": "k"},)
