"""``assetsync sync-all``: publish every tenant folder under a root into one dispatch namespace."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from .app import EXIT_HELP, done, json_failure, warn
from .options import (
    concurrency_option,
    env_option,
    number_option,
    rate_limit_option,
    request_options,
    scan_options,
    settings_from,
    target_from,
    target_options,
    worker_options,
)
from .scripts import confirm_deletion

SYNC_ALL_EXITS = (
    "\b\nsync-all exit codes: 0 every tenant deployed; 9 one or more tenants failed (each has its row,\n"
    "the others were deployed); 6 the API refused the token (the run stops, tenants not yet\n"
    "started are not attempted); 10 --prune not confirmed (nothing deployed or deleted); 2 bad\n"
    "options; 4 ROOT missing. The other codes below appear in a failed tenant's row.\n\n"
)


@click.command("sync-all", epilog=SYNC_ALL_EXITS + EXIT_HELP)
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
@env_option
@target_options
@concurrency_option(
    "Uploads in flight across all tenants together (adapts down when the server pushes back)."
)
@number_option(
    "--tenant-concurrency",
    click.IntRange(1, 512),
    16,
    "Tenants in progress at once (hashing, opening sessions, deploying).",
)
@request_options
@rate_limit_option("; with --shard I/N, each shard takes 1/N of it")
@click.option(
    "--verify",
    type=click.Choice(["list", "full"]),
    default="list",
    show_default=True,
    help="How an unchanged tenant is told. list: a tenant whose folder and settings match its "
    "record of the last deploy is checked against the namespace's script list (100 scripts a "
    "request) and skipped if its script is as recorded. full: a session and a deploy per tenant.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every tenant and ask the server what each one to deploy lacks; upload, deploy and "
    "delete nothing. Prints the plan: tenants to deploy, requests, and the time the rate limit takes.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="With --dry-run: send no request. Tenants are judged by their records alone, and every "
    "file of a tenant to deploy counts as an upload.",
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
    verify: str,
    dry_run: bool,
    offline: bool,
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
    wrangler.json / wrangler.jsonc / wrangler.toml inside a tenant's folder decides what they leave
    unsaid for that tenant (its assets.directory, main, compatibility settings, vars, bindings,
    assets options, and with --env its [env.NAME]), as with sync, and is never uploaded.
    Folders starting with '.' are skipped.

    Tenants run concurrently over one connection pool; one tenant's failure never stops the
    others, and each gets a row (--json prints them all).

    After each deploy a record of what went in (and the script's etag) is kept in the cache
    folder (--cache-dir); a tenant unchanged since, by its record and the namespace's script
    list, is skipped and costs no request of its own (--verify full deploys every tenant).
    """
    import asyncio
    import json

    from ..errors import AuthError, Interrupted, PartlyFailed
    from ..tenants import Shard, SyncAllOptions, check_namespace, discover, sync_all_async
    from .render import TenantsRenderer, output_mode

    with json_failure(as_json):
        check_namespace(namespace)
        chosen = Shard.parse(shard) if shard else None
        settings = replace(
            settings_from(params),
            namespace=namespace,
            salt=not no_salt,
            dry_run=dry_run,
            offline=offline,
            allow_empty=allow_empty,
        )
        target = target_from(params)
        options = SyncAllOptions(
            settings,
            shard=chosen,
            prune=prune,
            tenants_at_once=tenant_concurrency,
            verify=verify,
        )
        found = discover(root)
        total = sum(1 for t in found if chosen is None or chosen.holds(t.name))
        mode = output_mode(quiet, as_json)
        renderer = TenantsRenderer(mode, total, verbose=verbose, dry_run=dry_run)
        if mode != "quiet":
            share = f" (shard {chosen} of {len(found):,} found)" if chosen else ""
            renderer.say(
                f"Publishing {total:,} tenant{'s' if total != 1 else ''}{share} from {root} into namespace "
                f"{namespace} on {target.label}"
            )

        def confirm(names: list[str]) -> bool:
            return confirm_deletion(names, namespace, yes, "--prune would delete")

        try:
            report = asyncio.run(
                sync_all_async(root, options, target, on_event=renderer, warn=warn, confirm_prune=confirm)
            )
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted: tenants (and prune deletions) that finished stay done; the others were not "
                "deployed (a tenant is never half deployed)"
            ) from None
    renderer.finish(report)
    if as_json:
        print(json.dumps(report.to_json()))
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
    done()
