"""Items per second through the corrector: one invocation per item vs one per batch.

The design keeps a batch in the graph state so that an eval of N episodes costs one graph
step per round instead of N. This prints both, measured side by side in one run, with the
simulated backend (so the graph's own overhead is what is measured).

    python bench/corrector_batching.py [--items 512] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from redraft.agent import Item, build_corrector
from redraft.agent.backends import Message, SimulatedBackend, SimulationHint
from redraft.tools import FunctionVerifier, Verdict


def check(_: object, output: str) -> Verdict:
    return Verdict.accept() if output == "R" else Verdict.reject("wrong_value", "not R")


def items(n: int, backend: SimulatedBackend) -> list[Item]:
    # Hints go to the simulated backend out of band, as the runner posts them.
    backend.hints.post(
        {str(i): SimulationHint(correct="R", wrong=("W",), stream=str(i)) for i in range(n)}
    )
    return [Item(id=str(i), messages=(Message(role="user", content=f"step {i}"),))
            for i in range(n)]


async def per_item(n: int, rounds: int) -> float:
    backend = SimulatedBackend.from_spec("e=0.3,r=0.5")
    graph = build_corrector(backend, FunctionVerifier(check), max_rounds=rounds)
    started = time.perf_counter()
    for item in items(n, backend):
        await graph.ainvoke({"items": [item]})
    return n / (time.perf_counter() - started)


async def batched(n: int, rounds: int) -> float:
    backend = SimulatedBackend.from_spec("e=0.3,r=0.5")
    graph = build_corrector(backend, FunctionVerifier(check), max_rounds=rounds)
    batch = items(n, backend)
    started = time.perf_counter()
    await graph.ainvoke({"items": batch})
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    one = asyncio.run(per_item(args.items, args.rounds))
    many = asyncio.run(batched(args.items, args.rounds))
    print(f"items={args.items} max_rounds={args.rounds} (simulated backend, e=0.3, r=0.5)")
    print(f"one invocation per item : {one:10.1f} items/s")
    print(f"one invocation per batch: {many:10.1f} items/s")
    print(f"ratio batched/per-item  : {many / one:10.1f}x")


if __name__ == "__main__":
    main()
