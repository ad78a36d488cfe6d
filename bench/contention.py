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
(``python -c 'while True: pass'``, started 20 s before, so that the load average has seen
it), alternating, ``--repeats`` times; prints wall-clock and CPU seconds (the child's, all
its threads), the best of each, and each setting's slowdown beside the busy loop. The
load average at each start is printed: on a machine shared with other jobs, "alone" is
not idle.

    python bench/contention.py [--episodes 8] [--max-steps 8] [--repeats 1] [--settings ...]
        [--cell-timeout S]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from main_job import children_cpu, main_job_command  # bench/ is the script's folder

SETTINGS: dict[str, tuple[list[str], dict[str, str]]] = {
    "threads=all": ([f"n_threads={len(os.sched_getaffinity(0))}"], {}),
    "threads=all passive": (
        [f"n_threads={len(os.sched_getaffinity(0))}"], {"OMP_WAIT_POLICY": "PASSIVE"}),
    "threads=1": (["n_threads=1"], {}),
    "default": ([], {}),
}
"""Each setting's ``--model-option``s and environment."""
WARM_UP_S = 20.0
"""Seconds the busy loop runs before the job starts (the load average is a 1-minute mean)."""


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


def busy_loop() -> subprocess.Popen[bytes]:
    """One CPU-bound process (what another user's job looks like to this one)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


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
    print(f"{len(os.sched_getaffinity(0))} CPUs; load average at start "
          f"{os.getloadavg()[0]:.1f}", flush=True)
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
                    load = os.getloadavg()[0]
                    out = Path(tmp_name) / f"run-{repeat}-{index}"
                    wall, cpu, finished = run_job(
                        setting, args.episodes, args.max_steps, out, args.cell_timeout)
                finally:
                    if loop is not None:
                        loop.kill()
                        loop.wait()
                walls[(setting, beside)].append(wall)
                cpus[(setting, beside)].append(cpu)
                if not finished:
                    cut.add((setting, beside))
                where = "beside a busy loop" if beside else "alone"
                mark = "" if finished else "  (killed: not finished)"
                print(f"  run {repeat + 1}: {setting:<20} {where:<18} load {load:5.1f}  "
                      f"wall {wall:7.1f} s  cpu {cpu:7.1f} s{mark}", flush=True)
    print(f"redraft grid chess, critics none,tool,constrained, k=2, {args.episodes} episodes, "
          f"max {args.max_steps} steps; best of {args.repeats}")
    print(f"{'setting':<20} {'alone wall':>11} {'beside wall':>12} {'slowdown':>9} "
          f"{'alone cpu':>10} {'beside cpu':>11}")
    for setting in settings:
        alone, beside = min(walls[(setting, False)]), min(walls[(setting, True)])
        more = [">" if (setting, b) in cut else " " for b in (False, True)]
        print(f"{setting:<20} {more[0]}{alone:9.1f}s {more[1]}{beside:10.1f}s "
              f"{beside / alone:8.2f}x {min(cpus[(setting, False)]):9.1f}s "
              f"{min(cpus[(setting, True)]):10.1f}s")
    if cut:
        print("> : killed at --cell-timeout; the time is a lower bound (and so may be the "
              "slowdown)")


if __name__ == "__main__":
    main()
