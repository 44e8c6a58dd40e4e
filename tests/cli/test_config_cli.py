"""`assetsync sync` with a real wrangler project: found from a subfolder, `--env` (and
CLOUDFLARE_ENV), `--var`, and what a config's environment deploys, as the emulator records it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, make_tree, run_cli

CONFIG = """\
name = "shop"
main = "worker/index.js"
compatibility_date = "2024-09-23"
routes = ["shop.example.com/*"]

[assets]
directory = "public"

[vars]
API = "https://api.example.com"

[[kv_namespaces]]
binding = "CACHE"
id = "top-namespace"

[env.production]
compatibility_flags = ["nodejs_compat"]

[env.production.vars]
API = "https://api.prod.example.com"
RETRIES = 3

[[env.production.kv_namespaces]]
binding = "CACHE"
id = "prod-namespace"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_tree(
        tmp_path / "shop",
        {"worker/index.js": "export default {}", "public/index.html": "<h1>shop</h1>", "docs/notes.md": "x"},
    )
    (root / "wrangler.toml").write_text(CONFIG)
    return root


def credentials(live: LiveEmulator, **extra: str) -> dict[str, str]:
    return {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_API_BASE_URL": live.api,
        **extra,
    }


def deploys(live: LiveEmulator) -> list[tuple[str, dict[str, Any]]]:
    """Each deploy the emulator received: its path, and its metadata part."""
    return [
        (r["path"], json.loads(r["body"].split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0]))
        for r in live.app.requests
        if r["method"] == "PUT"
    ]


def test_sync_env_production_deploys_the_environments_bindings_and_vars(
    project: Path, recorded: LiveEmulator
) -> None:
    # Run from a subfolder: the config is found in the parent, and its paths are the parent's.
    where = project / "docs"
    by_flag = run_cli("sync", "--env", "production", "--no-cache", cwd=where, env=credentials(recorded))
    assert by_flag.returncode == 0, by_flag.stderr
    by_variable = run_cli(
        "sync", "--no-cache", cwd=where, env=credentials(recorded, CLOUDFLARE_ENV="production")
    )
    assert by_variable.returncode == 0, by_variable.stderr
    (path, meta), (again_path, again) = deploys(recorded)
    assert path == again_path == f"/client/v4/accounts/{ACCOUNT}/workers/scripts/shop-production"
    del meta["assets"]["jwt"], again["assets"]["jwt"]
    assert meta == again
    assert meta["main_module"] == "index.js"
    assert meta["bindings"] == [
        {"type": "plain_text", "name": "API", "text": "https://api.prod.example.com"},
        {"type": "json", "name": "RETRIES", "json": 3},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "prod-namespace"},
        {"name": "ASSETS", "type": "assets"},  # wrangler sends it after the others
    ]
    assert meta["compatibility_date"] == "2024-09-23"  # inherited from the top level
    assert meta["compatibility_flags"] == ["nodejs_compat"]  # the environment's own
    config = project / "wrangler.toml"
    assert f"warning: {config}: routes is not used by assetsync" in by_flag.stderr
    assert f"Syncing {project / 'public'} to shop-production" in by_flag.stderr


def test_var_flags_beat_the_environments_vars(project: Path, recorded: LiveEmulator) -> None:
    args = ("sync", "-e", "production", "--var", "API:https://flag.example.com", "--var", "NEW:a:b")
    proc = run_cli(*args, "--no-cache", cwd=project, env=credentials(recorded))
    assert proc.returncode == 0, proc.stderr
    ((_, meta),) = deploys(recorded)
    assert [b for b in meta["bindings"] if b["type"] in ("plain_text", "json")] == [
        {"type": "plain_text", "name": "API", "text": "https://flag.example.com"},
        {"type": "plain_text", "name": "NEW", "text": "a:b"},
        {"type": "json", "name": "RETRIES", "json": 3},
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--env", "prod"), 3, 'no environment "prod" (defined: production)'),
        (("--var", "NOCOLON"), 2, "--var 'NOCOLON': use KEY:VALUE"),
        (("--binding", "kv:CACHE=1", "--var", "CACHE:x"), 2, 'the name "CACHE" is already given by --var'),
        (("--var", "ASSETS:x"), 2, "has the assets binding's name"),
    ],
)
def test_bad_environment_or_vars_are_refused_before_any_request(
    project: Path, recorded: LiveEmulator, args: tuple[str, ...], code: int, message: str
) -> None:
    proc = run_cli("sync", *args, "--no-cache", cwd=project, env=credentials(recorded))
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert recorded.app.requests == []


def test_env_without_a_config_is_refused_before_any_request(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "x"})
    proc = run_cli("sync", str(site), "--env", "production", cwd=site, env=credentials(recorded))
    assert proc.returncode == 2
    assert "--env production: no wrangler config in" in proc.stderr
    assert recorded.app.requests == []
