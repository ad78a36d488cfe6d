"""The ``redraft`` command's entry point: Ctrl-C is handled from its first line.

Importing the command line takes most of a second (pydantic models, LangGraph, numpy,
rich), and a Ctrl-C in that time used to print a long ``KeyboardInterrupt`` traceback. This
module imports nothing heavy (``redraft.evals`` loads its names lazily): :func:`main`
installs a SIGINT handler first, which ends the process at once with the one line and exit
status 130 while the imports run (there is nothing to clean up yet), then hands Ctrl-C back
to Python's own handler, which the command line turns into the same line after cleaning up
(asyncio's graceful cancellation included).

A SIGINT that the parent ignores (``nohup``, a shell's background job) stays ignored.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

__all__ = ["INTERRUPTED", "main"]

INTERRUPTED = "redraft: interrupted; rerun the same command to resume"
"""The line a Ctrl-C prints (exit status 130)."""
_EXIT_INTERRUPTED = 130


def _stop_now(signum: int, frame: object) -> None:
    os.write(2, INTERRUPTED.encode() + b"\n")
    os._exit(_EXIT_INTERRUPTED)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``redraft`` command; return the exit status (see :mod:`redraft.evals.cli`)."""
    handled = signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    if handled:
        signal.signal(signal.SIGINT, _stop_now)
        if hasattr(signal, "pthread_sigmask"):
            # A Ctrl-C held back until now (a parent that blocked it) arrives here.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        from redraft.evals.cli import main as run
        from redraft.evals.cli import preload

        preload(argv)
        if handled:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return run(argv)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return _EXIT_INTERRUPTED
