"""Cost as an episode grows: per-step latency of a long running_sum episode, llamacpp backend.

One ``running_sum`` episode (history representation: every earlier step stays in the
prompt, so the prompt grows by a line per step) is played for ``--steps`` steps by the
embedded model, the model's own answers committed as in an eval. Each step is one backend
call of one request with the episode's ``cache_key``. Printed: the median latency in a
window of steps around steps 1, 25, 50 and 100 (``--window`` steps each), the prompt
length there, and the ratio to step 1. With the batched engine a step evaluates only what
follows the prefix its sequence already holds, so the cost should stay flat while the
prompt grows from ~100 to ~1700 tokens.

``--sequential`` adds the sequential engine with a second episode interleaved (the
runner's pattern at batch 2), which re-evaluates each prompt in full; it is slow.

    python bench/llamacpp_episode_cost.py [--steps 100] [--window 5] [--sequential]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from redraft.agent.backends import GenerationRequest, Message, SamplingParams
from redraft.agent.backends.llamacpp import LlamaCppBackend
from redraft.evals.tasks import Episode, load_task

MARKS = (1, 25, 50, 100)


async def play(
    backend: LlamaCppBackend, episodes: int, steps: int, max_tokens: int
) -> list[tuple[float, int]]:
    """(seconds, prompt tokens of the first episode) per step."""
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
    for _ in range(steps):
        requests = [
            GenerationRequest(
                messages=episode.prompt().messages,
                params=SamplingParams(max_tokens=max_tokens),
                cache_key=str(i),
            )
            for i, episode in enumerate(running)
        ]
        started = time.perf_counter()
        outputs = await backend.generate(requests)
        timings.append((time.perf_counter() - started, outputs[0].usage.prompt_tokens))
        for episode, output in zip(running, outputs, strict=True):
            episode.commit(output.text)
    return timings


def report(label: str, timings: list[tuple[float, int]], window: int) -> None:
    marks = [m for m in MARKS if m <= len(timings)]
    rows = []
    for mark in marks:
        lo = max(0, min(mark - 1 - window // 2, len(timings) - window))
        part = timings[lo : lo + window]
        rows.append((mark, statistics.median(t for t, _ in part), part[len(part) // 2][1]))
    base = rows[0][1]
    print(label)
    print(f"{'step':>6} {'seconds':>8} {'prompt tok':>11} {'x step 1':>9}")
    for mark, seconds, prompt in rows:
        print(f"{mark:>6} {seconds:>8.3f} {prompt:>11} {seconds / base:>8.2f}x")


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
