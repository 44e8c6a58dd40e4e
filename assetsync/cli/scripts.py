"""``assetsync scripts list|delete``: the scripts of a dispatch namespace, and asking before any
deletion (``sync-all --prune`` asks the same way)."""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import EXIT_HELP, done, json_failure
from .options import option_group, request_options, target_from, target_options


def confirm_deletion(names: list[str], namespace: str, yes: bool, why: str) -> bool:
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


@click.group(cls=click.Group)
def scripts() -> None:
    """List and delete the scripts of a dispatch namespace (Workers for Platforms)."""


_namespace_options = option_group(
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
    import json

    from ..events import json_document
    from ..namespace import list_namespace
    from ..retry import Retries
    from ..tenants import check_namespace

    with json_failure(as_json):
        check_namespace(namespace)
        target = target_from(params)
        found = list_namespace(
            target, namespace, with_tags, without_tags, Retries(params["attempts"]), params["timeout"]
        )
    if as_json:
        print(
            json.dumps(
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
    done()


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
    import json

    from ..errors import NotConfirmed, PartlyFailed, UsageError
    from ..events import json_document
    from ..namespace import delete_from_namespace, list_namespace
    from ..protocol import SCRIPT_NAME_RULE, is_script_name
    from ..retry import Retries
    from ..tenants import check_namespace

    with json_failure(as_json):
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
        target = target_from(params)
        retries = Retries(params["attempts"])
        chosen = list(dict.fromkeys(names))
        if not chosen:
            found = list_namespace(target, namespace, with_tags, without_tags, retries, params["timeout"])
            chosen = [s.name for s in found]
        if not chosen:
            if as_json:
                print(
                    json.dumps(
                        json_document({"ok": True, "namespace": namespace, "dry_run": dry_run, "results": []})
                    )
                )
            else:
                click.echo(f"No script in {namespace} matches: nothing to delete", err=True)
            done()
            return
        if dry_run:
            click.echo(f"Would delete {len(chosen):,} script(s) from {namespace}:", err=True)
            for name in chosen:
                click.echo(f"  {name}", err=True)
            if as_json:
                print(
                    json.dumps(
                        json_document(
                            {"ok": True, "namespace": namespace, "dry_run": True, "would_delete": chosen}
                        )
                    )
                )
            done()
            return
        if not confirm_deletion(chosen, namespace, yes, "Deleting"):
            raise NotConfirmed("not confirmed: nothing was deleted.")
        results = delete_from_namespace(target, namespace, chosen, retries, params["timeout"])
    failed = [r for r in results if not r.ok]
    if as_json:
        print(
            json.dumps(
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
    done()
