"""Episodes per second through the eval runner: batch size 1 vs 64, side by side.

The runner advances every episode in flight through one corrector invocation per step, so
a batch of 64 episodes pays the graph's overhead once per step instead of 64 times. This
runs the same eval (the built-in ``addition`` task, the ``simulated`` backend, the event log
written as in a real run) at both batch sizes and prints the ratio.

    python bench/runner_batching.py [--task addition] [--episodes 256] [--max-steps 12]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from redraft.evals import EvalConfig, run_eval


def measure(config: EvalConfig, root: Path) -> tuple[float, float]:
    result = run_eval(config, root / f"b{config.batch_size}")
    return result.episodes / result.seconds, result.steps / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--task", default="addition")
    parser.add_argument("--episodes", type=int, default=256)
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--critic", default="tool")
    parser.add_argument("--revisions", dest="revisions", type=int, default=2)
    parser.add_argument("--model", default="simulated/e=0.1,r=0.5,h=0.05")
    parser.add_argument("--batch-sizes", default="1,64")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            config = EvalConfig.model_validate({
                "task": args.task, "model": args.model, "episodes": args.episodes,
                "max_steps": args.max_steps, "batch_size": size,
                "corrector": {"critic": args.critic, "max_revisions": args.revisions},
            })
            rows.append((size, *measure(config, Path(tmp))))
    print(f"{args.task}, {args.model}, critic={args.critic}, k={args.revisions}, "
          f"{args.episodes} episodes, max {args.max_steps} steps")
    print(f"{'batch size':>10}  {'episodes/s':>11}  {'steps/s':>9}  {'vs first':>8}")
    for size, eps, sps in rows:
        print(f"{size:>10}  {eps:>11.1f}  {sps:>9.1f}  {eps / rows[0][1]:>7.1f}x")


if __name__ == "__main__":
    main()
