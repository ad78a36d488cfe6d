"""Cost as an episode grows: per-step latency of a long running_sum episode, llamacpp backend.

One ``running_sum`` episode (history representation: every earlier step stays in the
prompt, so the prompt grows by a line per step) is played for ``--steps`` steps by the
embedded model, the model's own answers committed as in an eval. Each step is one backend
call of one request with the episode's ``cache_key``. Printed: the median latency in a
window of steps around steps 1, 25, 50 and 100 (``--window`` steps each), in wall-clock
and in CPU seconds of this process (on a shared machine the wall clock mostly measures the
other processes), the prompt length there, and the ratios to step 1. With the batched
engine a step evaluates only what follows the prefix its sequence already holds, so the
cost should stay flat while the prompt grows from ~140 to ~1600 tokens.

``--sequential`` adds the sequential engine with a second episode interleaved (the
runner's pattern at batch 2), which re-evaluates each prompt in full; it is slow.

    python bench/llamacpp_episode_cost.py [--steps 100] [--window 5] [--sequential]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from redraft.agent.backends import GenerationRequest, Message, SamplingParams
from redraft.agent.backends.llamacpp import LlamaCppBackend
from redraft.evals.tasks import Episode, load_task

MARKS = (1, 25, 50, 100)


async def play(
    backend: LlamaCppBackend, episodes: int, steps: int, max_tokens: int
) -> list[tuple[float, float, int]]:
    """(wall seconds, CPU seconds, prompt tokens of the first episode) per step."""
    task = load_task("running_sum", representation="history")
    running: list[Episode] = [
        task.new_episode(seed, max_steps=steps, error_policy="continue")
        for seed in range(episodes)
    ]
    warm = GenerationRequest(
        messages=(Message(role="user", content="Warm up."),), cache_key="warm-up"
    )
    await backend.generate([warm])  # the context is made on first use: not part of step 1
    timings = []
    oracle = task.oracle()
    for _ in range(steps):
        prompts = [episode.prompt() for episode in running]
        requests = [
            GenerationRequest(
                messages=prompts[i].messages,
                params=SamplingParams(max_tokens=max_tokens),
                cache_key=str(i),
            )
            for i in range(len(running))
        ]
        started, cpu = time.perf_counter(), time.process_time()
        outputs = await backend.generate(requests)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        timings.append((wall, cpu, outputs[0].usage.prompt_tokens))
        for episode, prompt, output in zip(running, prompts, outputs, strict=True):
            episode.commit(output.text, await oracle.judge(prompt.oracle_context, output.text))
    return timings


def report(label: str, timings: list[tuple[float, float, int]], window: int) -> None:
    marks = [m for m in MARKS if m <= len(timings)]
    rows = []
    for mark in marks:
        lo = max(0, min(mark - 1 - window // 2, len(timings) - window))
        part = timings[lo : lo + window]
        wall = statistics.median(t[0] for t in part)
        cpu = statistics.median(t[1] for t in part)
        rows.append((mark, wall, cpu, part[len(part) // 2][2]))
    base, cpu_base = rows[0][1], rows[0][2]
    print(label)
    header = ("step", "wall s", "x step 1", "cpu s", "x step 1", "prompt tok")
    print("{:>6} {:>8} {:>9} {:>8} {:>9} {:>11}".format(*header))
    for mark, wall, cpu, prompt in rows:
        print(
            f"{mark:>6} {wall:>8.3f} {wall / base:>8.2f}x {cpu:>8.3f} {cpu / cpu_base:>8.2f}x "
            f"{prompt:>11}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--window", type=int, default=5, help="steps per median")
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sequential", action="store_true", help="also the sequential engine")
    args = parser.parse_args()
    setups = [("batched", 1)] + ([("sequential", 2)] if args.sequential else [])
    for engine, episodes in setups:
        backend = LlamaCppBackend.from_spec(
            "smollm2", engine=engine, n_threads=args.threads, n_ctx=2048
        )
        try:
            timings = await play(backend, episodes, args.steps, args.max_tokens)
        finally:
            await backend.aclose()
        report(
            f"engine {engine}, {episodes} running_sum episode(s) in flight, {args.steps} steps, "
            f"median of {args.window} steps around each mark",
            timings,
            args.window,
        )


if __name__ == "__main__":
    asyncio.run(main())
