"""``assetsync manifest``: what a sync would send for a folder, without a server."""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import EXIT_HELP, done, warn
from .options import scan_options, settings_from, tenant_option


@click.command(epilog=EXIT_HELP)
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

    settings = settings_from(scan)
    result = build(folder, build_options(settings, settings.tenant), warn=warn)
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
    done()
