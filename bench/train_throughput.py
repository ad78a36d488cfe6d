"""Testbed training and evaluation speed: the loop before issue 20 against this one.

Each training run is a fresh process (so each sees the environment a user's would, and the
OpenMP settings torch reads when it loads), alternating old and new, ``--repeats`` times,
at the same size, batch and step count. Printed per run and as the best of each:

- tokens/s: prompt and answer tokens (padding excluded) per second of training, measured
  from the first logged step to the last (so start-up and compilation are left out; the
  seconds to the first logged step are printed as ``warm s``);
- FLOP/s: 6 x parameters x tokens/s (every trainable parameter, the tied embedding once as
  the output layer's matrix; attention's own products, ~2% at these lengths, left out), and
  its share of ``--peak`` (CPU default: 96 GFLOP/s per thread, i.e. two 256-bit FMA pipes
  of fp32 at ~3 GHz; CUDA default: 790 TFLOP/s, an H200's measured dense bf16 rate);
- data share: the step time spent making batches (old: inside the step; new: waiting for
  the background thread) and, for the new loop, that thread's CPU time as a share of the
  run (on 2 cores it competes with the model for the CPU).

Then the testbed eval: answers/s of the ``hf`` backend on the model the last new run
trained, greedy, at batch 1, 64 and 512, with ``generate`` and with the static-cache loop,
and whether the two give the same answers.

    CPU:  OMP_WAIT_POLICY=PASSIVE python bench/train_throughput.py --device cpu --sizes micro,small
    CUDA: python bench/train_throughput.py --device cuda --sizes medium --quick   (< 3 minutes)

``old`` is ``bench/_legacy_train.py``, the loop of commit 3ba0ec9, in the environment given;
``old-passive`` (CPU default) the same with ``OMP_WAIT_POLICY=PASSIVE``, which the old loop
meant to set but set after torch had loaded (so it only took effect when the user exported
it): the difference between ``old`` and ``old-passive`` is that fix alone. ``new-eager``
(CUDA default) is the new loop with ``compile="off"``. The eval runs with
``OMP_WAIT_POLICY=PASSIVE`` for both modes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
CPU_PEAK_PER_THREAD = 96e9
CUDA_PEAK = 790e12


def child_train(args: argparse.Namespace) -> None:
    """Train one model (old or new loop) and print its measurements as one JSON line."""
    from redraft.lab.testbed import TrainConfig, train

    if args.child in ("old", "old-passive"):
        sys.path.insert(0, str(BENCH))
        import _legacy_train as loop  # type: ignore[import-not-found]

        train = loop.train

    config = TrainConfig(
        task="running_sum", regime=args.regime, size=args.size, steps=args.warm + args.steps,
        minutes=None, batch_size=args.batch, lr=args.lr, threads=args.threads,
        device=args.device, log_every=args.warm,
        compile="off" if args.child == "new-eager" else "auto",
    )
    started = time.perf_counter()
    recipe = train(config, Path(args.out))
    total = time.perf_counter() - started
    first, last = recipe.loss_curve[0], recipe.loss_curve[-1]
    steps_per_s = (last.step - first.step) / max(last.seconds - first.seconds, 1e-9)
    if args.child in ("old", "old-passive"):
        data, producer = loop.DATA_SECONDS[0], 0.0
    else:
        data, producer = recipe.data_wait_seconds, recipe.producer_cpu_seconds
    print(json.dumps({
        "tokens_per_s": steps_per_s * recipe.tokens_seen / recipe.steps_done,
        "steps_per_s": steps_per_s, "warm_s": first.seconds, "seconds": recipe.seconds,
        "process_s": total, "parameters": recipe.parameters,
        "data_share": data / recipe.seconds, "producer_share": producer / recipe.seconds,
        "compiled": recipe.compiled, "notes": recipe.notes, "loss": last.loss,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
    }), flush=True)


def child_eval(args: argparse.Namespace) -> None:
    """Answers/s of the hf backend on a testbed model, generate vs the static loop."""
    from redraft.agent.backends import GenerationRequest, SamplingParams
    from redraft.agent.backends.hf import HFBackend
    from redraft.evals.tasks import load_task
    from redraft.lab.testbed import examples, read_recipe

    recipe = read_recipe(Path(args.out))
    if recipe is None:
        raise SystemExit(f"{args.out} holds no testbed model")
    task = load_task(recipe.task, **recipe.task_options)
    stream = examples(task, "expert", seed=12345, episode_steps=20)
    batches = [int(b) for b in args.eval_batches.split(",")]
    largest = max(batches)
    requests = [
        GenerationRequest(messages=next(stream).messages,
                          params=SamplingParams(temperature=0.0, max_tokens=24))
        for _ in range(max(largest, args.answers))
    ]
    backends = {mode: HFBackend.from_spec(args.out, decode=mode, max_batch_size=largest,
                                          device=args.device)
                for mode in ("generate", "static")}
    rows = []
    texts: dict[str, list[str]] = {}
    for batch in batches:
        count = max(batch, args.answers if batch == 1 else batch)
        for backend in backends.values():
            asyncio.run(backend.generate(requests[:batch]))  # warm-up
        for _ in range(2):  # alternating, best of two
            for mode, backend in backends.items():
                started = time.perf_counter()
                outputs = []
                for start in range(0, count, batch):
                    outputs += asyncio.run(backend.generate(requests[start : start + batch]))
                seconds = time.perf_counter() - started
                rows.append({"batch": batch, "mode": mode, "answers": count,
                             "answers_per_s": count / seconds})
                if batch == largest:
                    texts[mode] = [g.text for g in outputs]
    same = sum(a == b for a, b in zip(texts["generate"], texts["static"], strict=True))
    print(json.dumps({"rows": rows, "same": same, "compared": len(texts["generate"])}),
          flush=True)


def run_child(argv: list[str], env: dict[str, str], timeout: float) -> dict[str, Any] | None:
    command = [sys.executable, str(Path(__file__).resolve()), *argv]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"  (timed out after {timeout:.0f} s: {' '.join(argv[:4])})", flush=True)
        return None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        print(f"  (failed: {' '.join(argv[:4])}: {tail})", flush=True)
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--sizes", default=None, help="comma-separated (default micro,small "
                        "on CPU, medium on CUDA)")
    parser.add_argument("--batch", type=int, default=None, help="64 on CPU, 512 on CUDA")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--regime", default="expert")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per run")
    parser.add_argument("--warm", type=int, default=None, help="untimed first steps")
    parser.add_argument("--repeats", type=int, default=None, help="alternating runs per loop")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--variants", default=None,
                        help="default old,old-passive,new (CPU), old,new,new-eager (CUDA)")
    parser.add_argument("--eval-batches", default="1,64,512")
    parser.add_argument("--answers", type=int, default=32, help="answers at batch 1")
    parser.add_argument("--no-eval", action="store_true")
    parser.add_argument("--peak", type=float, default=None, help="device peak FLOP/s")
    parser.add_argument("--quick", action="store_true", help="CUDA: fit in ~3 minutes")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    if args.child in ("old", "old-passive", "new", "new-eager"):
        child_train(args)
        return
    if args.child == "eval":
        child_eval(args)
        return
    sizes = (args.sizes or ("medium" if cuda else "micro,small")).split(",")
    batch = args.batch or (512 if cuda else 64)
    steps = args.steps or (100 if cuda else 40)
    warm = args.warm or (10 if cuda else 5)
    repeats = args.repeats or (1 if cuda else 2)
    variants = (args.variants or ("old,new,new-eager" if cuda else "old,old-passive,new")
                ).split(",")
    peak = args.peak or (CUDA_PEAK if cuda else CPU_PEAK_PER_THREAD * args.threads)
    timeout = 80.0 if args.quick else 1800.0
    answers = min(args.answers, 16) if args.quick else args.answers
    print(f"device {args.device}, batch {batch}, {warm} + {steps} steps per run, regime "
          f"{args.regime}, threads {args.threads}, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', '(unset)')}, peak {peak:.3g} FLOP/s, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    header = (f"{'size':<7} {'loop':<10} {'run':>3} {'tokens/s':>10} {'FLOP/s':>9} "
              f"{'of peak':>8} {'data':>6} {'thread':>7} {'warm s':>7} {'steps/s':>8}")
    print(header, flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        last_model: Path | None = None
        for size in sizes:
            best: dict[str, dict[str, Any]] = {}
            for run in range(repeats):
                for variant in variants:
                    out = tmp / f"{size}-{variant}-{run}"
                    argv = ["--child", variant, "--size", size, "--out", str(out),
                            "--device", args.device, "--batch", str(batch), "--lr",
                            str(args.lr), "--regime", args.regime, "--steps", str(steps),
                            "--warm", str(warm), "--threads", str(args.threads)]
                    env = dict(os.environ)
                    if variant == "old-passive":
                        env["OMP_WAIT_POLICY"] = "PASSIVE"
                    result = run_child(argv, env, timeout)
                    if result is None:
                        continue
                    if variant == "new":
                        last_model = out
                    flops = 6 * result["parameters"] * result["tokens_per_s"]
                    print(f"{size:<7} {variant:<10} {run:>3} {result['tokens_per_s']:>10,.0f} "
                          f"{flops:>9.3g} {flops / peak:>8.2%} {result['data_share']:>6.1%} "
                          f"{result['producer_share']:>7.1%} {result['warm_s']:>7.1f} "
                          f"{result['steps_per_s']:>8.2f}"
                          + (f"  {result['notes']}" if result["notes"] else ""), flush=True)
                    if (variant not in best
                            or result["tokens_per_s"] > best[variant]["tokens_per_s"]):
                        best[variant] = result
            if "old" in best:
                for variant, result in best.items():
                    if variant != "old":
                        print(f"{size}: best {variant} / best old tokens/s = "
                              f"{result['tokens_per_s'] / best['old']['tokens_per_s']:.2f}x "
                              f"(parameters {result['parameters']:,}, compiled "
                              f"{result['compiled']})", flush=True)
        if args.no_eval or last_model is None:
            return
        argv = ["--child", "eval", "--out", str(last_model), "--device", args.device,
                "--eval-batches", args.eval_batches, "--answers", str(answers)]
        result = run_child(argv, {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}, timeout)
        if result is None:
            return
        print(f"eval of {last_model.name} (greedy, up to 24 tokens): answers/s")
        print(f"{'batch':>6} {'generate':>10} {'static':>10} {'ratio':>7}")
        by: dict[tuple[int, str], float] = {}
        for r in result["rows"]:
            key = (r["batch"], r["mode"])
            by[key] = max(by.get(key, 0.0), r["answers_per_s"])
        for b in sorted({r["batch"] for r in result["rows"]}):
            old, new = by[(b, "generate")], by[(b, "static")]
            print(f"{b:>6} {old:>10.1f} {new:>10.1f} {new / old:>6.2f}x")
        print(f"same answers at the largest batch: {result['same']}/{result['compared']}")


if __name__ == "__main__":
    main()
