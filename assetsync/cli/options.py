"""The options several commands share, and what they become: a :class:`~assetsync.settings.Settings`
for the settings resolver and a :class:`~assetsync.wire.target.Target`.

An option is declared once here and every command that takes it uses the same group, so
``sync``, ``watch``, ``dev``, ``sync-all`` and ``manifest`` read a folder and deploy alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from ..pacing import DEFAULT_CONCURRENCY, START_CONCURRENCY
from ..protocol import FREE_PLAN_FILES, HTML_HANDLING, NOT_FOUND_HANDLING
from .app import warn

if TYPE_CHECKING:
    from ..engine import SyncOptions
    from ..protocol.ratelimit import RateLimit
    from ..settings import Project, Settings
    from ..wire.target import Target

F = TypeVar("F", bound=Callable[..., Any])  # a command's function, whatever its parameters
Params = Mapping[str, Any]  # a command's keyword arguments, as click passes them: untyped


class Decorator(Protocol):
    """What ``click.option`` returns: it adds to a command and gives it back."""

    def __call__(self, fn: F, /) -> F: ...


def option_group(*decorators: Decorator) -> Decorator:
    """Options that go together: a command decorated with the group gets them all, as if
    ``decorators`` were written above it in that order."""

    def decorate(fn: F) -> F:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return decorate


def number_option(name: str, kind: click.IntRange | click.FloatRange, default: float, help: str) -> Decorator:
    """An option taking a bounded number, its default shown in --help."""
    return click.option(name, type=kind, default=default, show_default=True, help=help)


# Running Workers' code on workerd, for the commands that serve previews (serve, dev).
runtime_options = option_group(
    click.option(
        "--runtime",
        type=click.Choice(["auto", "workerd", "none"]),
        default="auto",
        show_default=True,
        help="Run deployed Workers' code on workerd: auto (when workerd is found; otherwise assets "
        "only, said once; dev: only for a project with a main module), workerd (required: exit 2 "
        "without it) or none (assets only).",
    ),
    click.option(
        "--workerd",
        "workerd_path",
        type=click.Path(dir_okay=False),
        help="The workerd binary [default: $ASSETSYNC_WORKERD, then PATH, then ./node_modules/.bin/workerd].",
    ),
)

# Options shared by every command that reads an asset folder.
scan_options = option_group(
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
        help="Upload what is ignored by default too: .git/, node_modules/, OS and editor files, .env*.",
    ),
    number_option(
        "--max-files",
        click.IntRange(min=1),
        FREE_PLAN_FILES,
        "Refuse sites with more files (free plan 20,000; paid plans 100,000).",
    ),
    click.option(
        "--cache-dir",
        # Not checked here: a cache folder that cannot be used is a warning, never fatal.
        type=click.Path(readable=False),
        help="Where the hash cache lives [default: the user cache folder].",
    ),
    click.option("--no-cache", is_flag=True, help="Read and hash every file; keep no cache."),
)


tenant_option = click.option(
    "--tenant",
    metavar="ID",
    help="Salt the hashes with this tenant id, so tenants never share stored blobs.",
)


# What a deploy says besides the assets: module, compatibility, bindings, tags, handling.
worker_options = option_group(
    click.option(
        "--main",
        "main_file",
        type=click.Path(dir_okay=False),
        help="The Worker's main module (modules beside it go too).",
    ),
    click.option("--compatibility-date", metavar="YYYY-MM-DD", help="[default: from the config, else today]"),
    click.option("--compatibility-flag", "compat_flags", multiple=True, metavar="FLAG", help="Repeatable."),
    click.option(
        "--binding",
        "bindings",
        multiple=True,
        metavar="KIND:NAME[=VALUE]",
        help="A binding, as the config would declare it: text:NAME=VALUE, json:NAME=JSON, "
        "kv:NAME=NAMESPACE_ID, r2:NAME=BUCKET, d1:NAME=DATABASE_ID, queue:NAME=QUEUE, "
        "service:NAME=WORKER, durable_object:NAME=CLASS, hyperdrive, vectorize, analytics_engine, "
        "dispatch_namespace, mtls_certificate (NAME=ID); ai:NAME, browser:NAME, images:NAME, "
        "version_metadata:NAME, worker_loader:NAME (repeatable).",
    ),
    click.option(
        "--var",
        "vars",
        multiple=True,
        metavar="KEY:VALUE",
        help="A plain-text var, over the config's vars of that name (repeatable).",
    ),
    click.option(
        "--keep-vars",
        is_flag=True,
        help="Keep the vars set elsewhere, in the dashboard say (also when the config's keep_vars is true).",
    ),
    click.option(
        "--assets-binding",
        metavar="NAME",
        help="Name of the assets binding of a Worker [default: ASSETS].",
    ),
    click.option("--tag", "tags", multiple=True, help="Tag the script (repeatable)."),
    click.option(
        "--html-handling",
        type=click.Choice(HTML_HANDLING),
    ),
    click.option("--not-found-handling", type=click.Choice(NOT_FOUND_HANDLING)),
    click.option(
        "--run-worker-first",
        metavar="true|false|GLOBS",
        help="true, false, or comma-separated route globs.",
    ),
    click.option(
        "--strict",
        "strict_rules",
        is_flag=True,
        help="Lines of _redirects or _headers that the platform would ignore are errors (exit 3, "
        "before any upload), not warnings.",
    ),
)


# Which environment of the wrangler config to deploy.
env_option = click.option(
    "-e",
    "--env",
    "env",
    envvar="CLOUDFLARE_ENV",
    metavar="NAME",
    help="Deploy the wrangler config's [env.NAME]: its settings over the top level's, named by its "
    "own name, else <name>-NAME [env: CLOUDFLARE_ENV].",
)


# Where requests go: the API with credentials, else the embedded emulator.
target_options = option_group(
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
    click.option(
        "--local",
        is_flag=True,
        help="Use the local emulator on purpose, whatever credentials the environment holds. In CI "
        "(CI set) without credentials this is needed: assetsync otherwise stops with exit 6.",
    ),
)


# How long to wait for the server, and how often to ask.
request_options = option_group(
    number_option(
        "--timeout",
        click.FloatRange(min=1),
        60,
        "Seconds a request may go without progress (no byte sent or answered) before it counts as "
        "stalled and is retried. A slow link is never a stall: uploads take as long as the link needs.",
    ),
    number_option(
        "--attempts",
        click.IntRange(1, 20),
        6,
        "Tries per request before giving up while the API keeps failing "
        "(while other requests get through, a request keeps trying, up to 3x as many).",
    ),
)


def rate_limit_text(ctx: click.Context, param: click.Parameter, value: str | None) -> RateLimit | None:
    """``--rate-limit``'s text as a :class:`~assetsync.protocol.ratelimit.RateLimit` (exit 2 if bad)."""
    if value is None:
        return None
    from ..errors import UsageError
    from ..protocol.ratelimit import RateLimit

    try:
        return RateLimit.parse(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc)) from None


def rate_limit_option(share: str = "") -> Decorator:
    """The most of the API's rate limit a run may use; ``share`` says how a run splits it."""
    return click.option(
        "--rate-limit",
        metavar="REQUESTS/SECONDS",
        callback=rate_limit_text,
        help="Use at most this much of the API's rate limit, e.g. 600/300 when other tools use the "
        "same token (Cloudflare allows 1200/300 per token). Every request is paced to stay within "
        "it and within what the server's Ratelimit headers say is left, instead of being blocked "
        f"with 429s. [default: the server's limit{share}]",
    )


def concurrency_option(help: str) -> Decorator:
    """Uploads in flight: ``help`` says across what."""
    return number_option("--concurrency", click.IntRange(1, 64), DEFAULT_CONCURRENCY, help)


# Options shared by the commands that deploy (sync, watch, dev): target, script, settings.
deploy_options = option_group(
    click.argument("folder", required=False, type=click.Path(file_okay=True, dir_okay=True)),
    click.option("--name", help="Worker name [default: from the wrangler config, else the folder's name]."),
    click.option(
        "--namespace",
        metavar="NS",
        help="Deploy a Workers for Platforms user worker into this dispatch namespace.",
    ),
    click.option("--no-salt", is_flag=True, help="In a namespace, do not salt hashes with the script name."),
    tenant_option,
    scan_options,
    worker_options,
    click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="wrangler.toml / wrangler.json(c) to read [default: found in the current folder or "
        "its parents].",
    ),
    env_option,
    target_options,
    concurrency_option(
        f"Most uploads in flight. A run starts at {START_CONCURRENCY} and follows the measured "
        "throughput: more while they add to it (a far link), fewer when they only split a full one, "
        "and half as many when the server pushes back."
    ),
    request_options,
    rate_limit_option(),
)


def _run_worker_first(value: str | None) -> bool | tuple[str, ...] | None:
    if value is None:
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return tuple(v.strip() for v in value.split(",") if v.strip())


def settings_from(p: Params) -> Settings:
    """What the options above asked for, as the settings resolver takes it; an option a command
    does not have is left to the config and the defaults."""
    from ..settings import Settings

    return Settings(
        folder=p.get("folder"),
        config_path=p.get("config_path"),
        env=p.get("env"),
        name=p.get("name"),
        namespace=p.get("namespace"),
        tenant=p.get("tenant"),
        salt=not p.get("no_salt", False),
        hash_scheme=p["hash_scheme"],
        main=p.get("main_file"),
        assets_binding=p.get("assets_binding"),
        bindings=p.get("bindings", ()),
        vars=p.get("vars", ()),
        keep_vars=p.get("keep_vars", False),
        compatibility_date=p.get("compatibility_date"),
        compatibility_flags=p.get("compat_flags", ()),
        tags=p.get("tags", ()),
        html_handling=p.get("html_handling"),
        not_found_handling=p.get("not_found_handling"),
        run_worker_first=_run_worker_first(p.get("run_worker_first")),
        strict_rules=p.get("strict_rules", False),
        ignore=p["ignore"],
        default_ignores=not p["no_default_ignores"],
        max_files=p["max_files"],
        cache=not p["no_cache"],
        cache_dir=p["cache_dir"],
        concurrency=p.get("concurrency"),
        timeout=p.get("timeout"),
        attempts=p.get("attempts"),
        rate_limit=p.get("rate_limit"),
    )


def target_from(p: Params) -> Target:
    """The target the target options name: the API with credentials, else the embedded emulator
    (which, in CI, takes ``--local``); ``--local`` with an account or API base given on the
    command line is a contradiction, not a choice."""
    from ..errors import UsageError
    from ..local import resolve_target

    if p.get("local"):
        ctx = click.get_current_context(silent=True)
        for name, flag in (("account_id", "--account-id"), ("api_base", "--api-base")):
            if ctx is not None and ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                raise UsageError(f"--local and {flag} contradict each other: drop one of them")
        return resolve_target(local_data=p["local_data"], local=True)
    return resolve_target(p["account_id"], None, p["api_base"], p["local_data"])


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a deploying command (sync, watch, dev) works with, once its options are resolved."""

    folder: str
    options: SyncOptions
    target: Target
    reload: Callable[[], SyncOptions]  # the options again, from the config as it is now
    # The wrangler config and the Worker's main module the last resolve read (None: none).
    inputs: Callable[[], tuple[str | None, str | None]] = lambda: (None, None)


def prepare(
    p: Params,
    *,
    dry_run: bool = False,
    offline: bool = False,
    allow_empty: bool = False,
    local: bool = False,
    warning: Callable[[str], None] = warn,
) -> Prepared:
    """The folder, options and target to use (flags, then the wrangler config, then defaults:
    :func:`assetsync.settings.resolve`); ``local``: the embedded emulator whatever the
    environment holds; ``warning`` shows what the config resolution warns about."""
    from ..local import resolve_target
    from ..settings import resolve_project

    settings = replace(settings_from(p), dry_run=dry_run, offline=offline, allow_empty=allow_empty)
    last: list[Project] = []  # the project as last resolved

    def reload() -> SyncOptions:
        last[:] = [resolve_project(settings)]
        for line in last[0].warnings:
            warning(line)
        return last[0].options

    opts = reload()
    target = resolve_target(local_data=p["local_data"], local=True) if local else target_from(p)
    return Prepared(last[0].folder, opts, target, reload, lambda: (last[0].config.path, last[0].main))
