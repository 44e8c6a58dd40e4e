"""Real clients, unchanged, against the emulator on 127.0.0.1: the official Python SDK and wrangler."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from assetsync.protocol.contenttypes import content_type

from ..conftest import ACCOUNT
from ..helpers import FIXTURES, ROOT, LiveEmulator, child_env
from .test_api import manifest_of, preview

WRANGLER = os.environ.get("ASSETSYNC_WRANGLER") or str(ROOT / ".tools" / "node_modules" / ".bin" / "wrangler")
SITE = FIXTURES / "site"


def site_files() -> dict[str, bytes]:
    """The fixture site as deployed: what wrangler uploads (its .assetsignore drops *.bak)."""
    out = {}
    for dirpath, _, names in os.walk(SITE):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), SITE)
            if rel in ("_headers", "_redirects", ".assetsignore") or rel.endswith(".bak"):
                continue
            out["/" + rel] = Path(dirpath, name).read_bytes()
    return out


def test_official_python_sdk(emulator: LiveEmulator) -> None:
    cloudflare = pytest.importorskip(
        "cloudflare", reason="needs the official SDK: pip install -c .ci/constraints.txt -e '.[dev]'"
    )
    client = cloudflare.Cloudflare(api_token=emulator.token, base_url=emulator.api, max_retries=0)
    files = site_files()
    manifest = manifest_of(files, salt="customer-worker")
    ns_session = client.workers_for_platforms.dispatch.namespaces.scripts.asset_upload.create(
        "customer-worker", account_id=ACCOUNT, dispatch_namespace="my-ns", manifest=manifest
    )
    assert ns_session is not None and ns_session.jwt and ns_session.buckets
    by_hash = {e["hash"]: p for p, e in manifest.items()}
    token = ns_session.jwt
    up_client = cloudflare.Cloudflare(api_token=ns_session.jwt, base_url=emulator.api, max_retries=0)
    for bucket in ns_session.buckets:
        body = {h: base64.b64encode(files[by_hash[h]]).decode() for h in bucket if files[by_hash[h]]}
        res = up_client.workers.assets.upload.create(account_id=ACCOUNT, base64=True, body=body)
        if res is not None and res.jwt:
            token = res.jwt
        # The SDK cannot send an empty part (it drops empty strings): its users send those files
        # as the recorded trace shows, with a filename and a text/plain part type.
        for h in (h for h in bucket if not files[by_hash[h]]):
            r = httpx.post(
                f"{emulator.api}/accounts/{ACCOUNT}/workers/assets/upload",
                params={"base64": "true"},
                files={h: (h, b"", "text/plain")},
                headers={"Authorization": f"Bearer {ns_session.jwt}"},
            )
            assert r.status_code in (201, 202), r.text
            if r.status_code == 201:
                token = r.json()["result"]["jwt"]
    done = client.workers_for_platforms.dispatch.namespaces.scripts.update(
        "customer-worker",
        account_id=ACCOUNT,
        dispatch_namespace="my-ns",
        metadata={
            "main_module": "index.js",
            "compatibility_date": "2025-01-01",
            "bindings": [{"name": "ASSETS", "type": "assets"}],
            "assets": {"jwt": token, "config": {"not_found_handling": "404-page"}},
        },
        files=[("index.js", b"export default {}", "application/javascript+module")],
    )
    assert done.id == "customer-worker"
    for path, data in files.items():
        r = preview(emulator, "customer-worker", path.replace(" ", "%20"), ns="my-ns", follow_redirects=True)
        assert r.content == data, path
    # The account-level session form and a JSON-bodied script update.
    plain = client.workers.scripts.assets.upload.create("sdk-worker", account_id=ACCOUNT, manifest={})
    assert plain is not None and plain.buckets == []
    client.workers.scripts.update(
        "sdk-worker",
        account_id=ACCOUNT,
        metadata={"compatibility_date": "2025-01-01", "assets": {"jwt": plain.jwt}},
    )


needs_wrangler = pytest.mark.skipif(
    not os.path.exists(WRANGLER),
    reason=f"needs real wrangler at {WRANGLER}: npm ci --prefix .tools",
)


def run_wrangler(live: LiveEmulator, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return wrangler(live, project, "deploy", *args)


def wrangler(
    live: LiveEmulator, project: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``wrangler ARGS`` in ``project`` against ``live``; it must succeed. ``stdin``: what it reads."""
    assert os.path.exists(WRANGLER), (
        f"wrangler is missing at {WRANGLER}: run .ci/run or npm install in .tools"
    )
    env = {
        **child_env(),
        "CLOUDFLARE_API_TOKEN": live.token or "",
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_BASE_URL": live.api,
        "WRANGLER_SEND_METRICS": "false",
        "NO_COLOR": "1",
        "HOME": str(project / "home"),
    }
    proc = subprocess.run(
        [WRANGLER, *args],
        cwd=project,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def make_project(tmp_path: Path, config: dict[str, object], main: str | None = None) -> Path:
    project = tmp_path / "project"
    shutil.copytree(SITE, project / "public")
    (project / "home").mkdir()
    if main:
        (project / "index.js").write_text(main)
    (project / "wrangler.json").write_text(json.dumps(config))
    return project


def check_served(live: LiveEmulator, script: str, ns: str = "") -> None:
    for path, data in site_files().items():
        r = preview(live, script, path.replace(" ", "%20"), ns=ns, follow_redirects=True)
        assert r.status_code == 200, path
        assert r.content == data, path
        ctype = content_type(path)  # wrangler's table and ours agree
        assert r.headers.get("content-type") == (None if ctype == "application/null" else ctype), path


@needs_wrangler
def test_wrangler_wfp_assets_only(emulator: LiveEmulator, tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        {"name": "tenant-site", "compatibility_date": "2025-01-01", "assets": {"directory": "./public"}},
    )
    run_wrangler(emulator, project, "--dispatch-namespace", "my-ns")
    check_served(emulator, "tenant-site", "my-ns")
    got = httpx.get(
        f"{emulator.api}/accounts/{ACCOUNT}/workers/dispatch/namespaces/my-ns/scripts/tenant-site",
        headers={"Authorization": f"Bearer {emulator.token}"},
    ).json()
    assert got["result"]["script"]["has_assets"] is True


@needs_wrangler
def test_wrangler_wfp_worker_with_main_module(emulator: LiveEmulator, tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        {
            "name": "tenant-worker",
            "main": "index.js",
            "compatibility_date": "2025-01-01",
            "assets": {"directory": "./public", "binding": "ASSETS"},
        },
        main="export default { fetch(request, env) { return env.ASSETS.fetch(request); } };\n",
    )
    run_wrangler(emulator, project, "--dispatch-namespace", "my-ns")
    check_served(emulator, "tenant-worker", "my-ns")


@needs_wrangler
def test_plain_wrangler_deploy_and_redeploy(emulator: LiveEmulator, tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        {
            "name": "plain-worker",
            "main": "index.js",
            "compatibility_date": "2025-01-01",
            "assets": {"directory": "./public", "binding": "ASSETS", "not_found_handling": "404-page"},
        },
        main="export default { fetch(request, env) { return env.ASSETS.fetch(request); } };\n",
    )
    run_wrangler(emulator, project)
    check_served(emulator, "plain-worker")
    # Redeploy after an edit: wrangler now goes through versions and deployments.
    (project / "public" / "hello.txt").write_text("edited")
    out = run_wrangler(emulator, project)
    assert "Found 1 new or modified static asset to upload" in out.stdout, out.stdout
    assert preview(emulator, "plain-worker", "/hello.txt").content == b"edited"


@needs_wrangler
def test_wrangler_secrets_round_trip_and_outlive_an_assetsync_sync(
    emulator: LiveEmulator, tmp_path: Path
) -> None:
    """wrangler's secret put, list, bulk (a settings PATCH in this wrangler) and delete, against
    the emulator; then wrangler's and assetsync's deploys of the same Worker keep what was set."""
    main = "export default { fetch(request, env) { return env.ASSETS.fetch(request); } };\n"
    config: dict[str, object] = {
        "name": "secret-worker",
        "main": "index.js",
        "compatibility_date": "2025-01-01",
        "assets": {"directory": "./public", "binding": "ASSETS"},
        "vars": {"GREETING": "hi"},
    }
    project = make_project(tmp_path, config, main=main)
    run_wrangler(emulator, project)
    value = "wrangler-secret-value-93"
    wrangler(emulator, project, "secret", "put", "API_KEY", stdin=value)
    (project / "bulk.json").write_text(json.dumps({"BULK_A": value + "a", "BULK_B": value + "b"}))
    wrangler(emulator, project, "secret", "bulk", "bulk.json")
    listed = wrangler(emulator, project, "secret", "list")
    assert value not in listed.stdout
    assert {s["name"] for s in json.loads(listed.stdout[listed.stdout.index("[") :])} == {
        "API_KEY",
        "BULK_A",
        "BULK_B",
    }
    wrangler(emulator, project, "secret", "delete", "BULK_B")
    run_wrangler(emulator, project)  # a plain wrangler deploy sends no keep_bindings: secrets stay
    env = {
        "CLOUDFLARE_API_TOKEN": emulator.token,
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_BASE_URL": emulator.api,
    }
    synced = subprocess.run(
        [sys.executable, "-m", "assetsync", "sync", "--no-cache"],
        cwd=project,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr
    got = httpx.get(
        f"{emulator.api}/accounts/{ACCOUNT}/workers/scripts/secret-worker/settings",
        headers={"Authorization": f"Bearer {emulator.token}"},
    )
    assert value not in got.text
    bindings = {b["name"]: b for b in got.json()["result"]["bindings"]}
    assert {n: b["type"] for n, b in bindings.items()} == {
        "ASSETS": "assets",
        "GREETING": "plain_text",
        "API_KEY": "secret_text",
        "BULK_A": "secret_text",
    }
    store = emulator.emulator.store
    live = store.script(ACCOUNT, "", "secret-worker")
    assert live is not None and live.version is not None
    version = store.version(live.version)
    assert version is not None
    assert {b["name"]: b.get("text") for b in version.bindings if b["type"] == "secret_text"} == {
        "API_KEY": value,
        "BULK_A": value + "a",
    }
