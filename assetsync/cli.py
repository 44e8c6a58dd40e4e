"""The ``assetsync`` command line: parse options, call the library, render what it reports.

No logic of its own lives here. Errors from :mod:`assetsync.errors` become one ``error:``
paragraph on stderr and the exit code documented in ``assetsync --help``.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__
from .errors import EXIT_CODES, AssetsyncError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())


def _warn(msg: str) -> None:
    click.echo(f"warning: {msg}", err=True)


def scan_options(fn: F) -> F:
    """Options shared by every command that reads an asset folder."""
    decorators = [
        click.option(
            "--tenant",
            metavar="ID",
            help="Salt the hashes with this tenant id, so tenants never share stored blobs.",
        ),
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
            type=click.Path(file_okay=False),
            help="Where the hash cache lives [default: the user cache folder].",
        ),
        click.option("--no-cache", is_flag=True, help="Read and hash every file; keep no cache."),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def build_options(
    tenant: str | None,
    hash_scheme: str,
    ignore: tuple[str, ...],
    no_default_ignores: bool,
    max_files: int,
    cache_dir: str | None,
    no_cache: bool,
) -> Any:
    """A :class:`~assetsync.build.BuildOptions` from the shared scan options."""
    from .build import BuildOptions
    from .hashing import HashScheme

    return BuildOptions(
        scheme=HashScheme(hash_scheme, tenant or ""),
        ignore=ignore,
        default_ignores=not no_default_ignores,
        max_files=max_files,
        use_cache=not no_cache,
        cache_dir=cache_dir,
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
@scan_options
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def manifest(folder: str, quiet: bool, **scan: Any) -> None:
    """Print the upload manifest of FOLDER as JSON.

    Stdout gets {"manifest": {...}} exactly as the upload session sends it, keys sorted; stderr
    gets a one-line summary. Root _headers, _redirects and .assetsignore are never assets.
    """
    from .build import build
    from .limits import human_size

    result = build(folder, build_options(**scan), warn=_warn)
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
    if _fast_exit:
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
    from .emulator.api import Limits
    from .emulator.app import create_app
    from .emulator.server import default_data_dir, run

    app = create_app(
        data_dir or default_data_dir(),
        api_tokens=_token_pairs(tokens, account_tokens),
        token_ttl=token_ttl,
        limits=Limits(max_files=max_files, bucket_bytes=bucket_mib << 20, bucket_files=bucket_files),
    )
    run(app, host, port, log_level)
