"""Watch mode: every save is live, without a full rescan.

File events are only hints (DESIGN.md layer 8): they mark paths dirty; a :class:`Debouncer`
waits for a short quiet window (bounded by a maximum wait, so a generator writing 1,000 files
gives one deploy and a single save is not held up); the :class:`~assetsync.build.Builder`
re-stats only the dirty paths (a folder: its subtree) through the hash cache; the new manifest
is compared with the one last deployed, and only a real difference is deployed. Deploys run one
at a time, in the watch loop itself, so changes that arrive meanwhile make exactly one follow-up,
and an older snapshot can never land after a newer one.

A full rescan at start and every ``rescan`` seconds while idle catches events the OS dropped.
Changes to ``.assetsignore``, ``_headers``, ``_redirects`` or the wrangler config reload the
rules (or the deploy settings) and rescan everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .build import Builder, BuildResult
from .config import read_root_file
from .engine import Syncer, SyncOptions
from .errors import ApiError, AssetsyncError
from .events import Event, SyncReport
from .limits import human_size
from .manifest import Manifest
from .retry import Backoff
from .target import Target

RULE_FILES = frozenset({".assetsignore", "_headers", "_redirects"})
CONFIG_FILES = frozenset({"wrangler.toml", "wrangler.json", "wrangler.jsonc"})


class Debouncer:
    """Gathers dirty paths; due after ``quiet`` seconds without events, or ``max_wait`` after
    the first one, whichever comes first. Pure: the caller passes the time."""

    def __init__(self, quiet: float = 0.01, max_wait: float = 0.4) -> None:
        self.quiet = quiet
        self.max_wait = max_wait
        self.paths: set[str] = set()
        self.first = 0.0
        self.last = 0.0
        self.first_seen = 0.0  # when the oldest change in this batch was noticed (for latency)

    def add(self, paths: Iterable[str], now: float) -> None:
        paths = set(paths)
        if not paths:
            return
        if not self.paths:
            self.first = self.first_seen = now
        self.paths |= paths
        self.last = now

    def due(self) -> float | None:
        """When the batch is ready (a time), or None when nothing is pending."""
        if not self.paths:
            return None
        return min(self.last + self.quiet, self.first + self.max_wait)

    def take(self) -> set[str]:
        paths, self.paths = self.paths, set()
        return paths


class EventSource(Protocol):
    """Something that reports changed absolute paths, from its own thread."""

    def start(self, report: Callable[[list[str]], None]) -> None: ...
    def stop(self) -> None: ...


class WatchdogSource:
    """File events from watchdog: inotify (or the platform's API), or polling with ``poll``.

    When the OS refuses more watches (inotify limits), it says what to do and falls back to
    polling rather than watching half the tree.
    """

    def __init__(
        self, root: str, poll: bool = False, ignore: Iterable[str] = (), warn: Callable[[str], None] = print
    ):
        self.root = root
        self.poll = poll
        self.ignore = tuple(p.rstrip("/") + "/" for p in ignore)
        self.warn = warn
        self.observer: Any = None

    def start(self, report: Callable[[list[str]], None]) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler

        ignore = self.ignore

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                if event.is_directory and event.event_type == "modified":
                    return  # its entries' own events say what changed
                paths = [os.fsdecode(event.src_path)]
                if getattr(event, "dest_path", ""):
                    paths.append(os.fsdecode(event.dest_path))
                paths = [p for p in paths if not p.startswith(ignore)]
                if paths:
                    report(paths)

        self.observer = self._observer(Handler())

    def _observer(self, handler: Any) -> Any:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        if not self.poll:
            observer = Observer()
            try:
                observer.schedule(handler, self.root, recursive=True)
                observer.start()
                return observer
            except OSError as exc:
                self.warn(
                    f"the OS refused to watch {self.root} ({exc.strerror or exc}); polling instead. "
                    "On Linux, raise the inotify limits: sudo sysctl fs.inotify.max_user_watches=524288 "
                    "fs.inotify.max_user_instances=1024"
                )
                with contextlib.suppress(Exception):
                    observer.stop()
        observer = PollingObserver(timeout=0.5)
        observer.schedule(handler, self.root, recursive=True)
        observer.start()
        return observer

    def stop(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)


@dataclass(frozen=True, slots=True)
class DeployLine:
    """What one deploy changed and cost, for the one line watch mode prints."""

    added: int
    changed: int
    removed: int
    uploaded: int
    uploaded_bytes: int
    latency: float  # from the first change noticed to the deploy done
    report: SyncReport

    def __str__(self) -> str:
        return (
            f"{time.strftime('%H:%M:%S')} deployed: +{self.added} ~{self.changed} -{self.removed}, "
            f"uploaded {self.uploaded} file{'s' if self.uploaded != 1 else ''} "
            f"({human_size(self.uploaded_bytes)}) "
            f"in {self.latency * 1000:.0f} ms from the first change"
        )


class Watcher:
    """Keeps a folder deployed: the watch loop. ``run()`` returns when ``stop`` is set."""

    def __init__(
        self,
        folder: str,
        options: SyncOptions,
        target: Target,
        source: EventSource,
        *,
        say: Callable[[str], None] = print,
        on_deploy: Callable[[DeployLine], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        reload_options: Callable[[], SyncOptions] | None = None,
        rescan: float = 30.0,
        debouncer: Debouncer | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.folder = folder
        self.options = options
        self.target = target
        self.source = source
        self.say = say
        self.on_deploy = on_deploy
        self.on_event = on_event
        self.reload_options = reload_options
        self.rescan = rescan
        self.debouncer = debouncer or Debouncer()
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.deployed: Manifest | None = None
        self.deploys = 0
        self.failures = 0
        self._wake = asyncio.Event()
        self._lock = threading.Lock()
        self._incoming: list[tuple[list[str], float]] = []

    # -- events arrive on the source's thread ---------------------------------------------

    def _report(self, paths: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            self._incoming.append((paths, now))
        self._loop.call_soon_threadsafe(self._wake.set)

    def _drain(self) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for paths, when in incoming:
            self.debouncer.add(paths, when)

    # -- the loop --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self.builder = Builder(self.folder, self.options.build, warn=self.say, save_every=5.0)
        client = self.target.client(
            timeout=self.options.timeout, max_connections=max(8, self.options.concurrency * 2)
        )
        self.client = client
        try:
            # Watch first, then scan: a change made during the first sync is not missed.
            self.source.start(self._report)
            await self._step(lambda: self.builder.full(), time.monotonic())
            last_activity = time.monotonic()
            retry_at: float | None = None
            while not stop.is_set():
                self._drain()
                now = time.monotonic()
                due = self.debouncer.due()
                wake_at = min(t for t in (due, retry_at, last_activity + self.rescan) if t is not None)
                if wake_at > now:
                    self._wake.clear()
                    stopper = asyncio.ensure_future(stop.wait())
                    waker = asyncio.ensure_future(self._wake.wait())
                    await asyncio.wait(
                        {stopper, waker}, timeout=wake_at - now, return_when=asyncio.FIRST_COMPLETED
                    )
                    stopper.cancel()
                    waker.cancel()
                    continue
                if due is not None and due <= now:
                    first = self.debouncer.first_seen
                    dirty = self.debouncer.take()
                    ok = await self._step(lambda d=dirty: self._rebuild(d), first)  # type: ignore[misc]
                elif retry_at is not None and retry_at <= now:
                    ok = await self._step(lambda: self.builder.full(), now)
                else:
                    ok = await self._step(lambda: self.builder.full(), now)  # the idle rescan
                last_activity = time.monotonic()
                if ok:
                    retry_at, self.failures = None, 0
                else:
                    self.failures += 1
                    delay = self.backoff.delay(self.failures)
                    retry_at = time.monotonic() + delay
                    self.say(f"will try again in {delay:.1f}s, or as soon as a file changes")
        finally:
            self.source.stop()
            self.builder.flush()
            await client.aclose()

    def _rebuild(self, dirty: set[str]) -> BuildResult:
        names = {os.path.basename(p) for p in dirty}
        root = self.builder.root.rstrip("/")
        top = {p for p in dirty if os.path.dirname(p) == root}
        if any(os.path.basename(p) in RULE_FILES for p in top) or names & CONFIG_FILES:
            # Settings may have changed too: read them again (the caller's way, which also reads
            # the config file, or at least the root _headers and _redirects).
            self.options = (
                self.reload_options() if self.reload_options else _with_root_files(self.options, root)
            )
            return self.builder.full(reload_rules=True)
        return self.builder.update(dirty)

    async def _step(self, make: Callable[[], BuildResult], first_seen: float) -> bool:
        """Build, and deploy if the manifest differs from the deployed one. False on failure."""
        try:
            result = make()
        except AssetsyncError as exc:
            self.say(f"error: {exc}")
            return False
        if self.deployed is not None and result.manifest == self.deployed and self.deploys:
            return True  # a touch, or a save of the same bytes: nothing to deploy
        syncer = Syncer(self.folder, self.options, self.target, self.client, self.on_event, self.say)
        try:
            # No stat pass over every file before the deploy: a change after the build raises an
            # event, and the follow-up deploy carries it.
            report = await syncer.publish(result, rebuild=self.builder.full, recheck=False)
        except (ApiError, AssetsyncError) as exc:
            self.say(f"error: {exc}")
            return False
        old = self.deployed or Manifest()
        diff = old.diff(result.manifest)
        self.deployed = result.manifest
        self.deploys += 1
        line = DeployLine(
            len(diff.added),
            len(diff.changed),
            len(diff.removed),
            report.uploaded_files,
            report.uploaded_bytes,
            time.monotonic() - first_seen,
            report,
        )
        self.say(str(line))
        if self.on_deploy is not None:
            self.on_deploy(line)
        return True


def _with_root_files(options: SyncOptions, root: str) -> SyncOptions:
    """``options`` with the root _headers and _redirects read again."""
    headers, redirects = read_root_file(root, "_headers"), read_root_file(root, "_redirects")
    assets = replace(options.worker.assets, headers=headers, redirects=redirects)
    return replace(options, worker=replace(options.worker, assets=assets))
