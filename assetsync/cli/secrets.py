"""``assetsync secret put|list|delete``: the secrets of a Worker, or of a user Worker in a dispatch
namespace.

A value comes from stdin when stdin is not a terminal, else from a prompt that does not echo it;
never from the command line, where the shell's history and the process list would keep it. No
output holds a value: not the messages, not the errors, not ``--json``.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .app import EXIT_HELP, done, json_failure
from .options import option_group, request_options, target_from, target_options

_script_options = option_group(
    click.option("--name", "script", required=True, metavar="SCRIPT", help="The Worker's name."),
    click.option(
        "--namespace",
        metavar="NS",
        help="The Worker is a user Worker in this dispatch namespace (Workers for Platforms).",
    ),
    target_options,
    request_options,
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


@click.group()
def secret() -> None:
    """Set, list and delete the secrets of a Worker (its secret_text bindings).

    Deploys keep them: set a secret once, and every later sync leaves it in place.
    """


def _check(script: str, namespace: str | None) -> None:
    from ..wire.plan import check_namespace, check_script_name

    check_script_name(script, "Fix --name.")
    if namespace is not None:
        check_namespace(namespace)


def _whose(script: str, namespace: str | None) -> str:
    return f"{script} (namespace {namespace})" if namespace else script


def _document(script: str, namespace: str | None, **body: Any) -> None:
    """The ``--json`` document of a command that succeeded."""
    import json

    from ..events import json_document

    print(json.dumps(json_document({"ok": True, "script": script, "namespace": namespace, **body})))


def _read_value(name: str) -> str:
    """The value of secret ``name``: stdin when it is not a terminal (trailing whitespace trimmed,
    as wrangler does), else asked for without echo."""
    from ..errors import UsageError

    if sys.stdin.isatty():
        value: str = click.prompt(f"Value of secret {name}", hide_input=True, err=True)
    else:
        try:
            value = sys.stdin.read()
        except UnicodeDecodeError:
            raise UsageError(f"secret {name}: the value on stdin is not UTF-8 text") from None
    value = value.rstrip()
    if not value:
        raise UsageError(
            f"secret {name}: no value on stdin. Pipe it in (printf '%s' \"$VALUE\" | assetsync secret put "
            f"{name} --name ...), or run on a terminal to be asked for it."
        )
    return value


def _read_json_file(path: str) -> dict[str, str]:
    """``path``'s secrets: a JSON object of name -> value; a ConfigError naming the file and the
    key at fault (never a value)."""
    import json

    from ..errors import ConfigError

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f'{path}: expected a JSON object of secrets, {{"NAME": "value", ...}}, with at least one'
        )
    for key, value in data.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{path}: the value of {key!r} must be a non-empty string"
                + (" (to remove a secret, use assetsync secret delete)" if value is None else "")
            )
    return data


@secret.command("put", epilog=EXIT_HELP)
@click.argument("key", required=False, metavar="[NAME]")
@click.option(
    "--from-json",
    "from_json",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help='Set many at once: FILE holds a JSON object {"NAME": "value", ...} (like wrangler secret bulk).',
)
@_script_options
@_json_option
def secret_put(
    key: str | None, from_json: str | None, script: str, namespace: str | None, as_json: bool, **params: Any
) -> None:
    """Set secret NAME of a Worker (a new value replaces the old one).

    The value is read from stdin when stdin is not a terminal, else asked for without echo. With
    --from-json, every secret of FILE is set, one after the other; all are checked first.
    """
    from ..errors import UsageError
    from ..retry import Retries
    from ..secrets import check_secret_name, put_secrets_to

    with json_failure(as_json):
        _check(script, namespace)
        if key and from_json:
            raise UsageError("give the secret's NAME or --from-json FILE, not both")
        if from_json:
            values = _read_json_file(from_json)
        elif key:
            values = {key: _read_value(check_secret_name(key))}
        else:
            raise UsageError("name the secret (assetsync secret put NAME ...), or give --from-json FILE")
        target = target_from(params)
        names = put_secrets_to(
            target, script, namespace, values, Retries(params["attempts"]), params["timeout"]
        )
    for name in names:
        click.echo(f"Set secret {name} of {_whose(script, namespace)}", err=True)
    if as_json:
        _document(script, namespace, set=names)
    done()


@secret.command("list", epilog=EXIT_HELP)
@_script_options
@_json_option
def secret_list(script: str, namespace: str | None, as_json: bool, **params: Any) -> None:
    """List the secrets of a Worker: their names and types (the API never shows a value)."""
    from ..retry import Retries
    from ..secrets import list_secrets_of

    with json_failure(as_json):
        _check(script, namespace)
        found = list_secrets_of(
            target_from(params), script, namespace, Retries(params["attempts"]), params["timeout"]
        )
    if as_json:
        _document(script, namespace, count=len(found), secrets=[s.to_json() for s in found])
    else:
        width = max([len("NAME"), *(len(s.name) for s in found)])
        click.echo(f"{'NAME':<{width}}  TYPE")
        for s in found:
            click.echo(f"{s.name:<{width}}  {s.type}")
        click.echo(
            f"{len(found):,} secret{'s' if len(found) != 1 else ''} of {_whose(script, namespace)}", err=True
        )
    done()


@secret.command("delete", epilog=EXIT_HELP)
@click.argument("key", metavar="NAME")
@_script_options
@click.option("-y", "--yes", is_flag=True, help="Delete without asking (needed when not on a terminal).")
@_json_option
def secret_delete(
    key: str, script: str, namespace: str | None, yes: bool, as_json: bool, **params: Any
) -> None:
    """Delete secret NAME of a Worker.

    Asks on a terminal; elsewhere it needs --yes (exit 10 without it: nothing deleted).
    """
    from ..errors import NotConfirmed
    from ..retry import Retries
    from ..secrets import check_secret_name, delete_secret_from

    with json_failure(as_json):
        _check(script, namespace)
        check_secret_name(key)
        click.echo(f"Deleting secret {key} of {_whose(script, namespace)}", err=True)
        if not yes:
            if not sys.stdin.isatty():
                raise NotConfirmed(
                    f"refusing to delete secret {key} without --yes: stdin is not a terminal, so nobody "
                    "can be asked. Run again with --yes."
                )
            if not click.confirm(f"Delete secret {key}?", err=True):
                raise NotConfirmed("not confirmed: nothing was deleted.")
        target = target_from(params)
        delete_secret_from(target, script, namespace, key, Retries(params["attempts"]), params["timeout"])
    click.echo(f"Deleted secret {key} of {_whose(script, namespace)}", err=True)
    if as_json:
        _document(script, namespace, deleted=key)
    done()
