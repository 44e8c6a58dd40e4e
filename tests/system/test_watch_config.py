"""Watch mode follows everything a deploy depends on: the wrangler config (outside the asset
folder), the Worker's main module, and the root _redirects; a broken config keeps the last good
deploy live and is said once."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx

from assetsync.watchevents import WatchdogSource

from ..conftest import ACCOUNT
from ..helpers import Lines, LiveEmulator, cli_running, make_tree, stop_child
from .test_watch import Harness, puts, replace_text

ASSETS = 'name = "site"\ncompatibility_date = "2025-01-01"\n[assets]\ndirectory = "dist"\n'
WORKER = 'main = "src/worker.js"\n' + ASSETS + '[vars]\nGREETING = "hi"\n'
DIST = {"dist/index.html": "v1", "dist/404.html": "not here"}


def _project(tmp: Path, config: str) -> Path:
    """A project as wrangler lays it out: the config at the top, the built site in dist/, the
    Worker in src/."""
    files = {**DIST, "src/worker.js": "export default { fetch() { return new Response('w1') } }\n"}
    project = make_tree(tmp / "project", files)
    (project / "wrangler.toml").write_text(config)
    return project


@contextlib.contextmanager
def _watching(live: LiveEmulator, project: Path, tmp: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """`assetsync watch --config project/wrangler.toml` against ``live``, after its first deploy."""
    env = {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_TOKEN": live.token}
    env["CLOUDFLARE_API_BASE_URL"] = live.api
    args = ["watch", "--config", str(project / "wrangler.toml"), "--cache-dir", str(tmp / "c")]
    with cli_running(*args, env=env) as (proc, out):
        out.expect(lambda line: " live: " in line)  # the first deploy
        yield proc, out
        assert stop_child(proc, out) == 0


def _deployed(out: Lines) -> str:
    return out.expect(lambda line: "deployed: " in line)


def _get(live: LiveEmulator, path: str) -> httpx.Response:
    return httpx.get(live.origin + path, headers={"Host": "site.localhost"})


def test_not_found_handling_edit_redeploys(tmp_path: Path, recorded: LiveEmulator) -> None:
    """Only the config changes: the manifest is the same, the deploy is not."""
    project = _project(tmp_path, ASSETS)
    with _watching(recorded, project, tmp_path) as (_, out):
        assert (_get(recorded, "/missing").status_code, _get(recorded, "/missing").content) == (404, b"")
        replace_text(project / "wrangler.toml", ASSETS + 'not_found_handling = "404-page"\n')
        assert "+0 ~0 -0" in _deployed(out)
        missing = _get(recorded, "/missing")
        assert (missing.status_code, missing.content) == (404, b"not here")
    assert puts(recorded) == 2


def test_vars_edit_redeploys_the_bindings(tmp_path: Path, recorded: LiveEmulator) -> None:
    project = _project(tmp_path, WORKER)

    def greeting() -> object:
        r = httpx.get(
            f"{recorded.api}/accounts/{ACCOUNT}/workers/scripts/site/settings",
            headers={"Authorization": f"Bearer {recorded.token}"},
        )
        return next(b.get("text") for b in r.json()["result"]["bindings"] if b["name"] == "GREETING")

    with _watching(recorded, project, tmp_path) as (_, out):
        assert greeting() == "hi"
        replace_text(project / "wrangler.toml", WORKER.replace('"hi"', '"hello"'))
        _deployed(out)
        assert greeting() == "hello"


def test_a_crons_edit_sets_the_new_cron_triggers(tmp_path: Path, recorded: LiveEmulator) -> None:
    """Only triggers.crons changes: the same deploy again, then the schedules PUT with the new list."""
    project = _project(tmp_path, ASSETS + '[triggers]\ncrons = ["0 3 * * *"]\n')
    with _watching(recorded, project, tmp_path) as (_, out):
        replace_text(project / "wrangler.toml", ASSETS + '[triggers]\ncrons = ["*/10 * * * *"]\n')
        _deployed(out)
        last = recorded.app.requests[-1]
        assert (last["method"], last["path"].rsplit("/", 1)[1]) == ("PUT", "schedules")
        assert json.loads(last["body"]) == [{"cron": "*/10 * * * *"}]
    assert puts(recorded) == 4  # two deploys, each with its schedules


def test_main_edit_redeploys_the_new_module(tmp_path: Path, recorded: LiveEmulator) -> None:
    """The Worker's folder is outside the asset folder and watched on its own: an edit of main,
    and a module added beside it, each redeploy with what is there now."""
    project = _project(tmp_path, WORKER)
    with _watching(recorded, project, tmp_path) as (_, out):
        replace_text(
            project / "src" / "worker.js", "export default { fetch() { return new Response('w2') } }\n"
        )
        _deployed(out)
        assert b"Response('w2')" in recorded.app.requests[-1]["body"]
        make_tree(project, {"src/util.js": "export const util = 'u1'\n"}, mtime=None)
        _deployed(out)
        last = recorded.app.requests[-1]
        assert last["method"] == "PUT" and b"util = 'u1'" in last["body"] and b"'w2'" in last["body"]
    assert puts(recorded) == 3


def test_a_broken_config_is_said_once_and_the_site_stays_live(tmp_path: Path, recorded: LiveEmulator) -> None:
    project = _project(tmp_path, ASSETS)
    with _watching(recorded, project, tmp_path) as (_, out):
        replace_text(project / "wrangler.toml", ASSETS + "not_found_handling = [\n")
        error = out.expect(lambda line: " error: " in line)
        assert "wrangler.toml" in error and "goes on with the last good settings" in error
        replace_text(project / "wrangler.toml", ASSETS + "not_found_handling = [\n")  # saved again
        replace_text(project / "dist" / "index.html", "v2")  # the site goes on with the last good settings
        _deployed(out)
        assert _get(recorded, "/").content == b"v2" and _get(recorded, "/missing").content == b""
        replace_text(project / "wrangler.toml", ASSETS + 'not_found_handling = "404-page"\n')  # fixed
        _deployed(out)
        assert _get(recorded, "/missing").content == b"not here"
    assert [line for line in out.seen if " error: " in line] == [error]


def test_redirects_edit_alone_is_served(tmp_path: Path, recorded: LiveEmulator) -> None:
    """A root _redirects is not an asset: the manifest stays the same, the deploy does not."""
    site = make_tree(tmp_path / "site", {"index.html": "v1", "new.html": "new"})
    with Harness(recorded, site, tmp_path, WatchdogSource(str(site))) as h:
        replace_text(site / "_redirects", "/old /new 301\n")
        line = h.wait_deploys(2)[1]
        assert (line.added, line.changed, line.removed) == (0, 0, 0)
        r = httpx.get(recorded.origin + "/old", headers={"Host": "site.localhost"})
        assert (r.status_code, r.headers["location"]) == (301, "/new")
        assert puts(recorded) == 2
