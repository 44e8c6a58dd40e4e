"""Build-aware deploys: a build tool's clean step is held, never deployed; an empty folder is
refused at start and held while watching, unless --allow-empty."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from assetsync.folder.build import BuildOptions, build
from assetsync.folder.manifest import Manifest
from assetsync.watcher import Step
from assetsync.watchevents import Debouncer, WatchdogSource
from assetsync.watchplan import HOLD_MIN_REMOVED, BuildGate

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, cli_running, make_tree, run_cli, stop_child
from .test_watch import TIMEOUT, FakeClock, FakeSource, Harness, puts

SITE = {"index.html": "v1", **{f"assets/app{i}.js": f"app {i}" for i in range(12)}}


def _manifest(tmp: Path, n: int) -> Manifest:
    """The manifest of a folder of ``n`` files, f0.txt, f1.txt..."""
    folder = make_tree(tmp / str(n), {f"f{i}.txt": str(i) for i in range(n)})
    folder.mkdir(parents=True, exist_ok=True)
    return build(str(folder), BuildOptions(use_cache=False)).manifest


@pytest.mark.parametrize(
    ("live", "now", "held"),
    [
        (3, 0, True),  # emptied: held, however small the site
        (3, 1, False),  # a deleted page on a small site is an edit
        (20, 20 - HOLD_MIN_REMOVED + 1, False),  # fewer than HOLD_MIN_REMOVED gone
        (20, 9, True),  # 11 of 20 gone: more than half, and at least HOLD_MIN_REMOVED
        (40, 25, False),  # 15 of 40 gone: not most of the site
    ],
)
def test_what_is_held(tmp_path: Path, live: int, now: int, held: bool) -> None:
    """Held: an emptied folder, or most of the site gone at once; --allow-empty lets only the
    first through."""
    deployed, built = _manifest(tmp_path, live), _manifest(tmp_path / "now", now)
    assert BuildGate().admit(built, deployed, allow_empty=False, now=0.0, settled=False) is not held
    allowed = BuildGate().admit(built, deployed, allow_empty=True, now=0.0, settled=False)
    assert allowed is not (held and now > 0)


class HeldBatches(Debouncer):
    """A debouncer whose batch goes out only when the test opens it, so that real file events
    gather into one batch whatever the machine's speed (the hold must not depend on how the OS
    splits a deletion into events)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.seen = threading.Condition()

    def add(self, paths: Iterable[str], now: float, settled: bool = False) -> None:
        with self.seen:
            super().add(paths, now, settled)
            self.seen.notify_all()

    def due(self) -> float | None:
        return super().due() if self.open.is_set() else None

    def gather(self, paths: Iterable[str]) -> None:
        """Wait until the events of all ``paths`` are in the batch."""
        want = set(paths)
        with self.seen:
            assert self.seen.wait_for(lambda: want <= self.paths, TIMEOUT), want - self.paths


@contextmanager
def probing(h: Harness) -> Iterator[list[int]]:
    """Ask the preview for the index over and over on a thread, as a browser tab reloading
    would; yields the statuses it got."""
    statuses: list[int] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(headers={"Host": "site.localhost"}) as client:
            while not done.is_set():
                statuses.append(client.get(h.live.origin + "/").status_code)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        yield statuses
    finally:
        done.set()
        thread.join(TIMEOUT)


def test_clean_then_rebuild_deploys_nothing_in_between(tmp_path: Path, recorded: LiveEmulator) -> None:
    """`rm -rf dist/*` then a rebuild, as Vite's emptyOutDir does, with real file events: the
    emptied folder is held (one line), the live site keeps answering, and the rebuild is the one
    deploy that follows."""
    site = make_tree(tmp_path / "site", SITE)
    batches = HeldBatches()
    h = Harness(recorded, site, tmp_path, WatchdogSource(str(site)))
    h.watcher.debouncer, h.watcher.gate = batches, BuildGate(settle=3600)  # only files back release it
    batches.open.set()
    with h, probing(h) as statuses:
        batches.open.clear()
        for child in site.iterdir():  # rm -rf site/*
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        batches.gather(str(site / p) for p in SITE)
        batches.open.set()
        h.watcher.wake()
        assert h.wait_steps(2)[1] == Step("change", "held")
        assert "waiting for the build to finish" in h.wait_said("waiting")
        assert h.served("/") == b"v1" and puts(recorded) == 1
        batches.open.clear()
        rebuilt = {p: c.replace("v1", "v2") for p, c in SITE.items()}
        make_tree(site, rebuilt, mtime=None)
        batches.gather(str(site / p) for p in SITE)
        batches.open.set()
        h.watcher.wake()
        line = h.wait_deploys(2)[1]
        assert (line.added, line.changed, line.removed) == (0, 1, 0)
        assert h.served("/") == b"v2"
    assert puts(recorded) == 2 and len([m for m in h.said if "waiting" in m]) == 1
    assert statuses and 404 not in statuses and set(statuses) == {200}
    h.check_matches_folder()


def _fake_harness(live: LiveEmulator, site: Path, tmp: Path) -> tuple[Harness, FakeSource, FakeClock]:
    source, clock = FakeSource(), FakeClock()
    h = Harness(live, site, tmp, source, clock=clock)
    h.watcher.gate = BuildGate(settle=10, long_hold=30)
    return h, source, clock


def _batch(h: Harness, source: FakeSource, clock: FakeClock, paths: Iterable[str], n: int) -> Step:
    """Report ``paths`` as one batch, let it go out, and give the pass it made (the n-th)."""
    source.push(*paths)
    clock.advance(1)
    h.watcher.wake()
    return h.wait_steps(n)[n - 1]


def test_a_rebuild_with_new_names_deploys_once_the_folder_is_quiet(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    """Hashed names never come back, so the hold ends when the folder is quiet: not before (the
    build may still be writing), and then with what the folder holds."""
    site = make_tree(tmp_path / "site", SITE)
    h, source, clock = _fake_harness(recorded, site, tmp_path)
    with h:
        shutil.rmtree(site / "assets")
        assert _batch(h, source, clock, [str(site / "assets")], 2) == Step("change", "held")
        make_tree(site, {"assets/app-4f2a.js": "new"}, mtime=None)  # the build writes on
        assert _batch(h, source, clock, [str(site / "assets")], 3) == Step("change", "held")
        clock.advance(8.5)  # this batch comes 9.5 s after the last: not quiet for 10 s
        make_tree(site, {"assets/app-77c1.js": "new too"}, mtime=None)
        assert _batch(h, source, clock, [str(site / "assets")], 4) == Step("change", "held")
        assert puts(recorded) == 1 and h.served("/assets/app3.js") == b"app 3"
        clock.advance(10)
        h.watcher.wake()
        assert h.wait_steps(5)[4] == Step("settled", "deployed")
        line = h.deploys[1]
        assert (line.added, line.removed) == (2, 12)
        assert h.served("/assets/app-77c1.js") == b"new too" and h.served("/assets/app3.js") == b"<404>"
    assert len([m for m in h.said if "waiting" in m]) == 1
    h.check_matches_folder()


def test_an_emptied_folder_is_held_and_a_long_hold_says_what_to_do(
    tmp_path: Path, recorded: LiveEmulator
) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1", "a.css": "a"})
    h, source, clock = _fake_harness(recorded, site, tmp_path)
    with h:
        (site / "index.html").unlink()
        (site / "a.css").unlink()
        assert _batch(h, source, clock, [str(site / "index.html"), str(site / "a.css")], 2).outcome == "held"
        clock.advance(30)  # quiet for long: an empty folder is still never deployed
        h.watcher.wake()
        said = h.wait_said("still waiting")
        assert said.startswith("warning: still waiting after 30s: ") and "has 0 file(s)" in said
        assert "pass --allow-empty to deploy an empty site on purpose" in said
        clock.advance(100)
        assert _batch(h, source, clock, [str(site / "a.css")], 3).outcome == "held"
        assert puts(recorded) == 1 and h.served("/") == b"v1"
        assert [sum(w in m for m in h.said) for w in ("waiting", "still waiting")] == [2, 1]
        make_tree(site, {"index.html": "v2", "a.css": "a"}, mtime=None)
        assert _batch(h, source, clock, [str(site / "index.html"), str(site / "a.css")], 4).outcome == (
            "deployed"
        )
        assert h.served("/") == b"v2" and puts(recorded) == 2


def test_allow_empty_deploys_an_emptied_folder(tmp_path: Path, recorded: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1", "a.css": "a"})
    h, source, clock = _fake_harness(recorded, site, tmp_path)
    h.watcher.options = replace(h.watcher.options, allow_empty=True)
    with h:
        (site / "index.html").unlink()
        (site / "a.css").unlink()
        assert _batch(h, source, clock, [str(site / "index.html"), str(site / "a.css")], 2).outcome == (
            "deployed"
        )
        assert h.deploys[1].removed == 2 and h.served("/") == b"<404>"


def _local(tmp_path: Path) -> list[str]:
    return [
        "--name",
        "site",
        "--local",
        "--local-data",
        str(tmp_path / "data"),
        "--cache-dir",
        str(tmp_path / "c"),
    ]


@pytest.mark.parametrize("command", ["watch", "dev"])
def test_watch_refuses_an_empty_folder_at_start_as_sync_does(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    extra = ["--port", "0"] if command == "dev" else []
    watched = run_cli(command, str(empty), *_local(tmp_path), *extra)
    synced = run_cli("sync", str(empty), *_local(tmp_path))
    assert (watched.returncode, synced.returncode) == (4, 4)
    refusal = next(line for line in synced.stderr.splitlines() if line.startswith("error: "))
    assert "no files to publish" in refusal and refusal in watched.stderr.splitlines()


def test_watch_allow_empty_deploys_an_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with LiveEmulator(tmp_path / "emulator", record=True) as live:
        env = {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "CLOUDFLARE_API_TOKEN": live.token}
        env["CLOUDFLARE_API_BASE_URL"] = live.api
        args = ["watch", str(empty), "--allow-empty", "--name", "site", "--cache-dir", str(tmp_path / "c")]
        with cli_running(*args, env=env) as (proc, out):
            out.expect(lambda line: "live: 0 files" in line)
            assert stop_child(proc, out) == 0
        assert puts(live) == 1
        assert [s.name for s in live.emulator.store.all_live()] == ["site"]
