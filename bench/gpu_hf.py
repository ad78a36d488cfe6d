"""GPU benchmark of the ``hf`` backend: answers/s by batch size, and redraft eval vs raw engine.

One command, with a hard time budget (``--budget``, default 240 s: the process exits when it
is spent, after printing what it measured so far):

    python bench/gpu_hf.py

1. Answers/s at batch 1, 8, 64 and 256 (``--batches``): independent questions, greedy,
   ``--max-tokens`` tokens, ``max(batch, --answers)`` answers per batch size; best of two
   runs per size (the second run goes only if the budget allows).
2. Framework vs raw: ``redraft eval`` of ``running_sum`` (critic ``tool``, k=1, all episodes
   in one batch) through a backend that records its calls, against a bare loop replaying
   those calls on the same backend; alternated twice, fastest kept.

Test it on a CPU with tiny settings:
``python bench/gpu_hf.py --device cpu --batches 1,2 --answers 2 --max-tokens 4
--episodes 2 --max-steps 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from framework_overhead import Recording

from redraft.agent.backends import GenerationRequest, Message, SamplingParams
from redraft.agent.backends.hf import HFBackend
from redraft.evals import EvalConfig, arun_eval

TOPICS = ["the sea", "chess", "a river", "bread", "the moon", "a clock", "rain", "a garden"]


def watchdog(budget: float) -> None:
    """End the process when the budget is spent, whatever it is doing."""

    def expire() -> None:
        print(f"time budget of {budget:.0f} s spent: stopping here", flush=True)
        os._exit(3)

    timer = threading.Timer(budget, expire)
    timer.daemon = True
    timer.start()


def question(run: int, i: int, max_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        messages=(
            Message(
                role="user", content=f"Question {run}.{i}: one sentence about {TOPICS[i % 8]}."
            ),
        ),
        params=SamplingParams(max_tokens=max_tokens),
    )


async def throughput(
    backend: HFBackend, sizes: list[int], answers: int, max_tokens: int, deadline: float
) -> None:
    header = ("batch", "answers", "seconds", "answers/s", "tokens/s")
    print("{:>6} {:>8} {:>8} {:>10} {:>9}".format(*header), flush=True)
    base = None
    for size in sizes:
        count = max(size, answers)
        best: tuple[float, int] | None = None
        for run in range(2):
            if run and time.monotonic() > deadline:
                break
            requests = [question(run, i, max_tokens) for i in range(count)]
            tokens = 0
            started = time.perf_counter()
            for start in range(0, count, size):
                outputs = await backend.generate(requests[start : start + size])
                tokens += sum(g.usage.completion_tokens for g in outputs)
            seconds = time.perf_counter() - started
            if best is None or seconds < best[0]:
                best = (seconds, tokens)
        if best is None:
            break
        seconds, tokens = best
        rate = count / seconds
        base = base or rate
        print(
            f"{size:>6} {count:>8} {seconds:>8.2f} {rate:>10.1f} {tokens / seconds:>9.0f}"
            f"   {rate / base:.1f}x batch {sizes[0]}",
            flush=True,
        )


async def framework(backend: HFBackend, args: argparse.Namespace, deadline: float) -> None:
    config = EvalConfig.model_validate(
        {
            "task": "running_sum", "model": backend.name,
            "episodes": args.episodes, "max_steps": args.max_steps,
            "batch_size": args.episodes, "error_policy": "continue",
            "corrector": {"critic": "tool", "max_revisions": 1,
                          "sampling": {"max_tokens": 12}},
        }
    )  # fmt: skip
    evals: list[float] = []
    raws: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(2):
            if repeat and time.monotonic() > deadline:
                break
            recording: Any = Recording(backend)
            recording.aclose = _no_close
            started = time.perf_counter()
            await arun_eval(config, Path(tmp) / f"run-{repeat}", backend=recording)
            evals.append(time.perf_counter() - started)
            started = time.perf_counter()
            for call in recording.calls:
                await backend.generate(call)
            raws.append(time.perf_counter() - started)
            print(f"  run {repeat + 1}: eval {evals[-1]:.2f} s, raw {raws[-1]:.2f} s", flush=True)
    print(
        f"running_sum, critic tool, k=1, {args.episodes} episodes x {args.max_steps} steps "
        f"in one batch: redraft eval {min(evals):.2f} s, raw {min(raws):.2f} s, "
        f"framework / raw {min(evals) / min(raws):.3f}x",
        flush=True,
    )


async def _no_close() -> None:
    return None


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="what follows hf/ in a model string")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda if any)")
    parser.add_argument("--batches", default="1,8,64,256")
    parser.add_argument("--answers", type=int, default=32, help="answers per batch size (min)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=64, help="framework part: episodes")
    parser.add_argument("--max-steps", type=int, default=4, help="framework part: steps")
    parser.add_argument("--budget", type=float, default=240.0, help="hard limit in seconds")
    args = parser.parse_args()
    start = time.monotonic()
    watchdog(args.budget)
    sizes = [int(b) for b in args.batches.split(",")]
    backend = HFBackend.from_spec(args.model, device=args.device, max_batch_size=max(sizes))
    loaded = time.monotonic() - start
    print(
        f"hf/{args.model} on {backend.device}, loaded in {loaded:.1f} s; python "
        f"{sys.version.split()[0]}, budget {args.budget:.0f} s",
        flush=True,
    )
    await backend.generate([question(-1, 0, 2)])  # warm-up: kernels, allocator
    left = args.budget - (time.monotonic() - start)
    try:
        await throughput(
            backend, sizes, args.answers, args.max_tokens, time.monotonic() + 0.45 * left
        )
        left = args.budget - (time.monotonic() - start)
        await framework(backend, args, time.monotonic() + 0.5 * left)
    finally:
        await backend.aclose()
    print(f"done in {time.monotonic() - start:.1f} s", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
