"""Train testbed models in each data regime, evaluate them on longer held-out episodes, and
print the comparison table (the one in docs/testbed.md).

One command, with a hard time budget for training:

    CPU:  OMP_WAIT_POLICY=PASSIVE python bench/testbed_table.py --preset cpu --out runs/testbed
    GPU:  python bench/testbed_table.py --preset gpu --out runs/testbed-gpu
    test: python bench/testbed_table.py --preset tiny --out /tmp/tb   (numbers mean nothing)

Each model trains on running_sum episodes of ``--episode-steps`` steps and is evaluated on
held-out episodes twice as long (error policy ``continue``, so every episode runs its full
length). Models already in ``OUT/models`` and runs already in ``OUT/runs`` are reused, so a
killed run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from redraft.agent import CorrectorConfig
from redraft.evals import EvalConfig, run_eval, trained_defaults
from redraft.evals.stats import RunStats, analyze_run, load_run
from redraft.lab.testbed import BACK_MARKER, TrainConfig, read_recipe, train

PRESETS: dict[str, dict[str, Any]] = {
    # size, optimizer steps per model (the same for every regime, so they see as many
    # examples), training time cap (minutes, all models together), batch, eval episodes
    "tiny": {"size": "micro", "steps": 30, "budget": 1.0, "batch": 32, "episodes": 16,
             "threads": 2},
    "cpu": {"size": "micro", "steps": 800, "budget": 45.0, "batch": 64, "episodes": 100,
            "threads": 2},
    "gpu": {"size": "medium", "steps": 2000, "budget": 6.0, "batch": 256, "episodes": 512,
            "threads": 8},
}
MODELS = ("expert:shown", "retry:shown", "scratchpad:shown", "expert:lookup", "scratchpad:lookup")
"""regime:representation. ``shown`` puts each step's values in the prompt (local); ``lookup``
leaves them in the table, where a scratchpad that looks them up first should help."""


def _fmt(estimate: Any) -> str:
    if estimate is None or estimate.value is None:
        return "–"
    low = "?" if estimate.ci_low is None else f"{estimate.ci_low:.3f}"
    high = "?" if estimate.ci_high is None else f"{estimate.ci_high:.3f}"
    return f"{estimate.value:.3f} [{low}, {high}]"


def _at(curve: Any, t: int) -> str:
    if t > len(curve.value) or curve.value[t - 1] is None:
        return "–"
    return f"{curve.value[t - 1]:.2f} [{curve.ci_low[t - 1]:.2f}, {curve.ci_high[t - 1]:.2f}]"


def _split(curve: Any, cut: int) -> tuple[str, str]:
    """Pooled per-step share over steps 1..cut and cut+1..end (weights: episodes per step)."""
    parts = []
    for lo, hi in ((0, cut), (cut, len(curve.value))):
        hits = sum((v or 0.0) * n for v, n in zip(curve.value[lo:hi], curve.n[lo:hi], strict=True))
        total = sum(curve.n[lo:hi])
        parts.append(f"{hits / total:.3f}" if total else "–")
    return parts[0], parts[1]


def _markers(run_dir: Path) -> tuple[int, int, int]:
    """Outputs holding the marker, those committed right, and all step outputs."""
    marked = marked_right = total = 0
    with (run_dir / "events.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            if event.get("kind") != "step":
                continue
            total += 1
            if BACK_MARKER in str(event.get("committed_answer", event.get("committed", ""))):
                marked += 1
                marked_right += event.get("final_ok") is True
    return marked, marked_right, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS), help="regime:representation,...")
    parser.add_argument("--critics", default="none,tool,resample", help="critic modes to eval")
    parser.add_argument("--revisions", dest="revisions", type=int, default=1,
                        help="revisions for critic modes")
    parser.add_argument("--budget", type=float,
                        help="training time cap, minutes for all models together")
    parser.add_argument("--steps", type=int, help="optimizer steps per model")
    parser.add_argument("--size", help="model size instead of the preset's")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    parser.add_argument("--episode-steps", type=int, default=20, help="training episode length")
    parser.add_argument("--episodes", type=int, help="held-out eval episodes per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    models = [m.split(":") for m in args.models.split(",")]
    budget = args.budget if args.budget is not None else preset["budget"]
    minutes = budget / len(models)
    episodes = args.episodes or preset["episodes"]
    eval_steps = 2 * args.episode_steps
    started = time.perf_counter()
    print(f"preset {args.preset}: {len(models)} models, {args.steps or preset['steps']} steps "
          f"each (at most {minutes:.2f} minutes); "
          f"eval {episodes} held-out episodes of {eval_steps} steps", flush=True)
    rows = []
    for regime, representation in models:
        name = f"{regime}-{representation}"
        model_dir = args.out / "models" / name
        recipe = read_recipe(model_dir)
        if recipe is None:
            config = TrainConfig(
                task="running_sum", regime=regime, representation=representation,  # type: ignore[arg-type]
                size=args.size or preset["size"], lr=args.lr,
                steps=args.steps or preset["steps"], minutes=minutes,
                seed=args.seed,
                batch_size=preset["batch"], episode_steps=args.episode_steps,
                threads=preset["threads"],
            )
            recipe = train(config, model_dir)
        print(f"{name}: {recipe.parameters:,} params, {recipe.steps_done} steps, "
              f"{recipe.tokens_seen:,} tokens in {recipe.seconds:.0f} s on {recipe.device}; "
              f"held-out step accuracy {recipe.heldout_step_accuracy:.3f}", flush=True)
        _, trained_options = trained_defaults("running_sum", f"hf/{model_dir}", representation, {})
        for critic in args.critics.split(","):
            k = 0 if critic == "none" else args.revisions
            run_dir = args.out / "runs" / f"{name}-{critic}"
            config_eval = EvalConfig(
                task="running_sum", model=f"hf/{model_dir}",
                corrector=CorrectorConfig(critic=critic, max_revisions=k),  # type: ignore[arg-type]
                episodes=episodes, max_steps=eval_steps, seed=args.seed + 1,
                error_policy="continue", representation=representation,
                task_options=trained_options,
                batch_size=episodes, model_options={"max_batch_size": 512},
            )
            result = run_eval(config_eval, run_dir)
            stats: RunStats = analyze_run(load_run(run_dir), n_boot=1000)
            rows.append((name, critic, stats, _markers(run_dir)))
            print(f"  {critic}: {result.steps} steps in {result.seconds:.0f} s", flush=True)
    cut = args.episode_steps
    lines = [
        f"| model | critic | e_raw | e_post | recovery | harm | ê | e_raw t≤{cut} | "
        f"e_raw t>{cut} | P(global err) t={cut} | t={eval_steps} | marker: outputs (right) |",
        "|" + "---|" * 12,
    ]
    for name, critic, stats, (marked, marked_right, total) in rows:
        m = stats.metrics
        early, late = _split(stats.e_raw_curve, cut)
        lines.append(
            f"| {name} | {critic} | {_fmt(m.get('e_raw'))} | {_fmt(m.get('e_post'))} | "
            f"{_fmt(m.get('recovery'))} | {_fmt(m.get('harm'))} | {_fmt(m.get('e_hat'))} | "
            f"{early} | {late} | {_at(stats.global_error_curve, cut)} | "
            f"{_at(stats.global_error_curve, eval_steps)} | {marked}/{total} ({marked_right}) |"
        )
    table = "\n".join(lines)
    print(table)
    print(f"total {time.perf_counter() - started:.0f} s", flush=True)
    if args.table:
        args.table.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
