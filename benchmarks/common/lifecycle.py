"""The frame of a benchmark run: progress notes on stderr (stdout holds only the results),
SIGTERM taken as Ctrl-C, and the exit statuses every script shares: 2 when the benchmark could
not run, 130 when interrupted. What the run started is stopped, and its data removed, on every
way out.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable
from types import FrameType

from common import BenchError

COULD_NOT_RUN = 2
INTERRUPTED = 130


def note(msg: str) -> None:
    """A progress line, on stderr."""
    print(msg, file=sys.stderr, flush=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def guarded(measure: Callable[[contextlib.ExitStack], None]) -> int:
    """Run ``measure``, which registers on the stack it is given whatever must be stopped or
    removed; 0 when it ran to its end, else an error line and :data:`COULD_NOT_RUN`, or
    :data:`INTERRUPTED` on Ctrl-C or SIGTERM. The stack unwinds after that note, with SIGTERM
    ignored so that the clean-up finishes."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = contextlib.ExitStack()
    status = 0
    try:
        measure(stack)
    except BenchError as exc:
        note(f"error: {exc}")
        status = COULD_NOT_RUN
    except KeyboardInterrupt:
        note("interrupted: stopping the servers")
        status = INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stack.close()
        finally:
            signal.signal(signal.SIGTERM, previous)
    return status
