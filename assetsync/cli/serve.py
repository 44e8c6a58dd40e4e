"""``assetsync serve``: the local emulator of the Cloudflare asset API as a server.

The one command module that imports :mod:`assetsync.emulator` (a contract in pyproject.toml);
the other commands reach the emulator through :mod:`assetsync.local`.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import click

from ..protocol import FREE_PLAN_FILES, TOKEN_LIFETIME
from .app import EXIT_HELP
from .options import number_option, rate_limit_text, runtime_options

if TYPE_CHECKING:
    from ..emulator.link import LinkSpec
    from ..protocol.ratelimit import RateLimit


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


def _link(ctx: click.Context, param: click.Parameter, value: str | None) -> LinkSpec | None:
    """``--link``'s text as a :class:`LinkSpec`; bad text is a usage error (exit 2) that says why."""
    if value is None:
        return None
    from ..emulator.link import LinkSpec

    try:
        return LinkSpec.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


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
    "--link",
    metavar="SPEC",
    callback=_link,
    help="Also serve the API through a simulated network link, on another free port (printed), to "
    "try a deploy on a slow or distant uplink: RATE/RTT, e.g. 8mbit/40ms (a home uplink), "
    "2mbit/100ms, 100kB/200ms; then any of up=RATE, down=RATE, rtt=80ms, reset=1% (requests cut "
    "by a TCP reset), seed=N, as in 8mbit/40ms,up=2mbit,reset=1%. Rates in bit, kbit, mbit, gbit "
    "or B, kB, MB, KiB, MiB per second, or unlimited. The API base printed first stays direct.",
)
@click.option(
    "--rate-limit",
    metavar="REQUESTS/SECONDS",
    callback=rate_limit_text,
    help="Model the API's rate limit: each credential (API token, upload token, or API key and "
    "email) may make REQUESTS calls per window of SECONDS; the next call is answered 429 with "
    "Retry-After, and so is every call until a whole window has passed. Every API answer carries "
    "the Ratelimit and Ratelimit-Policy headers. Cloudflare's is 1200/300; tests use compressed "
    "windows such as 120/10. [default: no limit]",
)
@runtime_options
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
    link: LinkSpec | None,
    rate_limit: RateLimit | None,
    runtime: str,
    workerd_path: str | None,
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
    from ..wire.target import LOCAL_ACCOUNT

    app = create_app(
        data_dir or default_data_dir(),
        api_tokens=_token_pairs(tokens, account_tokens),
        api_keys={email: api_key} if email and api_key else None,
        token_ttl=token_ttl,
        limits=Limits(max_files=max_files, bucket_bytes=bucket_mib << 20, bucket_files=bucket_files),
        default_account=LOCAL_ACCOUNT,  # what sync and dev deploy to without credentials
        runtime=runtime,
        workerd=workerd_path,
        rate_limit=rate_limit,
    )
    run(app, host, port, log_level, link=link)  # a missing workerd under --runtime workerd: exit 2
