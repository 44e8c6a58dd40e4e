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
from ..helpers import WAIT as TIMEOUT, LiveEmulator, cli_running, make_tree, run_cli, stop_child

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
        lines.expect(lambda line: " live: 1 file," in line)  # index.html, the one asset
        assert stop_child(proc, lines) == 0


def shop_project(tmp_path: Path, config: dict[str, Any]) -> Path:
    """A Worker project ``root/shop`` (its worker and ``public/``) with ``config`` as its wrangler.json."""
    shop = make_tree(
        tmp_path / "root" / "shop",
        {f"public/{path}": text for path, text in PROJECT.items()} | {"worker/index.js": "export default {}"},
    )
    (shop / "wrangler.json").write_text(json.dumps(config))
    return shop


def every_way(
    live: LiveEmulator, shop: Path, settings: Settings, flags: tuple[str, ...], cwd: Path
) -> list[Any]:
    """Publish ``shop`` by the library (``settings``), `sync` run in ``cwd``, `sync-all` (``shop`` as
    a tenant) and `watch`, the last three with ``flags``; the deploys' metadata, in that order."""
    target = Target("api", live.api, ACCOUNT, live.token)
    sync(*resolve(settings), target)
    cli = run_cli("sync", *flags, "--no-cache", cwd=cwd, env=env(live))
    every = run_cli("sync-all", str(shop.parent), "--namespace", "ns", *flags, "--no-cache", env=env(live))
    assert (cli.returncode, every.returncode) == (0, 0), cli.stderr + every.stderr
    watch_first_deploy(live, "--config", str(shop / "wrangler.json"), *flags)
    deploys = deployed_metadata(live)
    for meta in deploys:
        del meta["assets"]["jwt"]
    return deploys


def test_flags_beat_a_tenants_own_config_as_they_beat_syncs(tmp_path: Path, recorded: LiveEmulator) -> None:
    """A project with its own wrangler config, published with the same flags by the library, `sync`,
    `watch` and, as a tenant, `sync-all`: flags win over the config, which wins over the defaults,
    whichever way it is published."""
    config = {
        "name": "shop",
        "main": "worker/index.js",
        "compatibility_date": "2024-02-03",
        "compatibility_flags": ["from_config"],
        "vars": {"PLAN": "pro", "LIMITS": {"rps": 5}},
        "assets": {"directory": "public", "not_found_handling": "404-page", "html_handling": "none"},
    }
    shop = shop_project(tmp_path, config)
    flags = ("--compatibility-date", "2025-01-01", "--not-found-handling", "single-page-application")
    settings = Settings(
        config_path=str(shop / "wrangler.json"),
        compatibility_date="2025-01-01",
        not_found_handling="single-page-application",
    )
    library, command, tenant, watched = every_way(recorded, shop, settings, flags, cwd=shop)
    assert library == command == watched
    assert library["compatibility_date"] == "2025-01-01"  # the flag, over the config
    assert library["compatibility_flags"] == ["from_config"]  # the config, where no flag is given
    assert library["assets"]["config"]["not_found_handling"] == "single-page-application"
    assert library["assets"]["config"]["html_handling"] == "none"
    assert {b["name"] for b in library["bindings"]} >= {"PLAN", "LIMITS"}
    assert tenant["tags"] == ["assetsync", "tenant:shop"]  # sync-all's own tags; the rest is the same
    assert {**tenant, "tags": []} == library


def test_every_way_in_deploys_the_same_environment(tmp_path: Path, recorded: LiveEmulator) -> None:
    """`--env production` (and the library's ``Settings.env``) deploys the environment's vars and
    bindings with the top level's inherited settings, whichever way it is published; `sync` run
    from a subfolder finds the project's config above it."""
    config = {
        "name": "shop",
        "main": "worker/index.js",
        "compatibility_date": "2024-02-03",
        "vars": {"PLAN": "free"},
        "kv_namespaces": [{"binding": "CACHE", "id": "top"}],
        "assets": {"directory": "public"},
        "env": {
            "production": {
                "vars": {"PLAN": "pro", "LIMITS": {"rps": 5}},
                "kv_namespaces": [{"binding": "CACHE", "id": "prod"}],
            }
        },
    }
    shop = shop_project(tmp_path, config)
    settings = Settings(config_path=str(shop / "wrangler.json"), env="production")
    library, command, tenant, watched = every_way(
        recorded, shop, settings, ("--env", "production"), shop / "public"
    )
    assert library == command == watched
    assert library["bindings"] == [
        {"type": "plain_text", "name": "PLAN", "text": "pro"},
        {"type": "json", "name": "LIMITS", "json": {"rps": 5}},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "prod"},
        {"name": "ASSETS", "type": "assets"},  # wrangler sends it after the others
    ]
    assert library["compatibility_date"] == "2024-02-03"  # inherited
    assert {**tenant, "tags": []} == library  # sync-all names the script after its folder, the rest is alike
    puts = [r["path"].rsplit("/", 1)[-1] for r in recorded.app.requests if r["method"] == "PUT"]
    assert puts == ["shop-production", "shop-production", "shop", "shop-production"]


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
        preview = lines.expect(lambda line: " Preview: " in line).split()[2]
        lines.expect(lambda line: " live: 1 file," in line)
        url = urllib.parse.urlsplit(preview)  # http://site.localhost:PORT/: the emulator on loopback
        page = httpx.get(f"http://127.0.0.1:{url.port}/", headers={"Host": url.netloc}, timeout=TIMEOUT)
        assert page.status_code == 200 and b"<h1>hi</h1>" in page.content
        assert page.headers["x-frame-options"] == "DENY"  # the root _headers went with the deploy
        assert stop_child(proc, lines) == 0
