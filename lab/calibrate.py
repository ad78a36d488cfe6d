"""Calibrate the decisive task's difficulty: train expert candidates, measure e_TF.

Issue 19 asks for the task setting at which a trained expert's teacher-forced per-step
error ``e_TF`` at temperature 1 lies between 1% and 10%. This trains each candidate (a
model size and a set of running_sum options) as an ``expert`` for a fixed number of steps
on mixed starts (``DECISIVE_TRAIN_OVERRIDES``, as ``redraft findings`` trains), then
evaluates it with ``teacher_force=true`` (the episode advances with the true total, so
e_raw is e_TF) at temperature 1 and 0 on random starts with the candidate's own options
(a model trained here otherwise lends the eval its training options, mixed starts
included), in distribution (evaluation episodes as long as the training ones), and prints
one row per candidate with the 95% intervals from ``redraft report``. Everything goes
through the ordinary ``redraft`` commands, in one process so the imports are paid once.

    python -m redraft.lab.calibrate --device cuda --steps 2000 --out /tmp/cal
    python -m redraft.lab.calibrate --device cpu --steps 3 --episodes 2 --out /tmp/cal  # smoke
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from redraft.evals.cli import main as redraft
from redraft.lab.testbed import DECISIVE_TASK_OPTIONS, DECISIVE_TRAIN_OVERRIDES

RECENT = {"representation": "recent", "modulus": 100, "start": "random", "step_label": False,
          "window": 4, "checkpoint_every": 4, "n_keys": 10, "keys_per_step": 1}
SHOWN = {"representation": "shown", "modulus": 100, "start": "random", "step_label": False,
         "n_keys": 10, "keys_per_step": 1}

CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    # The quick scale's task (DECISIVE_TASK_OPTIONS["quick"]) at the GPU's sizes.
    "quick-task-small": ("small", dict(DECISIVE_TASK_OPTIONS["quick"])),
    "quick-task-medium": ("medium", dict(DECISIVE_TASK_OPTIONS["quick"])),
    "recent-signed-small": ("small", {**RECENT, "value_min": -9, "value_max": 9}),
    "recent-signed-medium": ("medium", {**RECENT, "value_min": -9, "value_max": 9}),
    "recent-0to9-small": ("small", {**RECENT, "value_min": 0, "value_max": 9}),
    "shown-signed-small": ("small", {**SHOWN, "value_min": -9, "value_max": 9}),
}
"""Each candidate's model size and *evaluation* options; training adds
``DECISIVE_TRAIN_OVERRIDES`` (mixed starts), as ``redraft findings`` does."""

def _options(options: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in options.items():
        if key != "representation":
            args += ["--task-option", f"{key}={json.dumps(value)}"]
    return args


def _call(args: list[str]) -> None:
    code = redraft(args)
    if code:
        raise SystemExit(f"redraft {' '.join(args[:2])} exited {code}")


def _e_raw(run: Path, report: Path) -> str:
    _call(["report", str(run), "--out", str(report)])
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    m = summary["runs"][0]["metrics"]["e_raw"]
    if m.get("value") is None:
        return "undefined"
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def main() -> None:
    """Train and evaluate each candidate; print one row per candidate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--episode-steps", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = []
    for name in args.candidates.split(","):
        size, options = CANDIDATES[name]
        model = args.out / "models" / name
        started = time.perf_counter()
        _call(["train", "running_sum", "--regime", "expert", "--size", size,
               "--representation", options["representation"],
               *_options({**options, **DECISIVE_TRAIN_OVERRIDES}),
               "--episode-steps", str(args.episode_steps), "--steps", str(args.steps),
               "--minutes", "0", "--batch-size", str(args.batch_size), "--lr", str(args.lr),
               "--device", args.device, "--seed", "0", "--out", str(model), "-q"])
        trained = time.perf_counter() - started
        recipe = json.loads((model / "redraft-recipe.json").read_text(encoding="utf-8"))
        cells = []
        for temperature in ("1", "0"):
            run = args.out / "runs" / f"{name}-t{temperature}"
            _call(["eval", "running_sum", "--model", f"hf/{model}", "--critic", "none",
                   "--revisions", "0", "--episodes", str(args.episodes), "--max-steps",
                   str(args.episode_steps), "--error-policy", "continue", "--temperature",
                   temperature, "--seed", "1", "--representation", options["representation"],
                   *_options(options), "--task-option", "teacher_force=true",
                   "--out", str(run), "-q"])
            cells.append(_e_raw(run, args.out / "reports" / run.name))
        loss = recipe["loss_curve"][-1]["loss"] if recipe["loss_curve"] else float("nan")
        rows.append((name, size, recipe["parameters"], recipe["steps_done"], trained, loss,
                     recipe["heldout_step_accuracy"], *cells))
        print(f"{name}: trained {trained:.0f} s, e_TF t=1 {cells[0]}, t=0 {cells[1]}",
              flush=True)
    print(f"\n{args.steps} steps of {args.batch_size}, lr {args.lr}, episodes of "
          f"{args.episode_steps} steps, e_TF on {args.episodes} teacher-forced episodes")
    print("candidate | size | params | steps | train s | last loss | held-out acc | "
          "e_TF t=1 | e_TF t=0")
    for row in rows:
        print(" | ".join([row[0], row[1], f"{row[2]:,}", str(row[3]), f"{row[4]:.0f}",
                          f"{row[5]:.4f}", f"{row[6]:.3f}", row[7], row[8]]))


if __name__ == "__main__":
    main()
