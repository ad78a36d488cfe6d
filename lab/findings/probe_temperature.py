"""Exact e_TF of a findings run's trained models at several sampling temperatures.

How the decisive experiment's temperature was set (:data:`~redraft.lab.testbed.
DECISIVE_CALIBRATION`): the converged experts of a ``redraft findings`` work folder, scored
from their logits on the run's clean evaluation states (the scale's evaluation episodes, as
``scores.json`` scores them, no sampling noise), at each temperature; one line per
temperature with the mean, range and between-seed SD over the seeds, then each seed's value.

    python -m redraft.lab.findings.probe_temperature runs/findings --seed 0 --scale quick
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    """Print the exact e_TF table; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m redraft.lab.findings.probe_temperature",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("work", type=Path, help="a findings --work folder")
    parser.add_argument("--seed", type=int, default=0, help="the run's --seed")
    parser.add_argument("--scale", default="quick", help="the run's --scale")
    parser.add_argument("--arm", default="expert")
    parser.add_argument("--temperatures", default="1,1.5,2,2.5,3")
    args = parser.parse_args(argv)

    from redraft.evals.tasks import load_task
    from redraft.lab.findings._grid import SCALES, task_options
    from redraft.lab.findings._scores import clean_right
    from redraft.lab.findings._states import clean_states
    from redraft.lab.testbed import AnswerCodec, StackedLlama, require_train

    require_train("torch").set_num_threads(2)
    if args.scale not in SCALES:
        parser.error(f"--scale {args.scale!r}: one of {', '.join(SCALES)}")
    scale = SCALES[args.scale]
    folders = [args.work / "models" / f"{args.arm}-s{s}"
               for s in range(args.seed, args.seed + scale.seeds)]
    stack = StackedLlama.load(folders, "cpu")
    representation, options = task_options(args.scale)
    task = load_task("running_sum", **options, representation=representation)
    temps = [float(t) for t in args.temperatures.split(",")]
    clean = clean_states(task, seed=args.seed, episodes=scale.eval_episodes,
                         steps=scale.episode_steps)
    right, _ = clean_right(stack, AnswerCodec(), clean, temps)
    for t in temps:
        e = 1 - right[t].mean(axis=(1, 2))
        print(f"T={t:g}: mean {e.mean():.4f} ({e.min():.4f}-{e.max():.4f}), "
              f"SD {e.std(ddof=1):.4f}; by seed " + " ".join(f"{x:.4f}" for x in e))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
