"""Embedded model answers/s at batch 1, 4 and 16: the batched engine against the sequential one.

The same answers (independent questions, one episode each, ``--max-tokens`` tokens of a
sentence) are asked in batches of 1, 4 and 16 of three setups of the ``llamacpp`` backend
(SmolLM2-135M on the CPU): the batched engine with the default 32-bit weights, the batched
engine with the file's own Q4_1 weights, and the sequential engine with Q4_1 (the path
before batching), alternating setups and batch sizes within each repeat; the fastest of
``--repeats`` runs is kept. Every run asks new questions, so no answer is served
from a cache (the chat template's shared prefix is, for both engines). Printed per answer:
wall-clock rate and CPU rate (answers per CPU-second of this process, all threads): on a
machine shared with other busy processes the wall clock mostly measures the others.

    python bench/llamacpp_batching.py [--answers 16] [--max-tokens 12] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from redraft.agent.backends import GenerationRequest, Message, SamplingParams
from redraft.agent.backends.llamacpp import LlamaCppBackend

TOPICS = ["the sea", "chess", "a river", "bread", "the moon", "a clock", "rain", "a garden"]
SETUPS = {  # name: backend options
    "batched f32": {"engine": "batched", "weights": "f32"},
    "batched q4_1": {"engine": "batched", "weights": "native"},
    "sequential q4_1": {"engine": "sequential", "weights": "native"},
}


def question(run: int, i: int, max_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        messages=(
            Message(
                role="user",
                content=f"Question {run}.{i}: write a long sentence about {TOPICS[i % 8]}.",
            ),
        ),
        params=SamplingParams(max_tokens=max_tokens),
        cache_key=f"{run}.{i}",
    )


async def answers_per_second(
    backend: LlamaCppBackend, run: int, size: int, answers: int, max_tokens: int
) -> tuple[float, float, int]:
    """Answers per wall-clock second, per CPU second, and tokens generated."""
    requests = [question(run, i, max_tokens) for i in range(answers)]
    tokens = 0
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, answers, size):
        outputs = await backend.generate(requests[start : start + size])
        tokens += sum(g.usage.completion_tokens for g in outputs)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return answers / wall, answers / cpu, tokens


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--answers", type=int, default=16, help="answers per measurement")
    parser.add_argument("--batches", default="1,4,16")
    parser.add_argument("--max-tokens", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    sizes = [int(b) for b in args.batches.split(",")]
    backends = {
        setup: LlamaCppBackend.from_spec(
            "smollm2", n_threads=args.threads, n_seq=max(sizes), **options
        )
        for setup, options in SETUPS.items()
    }
    rates: dict[tuple[str, int], list[float]] = {}
    cpu_rates: dict[tuple[str, int], list[float]] = {}
    tokens: dict[tuple[str, int], int] = {}
    run = 0
    try:
        for backend in backends.values():  # warm-up: contexts, caches, threads
            await answers_per_second(backend, -1, max(sizes), max(sizes), 2)
        for _ in range(args.repeats):
            for size in sizes:
                for engine, backend in backends.items():
                    run += 1
                    rate, cpu_rate, count = await answers_per_second(
                        backend, run, size, args.answers, args.max_tokens
                    )
                    rates.setdefault((engine, size), []).append(rate)
                    cpu_rates.setdefault((engine, size), []).append(cpu_rate)
                    tokens[engine, size] = count
    finally:
        for backend in backends.values():
            await backend.aclose()
    threads = args.threads or len(os.sched_getaffinity(0))
    print(
        f"llamacpp/smollm2 on {threads} threads, {args.answers} answers per measurement, "
        f"max_tokens {args.max_tokens}, best of {args.repeats} alternating runs"
    )
    header = ("setup", "batch", "answers/s", "x batch 1", "answers/cpu-s", "x batch 1", "tokens")
    print("{:<16} {:>5} {:>10} {:>10} {:>14} {:>10} {:>7}".format(*header))
    for engine in SETUPS:
        base, cpu_base = max(rates[engine, sizes[0]]), max(cpu_rates[engine, sizes[0]])
        for size in sizes:
            best, cpu_best = max(rates[engine, size]), max(cpu_rates[engine, size])
            print(
                f"{engine:<16} {size:>5} {best:>10.2f} {best / base:>9.2f}x {cpu_best:>14.2f} "
                f"{cpu_best / cpu_base:>9.2f}x {tokens[engine, size]:>7}"
            )
    old = "sequential q4_1"
    for setup in list(SETUPS)[:2]:
        for size in sizes:
            ratio = max(rates[setup, size]) / max(rates[old, size])
            cpu_ratio = max(cpu_rates[setup, size]) / max(cpu_rates[old, size])
            print(f"{setup} / {old} at batch {size}: wall {ratio:.2f}x, cpu {cpu_ratio:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
