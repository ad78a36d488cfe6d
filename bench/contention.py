"""The README's main job alone and beside one CPU-bound process, per thread and wait policy.

Runs ``redraft grid chess --model llamacpp/smollm2 --critic none,tool,constrained --revisions 2
--episodes E --max-steps T --error-policy continue`` in a fresh process (the model load and
the report included) with each of these llama.cpp settings:

- ``threads=all``: ``n_threads`` = every CPU this process may use (the default before this
  bench), ``OMP_WAIT_POLICY`` unset (llama.cpp's ggml runs its threads with OpenMP, whose
  barrier spins before it sleeps);
- ``threads=all passive``: the same with ``OMP_WAIT_POLICY=PASSIVE`` (barriers sleep at once);
- ``threads=1``: one thread (no barrier to wait at);
- ``default``: nothing set: the backend's own choice (every CPU, and
  ``OMP_WAIT_POLICY=PASSIVE`` when other runnable tasks and its threads exceed the CPUs,
  :func:`redraft.agent.backends.llamacpp.wait_passively_when_busy`),

each once with the machine as it is ("alone") and once beside one busy loop
(``python -c 'while True: pass'``, started a second before: the backend reads the runnable
tasks of the moment, not a load average), alternating, ``--repeats`` times. It prints
wall-clock and CPU seconds (the child's, all its threads) of every run, then per setting the
median and per-repeat walls, the slowdown beside the busy loop (each repeat's pair, run one
after the other, and their median), and each setting against the first one in the same repeat
and condition (ratios measured side by side; these machines are noisy, so read the per-repeat
ratios, not one best time). The other runnable tasks at each start are printed: on a machine
shared with other jobs, "alone" is not idle.

    python bench/contention.py [--episodes 8] [--max-steps 8] [--repeats 1] [--settings ...]
        [--cell-timeout S]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from main_job import children_cpu, main_job_command  # bench/ is the script's folder

from redraft.agent.backends.contention import sample_runnable

SETTINGS: dict[str, tuple[list[str], dict[str, str]]] = {
    "threads=all": ([f"n_threads={len(os.sched_getaffinity(0))}"], {}),
    "threads=all passive": (
        [f"n_threads={len(os.sched_getaffinity(0))}"], {"OMP_WAIT_POLICY": "PASSIVE"}),
    "threads=1": (["n_threads=1"], {}),
    "default": ([], {}),
}
"""Each setting's ``--model-option``s and environment."""
WARM_UP_S = 1.0
"""Seconds the busy loop runs before the job starts (time to start; the signal is immediate)."""


def run_job(
    setting: str, episodes: int, max_steps: int, out: Path, limit: float | None = None
) -> tuple[float, float, bool]:
    """Wall-clock and CPU seconds of the job under ``setting``, and whether it finished.

    A job still running after ``limit`` seconds is killed: on a busy machine a setting that
    degrades badly would otherwise take the whole session (its time is then a lower bound).
    """
    options, env = SETTINGS[setting]
    command = main_job_command(episodes, max_steps, out)
    for option in options:
        command += ["--model-option", option]
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    started, cpu = time.perf_counter(), children_cpu()
    try:
        subprocess.run(command, check=True, env={**environment, **env}, timeout=limit)
        finished = True
    except subprocess.TimeoutExpired:
        finished = False
    return time.perf_counter() - started, children_cpu() - cpu, finished


def busy_loop() -> int:
    """One CPU-bound process (what another user's job looks like to this one); its pid.

    A launcher starts it and exits, so it is nobody's descendant here: the backend counts a
    process's descendants as its own work, and this bench's readings would too.
    """
    # The loop must hold none of the launcher's pipes: the read below waits for their end.
    launch = ("import subprocess, sys\n"
              "print(subprocess.Popen([sys.executable, '-c', 'while True: pass'], "
              "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, "
              "stderr=subprocess.DEVNULL).pid)\n")
    launched = subprocess.run([sys.executable, "-c", launch], capture_output=True, text=True,
                              check=True)
    return int(launched.stdout)


def stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs per cell")
    parser.add_argument("--cell-timeout", type=float, default=None,
                        help="kill a job after this many seconds (its time: a lower bound)")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"comma-separated, of: {', '.join(SETTINGS)}")
    args = parser.parse_args()
    settings = [s.strip() for s in args.settings.split(",")]
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting(s) {unknown}; choose from {list(SETTINGS)}")
    cells = [(s, beside) for s in settings for beside in (False, True)]
    walls: dict[tuple[str, bool], list[float]] = {cell: [] for cell in cells}
    cpus: dict[tuple[str, bool], list[float]] = {cell: [] for cell in cells}
    print(f"{len(os.sched_getaffinity(0))} CPUs; other runnable tasks at start "
          f"{_others()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        # A first, untimed load writes the f32 copy of the model, so no cell pays for it.
        run_job("threads=1", 1, 1, Path(tmp_name) / "warm")
        cut: set[tuple[str, bool]] = set()
        for repeat in range(args.repeats):
            for index, (setting, beside) in enumerate(cells):
                loop = busy_loop() if beside else None
                try:
                    if loop is not None:
                        time.sleep(WARM_UP_S)
                    others = _others()
                    out = Path(tmp_name) / f"run-{repeat}-{index}"
                    wall, cpu, finished = run_job(
                        setting, args.episodes, args.max_steps, out, args.cell_timeout)
                finally:
                    if loop is not None:
                        stop(loop)
                walls[(setting, beside)].append(wall)
                cpus[(setting, beside)].append(cpu)
                if not finished:
                    cut.add((setting, beside))
                where = "beside a busy loop" if beside else "alone"
                mark = "" if finished else "  (killed: not finished)"
                print(f"  run {repeat + 1}: {setting:<20} {where:<18} others {others:>4}  "
                      f"wall {wall:7.1f} s  cpu {cpu:7.1f} s{mark}", flush=True)
    report(settings, walls, cpus, cut, args.episodes, args.max_steps, args.repeats)


def _others() -> str:
    """Other processes' runnable tasks now (the backend's busy signal), as text."""
    others = sample_runnable()
    return "-" if others is None else f"{others:g}"


def _ratios(top: list[float], bottom: list[float]) -> str:
    pairs = [t / b for t, b in zip(top, bottom, strict=True)]
    each = " ".join(f"{r:.2f}" for r in pairs)
    return f"{statistics.median(pairs):.2f}x ({each})"


def report(
    settings: list[str],
    walls: dict[tuple[str, bool], list[float]],
    cpus: dict[tuple[str, bool], list[float]],
    cut: set[tuple[str, bool]],
    episodes: int,
    max_steps: int,
    repeats: int,
) -> None:
    """The summary: median walls, slowdowns and setting-against-setting ratios per repeat."""
    print(f"\nredraft grid chess, critics none,tool,constrained, k=2, {episodes} episodes, "
          f"max {max_steps} steps; {repeats} repeat(s); wall seconds: median (each repeat)")
    for setting in settings:
        for beside in (False, True):
            cell = (setting, beside)
            where = "beside a busy loop" if beside else "alone"
            mark = " >" if cell in cut else ""
            each = " ".join(f"{w:.1f}" for w in walls[cell])
            print(f"  {setting:<20} {where:<18} wall {statistics.median(walls[cell]):7.1f} s "
                  f"({each}){mark}  cpu {statistics.median(cpus[cell]):7.1f} s")
    print("slowdown beside the busy loop (beside / alone, per repeat):")
    for setting in settings:
        print(f"  {setting:<20} {_ratios(walls[(setting, True)], walls[(setting, False)])}")
    base = settings[0]
    if len(settings) > 1:
        print(f"against {base} in the same repeat and condition (wall / its wall):")
        for setting in settings[1:]:
            for beside in (False, True):
                where = "beside a busy loop" if beside else "alone"
                print(f"  {setting:<20} {where:<18} "
                      f"{_ratios(walls[(setting, beside)], walls[(base, beside)])}")
    if cut:
        print("> : some run killed at --cell-timeout; its time is a lower bound (and so may be "
              "its ratios)")

if __name__ == "__main__":
    main()
