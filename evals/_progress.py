"""Watching a run: observers see every record; :class:`ProgressBar` shows it in steps.

A run's length is counted in steps, not episodes: with episodes no more than the batch size,
every episode finishes in the last iteration, and an episode counter would sit at 0/N until
the end. Episodes end early (an error under ``stop``, a natural end), so the total number of
steps is estimated as the run goes: each episode still to run is expected to take
``(1 - (1-p)^(M-s)) / p`` more steps, where ``p`` is the share of steps so far that ended an
episode before ``max_steps`` and ``s`` the steps it has taken. The estimate starts at the
upper bound ``episodes × max_steps`` and settles as episodes end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Literal, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn

from redraft.agent.backends.contention import (
    RunnableWatch,
    cpus_available,
    oversubscribed,
)
from redraft.evals._events import EpisodeEndEvent, Event, StepEvent

__all__ = ["ProgressBar", "RunObserver", "StepEstimate", "busy_note", "machine_load"]

ETA_AFTER_STEPS = 5
"""Steps that must have finished before an ETA is shown."""
PLAIN_INTERVAL = 10.0
"""Seconds between plain-text progress lines (a line is also printed at each tenth done)."""


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


class StepEstimate:
    """Steps done and the expected total, from the episodes' progress so far.

    Args:
        max_steps: the run's step limit per episode (None: no total is estimated).
    """

    def __init__(self, max_steps: int | None) -> None:
        self.max_steps = max_steps
        self.episodes = 0
        """Episodes this session will run."""
        self.steps = 0
        """Steps committed this session."""
        self.ended = 0
        """Episodes ended this session."""
        self._early_ends = 0
        self._running: dict[int, int] = {}

    def start(self, episodes: int) -> None:
        """``episodes`` are left to run."""
        self.episodes = episodes

    def step(self, episode: int) -> None:
        """One step of ``episode`` was committed."""
        self.steps += 1
        self._running[episode] = self._running.get(episode, 0) + 1

    def end(self, episode: int, steps: int) -> None:
        """``episode`` ended after ``steps`` steps."""
        self.ended += 1
        self._running.pop(episode, None)
        if self.max_steps is None or steps < self.max_steps:
            self._early_ends += 1

    def _remaining(self, taken: int) -> float:
        left = max((self.max_steps or 0) - taken, 0)
        p = self._early_ends / self.steps if self.steps else 0.0
        if p <= 0.0:
            return float(left)
        if p >= 1.0:
            return min(1.0, float(left))
        return (1.0 - (1.0 - p) ** left) / p

    def total(self) -> int | None:
        """The expected number of steps this session (None without ``max_steps``)."""
        if self.max_steps is None:
            return None
        waiting = max(self.episodes - self.ended - len(self._running), 0)
        rest = waiting * self._remaining(0) + sum(self._remaining(s)
                                                  for s in self._running.values())
        return max(self.steps, round(self.steps + rest))


def machine_load(
    watch: RunnableWatch | None = None,
) -> Callable[[], tuple[float, int] | None]:
    """A reader of the machine's load now: other processes' runnable tasks, and our CPUs.

    Not the one-minute load average, which lags a minute behind a job that starts or ends
    (:mod:`~redraft.agent.backends.contention`): each call takes at most one reading a
    second and answers the median of the last five.
    """
    watch = watch or RunnableWatch()
    cpus = cpus_available()

    def load() -> tuple[float, int] | None:
        others = watch.others()
        return None if others is None else (others, cpus)

    return load


def busy_note(load: tuple[float, int] | None) -> str:
    """``busy machine: 1 other runnable task on 2 CPUs`` when others compete for our CPUs.

    The run is taken to use every CPU (the default of llama.cpp and torch here), so any
    other runnable task means a thread of the run waits for a CPU at times, and its steps/s
    and ETA are slower than on an idle machine (llama.cpp's threads wait for each other:
    ``bench/README.md``).
    """
    if load is None or not oversubscribed(load[0], load[1], load[1]):
        return ""
    others, cpus = load
    count = f"{others:g}"
    return f"busy machine: {count} other runnable task{'' if others == 1 else 's'} on {cpus} CPUs"


def _clock(seconds: float) -> str:
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Progress in steps, with an ETA and the error rates so far.

    On a terminal it draws a bar; elsewhere (a log file, a pipe, CI) it prints a plain line
    every :data:`PLAIN_INTERVAL` seconds and at every tenth of the run. ``e_raw`` is the share
    of round-0 proposals the oracle rejected, ``e_post`` the share of committed answers it
    rejected, over the steps of this session.

    Args:
        stream: where to write (stderr by default).
        enabled: True draws a bar, False shows nothing, None (default) draws a bar on a
            terminal and plain lines elsewhere.
        max_steps: the run's step limit per episode, for the expected total and the ETA.
        title: what the run is, e.g. ``run 2/6 tool-k2`` in a grid.
        load: other runnable tasks and our CPUs (default: :func:`machine_load`'s reader),
            to say when the machine is busy.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        enabled: bool | None = None,
        max_steps: int | None = None,
        title: str = "steps",
        load: Callable[[], tuple[float, int] | None] | None = None,
    ) -> None:
        self._load = load or machine_load()
        self.stream = stream if stream is not None else sys.stderr
        self.mode: Literal["bar", "plain", "off"] = (
            "off" if enabled is False
            else "bar" if enabled or (enabled is None and self.stream.isatty())
            else "plain"
        )
        self.enabled = self.mode != "off"
        self.title = title
        self.estimate = StepEstimate(max_steps)
        self._progress = Progress(
            TextColumn(f"[bold]{escape(title)}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[info]}", markup=False),
            console=Console(file=self.stream, force_terminal=self.mode == "bar" or None),
            disable=self.mode != "bar",
            transient=False,
        )
        self._task_id = self._progress.add_task(title, total=None, info="starting")
        self._done_before = self._total_episodes = 0
        self._raw_wrong = self._raw_known = 0
        self._post_wrong = self._post_known = 0
        self._since = time.perf_counter()
        self._last_line = 0.0
        self._last_tenth = 0

    def start(self, total: int, done: int) -> None:
        """``done`` of ``total`` episodes finished earlier; start the clock."""
        self._since = self._last_line = time.perf_counter()
        self._total_episodes, self._done_before = total, done
        self.estimate.start(total - done)
        self._refresh()
        if self.mode == "bar":
            self._progress.start()
        elif self.mode == "plain":
            earlier = f", {done} finished earlier" if done else ""
            bound = (f", at most {(total - done) * self.estimate.max_steps} steps"
                     if self.estimate.max_steps else "")
            self._print(f"{self.title}: {total} episodes{earlier}{bound}")

    def write(self, event: Event) -> None:
        """Count steps, errors and episode ends."""
        if isinstance(event, StepEvent):
            self.estimate.step(event.episode)
            raw, post = _correct(event, "initial"), _correct(event, "final")
            if raw is not None:
                self._raw_known += 1
                self._raw_wrong += not raw
            if post is not None:
                self._post_known += 1
                self._post_wrong += not post
        elif isinstance(event, EpisodeEndEvent):
            self.estimate.end(event.episode, event.steps)
        else:
            return
        self._refresh()

    def finish(self) -> None:
        """Stop drawing (plain mode: one last line)."""
        if self.mode == "bar":
            self._progress.stop()
        elif self.mode == "plain":
            self._print(self.line(final=True))

    # -- what is shown -----------------------------------------------------------------

    def eta(self) -> float | None:
        """Seconds left, once :data:`ETA_AFTER_STEPS` steps have finished."""
        total = self.estimate.total()
        steps = self.estimate.steps
        elapsed = time.perf_counter() - self._since
        if total is None or steps < ETA_AFTER_STEPS or elapsed <= 0:
            return None
        return (total - steps) / (steps / elapsed)

    def line(self, *, final: bool = False) -> str:
        """The progress as one plain line."""
        est = self.estimate
        total = est.total()
        elapsed = max(time.perf_counter() - self._since, 1e-9)
        parts = [f"{est.steps}/~{total} steps" if total is not None and not final
                 else f"{est.steps} steps",
                 f"{self._done_before + est.ended}/{self._total_episodes} episodes",
                 f"{est.steps / elapsed:.1f} steps/s"]
        eta = self.eta()
        if final:
            parts.append(f"took {_clock(elapsed)}")
        elif eta is not None:
            parts.append(f"ETA {_clock(eta)}")
        parts.append(f"e_raw {_share(self._raw_wrong, self._raw_known)} "
                     f"e_post {_share(self._post_wrong, self._post_known)}")
        busy = busy_note(self._load())
        if busy:
            parts.append(busy)
        return f"{self.title}: " + ", ".join(parts)

    def _refresh(self) -> None:
        est = self.estimate
        total = est.total()
        if self.mode == "bar":
            self._progress.update(self._task_id, completed=est.steps, total=total,
                                  info=self.line().removeprefix(f"{self.title}: "))
        elif self.mode == "plain" and est.steps:
            now = time.perf_counter()
            tenth = int(10 * est.steps / total) if total else -1
            if now - self._last_line >= PLAIN_INTERVAL or tenth > self._last_tenth:
                self._last_line, self._last_tenth = now, tenth
                self._print(self.line())

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _correct(event: StepEvent, which: Literal["initial", "final"]) -> bool | None:
    """The oracle's label; None when it is unknown (left out of the rates)."""
    value = event.initial if which == "initial" else event.final
    return None if value == "unknown" else value == "correct"


def _share(wrong: int, known: int) -> str:
    return f"{wrong / known:.3f}" if known else "-"
