"""Watch mode: debounce and single-flight logic with a fake event source, then real file events."""

from __future__ import annotations

import asyncio
import errno
import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetsync.engine import SyncOptions
from assetsync.folder.build import BuildOptions, build
from assetsync.retry import Backoff
from assetsync.watcher import DeployLine, Step, Watcher
from assetsync.watchevents import Debouncer, WatchdogSource
from assetsync.wire.target import Target

from ..conftest import ACCOUNT
from ..helpers import LiveEmulator, cli_running, make_tree, stop_child

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


class FakeClock:
    """A monotonic clock the test moves by hand; the watcher reads it from its loop's thread."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


class Harness:
    """Runs a Watcher on an event loop in a thread; its deploys, passes and messages are observed
    as they happen."""

    def __init__(
        self,
        live: LiveEmulator,
        site: Path,
        tmp: Path,
        source: Any,
        script: str = "site",
        rescan: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live, self.site = live, site
        self.deploys: list[DeployLine] = []
        self.steps: list[Step] = []
        self.said: list[str] = []
        self.crashed: Exception | None = None
        self.changed = threading.Condition()
        opts = SyncOptions(script=script, build=BuildOptions(cache_dir=str(tmp / "cache")), attempts=2)
        self.watcher = Watcher(
            str(site),
            opts,
            Target("api", live.api, ACCOUNT, live.token or ""),
            source,
            say=self._say,
            on_deploy=self._on_deploy,
            on_step=self._on_step,
            rescan=rescan,
            clock=clock,
        )
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.stop = asyncio.Event()
        try:
            await self.watcher.run(self.stop)
        except Exception as exc:  # the waits below report it at once
            with self.changed:
                self.crashed = exc
                self.changed.notify_all()

    def _say(self, message: str) -> None:
        with self.changed:
            self.said.append(message)
            self.changed.notify_all()

    def _on_deploy(self, line: DeployLine) -> None:
        with self.changed:
            self.deploys.append(line)
            self.changed.notify_all()

    def _on_step(self, step: Step) -> None:
        with self.changed:
            self.steps.append(step)
            self.changed.notify_all()

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        """Until ``ready()``; fails if the watcher stopped, or after TIMEOUT."""
        with self.changed:
            self.changed.wait_for(lambda: ready() or self.crashed is not None, TIMEOUT)
            if not ready():
                assert self.crashed is None, f"the watcher stopped: {self.crashed!r}"
                pytest.fail(f"{what} within {TIMEOUT}s; passes: {self.steps}")

    def wait_deploys(self, n: int) -> list[DeployLine]:
        self._wait(lambda: len(self.deploys) >= n, f"no {n} deploys")
        return list(self.deploys)

    def wait_said(self, text: str) -> str:
        """The first message holding ``text``, once said."""
        self._wait(lambda: any(text in m for m in self.said), f"no message with {text!r}")
        return next(m for m in self.said if text in m)

    def wait_steps(self, n: int) -> list[Step]:
        """The loop's first ``n`` passes (the start is the first), once it has finished them."""
        self._wait(lambda: len(self.steps) >= n, f"no {n} passes")
        return list(self.steps)

    def __enter__(self) -> Harness:
        self.thread.start()
        # The first deploy, and the pass that made it is over.
        self._wait(lambda: any(s.outcome == "deployed" for s in self.steps), "no first deploy")
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the watcher did not stop"

    def served(self, path: str) -> bytes:
        r = httpx.get(self.live.origin + path, headers={"Host": "site.localhost"}, follow_redirects=True)
        return r.content if r.status_code == 200 else b"<%d>" % r.status_code

    def check_matches_folder(self) -> None:
        """The deployed manifest is exactly what a fresh build of the folder gives."""
        fresh = build(str(self.site), BuildOptions(use_cache=False)).manifest
        assert self.watcher.deployed is not None
        assert self.watcher.deployed.to_json() == fresh.to_json()


def replace_text(path: Path, text: str) -> None:
    """Give ``path`` new content in one step (a file written beside its folder, renamed over it),
    so no build, whenever it runs, sees it half written or sees a temporary file."""
    tmp = path.parent.parent / f".{path.name}.new"
    tmp.write_text(text)
    os.replace(tmp, path)


def puts(live: LiveEmulator) -> int:
    """How many deploys (PUTs of the script) reached the recording emulator."""
    return sum(r["method"] == "PUT" for r in live.app.requests)


def test_touch_and_same_bytes_deploy_nothing(tmp_path: Path, recorded: LiveEmulator) -> None:
    """The touch batch is seen through before the real edit, so a deploy it caused would show."""
    site = make_tree(tmp_path / "site", {"index.html": "v1", "a.css": "a"})
    source = FakeSource()
    with Harness(recorded, site, tmp_path, source) as h:
        assert puts(recorded) == 1
        os.utime(site / "a.css")
        (site / "index.html").write_text("v1")  # a save with the same bytes
        source.push(str(site / "a.css"), str(site / "index.html"))
        assert h.wait_steps(2)[1].outcome == "unchanged"  # that batch is built...
        assert puts(recorded) == 1 and len(h.deploys) == 1  # ...and deployed nothing
        (site / "index.html").write_text("v2")  # then a real change: exactly one deploy
        source.push(str(site / "index.html"))
        assert h.wait_steps(3)[2].outcome == "deployed"
        assert (h.deploys[1].changed, h.deploys[1].uploaded) == (1, 1)
        assert puts(recorded) == 2 and len(h.deploys) == 2
        assert h.served("/index.html") == b"v2"


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
        assert puts(recorded) == 3  # initial, the held one, exactly one follow-up
        assert (lines[2].added, lines[2].changed) == (1, 1)
        assert h.served("/index.html") == b"v5" and h.served("/new.txt") == b"new"
        h.check_matches_folder()


def test_failures_are_shown_and_retried(tmp_path: Path, recorded: LiveEmulator) -> None:
    from ..helpers import envelope_error

    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    source = FakeSource()
    with Harness(recorded, site, tmp_path, source) as h:
        h.watcher.backoff = Backoff(base=0.01, cap=0.02)
        recorded.app.faults += [("PUT", "/scripts/site", envelope_error(500, 10013, "down"))] * 2
        (site / "index.html").write_text("v2")
        source.push(str(site / "index.html"))
        h.wait_deploys(2)
        assert any(m.startswith("error: deploying") for m in h.said)
        assert h.served("/index.html") == b"v2"


def test_a_failed_start_is_retried_with_back_off(tmp_path: Path, recorded: LiveEmulator) -> None:
    """The first deploy fails too (the server is down): watch retries soon, not at the next rescan."""
    from ..helpers import envelope_error

    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    recorded.app.faults += [("PUT", "/scripts/site", envelope_error(500, 10013, "down"))] * 2
    h = Harness(recorded, site, tmp_path, FakeSource())  # the rescan is an hour away
    h.watcher.backoff = Backoff(base=0.01, cap=0.02)
    with h:
        assert [(s.cause, s.outcome) for s in h.steps] == [("start", "failed"), ("retry", "deployed")]
        assert any(m.startswith("error: deploying") for m in h.said)
        assert h.served("/index.html") == b"v1"


HUGE = 25 * 1024 * 1024 + 1  # one byte over the per-file limit


def test_oversized_file_is_reported_and_watch_goes_on(tmp_path: Path, emulator: LiveEmulator) -> None:
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    source = FakeSource()
    with Harness(emulator, site, tmp_path, source) as h:
        h.watcher.backoff = Backoff(base=3600, cap=3600)  # only the fix below makes the next pass
        source.push(_too_large(site))  # a batch of its own: this build must fail
        failed = h.wait_steps(2)[1]
        assert (failed.cause, failed.outcome) == ("change", "failed")
        shown = [m for m in h.said if m.startswith("error: ")]
        assert len(shown) == 1 and "per-file limit" in shown[0] and f"/huge.bin  {HUGE:,} bytes" in shown[0]
        assert shown[0] == f"error: {failed.error}"
        (site / "huge.bin").unlink()
        (site / "index.html").write_text("v2")
        source.push(str(site / "huge.bin"), str(site / "index.html"))
        assert h.wait_steps(3)[2] == Step("change", "deployed")  # watch went on: the next good state
        assert (h.deploys[1].changed, h.deploys[1].added) == (1, 0)
        assert h.served("/index.html") == b"v2" and h.served("/huge.bin") == b"<404>"
        h.check_matches_folder()


def _bad_ignore_file(site: Path) -> str:
    (site / ".assetsignore").write_bytes(b"*.log\n\xff\xfe\n")
    return str(site / ".assetsignore")


def _unusable_name(site: Path) -> str:
    (site / "bad\nname.txt").write_text("x")
    return str(site / "bad\nname.txt")


def _too_large(site: Path) -> str:
    with open(site / "huge.bin", "wb") as f:
        f.truncate(HUGE)
    return str(site / "huge.bin")


@pytest.mark.parametrize(
    ("make", "expect"),
    [
        (_bad_ignore_file, ".assetsignore, line 2: not valid UTF-8 text"),
        (_unusable_name, "bad\\nname.txt': the file name contains the control character '\\n'"),
        (_too_large, "/huge.bin  26,214,401 bytes (25.0 MiB)"),
    ],
    ids=["bad-assetsignore", "unusable-name", "too-large"],
)
def test_build_errors_are_shown(
    tmp_path: Path, emulator: LiveEmulator, make: Callable[[Path], str], expect: str
) -> None:
    """A build that fails while watching says why, naming the file; nothing is deployed."""
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    source = FakeSource()
    with Harness(emulator, site, tmp_path, source) as h:
        source.push(make(site))
        step = h.wait_steps(2)[1]
        assert step.outcome == "failed" and step.error is not None and expect in step.error
        assert f"error: {step.error}" in h.said
        assert len(h.deploys) == 1


def test_cli_watch_shows_build_errors_and_goes_on(tmp_path: Path, emulator: LiveEmulator) -> None:
    """`assetsync watch` as a user runs it: a file over the limit is shown on stderr, named, and the
    next good state is deployed."""
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    env = {
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": emulator.token,
        "CLOUDFLARE_API_BASE_URL": emulator.api,
    }
    args = ["watch", str(site), "--name", "site", "--cache-dir", str(tmp_path / "c")]
    with cli_running(*args, env=env) as (proc, out):
        out.expect(lambda line: " live: 1 file," in line)  # the first sync
        _too_large(site)
        assert "per-file limit" in out.expect(lambda line: " error: " in line)
        assert out.expect(lambda line: "/huge.bin" in line).strip() == f"/huge.bin  {HUGE:,} bytes (25.0 MiB)"
        replace_text(site / "index.html", "v2")  # any build from here on deploys exactly v2
        (site / "huge.bin").unlink()
        out.expect(lambda line: "deployed: +0 ~1 -0" in line)
        assert stop_child(proc, out) == 0
        out.expect(lambda line: line.endswith(" stopped"))
    r = httpx.get(emulator.origin + "/index.html", headers={"Host": "site.localhost"}, follow_redirects=True)
    assert r.content == b"v2"


def test_cli_watch_quiet_hides_deploy_lines_but_not_errors(tmp_path: Path) -> None:
    """`watch -q`: a failed build is still shown; a deploy is not."""
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    _too_large(site)
    with LiveEmulator(tmp_path / "emulator", record=True) as live:
        live.app.gate, live.app.arrived = threading.Event(), threading.Event()
        live.app.gate.set()  # deploys pass; `arrived` tells when one reached the server
        env = {
            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
            "CLOUDFLARE_API_TOKEN": live.token,
            "CLOUDFLARE_API_BASE_URL": live.api,
        }
        args = ["watch", str(site), "-q", "--name", "site", "--cache-dir", str(tmp_path / "c")]
        with cli_running(*args, env=env) as (proc, out):
            assert "per-file limit" in out.expect(lambda line: " error: " in line)
            (site / "huge.bin").unlink()  # the next build deploys
            assert live.app.arrived.wait(TIMEOUT)
            _too_large(site)  # and the build after it fails: its error follows the deploy's end
            assert "per-file limit" in out.expect(lambda line: " error: " in line)
            assert stop_child(proc, out) == 0
        assert [s.name for s in live.emulator.store.all_live()] == ["site"]
    assert not [line for line in out.seen if "deployed:" in line]


@pytest.mark.parametrize("clock", ["moved", "real"])
def test_idle_rescan_catches_what_no_event_reported(
    tmp_path: Path, emulator: LiveEmulator, clock: str
) -> None:
    """The source reports nothing (the OS dropped the event): the rescan still deploys the change.

    "moved": the test moves the watcher's clock past the rescan interval and wakes it, so the
    rescan happens exactly then. "real": a short interval on the real clock.
    """
    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    fake = FakeClock()
    rescan = 30.0 if clock == "moved" else 0.05
    with Harness(
        emulator,
        site,
        tmp_path,
        FakeSource(),
        rescan=rescan,
        clock=fake if clock == "moved" else time.monotonic,
    ) as h:
        replace_text(site / "index.html", "v2")  # and no event
        if clock == "moved":
            fake.advance(rescan)
            h.watcher.wake()
            # Nothing but the rescan ran: no time passed on the watcher's clock otherwise.
            assert h.wait_steps(2) == [Step("start", "deployed"), Step("rescan", "deployed")]
        lines = h.wait_deploys(2)
        assert (lines[1].changed, lines[1].added, lines[1].removed) == (1, 0, 0)
        assert h.served("/index.html") == b"v2"


class RefusedObserver:
    """Stands in for the OS observer when the inotify limits are reached, failing where watchdog
    does, with watchdog's own errors."""

    ERRORS = {
        errno.ENOSPC: "inotify watch limit reached",  # fs.inotify.max_user_watches
        errno.EMFILE: "inotify instance limit reached",  # fs.inotify.max_user_instances
    }

    def __init__(self, where: str, err: int) -> None:
        self.where, self.err = where, err
        self.made = 0

    def __call__(self) -> RefusedObserver:
        self.made += 1
        return self

    def _fail(self, where: str) -> None:
        if where == self.where:
            raise OSError(self.err, self.ERRORS[self.err])

    def schedule(self, handler: Any, path: str, recursive: bool = False) -> None:
        self._fail("schedule")

    def start(self) -> None:
        self._fail("start")

    def stop(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass


@pytest.mark.parametrize(
    ("where", "err"), [("schedule", errno.ENOSPC), ("start", errno.EMFILE)], ids=["watches", "instances"]
)
def test_refused_os_watches_fall_back_to_polling(
    tmp_path: Path, emulator: LiveEmulator, where: str, err: int
) -> None:
    """The OS refuses more watches: watch says which limits to raise, polls, and still deploys."""
    from watchdog.observers.polling import PollingObserver

    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    warned: list[str] = []
    refused = RefusedObserver(where, err)
    source = WatchdogSource(str(site), warn=warned.append, native=refused)
    with Harness(emulator, site, tmp_path, source) as h:
        assert len(warned) == 1
        assert f"the OS refused to watch {site} ({RefusedObserver.ERRORS[err]}); polling instead" in warned[0]
        assert (
            "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=1024" in warned[0]
        )
        assert isinstance(source.observer, PollingObserver)
        replace_text(site / "index.html", "v2")
        lines = h.wait_deploys(2)
        assert lines[1].changed == 1 and h.served("/index.html") == b"v2"


class StuckObserver(RefusedObserver):
    """An OS observer whose stop() never returns by itself, as watchdog's inotify one before 5.0.3
    can when its reading thread is not woken."""

    def __init__(self) -> None:
        super().__init__("", 0)
        self.stopping = threading.Event()
        self.release = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.release.wait()


def test_an_os_watcher_that_will_not_stop_does_not_hold_the_exit(tmp_path: Path) -> None:
    stuck = StuckObserver()
    source = WatchdogSource(str(tmp_path), native=stuck)
    source.stop_wait = 0.05
    source.start(lambda paths, settled=False: None)
    source.stop()  # returns: the stop goes on, on a daemon thread, without the caller
    assert stuck.stopping.is_set() and source.observer is None
    watchers = [t for t in threading.enumerate() if t.name == "watch-stop"]
    assert watchers and all(t.daemon for t in watchers)
    stuck.release.set()


def test_poll_forces_polling(tmp_path: Path, emulator: LiveEmulator) -> None:
    """With ``poll`` the OS observer is never tried (so never warned about), and polling deploys."""
    from watchdog.observers.polling import PollingObserver

    site = make_tree(tmp_path / "site", {"index.html": "v1"})
    warned: list[str] = []
    refused = RefusedObserver("start", errno.ENOSPC)
    source = WatchdogSource(str(site), poll=True, warn=warned.append, native=refused)
    with Harness(emulator, site, tmp_path, source) as h:
        assert (refused.made, warned) == (0, [])
        assert isinstance(source.observer, PollingObserver)
        replace_text(site / "index.html", "v2")
        assert h.wait_deploys(2)[1].changed == 1 and h.served("/index.html") == b"v2"


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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only inotify reports a file closed")
def test_inotify_says_when_a_saved_file_is_whole(tmp_path: Path) -> None:
    """The short quiet window of a save rests on these: a file renamed into place, or closed
    after writing, is reported settled; its creation and its writes are not."""
    site = make_tree(tmp_path / "site", {"a.txt": "a"})
    got: queue.Queue[tuple[list[str], bool]] = queue.Queue()
    source = WatchdogSource(str(site))
    source.start(lambda paths, settled=False: got.put((paths, settled)))
    seen: list[tuple[list[str], bool]] = []
    try:
        tmp, a, b = site / ".a.txt.tmp", str(site / "a.txt"), str(site / "b.txt")
        tmp.write_text("saved")
        os.replace(tmp, a)
        with open(b, "w") as f:
            f.write("written in place")
            f.flush()
        while not any(settled and b in paths for paths, settled in seen):
            seen.append(got.get(timeout=30))
    finally:
        source.stop()
    assert ([str(tmp), a], True) in seen
    assert ([b], True) in seen
    assert {settled for paths, settled in seen if paths in ([b], [str(tmp)])} == {False, True}


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
            published = path.exists() and not rel.endswith("~")  # a backup is ignored by default
            want = path.read_bytes() if published else b"<404>"
            assert (
                h.served("/" + rel.replace(".html", "")) == want
                if rel == "index.html"
                else h.served("/" + rel) == want
            )


def test_incremental_manifest_equals_a_full_build(tmp_path: Path) -> None:
    from assetsync.folder.build import Builder

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


def test_incremental_update_walks_the_files_only_for_a_path_that_was_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor's save reports a temp file that is gone by the build: it never held files, so
    the update drops no subtree and does not look at every file for one; a folder that held
    files, the first build's or one an update added, still drops its subtree."""
    from assetsync.folder import build as build_mod

    site = make_tree(tmp_path / "site", {f"d{i % 7}/f{i}.txt": f"{i}" for i in range(300)})
    b = build_mod.Builder(str(site), BuildOptions(use_cache=False), warn=print)
    b.full()
    looked: list[str] = []
    under = build_mod._under

    def counting(key: str, folders: set[str]) -> bool:
        looked.append(key)
        return under(key, folders)

    monkeypatch.setattr(build_mod, "_under", counting)
    make_tree(site, {"d1/f1.txt": "saved"}, mtime=None)
    result = b.update([str(site / "d1/.f1.txt.swp"), str(site / "d1/f1.txt~tmp"), str(site / "d1/f1.txt")])
    assert looked == []
    assert result.manifest["/d1/f1.txt"].size == len("saved")
    make_tree(site, {"new/sub/n.txt": "n"}, mtime=None)
    assert "/new/sub/n.txt" in b.update([str(site / "new")]).manifest
    for gone in ("new/sub", "d3"):
        shutil.rmtree(site / gone)
        result = b.update([str(site / gone)])
        assert looked, f"{gone}: its files were not looked for"
        assert result.manifest.to_json() == build(str(site), BuildOptions(use_cache=False)).manifest.to_json()
        looked.clear()


def test_incremental_update_when_files_and_folders_swap_places(tmp_path: Path) -> None:
    from assetsync.folder.build import Builder

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
