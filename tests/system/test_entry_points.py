"""Every way in deploys the same project the same way: the library, `sync`, `watch` and `sync-all`."""

from __future__ import annotations

import datetime
import json
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from assetsync.engine import SyncOptions, sync
from assetsync.settings import Settings, resolve
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import WAIT as TIMEOUT, LiveEmulator, cli_running, make_tree, run_cli

PROJECT = {
    "index.html": "<h1>hi</h1>",
    "_headers": "/*\n  X-Frame-Options: DENY\n",
    "_redirects": "/old /new 301\n",
}


def deployed_metadata(live: LiveEmulator) -> list[dict[str, Any]]:
    """The metadata part of every deploy the emulator received, in order."""
    out = []
    for r in live.app.requests:
        if r["method"] == "PUT":
            out.append(json.loads(r["body"].split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0]))
    return out


def env(live: LiveEmulator) -> dict[str, str]:
    return {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": live.token,
        "CLOUDFLARE_API_BASE_URL": live.api,
    }


def test_library_cli_and_sync_all_deploy_the_same_settings(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "root" / "site", PROJECT)
    target = Target("api", recorded.api, ACCOUNT, recorded.token)
    sync(str(site), SyncOptions(script="site"), target)
    cli = run_cli("sync", str(site), "--name", "site", "--no-cache", env=env(recorded))
    every = run_cli("sync-all", str(site.parent), "--namespace", "ns", "--no-cache", env=env(recorded))
    assert (cli.returncode, every.returncode) == (0, 0), cli.stderr + every.stderr
    watch_first_deploy(recorded, str(site), "--name", "site")
    library, command, tenant, watched = deployed_metadata(recorded)
    for meta in (library, command, tenant, watched):
        del meta["assets"]["jwt"]
    assert library == command == watched
    assert library["compatibility_date"] == datetime.datetime.now(datetime.UTC).date().isoformat()
    assert library["assets"]["config"] == {
        "_headers": PROJECT["_headers"],
        "_redirects": PROJECT["_redirects"],
    }
    # sync-all adds its own tags to each tenant (to find and prune them); the rest is the same.
    assert tenant.pop("tags") == ["assetsync", "tenant:site"]
    assert tenant == library


def watch_first_deploy(live: LiveEmulator, *args: str) -> None:
    """Run `assetsync watch ARGS` until its first deploy is done, then stop it."""
    with cli_running("watch", *args, "--no-cache", env=env(live)) as (proc, lines):
        lines.expect(lambda line: "deployed: +1 ~0 -0" in line)  # index.html, the one asset
        proc.terminate()
        assert proc.wait(TIMEOUT) == 0


def test_flags_beat_a_tenants_own_config_as_they_beat_syncs(tmp_path: Path, recorded: LiveEmulator) -> None:
    """A project with its own wrangler config, published with the same flags by the library, `sync`,
    `watch` and, as a tenant, `sync-all`: flags win over the config, which wins over the defaults,
    whichever way it is published."""
    shop = make_tree(
        tmp_path / "root" / "shop",
        {f"public/{path}": text for path, text in PROJECT.items()} | {"worker/index.js": "export default {}"},
    )
    config = {
        "name": "shop",
        "main": "worker/index.js",
        "compatibility_date": "2024-02-03",
        "compatibility_flags": ["from_config"],
        "vars": {"PLAN": "pro", "LIMITS": {"rps": 5}},
        "assets": {"directory": "public", "not_found_handling": "404-page", "html_handling": "none"},
    }
    (shop / "wrangler.json").write_text(json.dumps(config))
    flags = ("--compatibility-date", "2025-01-01", "--not-found-handling", "single-page-application")
    target = Target("api", recorded.api, ACCOUNT, recorded.token)
    folder, options = resolve(
        Settings(
            config_path=str(shop / "wrangler.json"),
            compatibility_date="2025-01-01",
            not_found_handling="single-page-application",
        )
    )
    sync(folder, options, target)
    cli = run_cli("sync", *flags, "--no-cache", cwd=shop, env=env(recorded))  # the config found in cwd
    every = run_cli(
        "sync-all", str(shop.parent), "--namespace", "ns", *flags, "--no-cache", env=env(recorded)
    )
    assert (cli.returncode, every.returncode) == (0, 0), cli.stderr + every.stderr
    watch_first_deploy(recorded, "--config", str(shop / "wrangler.json"), *flags)
    library, command, tenant, watched = deployed_metadata(recorded)
    for meta in (library, command, tenant, watched):
        del meta["assets"]["jwt"]
    assert library == command == watched
    assert library["compatibility_date"] == "2025-01-01"  # the flag, over the config
    assert library["compatibility_flags"] == ["from_config"]  # the config, where no flag is given
    assert library["assets"]["config"]["not_found_handling"] == "single-page-application"
    assert library["assets"]["config"]["html_handling"] == "none"
    assert {b["name"] for b in library["bindings"]} >= {"PLAN", "LIMITS"}
    assert tenant["tags"] == ["assetsync", "tenant:shop"]  # sync-all's own tags; the rest is the same
    assert {**tenant, "tags": []} == library


def test_dev_deploys_into_its_own_emulator_whatever_credentials_it_is_given(tmp_path: Path) -> None:
    """`dev` always previews locally: credentials in its environment (here of a server that is not
    there) are not used, and the first deploy lands in the emulator it serves."""
    site = make_tree(tmp_path / "site", PROJECT)
    args = ["dev", str(site), "--name", "site", "--port", "0", "--local-data", str(tmp_path / "data")]
    dead = {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": "a-real-token",
        "CLOUDFLARE_API_BASE_URL": "http://127.0.0.1:9/client/v4",
    }
    with cli_running(*args, "--no-cache", env=dead) as (proc, lines):
        preview = lines.expect(lambda line: line.startswith("Preview: ")).split()[1]
        lines.expect(lambda line: "deployed: +1 ~0 -0" in line)
        url = urllib.parse.urlsplit(preview)  # http://site.localhost:PORT/: the emulator on loopback
        page = httpx.get(f"http://127.0.0.1:{url.port}/", headers={"Host": url.netloc}, timeout=TIMEOUT)
        assert page.status_code == 200 and b"<h1>hi</h1>" in page.content
        assert page.headers["x-frame-options"] == "DENY"  # the root _headers went with the deploy
        proc.terminate()
        assert proc.wait(TIMEOUT) == 0
