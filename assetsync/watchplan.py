"""What watch mode deploys, and when: the decisions :class:`assetsync.watcher.Watcher` makes
between a build and a deploy, kept apart from its event loop.

**Build-aware deploys.** A build tool's clean step (``rm -rf dist/*``, Vite's ``emptyOutDir``)
empties the folder for a moment before the new build is written; deploying that moment would
take the live site down until the rebuild is deployed. So a build is *held* when

- it publishes nothing (the folder is empty, or everything in it is ignored), unless
  ``allow_empty``; or
- most of the deployed site vanished at once: more than half of the deployed files are gone,
  and at least :data:`HOLD_MIN_REMOVED` of them (on a small site, deleting a page is an edit,
  not a clean step).

A held build is deployed as soon as a later build has every deployed path back (a rebuild that
writes the same names), or once the folder has been quiet for :data:`SETTLE` seconds with files
in it: a rebuild that writes new hashed names never brings the old paths back, and a quiet
folder is how a finished build looks from outside, while a pause inside one build's writes is
far shorter. An empty folder is never deployed without ``allow_empty``; a hold that lasts
:data:`LONG_HOLD` seconds says once what to do. The live site stays as it was meanwhile.

**What a deploy depends on.** Besides the folder's files: the wrangler config the settings came
from, the Worker's ``main`` and the modules beside it, and the root ``_headers``/``_redirects``.
A deploy is due when any of them differs from what the last deploy sent
(:func:`deploy_inputs`), not only when the manifest does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .engine import SyncOptions
from .errors import AssetsyncError
from .folder.manifest import Manifest
from .project.deployfiles import root_rule_texts
from .protocol import MODULE_TYPES, Module, WorkerSpec

HOLD_MIN_REMOVED = 10  # a batch removing fewer deployed files than this is never held (unless empty)
SETTLE = 2.0  # seconds of quiet after which a held build with files in it is deployed
LONG_HOLD = 30.0  # seconds of holding after which the hold says what to do, once


class BuildGate:
    """Decides whether a build is deployed now or held back (see the module's docstring). Pure:
    the caller passes the time."""

    def __init__(self, settle: float = SETTLE, long_hold: float = LONG_HOLD) -> None:
        """``settle``: seconds of quiet that release a held build with files in it."""
        self.settle = settle
        self.long_hold = long_hold
        self.since: float | None = None  # when the hold began; None: not holding
        self.last = 0.0  # when the last held build was made
        self.files = 0  # how many files the last held build has
        self.told: set[str] = set()  # what this hold has said: "waiting", "long"

    @property
    def holding(self) -> bool:
        return self.since is not None

    def admit(
        self, manifest: Manifest, deployed: Manifest | None, allow_empty: bool, now: float, settled: bool
    ) -> bool:
        """True: deploy ``manifest``. False: hold it (the hold begins or goes on). ``settled``:
        the folder has been quiet for :attr:`settle` seconds."""
        empty = not len(manifest) and not allow_empty
        if not empty and (settled or not self._worrying(manifest, deployed)):
            self.since = None
            return True
        if self.since is None:
            self.since, self.told = now, set()
        self.last, self.files = now, len(manifest)
        return False

    def _worrying(self, manifest: Manifest, deployed: Manifest | None) -> bool:
        """Whether ``manifest`` looks like a build in progress: while holding, until every
        deployed path is back; otherwise, when most of the deployed site is gone."""
        if deployed is None:
            return False
        gone = sum(1 for path in deployed if path not in manifest)
        if self.holding:
            return gone > 0
        return gone >= HOLD_MIN_REMOVED and gone * 2 > len(deployed)

    def due(self, allow_empty: bool) -> float | None:
        """When the hold needs the loop again: to deploy a settled build, or to say it is long."""
        if self.since is None:
            return None
        times = [] if "long" in self.told else [self.since + self.long_hold]
        if self.files or allow_empty:
            times.append(self.last + self.settle)
        return min(times, default=None)

    def settled(self, now: float, allow_empty: bool) -> bool:
        """Whether the quiet period is over (else the hold is only long); the settled build is
        made from ``now``, so a failing one waits another quiet period."""
        if self.since is None or self.last + self.settle > now or not (self.files or allow_empty):
            return False
        self.last = now
        return True

    def tell(self, say: Callable[[str], None], folder: str, deployed: Manifest | None, now: float) -> None:
        """Say, once each, that the hold began and, once it lasts :attr:`long_hold` seconds, why
        nothing is deployed and what to do."""
        live = len(deployed) if deployed is not None else 0
        if "waiting" not in self.told:
            self.told.add("waiting")
            say(
                f"waiting for the build to finish: {folder} has {self.files} file(s), the live site "
                f"{live}; the live site stays as it is until files are back"
            )
        if self.since is not None and now >= self.since + self.long_hold and "long" not in self.told:
            self.told.add("long")
            if self.files:
                todo = f"it deploys once the folder is quiet for {self.settle:g}s"
            else:
                todo = "finish the build, or pass --allow-empty to deploy an empty site on purpose"
            say(
                f"warning: still waiting after {now - self.since:.0f}s: {folder} has {self.files} "
                f"file(s), the live site {live}, which stays live; {todo}"
            )


# What a deploy sends besides the manifest: the Worker's spec with the root rule files, modules,
# and the Cron Triggers set after it.
DeployInputs = tuple[WorkerSpec, str | None, str | None, tuple[Module, ...], tuple[str, ...] | None]


def deploy_inputs(folder: str, options: SyncOptions) -> DeployInputs:
    """What a deploy of ``folder`` with ``options`` would send besides the manifest: two deploys
    with equal manifests and equal inputs are the same deploy."""
    headers, redirects = root_rule_texts(folder, options.worker.assets)
    return options.worker, headers, redirects, options.modules, options.crons


@dataclass(frozen=True, slots=True)
class Inputs:
    """The files outside the folder's assets that the settings come from: the wrangler config
    and the Worker's ``main`` (the modules beside it are read from its folder, not below)."""

    files: frozenset[str] = frozenset()  # absolute paths
    module_dirs: frozenset[str] = frozenset()  # folders whose modules a deploy carries

    @classmethod
    def of(cls, config: str | None, main: str | None) -> Inputs:
        files = {os.path.abspath(p) for p in (config, main) if p}
        dirs = {os.path.dirname(os.path.abspath(main))} if main else set()
        return cls(frozenset(files), frozenset(dirs))

    def folders(self) -> set[str]:
        """The folders to watch (each on its own, not what is below it)."""
        return {os.path.dirname(p) for p in self.files} | set(self.module_dirs)

    def touched(self, paths: Iterable[str]) -> bool:
        """Whether any of ``paths`` is one of these files or a module beside ``main``."""
        for p in paths:
            if p in self.files:
                return True
            if os.path.dirname(p) in self.module_dirs and os.path.splitext(p)[1] in MODULE_TYPES:
                return True
        return False


class Reloader:
    """Resolves the settings again, the caller's way, when a file they came from changes; a
    config that no longer resolves is said once (until its error changes) and the last good
    settings stay in use."""

    def __init__(
        self,
        reload: Callable[[], SyncOptions] | None,
        inputs: Callable[[], Inputs],
        say: Callable[[str], None],
    ) -> None:
        """``inputs``: the files the last ``reload`` read, as :class:`Inputs`."""
        self.reload = reload
        self.inputs_of = inputs
        self.inputs = inputs()
        self.say = say
        self.error: str | None = None  # the error last said

    def __call__(self) -> SyncOptions | None:
        """The settings as the files say now; None when there is no way to read them again, or
        they no longer resolve."""
        if self.reload is None:
            return None
        try:
            options = self.reload()
        except AssetsyncError as exc:
            if str(exc) != self.error:
                self.say(f"error: {exc} Watch goes on with the last good settings until this is fixed.")
            self.error = str(exc)
            return None
        self.error = None
        self.inputs = self.inputs_of()
        return options
