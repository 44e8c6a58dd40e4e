"""Bindings through the real CLI: the config's and --binding's reach the deploy; a bad one is
refused, naming the file, line and key (or the flag), before anything is uploaded."""

from __future__ import annotations

import json
from pathlib import Path

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, make_tree, run_cli
from ..system.test_wrangler_parity import metadata


def deploy(live: LiveEmulator, root: Path, *args: str) -> tuple[int, str]:
    creds = {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_API_BASE_URL": live.api,
    }
    proc = run_cli("sync", "--no-cache", *args, cwd=root, env=creds)
    return proc.returncode, proc.stderr


def project(tmp_path: Path, toml: str) -> Path:
    head = 'name = "bound"\nmain = "index.js"\ncompatibility_date = "2025-01-01"\n'
    head += '[assets]\ndirectory = "public"\n'
    return make_tree(
        tmp_path / "p",
        {"public/index.html": "hi", "index.js": "export default {}", "wrangler.toml": head + toml},
    )


def test_config_and_flag_bindings_are_deployed_in_wranglers_order(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    toml = '[[r2_buckets]]\nbinding = "FILES"\nbucket_name = "files"\n[ai]\nbinding = "AI"\n'
    code, err = deploy(
        recorded, project(tmp_path, toml), "--binding", "kv:CACHE=abc", "--binding", "json:N=3"
    )
    assert code == 0, err
    _, meta = metadata(recorded)
    assert meta["bindings"] == [
        {"type": "json", "name": "N", "json": 3},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "abc"},
        {"name": "FILES", "type": "r2_bucket", "bucket_name": "files"},
        {"name": "AI", "type": "ai"},
        {"name": "ASSETS", "type": "assets"},
    ]


def test_a_binding_without_its_resource_is_refused_before_any_upload(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    root = project(tmp_path, '\n[[kv_namespaces]]\nbinding = "CACHE"\n')
    code, err = deploy(recorded, root)
    config = root / "wrangler.toml"
    assert (code, err.strip()) == (
        3,
        f"error: {config}, line 7: kv_namespaces[0].id is missing. "
        "Set it to the namespace's id (`wrangler kv namespace list` shows it).",
    )
    assert recorded.app.requests == []


def test_two_bindings_of_one_name_are_refused_before_any_upload(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    root = project(tmp_path, '[vars]\nCACHE = "x"\n[[kv_namespaces]]\nbinding = "CACHE"\nid = "abc"\n')
    code, err = deploy(recorded, root)
    assert code == 3 and 'kv_namespaces[0].binding "CACHE" is also the name of vars.CACHE' in err, err
    code, err = deploy(recorded, project(tmp_path / "2", ""), "--binding", "kv:ASSETS=abc")
    assert code == 2 and 'binding "ASSETS" has the assets binding\'s name' in err, err
    code, err = deploy(recorded, project(tmp_path / "3", ""), "--binding", "r2:B=No_Such")
    assert code == 2 and "--binding 'r2:B=No_Such': bucket_name" in err, err
    assert json.dumps(recorded.app.requests, default=str) == "[]"
