"""redraft's eval path against a bare loop over the same engine calls (llamacpp backend).

Setup ``eval`` runs ``redraft eval`` in-process (``arun_eval``: tasks, the corrector graph,
the verifier, the oracle, the event log on disk) with a backend that records every
``generate`` call it receives. Setup ``raw`` replays exactly those calls, batch by batch,
on a fresh backend of the same engine: the same prompts, sampling and batching, nothing
else. Greedy decoding does not depend on the batch (tested), so both do the same model work.
Each run gets a fresh backend (loaded outside the timing and warmed up); the setups
alternate, ``--repeats`` times, and the fastest run of each is kept, in wall-clock and in
CPU seconds of this process (on a shared machine the wall clock mostly measures the other
processes).

    python bench/framework_overhead.py [--episodes 8] [--max-steps 4] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redraft.agent.backends import (
    Generation,
    GenerationRequest,
    Message,
    SamplingParams,
    load_backend,
)
from redraft.evals import EvalConfig, arun_eval


class Recording:
    """A backend that passes calls on and remembers them."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.constraint_kinds = inner.constraint_kinds
        self.calls: list[list[GenerationRequest]] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.calls.append(list(requests))
        result: list[Generation] = await self.inner.generate(requests)
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


async def fresh(model: str, options: dict[str, Any]) -> Any:
    backend = load_backend(model, **options)
    warm = GenerationRequest(
        messages=(Message(role="user", content="Warm up."),),
        params=SamplingParams(max_tokens=2),
        cache_key="warm-up",
    )
    await backend.generate([warm])
    return backend


Times = tuple[float, float]
"""Wall-clock and CPU seconds."""


async def timed_eval(config: EvalConfig, out: Path) -> tuple[Times, list[list[GenerationRequest]]]:
    backend = Recording(await fresh(config.model, dict(config.model_options)))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        await arun_eval(config, out, backend=backend)
        times = (time.perf_counter() - started, time.process_time() - cpu)
    finally:
        await backend.aclose()
    return times, backend.calls


async def timed_raw(config: EvalConfig, calls: list[list[GenerationRequest]]) -> Times:
    backend = await fresh(config.model, dict(config.model_options))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for call in calls:
            await backend.generate(call)
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        await backend.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--task", default="running_sum")
    parser.add_argument("--model", default="llamacpp/smollm2")
    parser.add_argument("--critic", default="tool")
    parser.add_argument("--revisions", dest="revisions", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="backend option (repeatable), e.g. engine=sequential")
    args = parser.parse_args()
    options: dict[str, Any] = dict(o.split("=", 1) for o in args.option)
    config = EvalConfig.model_validate(
        {
            "task": args.task, "model": args.model, "model_options": options,
            "episodes": args.episodes, "max_steps": args.max_steps,
            "batch_size": args.episodes, "error_policy": "continue",
            "corrector": {"critic": args.critic, "max_revisions": args.revisions,
                          "sampling": {"max_tokens": args.max_tokens}},
        }
    )  # fmt: skip
    evals: list[Times] = []
    raws: list[Times] = []
    calls: list[list[GenerationRequest]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            times, calls = await timed_eval(config, Path(tmp) / f"run-{repeat}")
            evals.append(times)
            raws.append(await timed_raw(config, calls))
            print(
                f"  run {repeat + 1}: eval wall {evals[-1][0]:.2f} s cpu {evals[-1][1]:.2f} s, "
                f"raw wall {raws[-1][0]:.2f} s cpu {raws[-1][1]:.2f} s",
                flush=True,
            )
    requests = sum(len(call) for call in calls)
    print(
        f"{args.task}, {args.model} {options or ''}, critic {args.critic}, k={args.revisions}, "
        f"{args.episodes} episodes x {args.max_steps} steps in one batch: {len(calls)} calls, "
        f"{requests} requests; min of {args.repeats} alternating runs"
    )
    wall_eval, wall_raw = min(t[0] for t in evals), min(t[0] for t in raws)
    cpu_eval, cpu_raw = min(t[1] for t in evals), min(t[1] for t in raws)
    print(f"redraft eval  wall {wall_eval:8.2f} s  cpu {cpu_eval:8.2f} s")
    print(f"raw engine    wall {wall_raw:8.2f} s  cpu {cpu_raw:8.2f} s")
    print(f"framework / raw: wall {wall_eval / wall_raw:.3f}x, cpu {cpu_eval / cpu_raw:.3f}x")


if __name__ == "__main__":
    asyncio.run(main())
