"""The busy-machine signal: runnable tasks counted now, not a one-minute average."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from redraft.agent.backends.contention import (
    other_runnable,
    oversubscribed,
    read_runnable,
    sample_runnable,
)

pytestmark = pytest.mark.slow

linux_only = pytest.mark.skipif(not Path("/proc/loadavg").is_file(), reason="needs Linux /proc")


def test_others_are_the_median_of_the_machine_less_this_process() -> None:
    # Three readings with one other task, one with a passing shell, one skewed reading.
    readings = [(3, 2), (3, 2), (5, 2), (3, 2), (1, 2)]
    assert other_runnable(readings) == 1.0
    assert other_runnable([(4, 1), (2, 1)]) == 2.0  # an even count: the middle of two
    with pytest.raises(ValueError, match="no readings"):
        other_runnable([])


@pytest.mark.parametrize(("others", "threads", "cpus", "busy"), [
    (0, 2, 2, False),  # alone on an idle machine
    (1, 2, 2, True),  # one busy loop beside two threads on two cores
    (1, 1, 2, False),  # one thread: the loop has the other core
    (2, 1, 2, True),
    (0.5, 2, 2, True),  # a median between readings of 0 and 1
    (3, 4, 8, False),
])
def test_a_machine_is_oversubscribed_when_ours_and_others_exceed_the_cpus(
    others: float, threads: int, cpus: int, busy: bool
) -> None:
    assert oversubscribed(others, threads, cpus) is busy


@pytest.fixture
def busy_loops() -> Iterator[list[subprocess.Popen[str]]]:
    """Two CPU-bound processes, each running its loop once it has said so."""
    loops = [
        subprocess.Popen([sys.executable, "-c", "print('spinning', flush=True)\nwhile True: pass"],
                         stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for loop in loops:
            assert loop.stdout is not None and loop.stdout.readline() == "spinning\n"
        yield loops
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
            if loop.stdout is not None:
                loop.stdout.close()


@pytest.fixture
def foreign_loops() -> Iterator[list[int]]:
    """Two CPU-bound processes that are not this one's descendants (another user's job).

    A launcher starts each loop and exits, so the loop is handed to init: this process's
    own count (its threads and descendants) leaves it out, as it would another user's.
    """
    launch = (
        "import subprocess, sys\n"
        "loop = subprocess.Popen([sys.executable, '-c', "
        "\"print('spinning', flush=True)\\nwhile True: pass\"])\n"
        "print(loop.pid, flush=True)\n"
    )
    pids: list[int] = []
    try:
        for _ in range(2):
            launcher = subprocess.Popen([sys.executable, "-c", launch],
                                        stdout=subprocess.PIPE, text=True)
            assert launcher.stdout is not None
            pids.append(int(launcher.stdout.readline()))
            assert launcher.stdout.readline() == "spinning\n"
            launcher.wait()
            launcher.stdout.close()
        yield pids
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@linux_only
def test_the_signal_sees_busy_processes_at_once_and_forgets_them_at_once(
    foreign_loops: list[int],
) -> None:
    # A CPU-bound process is runnable at every instant (on a CPU or queued for one), so
    # two of them count at least 2, whatever else the machine runs.
    beside = sample_runnable()
    assert beside is not None and beside >= 2
    single = read_runnable()
    assert single is not None and single[0] - single[1] >= 2
    for pid in foreign_loops:
        os.kill(pid, signal.SIGKILL)
    # Gone, they count no more: on a machine that runs other jobs, some reading soon falls
    # below the lowest count taken beside them (a one-minute average would not).
    after = [sample_runnable() for _ in range(10)]
    assert min(a for a in after if a is not None) < beside


@linux_only
def test_a_process_counts_its_own_running_thread_as_its_own() -> None:
    # The reading thread is running as it reads: the machine's count holds it, and so must
    # the process's own, or every reading would see one "other" task too many.
    probe = (
        "import threading, time\n"
        "from redraft.agent.backends.contention import read_runnable\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "for _ in range(100):  # until the new thread has gone to sleep\n"
        "    machine, own = read_runnable()\n"
        "    if own == 1:\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "print(own, machine >= own)\n"
    )
    child = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           timeout=120, check=True)
    # The main thread; a thread asleep does not count (nor would it with every thread
    # counted, or none).
    assert child.stdout.split() == ["1", "True"]


@linux_only
def test_a_process_counts_its_childrens_threads_as_its_own(
    busy_loops: list[subprocess.Popen[str]],
) -> None:
    # Two busy loops started by this process (a training run's data workers, a server it
    # started) are its own work: the machine counts them, and so does the process's share.
    machine, own = 0, 0
    for _ in range(20):  # a reading may catch a loop just as the kernel preempts it
        reading = read_runnable()
        assert reading is not None
        machine, own = reading
        if own >= 3:
            break
    assert own >= 3  # this thread and both loops
    assert machine >= own
