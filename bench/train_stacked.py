"""Training many testbed models: one at a time against one stack, and OpenMP's wait policy.

Trains ``--models`` expert models of the decisive task (the findings' quick scale: micro,
batch 32, 24-step episodes) for ``--steps`` optimizer steps each, in a fresh process per
cell (OpenMP reads its environment when torch loads), under each setting:

- ``loop``: ``redraft train``'s loop (``redraft.lab.testbed.train``), one model after another
  in one process with every thread;
- ``jobs2``: the same loop in two processes at once, one thread each, half the models each
  (how ``redraft findings`` trained before issue 29: 1.6x the loop, bench/README.md);
- ``stack``: every model in one stack (``redraft.lab.testbed.train_stack``): one batched
  forward and backward over all of them, the policy chosen by the machine's load;
- ``stack-passive`` / ``stack-active``: the stack with ``OMP_WAIT_POLICY`` set.

Settings alternate within each of ``--repeats`` repeats. Printed per cell: wall seconds of
the training loops, tokens/s (prompt and answer tokens, padding excluded, over the training
loops' seconds), and the other processes' runnable tasks when it began; then per setting the
median and each repeat's ratio of tokens/s to the first setting's.

    python bench/train_stacked.py [--models 8] [--steps 150] [--repeats 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = {"representation": "recent", "modulus": 100, "start": "mixed", "step_label": False,
        "window": 3, "n_keys": 10, "keys_per_step": 1, "value_min": 0, "value_max": 9}


def child(setting: str, models: int, steps: int, threads: int, first: int = 0) -> None:
    """Train in this process and print one JSON line: seconds and tokens."""
    if setting == "loop":
        from redraft.lab.testbed import TrainConfig, train

        seconds = tokens = 0.0
        with tempfile.TemporaryDirectory() as root:
            for seed in range(first, first + models):
                task_options = {k: v for k, v in TASK.items() if k != "representation"}
                config = TrainConfig(task="running_sum", representation="recent",
                                     task_options=task_options, size="micro", steps=steps,
                                     minutes=None, batch_size=32, seed=seed, episode_steps=24,
                                     threads=threads, device="cpu", log_every=steps)
                recipe = train(config, Path(root) / f"m{seed}")
                seconds += recipe.seconds
                tokens += recipe.tokens_seen
        policy = os.environ.get("OMP_WAIT_POLICY", "default")
    else:
        from redraft.lab.testbed import Member, StackPlan, train_stack

        plan = StackPlan(task="running_sum", task_kwargs=TASK, size="micro",
                         steps=(steps,) * models, batch_size=32, episode_steps=24,
                         eval_every=10**9, heldout_episodes=1, threads=threads)
        outcome = train_stack([Member(name=f"e{s}", regime="expert", seed=s)
                               for s in range(models)], plan)
        seconds, tokens = outcome.seconds, float(sum(outcome.tokens))
        policy = outcome.wait_policy
    print(json.dumps({"seconds": seconds, "tokens": tokens, "policy": policy}))


def main(argv: list[str] | None = None) -> int:
    from redraft.agent.backends.contention import sample_runnable

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--settings", default="loop,jobs2,stack,stack-passive,stack-active")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.models, args.steps, args.threads, args.first)
        return 0
    settings = args.settings.split(",")
    rates: dict[str, list[float]] = {s: [] for s in settings}
    print(f"{args.models} micro expert models x {args.steps} steps of 32, {args.threads} "
          f"torch threads, settings {settings}, {args.repeats} repeat(s)")
    for repeat in range(args.repeats):
        for setting in settings:
            env = dict(os.environ)
            env.pop("OMP_WAIT_POLICY", None)
            if setting == "stack-passive":
                env["OMP_WAIT_POLICY"] = "PASSIVE"
            elif setting == "stack-active":
                env["OMP_WAIT_POLICY"] = "ACTIVE"
            others = sample_runnable()
            started = time.perf_counter()
            if setting == "jobs2":
                half = args.models // 2
                procs = [subprocess.Popen(
                    [sys.executable, __file__, "--child", "loop", "--models", str(count),
                     "--first", str(first), "--steps", str(args.steps), "--threads", "1"],
                    env=env, stdout=subprocess.PIPE, text=True)
                    for first, count in ((0, half), (half, args.models - half))]
                parts = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
                result = {"seconds": max(r["seconds"] for r in parts),
                          "tokens": sum(r["tokens"] for r in parts), "policy": parts[0]["policy"]}
            else:
                done = subprocess.run(
                    [sys.executable, __file__, "--child", setting.split("-")[0], "--models",
                     str(args.models), "--steps", str(args.steps), "--threads",
                     str(args.threads)], env=env, capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
            rate = result["tokens"] / result["seconds"]
            rates[setting].append(rate)
            print(f"repeat {repeat + 1} {setting:14s} {result['seconds']:7.1f} s training, "
                  f"{rate:9,.0f} tokens/s, policy {result['policy']}, process "
                  f"{time.perf_counter() - started:.0f} s, other runnable tasks {others}",
                  flush=True)
    base = rates[settings[0]]
    print(f"\nsetting         median tokens/s   per-repeat ratio to {settings[0]}")
    for setting in settings:
        ratios = ", ".join(f"{r / b:.2f}" for r, b in zip(rates[setting], base, strict=True))
        print(f"{setting:14s} {statistics.median(rates[setting]):14,.0f}   {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
