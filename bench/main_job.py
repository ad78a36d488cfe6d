"""The README's main job with the batched llama.cpp engine against the sequential one.

Runs ``redraft grid chess --model llamacpp/smollm2 --critic none,tool,constrained --rounds 2
--episodes E --max-steps T --error-policy continue`` as a user would (a fresh process, the
report included), once with ``--model-option engine=batched`` (the default) and once with
``engine=sequential`` (the path before batching), alternating, ``--repeats`` times each, and
prints the wall-clock times and the ratio of the minima. The README's scale is
``--episodes 16 --max-steps 8``.

    python bench/main_job.py [--episodes 16] [--max-steps 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("batched", "sequential")


def run_job(engine: str, episodes: int, max_steps: int, out: Path) -> float:
    command = [
        sys.executable, "-m", "redraft.evals.cli", "grid", "chess",
        "--model", "llamacpp/smollm2", "--critic", "none,tool,constrained", "--rounds", "2",
        "--episodes", str(episodes), "--max-steps", str(max_steps),
        "--error-policy", "continue", "--model-option", f"engine={engine}",
        "--out", str(out), "--quiet",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per engine")
    args = parser.parse_args()
    times: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for engine in ENGINES:
                out = Path(tmp) / f"{engine}-{repeat}"
                seconds = run_job(engine, args.episodes, args.max_steps, out)
                times[engine].append(seconds)
                print(f"  run {repeat + 1}: {engine:<10} {seconds:8.1f} s", flush=True)
    best = {engine: min(runs) for engine, runs in times.items()}
    print(
        f"redraft grid chess, critics none,tool,constrained, k=2, {args.episodes} episodes, "
        f"max {args.max_steps} steps, min of {args.repeats} alternating runs"
    )
    for engine in ENGINES:
        spread = "/".join(f"{t:.1f}" for t in times[engine])
        print(f"{engine:<10} {best[engine]:8.1f} s   (runs {spread})")
    print(f"sequential / batched: {best['sequential'] / best['batched']:.2f}x")


if __name__ == "__main__":
    main()
