"""``assetsync watch`` and ``assetsync dev``: keep a folder deployed while it is edited.

Both run :class:`assetsync.watcher.Watcher` until Ctrl-C; ``dev`` deploys to a local preview
server it starts (:class:`assetsync.local.PreviewServer`), with live reload.

Ctrl-C (or SIGTERM) is handled here, not by click or uvicorn: the first stops within a second
(a deploy whose request is out is let finish, any other is cancelled before it), exit 0; a
second ends the process at once with 130. Either way the live version is a whole one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from ..errors import AssetsyncError
from ..events import Deployed, Deploying, Event, SessionOpened
from .app import EXIT_HELP
from .options import Prepared, deploy_options, number_option, option_group, prepare, runtime_options
from .render import WatchOutput, cron_lines

if TYPE_CHECKING:
    from ..watcher import Step
    from ..wire.target import Target


# What watch and dev add to the deploy options.
_watch_options = option_group(
    click.option("--poll", is_flag=True, help="Poll the folder instead of using OS file events."),
    number_option(
        "--rescan",
        click.FloatRange(min=1),
        30,
        "Seconds between full rescans while idle (catches events the OS dropped).",
    ),
    click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="No line per deploy: only the start-up lines, warnings and errors.",
    ),
    click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Write one JSON event per line on stdout (started, deployed, unchanged, waiting, error, "
        "stopped) and nothing else there; the lines for people stay on stderr.",
    ),
    click.option(
        "--allow-empty",
        is_flag=True,
        help="Deploy the folder even with no files in it (it removes every asset of the live site); "
        "without it an empty folder is refused at start and held while watching.",
    ),
)


class Interrupts:
    """Ctrl-C and SIGTERM for a watch loop.

    The first stops the loop: a deploy whose request is already out (:class:`Deploying` seen,
    its answer not yet) is let finish; anything else, uploads included, is cancelled, which
    leaves the previous version live. A second signal, or one before the loop runs, ends the
    process at once with 130.
    """

    def __init__(self, output: WatchOutput) -> None:
        self.output = output
        self.signals = 0
        self.phase = "none"  # of the deploy in flight: "none", "uploading" or "sent" (its request)
        self.outcome = "none"  # what the first signal did to it: "none", "cancelled", "finished"
        self.deploys = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future[None] | None = None
        self._stop: asyncio.Event | None = None

    def install(self) -> None:
        """Take Ctrl-C and SIGTERM from click (its "Aborted!", exit 1) and asyncio; a Ctrl-C the
        process was started ignoring (a background job) stays ignored."""
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def on_event(self, event: Event) -> None:
        if isinstance(event, SessionOpened):
            self.phase = "uploading"  # cancelling it now changes nothing live
        elif isinstance(event, Deploying):
            self.phase = "sent"
        elif isinstance(event, Deployed):
            self.phase = "none"
            self.deploys += 1

    def on_step(self, step: Step) -> None:
        self.phase = "none"  # the pass is over, failed or not

    async def run(self, loop_done: asyncio.Future[None], stop: asyncio.Event) -> None:
        """Await the watch loop ``loop_done`` (stopped by ``stop`` or by cancelling it)."""
        self._loop, self._task, self._stop = asyncio.get_running_loop(), loop_done, stop
        try:
            await asyncio.wait({loop_done})
        finally:
            self._loop = None  # from here a signal finds no loop to stop: it ends the process
        if not loop_done.cancelled():
            loop_done.result()  # an unexpected failure of the loop is the command's

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        loop = self._loop
        if self.signals > 1 or loop is None:
            self.output.stopped(self._fate(), forced=True, deploys=self.deploys)
            os._exit(130)  # no clean-up: the next deploy's scan puts right what this one leaves
        loop.call_soon_threadsafe(self._stop_loop)

    def _stop_loop(self) -> None:
        self.output.say("stopping (Ctrl-C again to quit at once)")
        assert self._task is not None and self._stop is not None
        if self.phase == "sent":
            self.outcome = "finished"
            self._stop.set()  # the loop ends after this pass, once the request is answered
        else:
            self.outcome = self._fate()
            self._task.cancel()

    def _fate(self) -> str:
        """What ending the process now does to the deploy in flight."""
        return {"uploading": "cancelled"}.get(self.phase, self.phase)


def _watch_ignores(prepared: Prepared) -> list[str]:
    """Folders whose events never matter: assetsync's own cache and the emulator's data."""
    from ..watcher import own_folders

    return own_folders(prepared.options, prepared.target)


def _keep_deployed(
    folder: str,
    prepared: Prepared,
    target: Target,
    output: WatchOutput,
    interrupts: Interrupts,
    how: dict[str, Any],
) -> None:
    """Run the watch loop on ``folder`` until Ctrl-C or SIGTERM, then say how it stopped."""
    from ..watcher import Watcher
    from ..watchevents import WatchdogSource
    from ..watchplan import Inputs

    source = WatchdogSource(folder, poll=how["poll"], ignore=_watch_ignores(prepared), warn=output.warn)

    def on_step(step: Step) -> None:
        interrupts.on_step(step)
        output.step(step)

    async def run() -> None:
        stop = asyncio.Event()
        watcher = Watcher(
            folder,
            prepared.options,
            target,
            source,
            say=output.say,
            on_deploy=output.deployed,
            on_event=interrupts.on_event,
            on_step=on_step,
            reload_options=prepared.reload,
            inputs=lambda: Inputs.of(*prepared.inputs()),
            rescan=how["rescan"],
        )
        await interrupts.run(asyncio.ensure_future(watcher.run(stop)), stop)

    with _refusal_event(output):  # the folder gone before the first build, say
        asyncio.run(run())


def _start(params: dict[str, Any], **prepare_how: bool) -> tuple[WatchOutput, Interrupts, Prepared]:
    """The output and the signal handling first (a Ctrl-C while the config is read quits at
    once), then the prepared deploy."""
    output = WatchOutput(as_json=params.pop("as_json"), quiet=params["quiet"])
    interrupts = Interrupts(output)
    interrupts.install()
    with _refusal_event(output):
        return output, interrupts, prepare(params, warning=output.warn, **prepare_how)


@contextlib.contextmanager
def _refusal_event(output: WatchOutput) -> Iterator[None]:
    """A refusal before watch starts (bad config, a port taken) is an "error" event too, with
    the exit code the process ends with, so a reader of the events alone knows why they end."""
    try:
        yield
    except AssetsyncError as exc:
        output.event("error", cause="start", message=str(exc), exit_code=exc.exit_code)
        raise


@click.command(epilog=EXIT_HELP)
@deploy_options
@_watch_options
def watch(**params: Any) -> None:
    """Sync FOLDER, then redeploy on every change until Ctrl-C.

    File events mark paths dirty; after a short quiet window only those paths are re-read, and
    a deploy happens only if what it sends really changed (the files, or the wrangler config,
    the Worker's modules, _headers or _redirects, which are watched too). A build tool's clean
    step (the folder emptied, or most of it gone at once) is held until the files are back or
    the folder is quiet, never deployed. One line per deploy (each stamped with the time) names
    the changed paths and says how long the deploy took; an error is shown once until it
    changes. Failures are retried; watch keeps running. Ctrl-C stops within a second (exit 0);
    a second Ctrl-C quits at once (130). Same target, deploy options and config as
    `assetsync sync`.
    """
    output, interrupts, prepared = _start(params, allow_empty=params.pop("allow_empty"))
    folder = os.path.abspath(prepared.folder)
    output.started(folder, prepared.options.script, prepared.options.namespace, prepared.target.label)
    _keep_deployed(folder, prepared, prepared.target, output, interrupts, params)
    output.stopped(interrupts.outcome, forced=False, deploys=interrupts.deploys)


@click.command(epilog=EXIT_HELP)
@deploy_options
@_watch_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the preview server.")
@number_option("--port", click.IntRange(0, 65535), 8787, "Its port.")
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in the web browser.")
@runtime_options
def dev(
    host: str, port: int, open_browser: bool, runtime: str, workerd_path: str | None, **params: Any
) -> None:
    """Develop FOLDER live: watch it into the local emulator and preview it with live reload.

    Prints the preview URL (--open opens it in the browser); open it, edit a file, and the page
    reloads with the change. Always the embedded emulator (credentials are ignored); its API is
    served too, at /client/v4. Ctrl-C stops within a second, open pages and all.
    """
    from ..local import PreviewServer

    gc.enable()
    output, interrupts, prepared = _start(params, local=True, allow_empty=params.pop("allow_empty"))
    assert prepared.target.data_dir is not None  # a local target always has its data folder
    if runtime == "auto" and prepared.options.worker.main_module is None:
        runtime = "none"  # an assets-only project has no Worker code: no workerd, nothing to say
    with _refusal_event(output):
        preview = PreviewServer(prepared.target.data_dir, host, port, runtime, workerd_path, say=output.say)
    with preview as server:
        target = server.target
        folder = os.path.abspath(prepared.folder)
        address = target.preview_address(prepared.options.script, prepared.options.namespace)
        assert address is not None  # the preview server is the emulator
        host_url, path_url = address.urls(server.origin, server.port)
        output.url = host_url or path_url
        output.say(f"Preview: {host_url}  (or {path_url})" if host_url else f"Preview: {path_url}")
        crons = prepared.options.crons
        if runtime != "none" and crons:  # none set (or none at all): nothing to fire
            for line in cron_lines(list(crons), output.url):
                output.say(line)
        output.started(folder, prepared.options.script, prepared.options.namespace, target.label)
        if open_browser:
            _open_browser(output.url, output)
        _keep_deployed(folder, prepared, target, output, interrupts, params)
    output.stopped(interrupts.outcome, forced=False, deploys=interrupts.deploys)


def _open_browser(url: str, output: WatchOutput) -> None:
    """Open ``url`` in the user's browser ($BROWSER, else the desktop's), on a thread of its own:
    a browser command that runs until it is closed must not hold the watch loop."""
    import threading
    import webbrowser

    def run() -> None:
        if not webbrowser.open(url):
            output.warn(f"no web browser could be started (set BROWSER to one); open {url} yourself")

    threading.Thread(target=run, name="open-browser", daemon=True).start()
