"""The command-line options several benchmarks take, spelled once: smaller data, how many runs,
the work folder and whether to keep it, which wrangler.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from common.clients import default_wrangler


def parser(
    description: str, name: str, holds: str, quick: str, repeat: tuple[str, int] | None = None
) -> argparse.ArgumentParser:
    """A parser with the options of a benchmark that makes its data in a work folder: ``--quick``
    (smaller data, as ``quick`` says), ``--repeat`` (``repeat``: its help and default, if not
    :func:`add_repeat`'s), ``--workdir`` (see :func:`add_workdir`) and ``--keep``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help=quick)
    add_repeat(p, *(repeat or ()))
    add_workdir(p, name, holds)
    p.add_argument("--keep", action="store_true", help=f"keep the {holds} (else deleted at exit)")
    return p


def add_repeat(
    p: argparse.ArgumentParser, help: str = "runs per measurement; best is kept", default: int = 3
) -> None:
    p.add_argument("--repeat", type=int, default=default, metavar="N", help=help)


def add_workdir(p: argparse.ArgumentParser, name: str, holds: str) -> None:
    """``--workdir``, whose default is :func:`common.workdirs.default_workdir` of ``name``."""
    p.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help=f"where {holds} live [default: <repo>/.bench/{name}, else a temp folder]",
    )


def add_wrangler(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wrangler",
        type=Path,
        metavar="PATH",
        default=default_wrangler(),
        help="the wrangler CLI [default: $ASSETSYNC_WRANGLER, else <repo>/.tools/node_modules/.bin/wrangler]",
    )


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed arguments; an error unless ``--repeat`` is at least 1."""
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args
