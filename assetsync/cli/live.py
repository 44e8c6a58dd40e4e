"""``assetsync watch`` and ``assetsync dev``: keep a folder deployed while it is edited.

Both run :class:`assetsync.watcher.Watcher` until Ctrl-C; ``dev`` deploys to a local preview
server it starts (:class:`assetsync.local.PreviewServer`), with live reload.
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING, Any

import click

from .app import EXIT_HELP, warn
from .options import Prepared, deploy_options, number_option, option_group, prepare

if TYPE_CHECKING:
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
        "--allow-empty",
        is_flag=True,
        help="Deploy the folder even with no files in it (it removes every asset of the live site); "
        "without it an empty folder is refused at start and held while watching.",
    ),
)


def _watch_ignores(prepared: Prepared) -> list[str]:
    """Folders whose events never matter: assetsync's own cache and the emulator's data."""
    from ..watcher import own_folders

    return own_folders(prepared.options, prepared.target)


def _keep_deployed(
    folder: str, prepared: Prepared, target: Target, poll: bool, rescan: float, quiet: bool
) -> None:
    """Run the watch loop on ``folder`` until Ctrl-C or SIGTERM, its messages on stderr."""
    import asyncio
    import signal

    from ..watcher import WatchdogSource, Watcher
    from ..watchplan import Inputs
    from .render import deploy_line

    def say(message: str) -> None:  # warnings and errors: shown even with --quiet
        click.echo(message, err=True)

    source = WatchdogSource(folder, poll=poll, ignore=_watch_ignores(prepared), warn=warn)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watcher = Watcher(
            folder,
            prepared.options,
            target,
            source,
            say=say,
            on_deploy=(lambda line: None) if quiet else (lambda line: say(deploy_line(line))),
            reload_options=prepared.reload,
            inputs=lambda: Inputs.of(*prepared.inputs()),
            rescan=rescan,
        )
        await watcher.run(stop)

    asyncio.run(run())


@click.command(epilog=EXIT_HELP)
@deploy_options
@_watch_options
def watch(poll: bool, rescan: float, quiet: bool, **params: Any) -> None:
    """Sync FOLDER, then redeploy on every change until Ctrl-C.

    File events mark paths dirty; after a short quiet window only those paths are re-read, and
    a deploy happens only if what it sends really changed (the files, or the wrangler config,
    the Worker's modules, _headers or _redirects, which are watched too). A build tool's clean
    step (the folder emptied, or most of it gone at once) is held until the files are back or
    the folder is quiet, never deployed. One line per deploy says what changed
    and how long it took from the first change. Failures are shown and retried; watch keeps
    running. Same target, deploy options and config as `assetsync sync`.
    """
    prepared = prepare(params, allow_empty=params.pop("allow_empty"))
    folder = os.path.abspath(prepared.folder)
    click.echo(
        f"Watching {folder} -> {prepared.options.script} on {prepared.target.label} (Ctrl-C stops)", err=True
    )
    _keep_deployed(folder, prepared, prepared.target, poll, rescan, quiet)
    click.echo("stopped", err=True)


@click.command(epilog=EXIT_HELP)
@deploy_options
@_watch_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the preview server.")
@number_option("--port", click.IntRange(0, 65535), 8787, "Its port.")
def dev(host: str, port: int, poll: bool, rescan: float, quiet: bool, **params: Any) -> None:
    """Develop FOLDER live: watch it into the local emulator and preview it with live reload.

    Prints the preview URL; open it, edit a file, and the page reloads with the change. Always
    the embedded emulator (credentials are ignored); its API is served too, at /client/v4.
    """
    from ..local import PreviewServer

    gc.enable()
    prepared = prepare(params, local=True, allow_empty=params.pop("allow_empty"))
    assert prepared.target.data_dir is not None  # a local target always has its data folder
    with PreviewServer(prepared.target.data_dir, host, port) as server:
        target = server.target
        folder = os.path.abspath(prepared.folder)
        address = target.preview_address(prepared.options.script, prepared.options.namespace)
        assert address is not None  # the preview server is the emulator
        host_url, path_url = address.urls(server.origin, server.port)
        click.echo(f"Preview: {host_url}  (or {path_url})" if host_url else f"Preview: {path_url}", err=True)
        click.echo(f"Watching {folder} (Ctrl-C stops)", err=True)
        _keep_deployed(folder, prepared, target, poll, rescan, quiet)
    click.echo("stopped", err=True)
