"""Measure prompt-prefix reuse in the llamacpp backend.

The same episodes (a long fixed preamble, then a chat that grows a few tokens per step) are
decoded in four orders, in one run:

- grouped:      episode after episode (one batch holding every request, grouped by
                ``cache_key``), so each prompt extends the one evaluated just before;
- interleaved:  round after round, one batch per round holding one request per episode:
                the vectorized runner's pattern, where consecutive prompts belong to
                different episodes and only the shared preamble is reused;
- interleaved + RAM cache: the same, with ``ram_cache_mb`` snapshots restoring each
                episode's own prefix;
- no reuse:     interleaved, every prompt evaluated from scratch (``reuse_prefix=False``).

Usage: python bench/llamacpp_prefix.py [--episodes 4] [--steps 8] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from redraft.agent.backends._protocol import GenerationRequest, Message, SamplingParams
from redraft.agent.backends.llamacpp import LlamaCppBackend

PREAMBLE = (
    "You play a long game of chess. Rules: answer with one move in standard algebraic "
    "notation, nothing else. Think of piece safety, centre control, king safety and "
    "development. The board is shown after each move as a grid of eight ranks. "
) * 4


def episode_request(episode: int, step: int) -> GenerationRequest:
    messages = [
        Message(role="system", content=PREAMBLE),
        Message(role="user", content=f"Game {episode}. Move 1: what do you play?"),
    ]
    for t in range(1, step + 1):
        messages.append(Message(role="assistant", content=f"Nf{(t + episode) % 8 + 1}"))
        messages.append(Message(role="user", content=f"Opponent plays e{t % 8 + 1}. Move {t + 1}?"))
    return GenerationRequest(
        messages=tuple(messages),
        params=SamplingParams(max_tokens=1),
        cache_key=f"episode-{episode}",
    )


async def timed(
    backend: LlamaCppBackend, batches: list[list[GenerationRequest]]
) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = 0
    for batch in batches:
        tokens += sum(g.usage.prompt_tokens for g in await backend.generate(batch))
    return time.perf_counter() - started, tokens


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs; min is kept")
    parser.add_argument("--model", default="smollm2", help="smollm2 or a GGUF path")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    grouped = [[episode_request(e, s) for e in range(args.episodes) for s in range(args.steps)]]
    rounds = [[episode_request(e, s) for e in range(args.episodes)] for s in range(args.steps)]
    setups = [
        ("grouped by cache_key", {}, grouped),
        ("interleaved", {}, rounds),
        ("interleaved + RAM cache", {"ram_cache_mb": 1024}, rounds),
        ("no reuse (from scratch)", {"reuse_prefix": False}, rounds),
    ]
    times: list[list[float]] = [[] for _ in setups]
    tokens = [0] * len(setups)
    # Setups alternate within each repeat, so a load change on the machine hits all of them;
    # the minimum over repeats is the least disturbed run. A fresh model per run: no cache
    # (key-value or RAM) survives from an earlier run.
    for _ in range(args.repeats):
        for i, (_, options, batches) in enumerate(setups):
            backend = LlamaCppBackend.from_spec(
                args.model, n_ctx=4096, n_threads=args.threads, **options
            )
            await timed(backend, [[episode_request(99, 0)]])  # warm-up, another episode
            seconds, tokens[i] = await timed(backend, batches)
            await backend.aclose()
            times[i].append(seconds)
            print(f"  run {len(times[i])}: {setups[i][0]:<26} {seconds:8.2f} s", flush=True)

    requests = args.episodes * args.steps
    base = min(times[0])
    print(
        f"{requests} requests ({args.episodes} episodes x {args.steps} steps), model "
        f"{args.model}, threads {args.threads or 'auto'}, min of {args.repeats} alternating runs"
    )
    header = ("order", "seconds", "all runs", "prompt tok", "req/s", "x grouped")
    print("{:<26} {:>8} {:>22} {:>11} {:>7} {:>10}".format(*header))
    for (label, _, _), runs, count in zip(setups, times, tokens, strict=True):
        best = min(runs)
        spread = "/".join(f"{t:.1f}" for t in runs)
        print(
            f"{label:<26} {best:8.2f} {spread:>22} {count:11d} {requests / best:7.1f} "
            f"{best / base:10.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
