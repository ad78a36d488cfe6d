"""Commands that plug into the ``redraft`` command line, and the helpers they share.

A command is an object with :class:`Command`'s shape: ``help`` (its line in ``redraft
--help``), ``add_arguments(parser)`` and ``run(args) -> int`` (the exit status). Register a
zero-argument factory that returns one under the entry point group ``redraft.commands``;
the entry point's name is the command's name::

    [project.entry-points."redraft.commands"]
    train = "redraft.lab.cli:train_command"

``run`` raises :class:`~redraft.core.BadInputError` for bad input (exit 2, its message on
one line) and any other :class:`~redraft.core.RedraftError` for a failure (exit 1), as the
built-in commands do. ``redraft list`` lists the commands with the other plug-ins.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from redraft.core import BadInputError, Registry

__all__ = [
    "Command",
    "backend_log",
    "commands",
    "key_value",
    "option_error",
    "say",
]


@runtime_checkable
class Command(Protocol):
    """A ``redraft`` subcommand contributed by a plug-in."""

    help: str
    """One line for ``redraft --help``."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's options to its parser."""
        ...

    def run(self, args: argparse.Namespace) -> int:
        """Run the command with its parsed options; the exit status."""
        ...


commands = Registry("command", "redraft.commands")
"""Command plug-ins (entry point group ``redraft.commands``): name → factory of a Command."""


def key_value(text: str) -> tuple[str, Any]:
    """An argparse type for ``KEY=VALUE`` options; VALUE is parsed as JSON when it is."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        parsed = value
    return key.strip(), parsed


def option_error(exc: ValidationError) -> BadInputError:
    """The first invalid field of a config built from options, named as its option."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    if not where:  # a rule across options: its message names them
        return BadInputError(message)
    return BadInputError(f"--{where.replace('_', '-')}: {message}")


def say(quiet: bool, message: str) -> None:
    """Print a progress or result line on stderr unless ``quiet``."""
    if not quiet:
        print(message, file=sys.stderr)


def backend_log(verbose: bool) -> None:
    """``--verbose``: let backends log, without making it a recorded model option.

    A model option would be written to the manifest, and a resume with ``--verbose`` added
    would then be refused as a changed run; the environment variable is read at load time.
    """
    if verbose:
        from redraft.agent.backends.llamacpp import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"
