"""``assetsync sync``: publish one folder once, to the API or the local emulator."""

from __future__ import annotations

from typing import Any

import click

from .app import EXIT_HELP, done, json_failure, warn
from .options import deploy_options, prepare


@click.command(epilog=EXIT_HELP)
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

    With CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with
    CLOUDFLARE_EMAIL) set it publishes to the API (or the server at --api-base) and says where
    it went; without credentials it syncs into the local emulator, which `assetsync serve` then
    previews (in CI, only with --local). Settings come from flags, then wrangler.toml /
    wrangler.json(c), then defaults.
    """
    import json

    from ..engine import sync as run_sync
    from ..errors import Interrupted, UsageError
    from .render import Renderer, output_mode

    with json_failure(as_json):  # a refusal before the sync is a JSON document too
        if offline and not dry_run:
            raise UsageError("--offline only goes with --dry-run")
        prepared = prepare(params, dry_run=dry_run, offline=offline, allow_empty=allow_empty)
    folder, options, target = prepared.folder, prepared.options, prepared.target
    name, namespace = options.script, options.namespace

    renderer = Renderer(output_mode(quiet, as_json), verbose=verbose)
    if not quiet and not as_json:
        renderer.say(
            f"Syncing {folder} to {name}"
            + (f" in namespace {namespace}" if namespace else "")
            + f" on {target.label}"
        )
    try:
        # Any failure of the sync itself is a JSON document with --json; an interruption is not.
        with json_failure(as_json, catch=Exception):
            report = run_sync(folder, options, target, on_event=renderer, warn=warn)
    except KeyboardInterrupt:
        raise Interrupted("interrupted: nothing was deployed by this run") from None
    renderer.finish(report)
    if as_json:
        print(json.dumps(report.to_json()))
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
    done()
