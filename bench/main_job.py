"""The README's main job with the batched llama.cpp engine against the sequential one.

Runs ``redraft grid chess --model llamacpp/smollm2 --critic none,tool,constrained --rounds 2
--episodes E --max-steps T --error-policy continue`` as a user would (a fresh process, the
report included), once with ``--model-option engine=batched`` (the default) and once with
``engine=sequential`` (the path before batching), alternating, ``--repeats`` times each, and
prints the wall-clock and CPU times (user + system of the child process, all its threads)
and the ratios of the minima. On a machine shared with other busy processes the wall clock
mostly measures the others; CPU time measures the work. The README's scale is
``--episodes 16 --max-steps 8``.

    python bench/main_job.py [--episodes 16] [--max-steps 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("batched", "sequential")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_job(engine: str, episodes: int, max_steps: int, out: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one job."""
    command = [
        sys.executable, "-m", "redraft.evals.cli", "grid", "chess",
        "--model", "llamacpp/smollm2", "--critic", "none,tool,constrained", "--rounds", "2",
        "--episodes", str(episodes), "--max-steps", str(max_steps),
        "--error-policy", "continue", "--model-option", f"engine={engine}",
        "--out", str(out), "--quiet",
    ]  # fmt: skip
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run(command, check=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    return time.perf_counter() - started, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per engine")
    args = parser.parse_args()
    walls: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    cpus: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for engine in ENGINES:
                out = Path(tmp) / f"{engine}-{repeat}"
                wall, cpu = run_job(engine, args.episodes, args.max_steps, out)
                walls[engine].append(wall)
                cpus[engine].append(cpu)
                print(
                    f"  run {repeat + 1}: {engine:<10} wall {wall:8.1f} s  cpu {cpu:8.1f} s",
                    flush=True,
                )
    print(
        f"redraft grid chess, critics none,tool,constrained, k=2, {args.episodes} episodes, "
        f"max {args.max_steps} steps, min of {args.repeats} alternating runs"
    )
    for engine in ENGINES:
        print(f"{engine:<10} wall {min(walls[engine]):8.1f} s  cpu {min(cpus[engine]):8.1f} s")
    wall_ratio = min(walls["sequential"]) / min(walls["batched"])
    cpu_ratio = min(cpus["sequential"]) / min(cpus["batched"])
    print(f"sequential / batched: wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x")


if __name__ == "__main__":
    main()
