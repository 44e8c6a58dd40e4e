"""Watch mode: debounce and single-flight logic with a fake event source, then real file events."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetsync.build import BuildOptions, build
from assetsync.engine import SyncOptions
from assetsync.target import Target
from assetsync.watch import Debouncer, DeployLine, WatchdogSource, Watcher

from .conftest import ACCOUNT
from .helpers import LiveEmulator, make_tree

TIMEOUT = 20.0


def test_debouncer_single_save_is_not_held_up() -> None:
    d = Debouncer(quiet=0.025, max_wait=0.4)
    assert d.due() is None
    d.add(["/a"], now=10.0)
    assert d.due() == pytest.approx(10.025)
    d.add(["/b"], now=10.01)
    assert d.due() == pytest.approx(10.035)
    assert d.take() == {"/a", "/b"} and d.due() is None


def test_debouncer_burst_is_bounded_by_max_wait() -> None:
    d = Debouncer(quiet=0.025, max_wait=0.4)
    t = 0.0
    for i in range(1000):  # a generator writing 1,000 files, one every 10 ms
        d.add([f"/f{i}"], now=t)
        t += 0.01
    assert d.due() == pytest.approx(0.4)  # not 10 s: the batch goes out at max_wait
    assert len(d.take()) == 1000
    d.add([], now=t)
    assert d.due() is None


class FakeSource:
    """An event source the test drives: `push` is what the OS would report."""

    def __init__(self) -> None:
        self.report: Callable[[list[str]], None] | None = None
        self.started = threading.Event()

    def start(self, report: Callable[[list[str]], None]) -> None:
        self.report = report
        self.started.set()

    def stop(self) -> None:
        pass

    def push(self, *paths: str) -> None:
        assert self.report is not None
        self.report(list(paths))


class Harness:
    """Runs a Watcher on an event loop in a thread; deploys are observed as they happen."""

    def __init__(self, live: LiveEmulator, site: Path, tmp: Path, source: Any, script: str = "site") -> None:
        self.live, self.site = live, site
        self.deploys: list[DeployLine] = []
        self.deployed = threading.Condition()
        opts = SyncOptions(script=script, build=BuildOptions(cache_dir=str(tmp / "cache")), attempts=2)
        self.watcher = Watcher(
            str(site),
            opts,
            Target("api", live.api, ACCOUNT, live.token or ""),
            source,
            say=lambda m: None,
            on_deploy=self._on_deploy,
            rescan=3600,
        )
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.stop = asyncio.Event()
        await self.watcher.run(self.stop)

    def _on_deploy(self, line: DeployLine) -> None:
        with self.deployed:
            self.deploys.append(line)
            self.deployed.notify_all()

    def wait_deploys(self, n: int) -> list[DeployLine]:
        with self.deployed:
            assert self.deployed.wait_for(lambda: len(self.deploys) >= n, TIMEOUT), (
                f"{len(self.deploys)} deploys"
            )
            return list(self.deploys)

    def __enter__(self) -> Harness:
        self.thread.start()
        self.wait_deploys(1)  # the initial full sync
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(TIMEOUT)

    def served(self, path: str) -> bytes:
        r = httpx.get(self.live.origin + path, headers={"Host": "site.localhost"}, follow_redirects=True)
        return r.content if r.status_code == 200 else b"<%d>" % r.status_code

    def check_matches_folder(self) -> None:
        """The deployed manifest is exactly what a fresh build of the folder gives."""
        fresh = build(str(self.site), BuildOptions(use_cache=False)).manifest
        assert self.watcher.deployed is not None
        assert self.watcher.deployed.to_json() == fresh.to_json()


def test_touch_and_same_bytes_deploy_nothing(tmp_path: Path, emulator: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1", "a.css": "a"})
    source = FakeSource()
    with Harness(emulator, site, tmp_path, source) as h:
        os.utime(site / "a.css")
        (site / "index.html").write_text("v1")  # a save with the same bytes
        source.push(str(site / "a.css"), str(site / "index.html"))
        (site / "index.html").write_text("v2")  # then a real change: the next deploy
        source.push(str(site / "index.html"))
        lines = h.wait_deploys(2)
        assert (lines[1].changed, lines[1].uploaded) == (1, 1)
        assert h.served("/index.html") == b"v2"
        assert len(h.deploys) == 2


def test_changes_during_a_deploy_make_exactly_one_follow_up(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    source = FakeSource()
    with Harness(recorded, site, tmp_path, source) as h:
        recorded.app.gate, recorded.app.arrived = threading.Event(), threading.Event()
        (site / "index.html").write_text("v2")
        source.push(str(site / "index.html"))
        assert recorded.app.arrived.wait(TIMEOUT)  # deploy of v2 is in flight, held at the PUT
        for v in ("v3", "v4", "v5"):
            (site / "index.html").write_text(v)
            source.push(str(site / "index.html"))
        (site / "new.txt").write_text("new")
        source.push(str(site / "new.txt"))
        recorded.app.gate.set()
        lines = h.wait_deploys(3)
        puts = [r for r in recorded.app.requests if r["method"] == "PUT"]
        assert len(puts) == 3  # initial, the held one, exactly one follow-up
        assert (lines[2].added, lines[2].changed) == (1, 1)
        assert h.served("/index.html") == b"v5" and h.served("/new.txt") == b"new"
        h.check_matches_folder()


def test_failures_are_shown_and_retried(tmp_path: Path, recorded: LiveEmulator) -> None:
    from .helpers import envelope_error

    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    source = FakeSource()
    said: list[str] = []
    with Harness(recorded, site, tmp_path, source) as h:
        h.watcher.say = said.append
        from assetsync.retry import Backoff

        h.watcher.backoff = Backoff(base=0.01, cap=0.02)
        recorded.app.faults += [("PUT", "/scripts/site", envelope_error(500, 10013, "down"))] * 2
        (site / "index.html").write_text("v2")
        source.push(str(site / "index.html"))
        h.wait_deploys(2)
        assert any(m.startswith("error: deploying") for m in said)
        assert h.served("/index.html") == b"v2"


def test_oversized_file_is_reported_and_watch_goes_on(tmp_path: Path, emulator: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    source = FakeSource()
    said: list[str] = []
    with Harness(emulator, site, tmp_path, source) as h:
        h.watcher.say = said.append
        with open(site / "huge.bin", "wb") as f:
            f.truncate(26_214_401)
        source.push(str(site / "huge.bin"))
        (site / "huge.bin").unlink()
        (site / "index.html").write_text("v2")
        source.push(str(site / "huge.bin"), str(site / "index.html"))
        h.wait_deploys(2)
        assert h.served("/index.html") == b"v2"
        assert any("per-file limit" in m for m in said) or len(h.deploys) == 2


def test_assetsignore_change_reloads_the_rules(tmp_path: Path, emulator: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1", "debug.log": "log"})
    source = FakeSource()
    with Harness(emulator, site, tmp_path, source) as h:
        assert h.served("/debug.log") == b"log"
        (site / ".assetsignore").write_text("*.log\n")
        source.push(str(site / ".assetsignore"))
        lines = h.wait_deploys(2)
        assert lines[1].removed == 1 and h.served("/debug.log") == b"<404>"
        h.check_matches_folder()


# -- real file events ------------------------------------------------------------------------


def _edit_in_place(site: Path) -> None:
    with open(site / "index.html", "w") as f:
        f.write("in place")


def _temp_and_rename(site: Path) -> None:
    tmp = site / ".index.html.tmp123"
    tmp.write_text("renamed over")
    os.replace(tmp, site / "index.html")


def _backup_and_new(site: Path) -> None:
    os.rename(site / "index.html", site / "index.html~")
    (site / "index.html").write_text("new file, old one kept as a backup")


def _delete_and_create(site: Path) -> None:
    (site / "index.html").unlink()
    (site / "index.html").write_text("deleted and created")


def _rename_dir(site: Path) -> None:
    os.rename(site / "docs", site / "guide")


def _delete_dir(site: Path) -> None:
    shutil.rmtree(site / "docs")


@pytest.mark.parametrize(
    "save",
    [_edit_in_place, _temp_and_rename, _backup_and_new, _delete_and_create, _rename_dir, _delete_dir],
    ids=lambda f: f.__name__.strip("_"),
)
@pytest.mark.parametrize("poll", [False, True], ids=["events", "polling"])
def test_save_patterns_with_real_events(
    tmp_path: Path, emulator: LiveEmulator, save: Callable[[Path], None], poll: bool
) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "original", "docs/a.md": "a", "docs/deep/b.md": "b"})
    source = WatchdogSource(str(site), poll=poll)
    with Harness(emulator, site, tmp_path, source) as h:
        save(site)
        # Wait until the deployed manifest equals the folder's: each event-driven deploy is a
        # step toward it; a deploy that already matches ends the wait.
        fresh = build(str(site), BuildOptions(use_cache=False)).manifest.to_json()
        n = 2
        while True:
            h.wait_deploys(n)
            assert h.watcher.deployed is not None
            if h.watcher.deployed.to_json() == fresh:
                break
            n += 1
        for rel in ("index.html", "docs/a.md", "guide/a.md", "index.html~"):
            path = site / rel
            want = path.read_bytes() if path.exists() else b"<404>"
            assert (
                h.served("/" + rel.replace(".html", "")) == want
                if rel == "index.html"
                else h.served("/" + rel) == want
            )


def test_incremental_manifest_equals_a_full_build(tmp_path: Path) -> None:
    from assetsync.build import Builder

    site = make_tree(tmp_path / "site", {f"d{i % 7}/f{i}.txt": f"{i}" for i in range(300)})
    b = Builder(str(site), BuildOptions(use_cache=False), warn=print)
    b.full()
    for step in range(5):
        make_tree(site, {f"d{step}/f{step}.txt": f"changed {step}", f"new/n{step}.css": "x"}, mtime=None)
        (site / f"d{step + 1}" / f"f{step + 8}.txt").unlink(missing_ok=True)
        result = b.update(
            [
                str(site / f"d{step}/f{step}.txt"),
                str(site / "new"),
                str(site / f"d{step + 1}/f{step + 8}.txt"),
            ]
        )
        fresh = build(str(site), BuildOptions(use_cache=False)).manifest
        assert result.manifest.to_json() == fresh.to_json()
        assert dict(result.manifest) == dict(fresh)


def test_incremental_update_when_files_and_folders_swap_places(tmp_path: Path) -> None:
    from assetsync.build import Builder

    site = make_tree(tmp_path / "site", {"a/x.txt": "x", "a/deep/y.txt": "y", "b": "file b", "c.txt": "c"})
    b = Builder(str(site), BuildOptions(use_cache=False), warn=print)
    b.full()
    shutil.rmtree(site / "a")
    (site / "a").write_text("now a file")
    (site / "b").unlink()
    make_tree(site, {"b/inner.txt": "now a folder"}, mtime=None)
    result = b.update([str(site / "a"), str(site / "b")])
    assert sorted(result.manifest) == ["/a", "/b/inner.txt", "/c.txt"]
    assert result.manifest.to_json() == build(str(site), BuildOptions(use_cache=False)).manifest.to_json()
