"""The ``assetsync`` group and how its process starts and ends.

Every command is added to :data:`main` by the package (:mod:`assetsync.cli`). Errors from
:mod:`assetsync.errors` become one ``error:`` paragraph on stderr and the exit code documented in
``assetsync --help``; with ``--json`` they are also one document on stdout
(:func:`json_failure`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from .. import __version__
from ..errors import EXIT_CODES, AssetsyncError

EXIT_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())


class Group(click.Group):
    """Turns assetsync's own errors into a clear message and their documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:  # click types a command's result as Any
        try:
            return super().invoke(ctx)
        except AssetsyncError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=Group, epilog=EXIT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assetsync")
def main() -> None:
    """Publish folders of static files to Cloudflare Workers and Workers for Platforms."""


_fast_exit = False  # set by the console entry point: the process ends with the command


def entry() -> None:
    """The ``assetsync`` console script and ``python -m assetsync``."""
    global _fast_exit
    _fast_exit = True
    # A one-shot command allocates a few objects per file and frees them all at exit: cyclic
    # GC passes over 100,000 live entries would cost more than the work (measured: 0.5 s).
    # Long-running commands (serve, dev) turn it back on.
    gc.disable()
    main()


def done() -> None:
    """End a one-shot command: when it owns the process, skip freeing every object one by one.

    Tearing down 100,000 manifest entries costs more than a warm scan of a small site.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if _fast_exit and sys.getprofile() is None and sys.gettrace() is None:  # profilers must get to write
        os._exit(0)


def warn(msg: str) -> None:
    """What the library passes as ``warn``: a line on stderr that does not stop the command."""
    click.echo(f"warning: {msg}", err=True)


@contextlib.contextmanager
def json_failure(as_json: bool, catch: type[Exception] = AssetsyncError) -> Iterator[None]:
    """With --json, an error that stops a command before its document is printed still leaves
    one JSON document on stdout, ``{"ok": false, "error": ...}``; ``catch``: the errors that do
    (any other exception's exit code is 1)."""
    try:
        yield
    except catch as exc:
        if as_json:
            import json

            from ..events import failure_json

            print(json.dumps(failure_json(exc)))
        raise
