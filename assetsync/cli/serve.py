"""``assetsync serve``: the local emulator of the Cloudflare asset API as a server.

The one command module that imports :mod:`assetsync.emulator` (a contract in pyproject.toml);
the other commands reach the emulator through :mod:`assetsync.local`.
"""

from __future__ import annotations

import gc

import click

from ..protocol import FREE_PLAN_FILES, TOKEN_LIFETIME
from .app import EXIT_HELP
from .options import number_option


def _token_pairs(tokens: tuple[str, ...], account_tokens: tuple[str, ...]) -> dict[str, str | None] | None:
    """The API tokens to accept: each maps to its one account, or None for every account."""
    if not tokens and not account_tokens:
        return None
    out: dict[str, str | None] = {t: None for t in tokens}
    for item in account_tokens:
        account, sep, token = item.partition("=")
        if not sep or not account or not token:
            raise click.BadParameter("use ACCOUNT_ID=TOKEN", param_hint="--account-token")
        out[token] = account
    return out


@click.command(epilog=EXIT_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@number_option("--port", click.IntRange(0, 65535), 8787, "Port to listen on.")
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
    "--api-key",
    envvar="ASSETSYNC_EMULATOR_API_KEY",
    help="A global API key to accept for every account, with --email: what CLOUDFLARE_API_KEY and "
    "CLOUDFLARE_EMAIL send (X-Auth-Key / X-Auth-Email). None is accepted without it.",
)
@click.option("--email", envvar="ASSETSYNC_EMULATOR_EMAIL", help="The email that goes with --api-key.")
@number_option("--max-files", click.IntRange(min=1), FREE_PLAN_FILES, "Files per version.")
@number_option(
    "--bucket-mib",
    click.IntRange(min=1),
    40,
    "Most raw MiB of files the server asks for in one upload request (bucket).",
)
@number_option("--bucket-files", click.IntRange(min=1), 2000, "Most files in one bucket.")
@number_option(
    "--token-ttl",
    click.FloatRange(min=1),
    int(TOKEN_LIFETIME),
    "Lifetime of upload and completion tokens, in seconds.",
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
    api_key: str | None,
    email: str | None,
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
    if (api_key is None) != (email is None):
        raise click.UsageError("--api-key and --email go together: give both, or neither")
    gc.enable()
    from ..emulator.api import Limits
    from ..emulator.app import create_app
    from ..emulator.server import default_data_dir, run

    app = create_app(
        data_dir or default_data_dir(),
        api_tokens=_token_pairs(tokens, account_tokens),
        api_keys={email: api_key} if email and api_key else None,
        token_ttl=token_ttl,
        limits=Limits(max_files=max_files, bucket_bytes=bucket_mib << 20, bucket_files=bucket_files),
    )
    run(app, host, port, log_level)
