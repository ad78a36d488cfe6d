"""Does an arm converge with a longer budget? Train arms from an existing run's bases.

The findings grid trains every arm a fixed budget from its seed's base and leaves out any
model the declared rule (``converged``) says is still learning. This trains chosen arms of
chosen seeds for ``--steps`` from the bases a ``redraft findings`` run already wrote, with
the grid's own recipe (stack, schedule, data stream), and prints each model's held-out
curve and the rule's reading: what a longer budget would buy before a whole grid is spent
on it.

    python bench/findings_budget.py --bases runs/findings/models --seeds 0 1 2 3 \\
        --arms retry recovery --steps 6000 --work /tmp/budget

Measured (2026-12-07, seeds 0-3 of the quick run's bases, 6000 steps, at the temperature
of the time, 2): retry's held-out accuracy 1.000, 0.979, 0.922, 0.958 (0.938, 0.802, 0.594,
0.938 at the grid's 3000); 4362 s on 2 cores, half of it shared. Under the rule of the time
(loss flat too) 0 of 4 retry and 1 of 4 recovery models passed; under today's (accuracy
trend within ±0.02) recovery passes 4 of 4 (trends +0.002 to +0.007) and retry still 0 of 4
(+0.029 to +0.090): retry is still learning at 6000 steps.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from redraft.lab.findings import (
    FindingsOptions,
    converged,
    learning_curve,
    plan,
    train_models,
)
from redraft.lab.testbed import read_recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", type=Path, required=True,
                        help="a findings run's models folder (holds base-s<seed>)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--arms", nargs="+", default=["retry", "recovery"])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    models = args.work / "models"
    models.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        link = models / f"base-s{seed}"
        if not link.exists():
            link.symlink_to((args.bases / f"base-s{seed}").resolve())
    options = FindingsOptions(out=args.work / "findings", work=args.work, scale=args.scale)
    specs = [t.model_copy(update={"steps": args.steps}) for t in plan(options).trains
             if t.phase == 2 and t.arm in args.arms and t.seed in args.seeds]
    started = time.perf_counter()
    train_models(specs, options, say=lambda line: print(line, flush=True))
    print(f"trained {len(specs)} models in {time.perf_counter() - started:.0f} s")
    for spec in specs:
        recipe = read_recipe(spec.out)
        if recipe is None:
            raise SystemExit(f"{spec.out} holds no trained model")
        curve = learning_curve(recipe)
        ok, why = converged(curve)
        print(f"{spec.arm}-s{spec.seed}: {'converged' if ok else 'not converged'}: {why}")
        print("   step:accuracy/loss " + ", ".join(f"{int(p[0])}:{p[1]:.3f}/{p[3]:.4f}"
                                                    for p in curve[::2]))


if __name__ == "__main__":
    main()
