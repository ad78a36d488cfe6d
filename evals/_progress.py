"""Watching a run: observers see every record; :class:`ProgressBar` draws it with rich."""

from __future__ import annotations

import sys
import time
from typing import IO, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from redraft.evals._events import EpisodeEndEvent, Event, StepEvent

__all__ = ["ProgressBar", "RunObserver"]


class RunObserver(Protocol):
    """Sees a run as it goes: told the totals first, then every record, then the end."""

    def start(self, total: int, done: int) -> None:
        """The run holds ``total`` episodes, ``done`` of them finished earlier (resume)."""
        ...

    def write(self, event: Event) -> None:
        """One record, as it is logged."""
        ...

    def finish(self) -> None:
        """The run stopped (finished or failed)."""
        ...


class ProgressBar:
    """A progress bar on stderr: episodes done, steps/s, and e_raw/e_post so far.

    ``e_raw`` is the share of round-0 proposals the oracle rejected, ``e_post`` the share of
    committed outputs it rejected, over the steps of this session.

    Args:
        stream: where to draw (stderr by default).
        enabled: False draws nothing; None draws only when the stream is a terminal.
    """

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool | None = None) -> None:
        stream = stream if stream is not None else sys.stderr
        self.enabled = stream.isatty() if enabled is None else enabled
        self._progress = Progress(
            TextColumn("[bold]episodes"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>7.1f} steps/s"),
            TextColumn("e_raw {task.fields[e_raw]}  e_post {task.fields[e_post]}"),
            TimeElapsedColumn(),
            console=Console(file=stream, force_terminal=self.enabled or None),
            disable=not self.enabled,
            transient=False,
        )
        self._task_id = self._progress.add_task(
            "episodes", total=None, rate=0.0, e_raw="-", e_post="-"
        )
        self._steps = 0
        self._raw_wrong = self._raw_known = 0
        self._post_wrong = self._post_known = 0
        self._since = time.perf_counter()

    def start(self, total: int, done: int) -> None:
        """Show ``done`` of ``total`` and start the clock."""
        self._since = time.perf_counter()
        self._progress.update(self._task_id, total=total, completed=done)
        self._progress.start()

    def write(self, event: Event) -> None:
        """Count steps and errors; advance on every episode end."""
        if isinstance(event, StepEvent):
            self._steps += 1
            # Unknown judgements are left out of the rates, never counted as errors.
            if event.initial != "unknown":
                self._raw_known += 1
                self._raw_wrong += event.initial == "incorrect"
            if event.final != "unknown":
                self._post_known += 1
                self._post_wrong += event.final == "incorrect"
            elapsed = max(time.perf_counter() - self._since, 1e-9)
            self._progress.update(
                self._task_id,
                rate=self._steps / elapsed,
                e_raw=_share(self._raw_wrong, self._raw_known),
                e_post=_share(self._post_wrong, self._post_known),
            )
        elif isinstance(event, EpisodeEndEvent):
            self._progress.advance(self._task_id)

    def finish(self) -> None:
        """Stop drawing."""
        self._progress.stop()


def _share(wrong: int, known: int) -> str:
    return f"{wrong / known:.3f}" if known else "-"
