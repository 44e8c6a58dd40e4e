"""The ``assetsync`` command line: parse options, call the library, render what it reports.

No logic of its own lives here. Errors from :mod:`assetsync.errors` become one ``error:``
paragraph on stderr and the exit code documented in ``assetsync --help``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import __version__
from ..errors import EXIT_CODES, AssetsyncError

if TYPE_CHECKING:
    from ..engine import SyncOptions
    from ..settings import Settings
    from ..wire.target import Target

F = TypeVar("F", bound=Callable[..., Any])

EXIT_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())


def _warn(msg: str) -> None:
    click.echo(f"warning: {msg}", err=True)


def scan_options(fn: F) -> F:
    """Options shared by every command that reads an asset folder."""
    decorators = [
        click.option(
            "--hash-scheme",
            type=click.Choice(["sha256", "wrangler"]),
            default="sha256",
            show_default=True,
            help="sha256: salted, content-type framed (default). wrangler: the same hashes "
            "wrangler computes (no salt; needs assetsync[wrangler]).",
        ),
        click.option(
            "--ignore",
            "ignore",
            multiple=True,
            metavar="PATTERN",
            help="Also skip paths matching this gitignore-style pattern (repeatable).",
        ),
        click.option(
            "--no-default-ignores",
            is_flag=True,
            help="Upload .DS_Store, Thumbs.db, .git/, node_modules/, .wrangler/ and .assetsync/ too.",
        ),
        click.option(
            "--max-files",
            type=click.IntRange(min=1),
            default=20_000,
            show_default=True,
            help="Refuse sites with more files (free plan 20,000; paid plans 100,000).",
        ),
        click.option(
            "--cache-dir",
            # Not checked here: a cache folder that cannot be used is a warning, never fatal.
            type=click.Path(readable=False),
            help="Where the hash cache lives [default: the user cache folder].",
        ),
        click.option("--no-cache", is_flag=True, help="Read and hash every file; keep no cache."),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


tenant_option = click.option(
    "--tenant",
    metavar="ID",
    help="Salt the hashes with this tenant id, so tenants never share stored blobs.",
)


class Group(click.Group):
    """Turns assetsync's own errors into a clear message and their documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssetsyncError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=Group, epilog=EXIT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assetsync")
def main() -> None:
    """Publish folders of static files to Cloudflare Workers and Workers for Platforms."""


@main.command(epilog=EXIT_HELP)
@click.argument("folder", type=click.Path(file_okay=True, dir_okay=True))
@tenant_option
@scan_options
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def manifest(folder: str, quiet: bool, **scan: Any) -> None:
    """Print the upload manifest of FOLDER as JSON.

    Stdout gets {"manifest": {...}} exactly as the upload session sends it, keys sorted; stderr
    gets a one-line summary. Root _headers, _redirects and .assetsignore are never assets.
    """
    from ..folder.build import build
    from ..folder.limits import human_size
    from ..settings import build_options

    settings = _settings(scan)
    result = build(folder, build_options(settings, settings.tenant), warn=_warn)
    out = sys.stdout
    out.write(result.manifest.to_json())
    out.write("\n")
    if not quiet:
        s = result.stats
        click.echo(
            f"{s.files:,} files, {human_size(s.bytes)}: {s.hashed:,} hashed, {s.verified:,} verified "
            f"unchanged, {s.cached:,} from cache, in {s.seconds:.2f}s",
            err=True,
        )
    _done()


_fast_exit = False  # set by the console entry point: the process ends with the command


def _done() -> None:
    """End a one-shot command: when it owns the process, skip freeing every object one by one.

    Tearing down 100,000 manifest entries costs more than a warm scan of a small site.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if _fast_exit and sys.getprofile() is None and sys.gettrace() is None:  # profilers must get to write
        os._exit(0)


def entry() -> None:
    """The ``assetsync`` console script and ``python -m assetsync``."""
    global _fast_exit
    _fast_exit = True
    # A one-shot command allocates a few objects per file and frees them all at exit: cyclic
    # GC passes over 100,000 live entries would cost more than the work (measured: 0.5 s).
    # Long-running commands (serve) turn it back on.
    gc.disable()
    main()


def _token_pairs(tokens: tuple[str, ...], account_tokens: tuple[str, ...]) -> dict[str, str | None] | None:
    if not tokens and not account_tokens:
        return None
    out: dict[str, str | None] = {t: None for t in tokens}
    for item in account_tokens:
        account, sep, token = item.partition("=")
        if not sep or not account or not token:
            raise click.BadParameter("use ACCOUNT_ID=TOKEN", param_hint="--account-token")
        out[token] = account
    return out


@main.command(epilog=EXIT_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="Port to listen on."
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    help="Folder for the emulator's state [default: the user data folder]/emulator.",
)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    envvar="ASSETSYNC_EMULATOR_TOKEN",
    help="API token to accept for every account (repeatable) [default: generated, kept in DATA/api-token].",
)
@click.option(
    "--account-token",
    "account_tokens",
    multiple=True,
    metavar="ACCOUNT=TOKEN",
    help="API token accepted only for that account (repeatable).",
)
@click.option(
    "--max-files", type=click.IntRange(min=1), default=20_000, show_default=True, help="Files per version."
)
@click.option(
    "--bucket-mib",
    type=click.IntRange(min=1),
    default=40,
    show_default=True,
    help="Most raw MiB of files the server asks for in one upload request (bucket).",
)
@click.option(
    "--bucket-files",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Most files in one bucket.",
)
@click.option(
    "--token-ttl",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="Lifetime of upload and completion tokens, in seconds.",
)
@click.option(
    "--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="warning"
)
def serve(
    host: str,
    port: int,
    data_dir: str | None,
    tokens: tuple[str, ...],
    account_tokens: tuple[str, ...],
    max_files: int,
    bucket_mib: int,
    bucket_files: int,
    token_ttl: float,
    log_level: str,
) -> None:
    """Run the local emulator of the Cloudflare asset API, with previews of what it deploys.

    Real clients work against it unchanged: point CLOUDFLARE_API_BASE_URL (wrangler) or
    CLOUDFLARE_BASE_URL (the Python SDK) at the API base it prints.
    """
    gc.enable()
    from ..emulator.api import Limits
    from ..emulator.app import create_app
    from ..emulator.server import default_data_dir, run

    app = create_app(
        data_dir or default_data_dir(),
        api_tokens=_token_pairs(tokens, account_tokens),
        token_ttl=token_ttl,
        limits=Limits(max_files=max_files, bucket_bytes=bucket_mib << 20, bucket_files=bucket_files),
    )
    run(app, host, port, log_level)


def _run_worker_first(value: str | None) -> bool | tuple[str, ...] | None:
    if value is None:
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _apply(fn: F, decorators: list[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def worker_options(fn: F) -> F:
    """What a deploy says besides the assets: module, compatibility, bindings, tags, handling."""
    return _apply(
        fn,
        [
            click.option(
                "--main",
                "main_file",
                type=click.Path(dir_okay=False),
                help="The Worker's main module (modules beside it go too).",
            ),
            click.option(
                "--compatibility-date", metavar="YYYY-MM-DD", help="[default: from the config, else today]"
            ),
            click.option(
                "--compatibility-flag", "compat_flags", multiple=True, metavar="FLAG", help="Repeatable."
            ),
            click.option(
                "--binding",
                "bindings",
                multiple=True,
                metavar="TYPE:NAME=VALUE",
                help="kv:NAME=NAMESPACE_ID or text:NAME=VALUE (repeatable).",
            ),
            click.option(
                "--assets-binding",
                metavar="NAME",
                help="Name of the assets binding of a Worker [default: ASSETS].",
            ),
            click.option("--tag", "tags", multiple=True, help="Tag the script (repeatable)."),
            click.option(
                "--html-handling",
                type=click.Choice(
                    ["auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none"]
                ),
            ),
            click.option(
                "--not-found-handling", type=click.Choice(["none", "404-page", "single-page-application"])
            ),
            click.option(
                "--run-worker-first",
                metavar="true|false|GLOBS",
                help="true, false, or comma-separated route globs.",
            ),
        ],
    )


def target_options(fn: F) -> F:
    """Where requests go: the API with credentials, else the embedded emulator."""
    return _apply(
        fn,
        [
            click.option(
                "--account-id",
                envvar="CLOUDFLARE_ACCOUNT_ID",
                help="Cloudflare account id [env: CLOUDFLARE_ACCOUNT_ID]. The API token is read from the "
                "CLOUDFLARE_API_TOKEN environment variable only, never from a flag.",
            ),
            click.option(
                "--api-base",
                envvar="CLOUDFLARE_API_BASE_URL",
                help="API base URL [env: CLOUDFLARE_API_BASE_URL; default: Cloudflare's].",
            ),
            click.option(
                "--local-data",
                type=click.Path(file_okay=False),
                help="The embedded emulator's data folder, when no credentials are given "
                "[default: the one assetsync serve uses].",
            ),
        ],
    )


def request_options(fn: F) -> F:
    """How long to wait for the server, and how often to ask."""
    return _apply(
        fn,
        [
            click.option(
                "--timeout",
                type=click.FloatRange(min=1),
                default=60,
                show_default=True,
                help="Seconds a request may wait for the server.",
            ),
            click.option(
                "--attempts",
                type=click.IntRange(1, 20),
                default=6,
                show_default=True,
                help="Tries per request before giving up while the API keeps failing "
                "(while other requests get through, a request keeps trying, up to 3x as many).",
            ),
        ],
    )


concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Uploads in flight (adapts down when the server pushes back).",
)


def deploy_options(fn: F) -> F:
    """Options shared by the commands that deploy (sync, watch, dev): target, script, settings."""
    return _apply(
        fn,
        [
            click.argument("folder", required=False, type=click.Path(file_okay=True, dir_okay=True)),
            click.option(
                "--name", help="Worker name [default: from the wrangler config, else the folder's name]."
            ),
            click.option(
                "--namespace",
                metavar="NS",
                help="Deploy a Workers for Platforms user worker into this dispatch namespace.",
            ),
            click.option(
                "--no-salt", is_flag=True, help="In a namespace, do not salt hashes with the script name."
            ),
            tenant_option,
            scan_options,
            worker_options,
            click.option(
                "--config",
                "config_path",
                type=click.Path(dir_okay=False),
                help="wrangler.toml / wrangler.json(c) to read [default: found in the current folder].",
            ),
            target_options,
            concurrency_option,
            request_options,
        ],
    )


@dataclass(frozen=True, slots=True)
class Prepared:
    folder: str
    options: SyncOptions
    target: Target
    reload: Callable[[], SyncOptions]  # the options again, from the config as it is now


def _settings(p: dict[str, Any], **extra: Any) -> Settings:
    """What the command line asked for, as the settings resolver takes it."""
    from ..settings import Settings

    rwf = p.get("run_worker_first")
    values: dict[str, Any] = dict(
        folder=p.get("folder"),
        config_path=p.get("config_path"),
        name=p.get("name"),
        namespace=p.get("namespace"),
        tenant=p.get("tenant"),
        salt=not p.get("no_salt", False),
        hash_scheme=p["hash_scheme"],
        main=p.get("main_file"),
        assets_binding=p.get("assets_binding"),
        bindings=p.get("bindings", ()),
        compatibility_date=p.get("compatibility_date"),
        compatibility_flags=p.get("compat_flags", ()),
        tags=p.get("tags", ()),
        html_handling=p.get("html_handling"),
        not_found_handling=p.get("not_found_handling"),
        run_worker_first=_run_worker_first(rwf),
        ignore=p["ignore"],
        default_ignores=not p["no_default_ignores"],
        max_files=p["max_files"],
        cache=not p["no_cache"],
        cache_dir=p["cache_dir"],
        concurrency=p.get("concurrency"),
        timeout=p.get("timeout"),
        attempts=p.get("attempts"),
    )
    return Settings(**{**values, **extra})


def _prepare(
    p: dict[str, Any],
    *,
    dry_run: bool = False,
    offline: bool = False,
    allow_empty: bool = False,
    local: bool = False,
) -> Prepared:
    """The folder, options and target to use (flags, then the wrangler config, then defaults:
    :func:`assetsync.settings.resolve`); ``local``: the embedded emulator whatever the
    environment holds."""
    from ..local import resolve_target
    from ..settings import resolve

    settings = _settings(p, dry_run=dry_run, offline=offline, allow_empty=allow_empty)
    folder, opts = resolve(settings)
    if local:
        target = resolve_target(local_data=p["local_data"], env={})
    else:
        target = resolve_target(p["account_id"], None, p["api_base"], p["local_data"])
    return Prepared(folder, opts, target, lambda: resolve(settings)[1])


@main.command(epilog=EXIT_HELP)
@deploy_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Build the manifest and ask the server what it lacks; upload and deploy nothing.",
)
@click.option("--offline", is_flag=True, help="With --dry-run: do not contact the server at all.")
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Deploy even a folder with no files (it removes every asset of the live site).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON summary on stdout (and nothing else there)."
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("-v", "--verbose", is_flag=True, help="More detail.")
def sync(
    dry_run: bool,
    offline: bool,
    allow_empty: bool,
    as_json: bool,
    quiet: bool,
    verbose: bool,
    **params: Any,
) -> None:
    """Publish FOLDER: upload what the server lacks, then deploy.

    With CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN set it publishes to the API (or the
    server at --api-base); without credentials it syncs into the local emulator, which
    `assetsync serve` then previews. Settings come from flags, then wrangler.toml /
    wrangler.json(c), then defaults.
    """
    import json as jsonlib

    from ..engine import sync as run_sync
    from ..errors import UsageError
    from .render import Renderer

    if offline and not dry_run:
        raise UsageError("--offline only goes with --dry-run")
    prepared = _prepare(params, dry_run=dry_run, offline=offline, allow_empty=allow_empty)
    folder, options, target = prepared.folder, prepared.options, prepared.target
    name, namespace = options.script, options.namespace

    mode = (
        "quiet"
        if quiet or as_json
        else ("bar" if sys.stderr.isatty() and not os.environ.get("CI") else "lines")
    )
    renderer = Renderer(mode, verbose=verbose)
    if not quiet and not as_json:
        renderer.say(
            f"Syncing {folder} to {name}"
            + (f" in namespace {namespace}" if namespace else "")
            + f" on {target.label}"
        )
    try:
        report = run_sync(folder, options, target, on_event=renderer, warn=_warn)
    except KeyboardInterrupt:
        from ..errors import Interrupted

        raise Interrupted("interrupted: nothing was deployed by this run") from None
    except Exception as exc:
        if as_json:
            from ..events import failure_json

            print(jsonlib.dumps(failure_json(exc)))
        raise
    renderer.finish(report)
    if as_json:
        print(jsonlib.dumps(report.to_json()))
    elif dry_run and not quiet:
        if offline:
            renderer.say(f"Dry run (offline): {report.files:,} files, {report.bytes:,} bytes; nothing sent")
        else:
            missing = sum(len(r) for r in report.plan)
            renderer.say(
                f"Dry run: would upload {missing:,} of {report.files:,} files in "
                f"{len(report.plan)} request(s) and deploy {name}"
            )
            if verbose:
                for i, req in enumerate(report.plan, 1):
                    renderer.say(f"  request {i}: " + ", ".join(req))
    _done()


def _watch_ignores(prepared: Prepared) -> list[str]:
    """Folders whose events never matter: assetsync's own cache and the emulator's data."""
    from ..watcher import own_folders

    return own_folders(prepared.options, prepared.target)


async def _until_signalled(run: Callable[[Any], Any]) -> None:
    """Run ``run(stop)`` until Ctrl-C or SIGTERM sets ``stop``."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(stop)


def _watch_options(fn: F) -> F:
    fn = click.option("-q", "--quiet", is_flag=True, help="Only deploy lines and errors.")(fn)
    fn = click.option(
        "--rescan",
        type=click.FloatRange(min=1),
        default=30,
        show_default=True,
        help="Seconds between full rescans while idle (catches events the OS dropped).",
    )(fn)
    fn = click.option("--poll", is_flag=True, help="Poll the folder instead of using OS file events.")(fn)
    return fn


@main.command(epilog=EXIT_HELP)
@deploy_options
@_watch_options
def watch(poll: bool, rescan: float, quiet: bool, **params: Any) -> None:
    """Sync FOLDER, then redeploy on every change until Ctrl-C.

    File events mark paths dirty; after a short quiet window only those paths are re-read, and
    a deploy happens only if the manifest really changed. One line per deploy says what changed
    and how long it took from the first change. Failures are shown and retried; watch keeps
    running. Same target, deploy options and config as `assetsync sync`.
    """
    import asyncio

    from ..watcher import WatchdogSource, Watcher

    prepared = _prepare(params)
    folder = os.path.abspath(prepared.folder)
    say = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    click.echo(
        f"Watching {folder} -> {prepared.options.script} on {prepared.target.label} (Ctrl-C stops)", err=True
    )
    source = WatchdogSource(folder, poll=poll, ignore=_watch_ignores(prepared), warn=_warn)

    async def run(stop: Any) -> None:
        watcher = Watcher(
            folder,
            prepared.options,
            prepared.target,
            source,
            say=say,
            reload_options=prepared.reload,
            rescan=rescan,
        )
        await watcher.run(stop)

    asyncio.run(_until_signalled(run))
    click.echo("stopped", err=True)


@main.command(epilog=EXIT_HELP)
@deploy_options
@_watch_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the preview server.")
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="Its port.")
def dev(host: str, port: int, poll: bool, rescan: float, quiet: bool, **params: Any) -> None:
    """Develop FOLDER live: watch it into the local emulator and preview it with live reload.

    Prints the preview URL; open it, edit a file, and the page reloads with the change. Always
    the embedded emulator (credentials are ignored); its API is served too, at /client/v4.
    """
    import asyncio

    from ..local import PreviewServer
    from ..watcher import WatchdogSource, Watcher

    gc.enable()
    prepared = _prepare(params, local=True)
    assert prepared.target.data_dir is not None  # a local target always has its data folder
    with PreviewServer(prepared.target.data_dir, host, port) as server:
        target = server.target
        folder = os.path.abspath(prepared.folder)
        preview = target.preview_url(prepared.options.script, prepared.options.namespace, server.port)
        click.echo(f"Preview: {preview}  (or {server.origin}/__preview/{prepared.options.script}/)", err=True)
        click.echo(f"Watching {folder} (Ctrl-C stops)", err=True)
        say = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
        source = WatchdogSource(folder, poll=poll, ignore=_watch_ignores(prepared), warn=_warn)

        async def run(stop: Any) -> None:
            watcher = Watcher(
                folder,
                prepared.options,
                target,
                source,
                say=say,
                reload_options=prepared.reload,
                rescan=rescan,
            )
            await watcher.run(stop)

        asyncio.run(_until_signalled(run))
    click.echo("stopped", err=True)


# -- many tenants, and the scripts of a namespace -------------------------------------------------


@contextlib.contextmanager
def _json_failure(as_json: bool) -> Iterator[None]:
    """With --json, an error that stops a command before its document is printed still leaves
    one JSON document on stdout, ``{"ok": false, "error": ...}``, as ``sync --json`` does."""
    try:
        yield
    except AssetsyncError as exc:
        if as_json:
            import json

            from ..events import failure_json

            print(json.dumps(failure_json(exc)))
        raise


def _output_mode(quiet: bool, as_json: bool) -> str:
    if quiet or as_json:
        return "quiet"
    return "bar" if sys.stderr.isatty() and not os.environ.get("CI") else "lines"


def _confirm_deletion(names: list[str], namespace: str, yes: bool, why: str) -> bool:
    """List what would be deleted, then: --yes, a prompt on a terminal, or a refusal."""
    from ..errors import NotConfirmed

    click.echo(
        f"{why}: {len(names):,} script{'s' if len(names) != 1 else ''} in namespace {namespace}:", err=True
    )
    for name in names:
        click.echo(f"  {name}", err=True)
    if yes:
        return True
    if not sys.stdin.isatty():
        raise NotConfirmed(
            f"refusing to delete {len(names):,} script{'s' if len(names) != 1 else ''} without --yes: "
            "stdin is not a terminal, so nobody can be asked. Check the list above, then run again with "
            "--yes (or --dry-run to only list)."
        )
    return click.confirm(
        f"Delete {'these' if len(names) != 1 else 'this'} {len(names):,} from {namespace}?", err=True
    )


SYNC_ALL_EXITS = (
    "\b\nsync-all exit codes: 0 every tenant deployed; 9 one or more tenants failed (each has its row,\n"
    "the others were deployed); 6 the API refused the token (the run stops, tenants not yet\n"
    "started are not attempted); 10 --prune not confirmed (nothing deployed or deleted); 2 bad\n"
    "options; 4 ROOT missing. The other codes below appear in a failed tenant's row.\n\n"
)


@main.command("sync-all", epilog=SYNC_ALL_EXITS + EXIT_HELP)
@click.argument("root", type=click.Path(file_okay=False))
@click.option(
    "--namespace",
    metavar="NS",
    required=True,
    help="The dispatch namespace every tenant is deployed into.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Publish only share I of N, counted from 1 (1/4 ... 4/4): the tenants whose name hashes to "
    "it, so a tenant keeps its shard when others are added. N CI jobs cover every tenant once.",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Then delete the namespace's scripts tagged 'assetsync' whose folder is gone (in this shard "
    "only; never a script without that tag). Lists them first; asks on a terminal, else needs --yes.",
)
@click.option("-y", "--yes", is_flag=True, help="Prune without asking.")
@click.option(
    "--no-salt",
    is_flag=True,
    help="Do not salt each tenant's hashes with its name (tenants then share blobs).",
)
@scan_options
@worker_options
@target_options
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Uploads in flight across all tenants together (adapts down when the server pushes back).",
)
@click.option(
    "--tenant-concurrency",
    type=click.IntRange(1, 512),
    default=16,
    show_default=True,
    help="Tenants in progress at once (hashing, opening sessions, deploying).",
)
@request_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Build every manifest and ask the server what it lacks; upload, deploy and delete nothing.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Deploy tenant folders with no files too (each removes every asset of that tenant's live "
    "site); without it such a tenant is a failed row (exit 4).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document on stdout: every tenant's row and a summary.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("-v", "--verbose", is_flag=True, help="A line per tenant, and retries.")
def sync_all(
    root: str,
    namespace: str,
    shard: str | None,
    prune: bool,
    yes: bool,
    no_salt: bool,
    tenant_concurrency: int,
    dry_run: bool,
    allow_empty: bool,
    as_json: bool,
    quiet: bool,
    verbose: bool,
    **params: Any,
) -> None:
    """Publish every tenant under ROOT into one dispatch namespace, in one run.

    Each immediate subfolder of ROOT is a tenant: its script is named after the folder (which
    must be a valid Worker name), its hashes are salted with that name, and it is tagged
    'assetsync' and 'tenant:<name>' (plus --tag). The options here apply to every tenant; a
    wrangler.json / wrangler.jsonc / wrangler.toml inside a tenant's folder overrides them for
    that tenant (its assets.directory, main, compatibility settings, vars, assets options), and is
    never uploaded. Folders starting with '.' are skipped.

    Tenants run concurrently over one connection pool; one tenant's failure never stops the
    others, and each gets a row (--json prints them all).
    """
    import asyncio
    import json as jsonlib

    from ..errors import AuthError, Interrupted, PartlyFailed
    from ..local import resolve_target
    from ..settings import shared_options
    from ..tenants import Shard, SyncAllOptions, check_namespace, discover, sync_all_async
    from .render import TenantsRenderer

    with _json_failure(as_json):
        check_namespace(namespace)
        chosen = Shard.parse(shard) if shard else None
        template = shared_options(
            _settings(params, namespace=namespace, dry_run=dry_run, allow_empty=allow_empty)
        )
        target = resolve_target(params["account_id"], None, params["api_base"], params["local_data"])
        options = SyncAllOptions(
            template, salt=not no_salt, shard=chosen, prune=prune, tenants_at_once=tenant_concurrency
        )
        found = discover(root)
        total = sum(1 for t in found if chosen is None or chosen.holds(t.name))
        mode = _output_mode(quiet, as_json)
        renderer = TenantsRenderer(mode, total, verbose=verbose)
        if mode != "quiet":
            share = f" (shard {chosen} of {len(found):,} found)" if chosen else ""
            renderer.say(
                f"Publishing {total:,} tenant{'s' if total != 1 else ''}{share} from {root} into namespace "
                f"{namespace} on {target.label}"
            )

        def confirm(names: list[str]) -> bool:
            return _confirm_deletion(names, namespace, yes, "--prune would delete")

        try:
            report = asyncio.run(
                sync_all_async(root, options, target, on_event=renderer, warn=_warn, confirm_prune=confirm)
            )
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted: tenants (and prune deletions) that finished stay done; the others were not "
                "deployed (a tenant is never half deployed)"
            ) from None
    renderer.finish(report)
    if as_json:
        print(jsonlib.dumps(report.to_json()))
    elif not quiet:
        if report.prune_candidates and dry_run:
            renderer.say(f"--prune would delete {len(report.prune_candidates):,} script(s):")
            for name in report.prune_candidates:
                renderer.say(f"  {name}")
        elif prune and not report.prune_candidates:
            renderer.say("Nothing to prune")
        for row in report.prune_results:
            renderer.say(
                f"Pruned {row['script']}"
                if row["ok"]
                else f"FAILED to prune {row['script']}: {row['error']['message']}"
            )
    if report.return_code == AuthError.exit_code:
        raise AuthError(f"{report.aborted} The run stopped: fix the token, then run again.")
    if report.return_code:
        failed = [t.tenant for t in report.failed] + [p["script"] for p in report.prune_failed]
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10:,} more" if len(failed) > 10 else "")
        raise PartlyFailed(
            f"{len(report.failed):,} of {len(report.tenants):,} tenants failed"
            + (f", {len(report.prune_failed):,} prune deletions failed" if report.prune_failed else "")
            + f": {shown}. The others were deployed; each failure's row says why."
        )
    _done()


@main.group(cls=click.Group)
def scripts() -> None:
    """List and delete the scripts of a dispatch namespace (Workers for Platforms)."""


def _namespace_options(fn: F) -> F:
    return _apply(
        fn,
        [
            click.option("--namespace", metavar="NS", required=True, help="The dispatch namespace."),
            click.option(
                "--tag",
                "with_tags",
                multiple=True,
                metavar="TAG",
                help="Only scripts carrying this tag (repeatable: all of them).",
            ),
            click.option(
                "--without-tag",
                "without_tags",
                multiple=True,
                metavar="TAG",
                help="Only scripts not carrying this tag (repeatable).",
            ),
            target_options,
            request_options,
        ],
    )


@scripts.command("list", epilog=EXIT_HELP)
@_namespace_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def scripts_list(
    namespace: str,
    with_tags: tuple[str, ...],
    without_tags: tuple[str, ...],
    as_json: bool,
    **params: Any,
) -> None:
    """List the scripts of a namespace (every page), optionally filtered by tags.

    A table on stdout (name, last modified, tags), or with --json one document.
    """
    import json as jsonlib

    from ..events import json_document
    from ..local import resolve_target
    from ..namespace import Retries, list_namespace
    from ..tenants import check_namespace

    with _json_failure(as_json):
        check_namespace(namespace)
        target = resolve_target(params["account_id"], None, params["api_base"], params["local_data"])
        found = list_namespace(
            target, namespace, with_tags, without_tags, Retries(params["attempts"]), params["timeout"]
        )
    if as_json:
        print(
            jsonlib.dumps(
                json_document(
                    {"namespace": namespace, "count": len(found), "scripts": [s.to_json() for s in found]}
                )
            )
        )
    else:
        width = max([len("NAME"), *(len(s.name) for s in found)])
        when = max([len("MODIFIED"), *(len(s.modified_on or "-") for s in found)])
        click.echo(f"{'NAME':<{width}}  {'MODIFIED':<{when}}  TAGS")
        for s in found:
            click.echo(f"{s.name:<{width}}  {s.modified_on or '-':<{when}}  {','.join(s.tags) or '-'}")
        click.echo(f"{len(found):,} script{'s' if len(found) != 1 else ''} in {namespace}", err=True)
    _done()


@scripts.command("delete", epilog=EXIT_HELP)
@click.argument("names", nargs=-1, metavar="[NAME]...")
@_namespace_options
@click.option("-y", "--yes", is_flag=True, help="Delete without asking (needed when not on a terminal).")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def scripts_delete(
    names: tuple[str, ...],
    namespace: str,
    with_tags: tuple[str, ...],
    without_tags: tuple[str, ...],
    yes: bool,
    dry_run: bool,
    as_json: bool,
    **params: Any,
) -> None:
    """Delete scripts from a namespace: those NAMEd, or every one matching --tag.

    Lists what it would delete first, then asks on a terminal; elsewhere it needs --yes (exit 10
    without it: nothing deleted). A script that is already gone counts as deleted. Exit 9 when
    some deletions failed.
    """
    import json as jsonlib

    from ..errors import NotConfirmed, PartlyFailed, UsageError
    from ..events import json_document
    from ..local import resolve_target
    from ..namespace import Retries, delete_from_namespace, list_namespace
    from ..protocol import SCRIPT_NAME_RULE, is_script_name
    from ..tenants import check_namespace

    with _json_failure(as_json):
        check_namespace(namespace)
        if names and (with_tags or without_tags):
            raise UsageError("give script NAMEs or --tag filters, not both")
        if not names and not with_tags:
            raise UsageError(
                "name the scripts to delete, or select them with --tag (a filter with only --without-tag "
                "would take most of the namespace: add a --tag)"
            )
        for name in names:
            if not is_script_name(name):
                raise UsageError(f"{name!r} is not a valid Worker name: use {SCRIPT_NAME_RULE}")
        target = resolve_target(params["account_id"], None, params["api_base"], params["local_data"])
        retries = Retries(params["attempts"])
        chosen = list(dict.fromkeys(names))
        if not chosen:
            found = list_namespace(target, namespace, with_tags, without_tags, retries, params["timeout"])
            chosen = [s.name for s in found]
        if not chosen:
            if as_json:
                print(
                    jsonlib.dumps(
                        json_document({"ok": True, "namespace": namespace, "dry_run": dry_run, "results": []})
                    )
                )
            else:
                click.echo(f"No script in {namespace} matches: nothing to delete", err=True)
            _done()
            return
        if dry_run:
            click.echo(f"Would delete {len(chosen):,} script(s) from {namespace}:", err=True)
            for name in chosen:
                click.echo(f"  {name}", err=True)
            if as_json:
                print(
                    jsonlib.dumps(
                        json_document(
                            {"ok": True, "namespace": namespace, "dry_run": True, "would_delete": chosen}
                        )
                    )
                )
            _done()
            return
        if not _confirm_deletion(chosen, namespace, yes, "Deleting"):
            raise NotConfirmed("not confirmed: nothing was deleted.")
        results = delete_from_namespace(target, namespace, chosen, retries, params["timeout"])
    failed = [r for r in results if not r.ok]
    if as_json:
        print(
            jsonlib.dumps(
                json_document(
                    {
                        "ok": not failed,
                        "namespace": namespace,
                        "dry_run": False,
                        "results": [r.to_json() for r in results],
                    }
                )
            )
        )
    else:
        for r in results:
            if r.ok:
                click.echo(f"Deleted {r.name}" + ("" if r.existed else " (it was already gone)"), err=True)
            else:
                click.echo(f"FAILED {r.name}: {r.error}", err=True)
    if failed:
        raise PartlyFailed(
            f"{len(failed):,} of {len(results):,} deletions failed: {', '.join(r.name for r in failed[:10])}"
        )
    _done()
