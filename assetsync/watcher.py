"""Watch mode: every save is live, without a full rescan.

File events are only hints (DESIGN.md layer 8; their sources and batching live in
:mod:`assetsync.watchevents`): they mark paths dirty; a :class:`~assetsync.watchevents.Debouncer`
waits for a short quiet window (bounded by a maximum wait, so a generator writing 1,000 files
gives one deploy and a single save is not held up); the :class:`~assetsync.folder.build.Builder`
re-stats only the dirty paths (a folder: its subtree) through the hash cache; the new manifest
is compared with the one last deployed, and only a real difference is deployed. Deploys run one
at a time, in the watch loop itself, so changes that arrive meanwhile make exactly one follow-up,
and an older snapshot can never land after a newer one.

A full rescan at start and every ``rescan`` seconds while idle catches events the OS dropped.
A change to ``.assetsignore`` reloads the rules and rescans everything; one to the wrangler config
or the Worker's modules (watched where they are, inside the folder or not) re-resolves the
settings, and the next deploy uses them; a config that no longer resolves is said once and the
last good settings stay. A build that looks like a build tool's clean step is held rather than
deployed (:mod:`assetsync.watchplan`), and an empty folder at start is refused as ``sync``
refuses it (unless ``allow_empty``).

:func:`watch` (blocking) and :func:`watch_async` are the library's entry: a folder, kept deployed
until a stop event or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict, Unpack

from .engine import Syncer, SyncOptions, nothing_to_publish
from .errors import ApiError, AssetsyncError
from .events import Event, SyncReport
from .folder.build import Builder, BuildResult
from .folder.manifest import Manifest
from .retry import Backoff
from .watchevents import (
    Debouncer,
    EventSource,
    WatchdogSource,
)
from .watchplan import BuildGate, DeployInputs, Inputs, Reloader, deploy_inputs
from .wire.target import Target


@dataclass(frozen=True, slots=True)
class PhaseTimes:
    """When one deploy's phases ended, on the watcher's clock: where its latency went (the
    session, upload and deploy requests are in ``report.durations``)."""

    noticed: float  # the batch's first event arrived
    taken: float  # the quiet window ended: the build started
    built: float  # the manifest was patched
    deployed: float  # the deploy was answered


@dataclass(frozen=True, slots=True)
class DeployLine:
    """What one deploy changed and cost: what ``on_deploy`` gets (the command line prints it as
    one line, :func:`assetsync.cli.render.deploy_line`)."""

    added: int
    changed: int
    removed: int
    uploaded: int
    uploaded_bytes: int
    latency: float  # from the first change noticed to the deploy done
    report: SyncReport  # its ``durations["total"]``: the deploy's own time, upload included
    cause: str = "change"  # the Step's: "start" is the first deploy, not a change
    paths: tuple[str, ...] = ()  # what it added, changed and removed (manifest paths), sorted
    times: PhaseTimes | None = None  # when each phase ended (benchmarks/watch.py)


@dataclass(frozen=True, slots=True)
class Step:
    """One pass of the watch loop, so a front end or a test can follow what watch mode did."""

    cause: str  # "start", "change", "retry", "rescan" or "settled" (a held build's folder went quiet)
    outcome: str  # "deployed", "unchanged" (a touch, a save of the same bytes), "held" or "failed"
    error: str | None = None  # the message shown for a failure


class _Unrepeated:
    """Passes a deploy's warning on unless the deploy before said it too: a ``_redirects`` line
    that stays wrong is said when it appears, not again on every save."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self._before: set[str] = set()
        self._now: set[str] = set()

    def __call__(self, line: str) -> None:
        self._now.add(line)
        if line not in self._before:
            self.say(line)

    def next_round(self) -> None:
        """A new deploy starts: what the last one said is what not to repeat."""
        self._before, self._now = self._now, set()


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
        on_step: Callable[[Step], None] | None = None,
        reload_options: Callable[[], SyncOptions] | None = None,
        inputs: Callable[[], Inputs] | None = None,
        rescan: float = 30.0,
        debouncer: Debouncer | None = None,
        gate: BuildGate | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` times the quiet window, the retries, the idle rescan and a held build's
        settling; a test passes one it moves, then calls :meth:`wake`. ``inputs``: the files
        besides the folder the settings came from, as of the last ``reload_options``."""
        self.folder = folder
        self.options = options
        self.target = target
        self.source = source
        self.say = say
        self.on_deploy = on_deploy
        self.on_event = on_event
        self.on_step = on_step
        self.reloader = Reloader(reload_options, inputs or Inputs, say)
        self.rescan = rescan
        self.gate = gate or BuildGate()
        self.sent: DeployInputs | None = None  # what the last deploy sent besides the manifest
        self.debouncer = debouncer or Debouncer()
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.clock = clock
        self.deployed: Manifest | None = None
        self.deploys = 0
        self.failures = 0
        self._idle_since = 0.0  # when the last pass ended: the idle rescan is due ``rescan`` later
        self._retry_at: float | None = None  # after a failure: when to try again
        self._wake = asyncio.Event()
        self._lock = threading.Lock()
        self._incoming: list[tuple[list[str], float, bool]] = []
        self._deploy_warnings = _Unrepeated(say)
        self._error_shown: str | None = None  # the failure said last, not said again until it changes

    # -- events arrive on the source's thread ---------------------------------------------

    def _report(self, paths: list[str], settled: bool = False) -> None:
        base, inputs = self.folder.rstrip("/") + "/", self.reloader.inputs
        paths = [p for p in paths if p.startswith(base) or p == base[:-1] or inputs.touched((p,))]
        if not paths:
            return  # beside the config or main, but nothing the deploy reads
        now = self.clock()
        with self._lock:
            self._incoming.append((paths, now, settled))
        self.wake()

    def wake(self) -> None:
        """Make the loop look at its timers and events now (safe from any thread)."""
        self._loop.call_soon_threadsafe(self._wake.set)

    def _drain(self) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for paths, when, settled in incoming:
            self.debouncer.add(paths, when, settled)

    # -- the loop --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self.builder = Builder(self.folder, self.options.build, warn=self.say, save_every=5.0)
        client = self.target.client(
            timeout=self.options.timeout,
            max_connections=max(8, self.options.concurrency * 2),
            rate_limit=self.options.rate_limit,
        )
        self.client = client
        try:
            # Watch first, then scan: a change made during the first sync is not missed.
            self._watch_inputs()
            self.source.start(self._report)
            await self._step(lambda: self.builder.full(), self.clock(), "start")
            while not stop.is_set():
                self._drain()
                now = self.clock()
                due, retry_at = self.debouncer.due(), self._retry_at
                held = self.gate.due(self.options.allow_empty)
                timers = (due, retry_at, held, self._idle_since + self.rescan)
                wake_at = min(t for t in timers if t is not None)
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
                    await self._step(lambda d=dirty: self._rebuild(d), first, "change")  # type: ignore[misc]
                elif retry_at is not None and retry_at <= now:
                    await self._step(lambda: self.builder.full(), now, "retry")
                elif held is not None and held <= now:
                    await self._settle(now)
                else:
                    await self._step(lambda: self.builder.full(), now, "rescan")  # the idle rescan
        finally:
            self.source.stop()
            self.builder.flush()
            await client.aclose()

    def _watch_inputs(self) -> None:
        """Have the source watch the folders of the settings' files (the wrangler config's, the
        Worker's), wherever they are; a source that cannot is left as it is."""
        watch_also = getattr(self.source, "watch_also", None)
        if watch_also is not None:
            watch_also(self.reloader.inputs.folders())

    def _reload(self) -> None:
        """The settings' files changed: use what they say now (:class:`Reloader`)."""
        options = self.reloader()
        if options is None:
            return
        self._watch_inputs()
        if options.build != self.options.build:  # read the folder anew, the new way
            self.builder.flush()
            self.builder = Builder(self.folder, options.build, warn=self.say, save_every=5.0)
        self.options = options

    def _rebuild(self, dirty: set[str]) -> BuildResult:
        if self.reloader.inputs.touched(dirty):
            builder = self.builder
            self._reload()
            if self.builder is not builder:
                return self.builder.full()
        root = self.builder.root.rstrip("/")
        if os.path.join(root, ".assetsignore") in dirty:
            return self.builder.full(reload_rules=True)
        if self.failures:  # the failed pass's paths are not in the builder's files: read them all
            return self.builder.full()
        return self.builder.update(dirty)

    async def _settle(self, now: float) -> None:
        """A held build's folder went quiet: deploy it as it is now, or say the hold is long."""
        if self.gate.settled(now, self.options.allow_empty):
            await self._step(lambda: self.builder.full(), now, "settled")
        else:
            self.gate.tell(self.say, self.folder, self.deployed, now)

    async def _step(self, make: Callable[[], BuildResult], first_seen: float, cause: str) -> None:
        """One pass: build, deploy if anything changed, and set the timers from the outcome
        (a failure, the start's too, is retried with back-off; it is said once until it changes
        or a pass succeeds) before telling ``on_step``."""
        step = await self._build_and_deploy(make, first_seen, cause)
        self._idle_since = self.clock()
        if step.outcome != "failed":
            self._retry_at, self.failures, self._error_shown = None, 0, None
        else:
            self.failures += 1
            delay = self.backoff.delay(self.failures)
            self._retry_at = self.clock() + delay
            if step.error != self._error_shown:  # each back-off retry that fails the same way is quiet
                self._error_shown = step.error
                self.say(f"error: {step.error}")
                self.say(f"will try again in {delay:.1f}s, or as soon as a file changes")
        if self.on_step is not None:
            self.on_step(step)

    async def _build_and_deploy(self, make: Callable[[], BuildResult], first_seen: float, cause: str) -> Step:
        """Build, and deploy unless the build is held (:class:`BuildGate`) or would send what the
        last deploy sent (manifest, Worker spec, root rule files, modules); a failure is the
        Step's ``error`` (:meth:`_step` says it)."""
        taken = self.clock()
        try:
            result = make()
            inputs = deploy_inputs(self.folder, self.options)
        except AssetsyncError as exc:
            return Step(cause, "failed", str(exc))
        allow_empty, now = self.options.allow_empty, self.clock()
        if cause == "start" and not len(result.manifest) and not allow_empty:
            raise nothing_to_publish(self.folder, self.options.script)  # as sync refuses it
        if not self.gate.admit(result.manifest, self.deployed, allow_empty, now, cause == "settled"):
            self.gate.tell(self.say, self.folder, self.deployed, now)
            return Step(cause, "held")
        if result.manifest == self.deployed and inputs == self.sent and self.deploys:
            return Step(cause, "unchanged")  # a touch, or a save of the same bytes: nothing to deploy
        built = self.clock()
        self._deploy_warnings.next_round()
        syncer = Syncer(
            self.folder, self.options, self.target, self.client, self.on_event, self._deploy_warnings
        )
        try:
            # No stat pass over every file before the deploy: a change after the build raises an
            # event, and the follow-up deploy carries it.
            report = await syncer.publish(result, rebuild=self.builder.full, recheck=False)
        except (ApiError, AssetsyncError) as exc:
            return Step(cause, "failed", str(exc))
        done = self.clock()
        old = self.deployed or Manifest()
        diff = old.diff(result.manifest)
        self.deployed, self.sent = result.manifest, inputs
        self.deploys += 1
        line = DeployLine(
            len(diff.added),
            len(diff.changed),
            len(diff.removed),
            report.uploaded,
            report.uploaded_bytes,
            done - first_seen,
            report,
            cause,
            tuple(sorted((*diff.added, *diff.changed, *diff.removed))),
            PhaseTimes(first_seen, taken, built, done),
        )
        if self.on_deploy is not None:
            self.on_deploy(line)
        return Step(cause, "deployed")


# -- the library's entry ------------------------------------------------------------------------


def own_folders(options: SyncOptions, target: Target) -> list[str]:
    """Folders whose events never matter: assetsync's own hash cache and the emulator's data
    (either may sit inside the watched folder, and a deploy writes to both)."""
    out = []
    if options.build.use_cache:
        from .folder.cache import default_cache_dir

        out.append(os.path.realpath(options.build.cache_dir or default_cache_dir()))
    if target.data_dir:
        out.append(os.path.realpath(target.data_dir))
    return out


class WatchArgs(TypedDict, total=False):
    """The keyword arguments :func:`watch` and :func:`watch_async` take besides ``stop``; each may
    be left out."""

    options: SyncOptions  # default: as `assetsync watch FOLDER` decides them
    target: Target  # default: the API with credentials in the environment, else the embedded emulator
    on_event: Callable[[Event], None]  # each sync's events
    on_deploy: Callable[[DeployLine], None]  # each deploy (default: none; `say` shows errors, warnings)
    on_step: Callable[[Step], None]  # each pass of the loop
    say: Callable[[str], None]  # its errors, warnings and retry notices; default print
    source: EventSource  # default: watchdog's OS events
    poll: bool  # with the default source: poll the folder instead
    rescan: float  # seconds between full rescans while idle; default 30


async def watch_async(
    folder: str | os.PathLike[str], *, stop: asyncio.Event | None = None, **how: Unpack[WatchArgs]
) -> None:
    """Deploy ``folder``, then every change to it, until ``stop`` is set (or the task is cancelled).

    Without ``options``, they are decided as ``assetsync watch FOLDER`` does (the wrangler config
    found from the current folder up, then the defaults, its warnings told to ``say``; again when
    that config or the Worker's modules change), raising :class:`UsageError` or
    :class:`ConfigError` before anything runs. A folder with no files at start raises
    :class:`NothingToPublish` unless ``options.allow_empty``. A failed deploy is shown and retried,
    never raised.
    """
    from .local import resolve_target
    from .settings import Project, Settings, resolve_project

    say = how.get("say", print)
    options = how.get("options")
    reload_options: Callable[[], SyncOptions] | None = None
    last: list[Project] = []  # the project as last resolved
    if options is None:
        settings = Settings(folder=os.fspath(folder))

        def reload_options() -> SyncOptions:
            last[:] = [resolve_project(settings)]
            for line in last[0].warnings:
                say(f"warning: {line}")
            return last[0].options

        options = reload_options()

    target = how.get("target") or resolve_target()
    root = os.path.abspath(folder)
    source = how.get("source") or WatchdogSource(
        root,
        poll=how.get("poll", False),
        ignore=own_folders(options, target),
        warn=lambda m: say(f"warning: {m}"),
    )
    watcher = Watcher(
        root,
        options,
        target,
        source,
        say=say,
        on_deploy=how.get("on_deploy"),
        rescan=how.get("rescan", 30.0),
        on_event=how.get("on_event"),
        on_step=how.get("on_step"),
        reload_options=reload_options,
        inputs=lambda: Inputs.of(last[0].config.path, last[0].main) if last else Inputs(),
    )
    await watcher.run(stop or asyncio.Event())


STOP_POLL = 0.05  # seconds between looks at watch()'s threading.Event


def watch(
    folder: str | os.PathLike[str], *, stop: threading.Event | None = None, **how: Unpack[WatchArgs]
) -> None:
    """The blocking form of :func:`watch_async`. It returns once ``stop`` is set (from any
    thread), after the deploy in progress, or on Ctrl-C, which cancels that deploy (a deploy is
    never half done: the live version stays the previous one)."""

    async def main() -> None:
        stopped = asyncio.Event()
        relay = asyncio.ensure_future(_relay(stop, stopped)) if stop is not None else None
        try:
            await watch_async(folder, stop=stopped, **how)
        finally:
            if relay is not None:
                relay.cancel()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


async def _relay(stop: threading.Event, stopped: asyncio.Event) -> None:
    """Set ``stopped`` once ``stop`` is: a thread's event cannot be awaited, so it is looked at."""
    while not stop.is_set():
        await asyncio.sleep(STOP_POLL)
    stopped.set()
