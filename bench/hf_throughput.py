"""Batched generation throughput of the hf backend: answers/s and tokens/s by batch size.

Loads one model (default ``hf/smollm2``: the embedded SmolLM2 GGUF through transformers;
any ``hf/...`` spec works) on CUDA when available, then decodes the same set of distinct
prompts at each batch size, side by side. Every batch size produces ``--answers`` answers
(``answers / batch`` calls), so the columns compare like with like.

GPU:  python bench/hf_throughput.py                       (batches 1, 8, 64; 64 answers)
CPU:  python bench/hf_throughput.py --batches 1,4,8 --answers 8 --max-tokens 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

# Before torch loads: OpenMP workers that spin between parallel regions (the default) lose
# 10x or more on a CPU shared with other processes; measured on a busy 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from redraft.agent.backends import GenerationRequest, Message, SamplingParams
from redraft.agent.backends.hf import HFBackend

TOPICS = ["the sea", "chess", "a river", "bread", "the moon", "a clock", "rain", "a garden"]


def prompt(i: int, max_tokens: int, temperature: float) -> GenerationRequest:
    topic = TOPICS[i % len(TOPICS)]
    return GenerationRequest(
        messages=(
            Message(role="user", content=f"Question {i}: write one sentence about {topic}."),
        ),
        params=SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=i),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="what follows hf/ in a model string")
    parser.add_argument("--batches", default="1,8,64", help="comma-separated batch sizes")
    parser.add_argument("--answers", type=int, default=64, help="answers per batch size")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda if any)")
    args = parser.parse_args()
    sizes = [int(b) for b in args.batches.split(",")]

    started = time.perf_counter()
    backend = HFBackend.from_spec(args.model, device=args.device, max_batch_size=max(sizes))
    load_seconds = time.perf_counter() - started
    requests = [prompt(i, args.max_tokens, args.temperature) for i in range(args.answers)]
    await backend.generate(requests[:1])  # warm-up: kernels, allocator, caches

    rows = []
    for size in sizes:
        tokens = 0
        started = time.perf_counter()
        for start in range(0, len(requests), size):
            outputs = await backend.generate(requests[start : start + size])
            tokens += sum(g.usage.completion_tokens for g in outputs)
        seconds = time.perf_counter() - started
        rows.append((size, seconds, len(requests) / seconds, tokens / seconds, tokens))
    await backend.aclose()

    print(
        f"model hf/{args.model} on {backend.device}, loaded in {load_seconds:.1f} s; "
        f"{args.answers} answers per batch size, max_tokens {args.max_tokens}, "
        f"temperature {args.temperature}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )
    header = ("batch", "seconds", "answers/s", "tokens/s", "tokens", "speedup")
    print("{:>6} {:>9} {:>10} {:>9} {:>7} {:>8}".format(*header))
    for size, seconds, answers_rate, token_rate, tokens in rows:
        speedup = answers_rate / rows[0][2]
        print(
            f"{size:>6} {seconds:>9.2f} {answers_rate:>10.2f} {token_rate:>9.1f} {tokens:>7} "
            f"{speedup:>7.1f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
