"""assetsync and real wrangler (4.86, in .tools) deploy the same project: the same metadata.

For configs covering every binding kind, both deploy to their own recording emulator on
127.0.0.1, and what each sent as the deploy's ``metadata`` is compared: the script name, main
module, bindings (in order: assetsync writes them in wrangler's order), keep_bindings,
compatibility date and flags, and Durable Object migrations. The differences that are deliberate
are written out in :func:`assetsync_sends`, each with its reason; any other difference fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..conftest import ACCOUNT
from ..emulator.test_clients import WRANGLER, needs_wrangler
from ..helpers import LiveEmulator, child_env, run_cli

MAIN = (  # with the Durable Object classes the configs bind: wrangler checks they are exported
    "export default { fetch(request, env) { return env.ASSETS.fetch(request); } };\n"
    "export class Counter {}\nexport class Room {}\nexport class Tally {}\n"
)
BASE: dict[str, Any] = {
    "name": "parity-worker",
    "main": "index.js",
    "compatibility_date": "2025-01-01",
    "compatibility_flags": ["nodejs_compat"],
    "assets": {"directory": "./public", "binding": "ASSETS"},
}
COMPARED = (
    "main_module",
    "bindings",
    "compatibility_date",
    "compatibility_flags",
    "keep_bindings",
    "migrations",
)

# One config per group of kinds; together every kind the upload form takes from a config.
CASES: dict[str, dict[str, Any]] = {
    "storage": {
        "kv_namespaces": [
            {"binding": "KV", "id": "kv-id", "preview_id": "dev"},
            {"binding": "KV2", "id": "k2"},
        ],
        "r2_buckets": [
            {"binding": "FILES", "bucket_name": "files"},
            {"binding": "EU_FILES", "bucket_name": "eu-files", "jurisdiction": "eu"},
        ],
        "d1_databases": [{"binding": "DB", "database_id": "d1-id", "database_name": "main"}],
        "hyperdrive": [{"binding": "PG", "id": "hd-id"}],
        "vectorize": [{"binding": "VEC", "index_name": "embeddings"}],
        "secrets_store_secrets": [{"binding": "API_KEY", "store_id": "store", "secret_name": "api"}],
    },
    "services": {
        "services": [
            {"binding": "API", "service": "api-worker"},
            {"binding": "AUTH", "service": "auth-worker", "entrypoint": "Auth", "environment": "production"},
        ],
        "dispatch_namespaces": [
            {"binding": "DISPATCH", "namespace": "customers"},
            {
                "binding": "DISPATCH_OUT",
                "namespace": "customers",
                "outbound": {"service": "outbound-worker", "parameters": ["customer", "plan"]},
            },
        ],
        "durable_objects": {
            "bindings": [{"name": "ROOMS", "class_name": "Room", "script_name": "chat-worker"}]
        },
        "workflows": [
            {"binding": "FLOW", "name": "signup-flow", "class_name": "Signup", "script_name": "flows"}
        ],
        "queues": {"producers": [{"binding": "JOBS", "queue": "jobs"}]},
        "analytics_engine_datasets": [{"binding": "EVENTS", "dataset": "events"}, {"binding": "RAW"}],
        "mtls_certificates": [{"binding": "CERT", "certificate_id": "cert-id"}],
    },
    "platform": {
        "ai": {"binding": "AI"},
        "browser": {"binding": "BROWSER"},
        "images": {"binding": "IMAGES"},
        "version_metadata": {"binding": "VERSION"},
        "send_email": [
            {"name": "MAIL", "destination_address": "ops@example.com"},
            {"name": "ANY_MAIL", "allowed_sender_addresses": ["noreply@example.com"]},
        ],
        "worker_loaders": [{"binding": "LOADER"}],
        "pipelines": [{"binding": "PIPE", "pipeline": "clicks"}],
        "ratelimits": [{"name": "LIMIT", "namespace_id": "1001", "simple": {"limit": 100, "period": 60}}],
        "vars": {"GREETING": "hi"},
    },
    "others": {
        "ai_search_namespaces": [{"binding": "SEARCH_NS", "namespace": "docs"}],
        "ai_search": [{"binding": "SEARCH", "instance_name": "site-search"}],
        "artifacts": [{"binding": "ARTIFACTS", "namespace": "builds"}],
        "unsafe_hello_world": [{"binding": "HELLO", "enable_timer": True}],
        "flagship": [{"binding": "FLAGS", "app_id": "app-1"}],
        "vpc_services": [{"binding": "PRIVATE_API", "service_id": "svc-1"}],
        "vpc_networks": [{"binding": "PRIVATE_NET", "network_id": "net-1"}],
        "logfwdr": {"bindings": [{"name": "LOGS", "destination": "sink"}]},
        "stream": {"binding": "STREAM"},
        "media": {"binding": "MEDIA"},
        "unsafe": {"bindings": [{"name": "RAW", "type": "some_future_kind", "setting": [1, "a"]}]},
    },
    "migrations": {
        "durable_objects": {
            "bindings": [
                {"name": "COUNTER", "class_name": "Counter"},
                {"name": "ROOMS", "class_name": "Room"},
            ]
        },
        "migrations": [
            {"tag": "v1", "new_sqlite_classes": ["Counter"]},
            {"tag": "v2", "new_classes": ["Room"], "deleted_classes": ["Old"]},
        ],
    },
    "vars": {
        "vars": {
            "TEXT": "hello",
            "EMPTY": "",
            "INT": 42,
            "FLOAT": 1.5,
            "YES": True,
            "NOTHING": None,
            "LIST": [1, "two", False],
            "OBJECT": {"nested": {"deep": [1]}},
        }
    },
    "keep_vars": {"keep_vars": True, "vars": {"A": "1"}, "kv_namespaces": [{"binding": "KV", "id": "k"}]},
}


def uploads(live: LiveEmulator) -> list[tuple[str, dict[str, Any]]]:
    """The script name and metadata of each script upload ``live`` recorded (a deploy's PUT, or
    wrangler's POST of a new version), in order."""
    out = []
    for r in live.app.requests:
        ctype = r["headers"].get("content-type", "")
        if r["method"] not in ("PUT", "POST") or not ctype.startswith("multipart/form-data"):
            continue
        if "/scripts/" not in r["path"]:
            continue
        boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
        parts = [p.partition(b"\r\n\r\n") for p in r["body"].split(b"--" + boundary)]
        (body,) = [body for head, _, body in parts if b'name="metadata"' in head]
        name = r["path"].split("/scripts/", 1)[1].removesuffix("/versions")
        out.append((name, json.loads(body.rsplit(b"\r\n", 1)[0])))
    return out


def metadata(live: LiveEmulator) -> tuple[str, dict[str, Any]]:
    """The script name and metadata of the one script upload ``live`` recorded."""
    (upload,) = uploads(live)
    return upload


def project(tmp_path: Path, config: dict[str, Any]) -> Path:
    root = tmp_path / "project"
    (root / "public").mkdir(parents=True, exist_ok=True)
    (root / "public" / "index.html").write_text("<h1>parity</h1>\n")
    (root / "index.js").write_text(MAIN)
    (root / "wrangler.json").write_text(json.dumps({**BASE, **config}))
    return root


def credentials(live: LiveEmulator) -> dict[str, str]:
    return {
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_BASE_URL": live.api,
    }


def wrangler_deploy(live: LiveEmulator, root: Path, *args: str) -> None:
    home = root.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        **child_env(credentials(live)),
        "WRANGLER_SEND_METRICS": "false",
        "NO_COLOR": "1",
        "HOME": str(home),
    }
    # Without resource provisioning, which assetsync does not do: wrangler would look up each R2
    # bucket, to create it when missing. The metadata is the same when the resources exist.
    command = [WRANGLER, "deploy", "--x-provision=false", *args]
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def assetsync_deploy(live: LiveEmulator, root: Path, *args: str) -> None:
    proc = run_cli(
        "sync", "--json", "--cache-dir", str(root.parent / "cache"), *args, cwd=root, env=credentials(live)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def assetsync_sends(wrangler: dict[str, Any]) -> dict[str, Any]:
    """What assetsync must send where wrangler 4.86 sent ``wrangler``: the same, but for the
    differences that are deliberate."""
    expected = {key: wrangler.get(key) for key in COMPARED}
    if not wrangler.get("keep_bindings"):
        # Current wrangler (4.164, see the recorded traces) keeps secrets on every deploy: a
        # deploy replaces the binding list, and 4.86 dropped every `wrangler secret put` secret
        # unless keep_vars was set. assetsync does what current wrangler does.
        expected["keep_bindings"] = ["secret_text", "secret_key"]
    return expected


@needs_wrangler
@pytest.mark.parametrize("case", list(CASES))
def test_assetsync_sends_the_metadata_wrangler_sends(case: str, tmp_path: Path) -> None:
    root = project(tmp_path, CASES[case])
    with (
        LiveEmulator(tmp_path / "w", record=True) as theirs,
        LiveEmulator(tmp_path / "a", record=True) as ours,
    ):
        wrangler_deploy(theirs, root)
        assetsync_deploy(ours, root)
    (wrangler_name, wrangler), (name, sent) = metadata(theirs), metadata(ours)
    assert name == wrangler_name == "parity-worker"
    assert {key: sent.get(key) for key in COMPARED} == assetsync_sends(wrangler)


@needs_wrangler
def test_cron_triggers_are_set_as_wrangler_sets_them(tmp_path: Path) -> None:
    """The same schedules request after the deploy, and the same schedules on the emulator."""
    root = project(tmp_path, {"triggers": {"crons": ["0 3 * * *", "*/30 * * * *"]}})
    with (
        LiveEmulator(tmp_path / "w", record=True) as theirs,
        LiveEmulator(tmp_path / "a", record=True) as ours,
    ):
        wrangler_deploy(theirs, root)
        assetsync_deploy(ours, root)
        sent = []
        for live in (theirs, ours):
            [put] = [
                r for r in live.app.requests if r["method"] == "PUT" and r["path"].endswith("/schedules")
            ]
            sent.append(json.loads(put["body"]))
            listed = live.emulator.store.schedules(ACCOUNT, "parity-worker")
            assert [cron for cron, _, _ in listed] == ["0 3 * * *", "*/30 * * * *"]
    assert sent[0] == sent[1] == [{"cron": "0 3 * * *"}, {"cron": "*/30 * * * *"}]


@needs_wrangler
def test_a_namespace_deploy_sends_the_same_metadata(tmp_path: Path) -> None:
    root = project(tmp_path, CASES["storage"])
    with (
        LiveEmulator(tmp_path / "w", record=True) as theirs,
        LiveEmulator(tmp_path / "a", record=True) as ours,
    ):
        wrangler_deploy(theirs, root, "--dispatch-namespace", "my-ns")
        assetsync_deploy(ours, root, "--namespace", "my-ns")
    (wrangler_name, wrangler), (name, sent) = metadata(theirs), metadata(ours)
    assert name == wrangler_name == "parity-worker"
    assert {key: sent.get(key) for key in COMPARED} == assetsync_sends(wrangler)


ENVIRONMENTS: dict[str, Any] = {
    "vars": {"STAGE": "top"},
    "kv_namespaces": [{"binding": "CACHE", "id": "top-cache"}],
    "compatibility_flags": ["nodejs_compat"],
    "env": {
        "production": {
            "vars": {"STAGE": "production", "LIMITS": {"rps": 5}},
            "kv_namespaces": [{"binding": "CACHE", "id": "prod-cache"}],
            "r2_buckets": [{"binding": "FILES", "bucket_name": "prod-files"}],
        },
        "staging": {"name": "parity-staging", "vars": {"STAGE": "staging"}},
    },
}


@needs_wrangler
@pytest.mark.parametrize(
    ("env", "script"), [("production", "parity-worker-production"), ("staging", "parity-staging")]
)
def test_an_environment_deploys_what_wranglers_does(env: str, script: str, tmp_path: Path) -> None:
    """``--env``: the environment's own bindings and vars, the top level's inherited settings, and
    the script named as wrangler names it (``<name>-<env>``, or the environment's own name)."""
    root = project(tmp_path, ENVIRONMENTS)
    with (
        LiveEmulator(tmp_path / "w", record=True) as theirs,
        LiveEmulator(tmp_path / "a", record=True) as ours,
    ):
        wrangler_deploy(theirs, root, "--env", env)
        assetsync_deploy(ours, root, "--env", env)
    (wrangler_name, wrangler), (name, sent) = metadata(theirs), metadata(ours)
    assert name == wrangler_name == script
    assert {key: sent.get(key) for key in COMPARED} == assetsync_sends(wrangler)


@needs_wrangler
@pytest.mark.parametrize("namespace", [None, "my-ns"])
def test_migrations_follow_the_live_tag_as_wranglers_do(namespace: str | None, tmp_path: Path) -> None:
    """Deploy, add a migration and deploy, deploy unchanged: each tool sends its migrations from
    the tag the live script has (the emulator refuses any other old_tag)."""
    config = {
        "durable_objects": {"bindings": [{"name": "COUNTER", "class_name": "Counter"}]},
        "migrations": [{"tag": "v1", "new_sqlite_classes": ["Counter"]}],
    }
    added = {"tag": "v2", "renamed_classes": [{"from": "Counter", "to": "Tally"}]}
    root = project(tmp_path, config)
    where = ("--dispatch-namespace", namespace) if namespace else ()
    with (
        LiveEmulator(tmp_path / "w", record=True) as theirs,
        LiveEmulator(tmp_path / "a", record=True) as ours,
    ):
        for step in range(3):
            if step == 1:
                project(tmp_path, {**config, "migrations": [*config["migrations"], added]})
            wrangler_deploy(theirs, root, *where)
            assetsync_deploy(ours, root, *(("--namespace", namespace) if namespace else ()))
        wrangler, sent = uploads(theirs), uploads(ours)
    assert (
        [m.get("migrations") for _, m in sent]
        == [m.get("migrations") for _, m in wrangler]
        == [
            {"new_tag": "v1", "steps": [{"new_sqlite_classes": ["Counter"]}]},
            {
                "old_tag": "v1",
                "new_tag": "v2",
                "steps": [{"renamed_classes": [{"from": "Counter", "to": "Tally"}]}],
            },
            None,
        ]
    )


def test_the_deliberate_differences_are_only_those_written() -> None:
    # wrangler 4.86 sends keep_bindings only with keep_vars, and then exactly what assetsync sends
    kept = ["plain_text", "json", "secret_text", "secret_key"]
    assert assetsync_sends({"keep_bindings": kept})["keep_bindings"] == kept
    assert assetsync_sends({"bindings": [1]}) == {
        "main_module": None,
        "bindings": [1],
        "compatibility_date": None,
        "compatibility_flags": None,
        "keep_bindings": ["secret_text", "secret_key"],
        "migrations": None,
    }
    assert os.path.basename(WRANGLER) == "wrangler"
