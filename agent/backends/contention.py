"""Whether other processes are competing for this machine's CPUs right now.

llama.cpp's CPU threads meet at a barrier in every layer; when another process holds a
core, a spinning waiter burns the time slice its descheduled partner needs (see
:func:`~redraft.agent.backends.llamacpp.wait_passively_when_busy`). Deciding that needs a
signal that is current: the one-minute load average is not (measured: it still said
"busy" on an idle machine just after a busy loop ended, and had not yet seen a loop that
had just started). So this reads the instantaneous count of runnable tasks, the ``R`` of
``/proc/loadavg``'s fourth field ``R/T`` (the kernel's ``nr_running()``: threads running
or waiting for a CPU, on the whole machine, this process's included), subtracts this
process's own runnable threads (``/proc/self/task/*/stat``, state ``R``), and takes the
median of a few readings spread over about 150 ms, so that a task that runs for a moment
(a shell, a kernel worker) does not count while a CPU-bound one, runnable at every
reading, does. This process's descendants count as its own (training's data workers, a
llama.cpp server it started): they are its work, not another user's.

A watcher that must not sleep (a progress line redrawn every step) keeps the last few
readings instead, one at most every second (:class:`RunnableWatch`).

Linux only: elsewhere (no ``/proc/loadavg``) there is no reading and no decision. In a
container whose ``/proc`` is the host's, the count is the host's.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

__all__ = [
    "Reading", "RunnableWatch", "cpus_available", "other_runnable", "oversubscribed",
    "read_runnable", "sample_runnable",
]

Reading = tuple[int, int]
"""One reading: runnable tasks on the machine, and how many of them are this process's."""

SAMPLES = 5
"""Readings per decision."""
INTERVAL_S = 0.04
"""Seconds between readings: 5 readings span 160 ms."""

_LOADAVG = Path("/proc/loadavg")
_OWN_TASKS = Path("/proc/self/task")


def other_runnable(readings: Sequence[Reading]) -> float:
    """The median count of other processes' runnable tasks over ``readings``.

    Each reading is ``(machine, own)``: the machine's runnable tasks and this process's
    share of them; a reading never counts fewer than 0 others (the two are not read at
    the same instant).

    Raises:
        ValueError: no readings.
    """
    if not readings:
        raise ValueError("no readings of the runnable tasks")
    return float(statistics.median(max(machine - own, 0) for machine, own in readings))


def oversubscribed(others: float, threads: int, cpus: int) -> bool:
    """True when ``threads`` of ours and ``others`` runnable tasks exceed ``cpus``.

    Then some thread of ours waits for a CPU at times, and so do its partners at the next
    barrier. E.g. 2 threads on 2 CPUs: one other CPU-bound process is enough; 1 thread on
    2 CPUs: two are.
    """
    return others + threads > cpus


def _tasks(process: Path) -> Iterator[Path]:
    """The threads of ``process`` and of all its descendants (those that still exist)."""
    try:
        threads = list((process / "task").iterdir())
    except OSError:  # the process ended while we looked
        return
    for thread in threads:
        yield thread
        try:
            children = (thread / "children").read_text(encoding="ascii").split()
        except OSError:  # ended, or a kernel without CONFIG_PROC_CHILDREN: threads only
            continue
        for child in children:
            yield from _tasks(_OWN_TASKS.parent.parent / child)


def _own_runnable() -> int:
    count = 0
    for task in _tasks(_OWN_TASKS.parent):
        try:
            stat = (task / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:  # a thread that ended while we looked
            continue
        # The state follows the command name, which may itself hold spaces or ')'.
        if stat[stat.rfind(")") + 2:][:1] == "R":
            count += 1
    return count


def read_runnable() -> Reading | None:
    """One reading ``(machine, own)``; ``None`` where ``/proc`` does not tell (not Linux).

    ``own`` counts this process's threads and its descendants'.
    """
    try:
        fields = _LOADAVG.read_text(encoding="ascii").split()
        machine = int(fields[3].split("/")[0])
        own = _own_runnable()
    except (OSError, IndexError, ValueError):
        return None
    return machine, own


def sample_runnable(samples: int = SAMPLES, interval_s: float = INTERVAL_S) -> float | None:
    """:func:`other_runnable` over ``samples`` readings ``interval_s`` apart (None: not Linux)."""
    readings: list[Reading] = []
    for index in range(samples):
        if index:
            time.sleep(interval_s)
        reading = read_runnable()
        if reading is None:
            return None
        readings.append(reading)
    return other_runnable(readings)


def cpus_available() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class RunnableWatch:
    """Other processes' runnable tasks, for a caller that asks often and must not wait.

    Each :meth:`others` takes one reading when ``every_s`` seconds have passed since the
    last and answers the median of the last ``keep`` (so a moment's task does not count,
    and a busy loop that ended is forgotten within ``keep`` readings).

    Args:
        keep: readings the median is taken over.
        every_s: the least seconds between readings.
        read: one reading (:func:`read_runnable`; tests give their own).
        clock: seconds, monotonic.
    """

    def __init__(
        self,
        keep: int = SAMPLES,
        every_s: float = 1.0,
        *,
        read: Callable[[], Reading | None] = read_runnable,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._readings: deque[Reading] = deque(maxlen=keep)
        self._every_s = every_s
        self._read = read
        self._clock = clock
        self._last: float | None = None
        self._known = True

    def others(self) -> float | None:
        """The median of the readings kept (None: not Linux)."""
        now = self._clock()
        if self._known and (self._last is None or now - self._last >= self._every_s):
            self._last = now
            reading = self._read()
            if reading is None:
                self._known = False
            else:
                self._readings.append(reading)
        if not self._known or not self._readings:
            return None
        return other_runnable(self._readings)
