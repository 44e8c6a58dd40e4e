"""File events for watch mode: where they come from, and the window that batches them.

:class:`WatchdogSource` reports changed paths from the OS (inotify, or polling where the OS
refuses more watches), saying when an event shows a saved file is whole; :class:`Debouncer`
gathers them into one batch per quiet window, bounded by a maximum wait. Neither decides what
to deploy: that is :mod:`assetsync.watcher`'s.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from watchdog.events import FileSystemEventHandler


SAVE_PATHS = 4  # at most this many paths in a batch can be one save (a file, its temp file)


class Debouncer:
    """Gathers dirty paths; due after ``quiet`` seconds without events, or ``max_wait`` after
    the first one, whichever comes first. Pure: the caller passes the time.

    A save ends with an event that says the file is whole (closed after writing, or renamed
    into place): when a batch of a few paths ends so, it is due after ``settled_quiet``
    instead, since an editor's save is one burst of events well under a millisecond apart.
    """

    def __init__(self, quiet: float = 0.01, max_wait: float = 0.4, settled_quiet: float = 0.002) -> None:
        self.quiet = quiet
        self.max_wait = max_wait
        self.settled_quiet = settled_quiet
        self.paths: set[str] = set()
        self.first = 0.0
        self.last = 0.0
        self.first_seen = 0.0  # when the oldest change in this batch was noticed (for latency)
        self.settled = False  # the last event said its file is whole

    def add(self, paths: Iterable[str], now: float, settled: bool = False) -> None:
        paths = set(paths)
        if not paths:
            return
        if not self.paths:
            self.first = self.first_seen = now
        self.paths |= paths
        self.last = now
        self.settled = settled

    def due(self) -> float | None:
        """When the batch is ready (a time), or None when nothing is pending."""
        if not self.paths:
            return None
        quiet = self.settled_quiet if self.settled and len(self.paths) <= SAVE_PATHS else self.quiet
        return min(self.last + min(quiet, self.quiet), self.first + self.max_wait)

    def take(self) -> set[str]:
        paths, self.paths = self.paths, set()
        return paths


class ReportPaths(Protocol):
    """Where an :class:`EventSource` reports changed paths; ``settled``: the event says its file
    is whole (closed after writing, renamed into place), not a write that may go on."""

    def __call__(self, paths: list[str], settled: bool = False, /) -> None: ...


class EventSource(Protocol):
    """Something that reports changed absolute paths, from its own thread."""

    def start(self, report: ReportPaths) -> None: ...
    def stop(self) -> None: ...


class FileObserver(Protocol):
    """What :class:`WatchdogSource` uses of a watchdog observer (``BaseObserver``)."""

    def schedule(self, handler: FileSystemEventHandler, path: str, /, *, recursive: bool = ...) -> object: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = ...) -> None: ...


# Events after which a file is whole: written and closed (inotify's IN_CLOSE_WRITE), or renamed
# into place. Not a deletion: it may be the first half of a replace. Only inotify reports
# closes; elsewhere a save is seen as modified, then quiet.
SETTLED_EVENTS = frozenset({"closed", "moved"})


class WatchdogSource:
    """File events from watchdog: inotify (or the platform's API), or polling with ``poll``.

    When the OS refuses more watches (inotify limits), it says what to do and falls back to
    polling rather than watching half the tree.
    """

    def __init__(
        self,
        root: str,
        poll: bool = False,
        ignore: Iterable[str] = (),
        warn: Callable[[str], None] = print,
        native: Callable[[], FileObserver] | None = None,
    ):
        """``native`` makes the OS observer (watchdog's ``Observer``); a test passes one that
        fails as inotify does at its limits."""
        self.root = root
        self.poll = poll
        self.ignore = tuple(p.rstrip("/") + "/" for p in ignore)
        self.warn = warn
        self.native = native
        self.observer: FileObserver | None = None
        self.handler: FileSystemEventHandler | None = None
        self.also: set[str] = set()  # folders outside ``root`` watched on their own (not below)
        self.stop_wait = 5.0

    def start(self, report: ReportPaths) -> None:
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
                    report(paths, event.event_type in SETTLED_EVENTS)

        self.handler = Handler()
        self.observer = self._observer(self.handler)
        asked, self.also = self.also, set()
        self.watch_also(asked)  # those asked for before the start

    def watch_also(self, folders: Iterable[str]) -> None:
        """Watch these folders too, each without what is below it (the wrangler config's, the
        Worker's): a folder inside ``root`` is watched already."""
        base = self.root.rstrip("/") + "/"
        for folder in set(folders) - self.also:
            if not (folder + "/").startswith(base):
                self.also.add(folder)
                if self.observer is not None and self.handler is not None and os.path.isdir(folder):
                    self.observer.schedule(self.handler, folder, recursive=False)

    def _observer(self, handler: FileSystemEventHandler) -> FileObserver:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        if not self.poll:
            observer: FileObserver = (self.native or Observer)()
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
        """Stop watching, waiting for it at most :attr:`stop_wait` seconds. watchdog's inotify
        observer before 5.0.3 wakes its reading thread only with the event its own removal of
        the watch makes, and its stop() can then block for good; an OS watcher that will not stop
        must not keep watch or dev from exiting (watchdog's threads are daemons: the process ends
        without them)."""
        observer, self.observer = self.observer, None
        if observer is None:
            return

        def end() -> None:
            observer.stop()
            observer.join()

        stopper = threading.Thread(target=end, name="watch-stop", daemon=True)
        stopper.start()
        stopper.join(self.stop_wait)
