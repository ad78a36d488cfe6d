"""The orchestration ceiling: agent-steps/s through the corrector with an instant backend.

With a backend and a verifier that cost (almost) nothing, what is left is redraft's own
work. Two setups do the same rounds on the same items, alternating, each warmed up and
repeated (the minimum is kept):

- graph: the compiled LangGraph corrector (propose -> verify -> revise, ``critic=tool``,
  ``k`` revisions), one ``ainvoke`` per batch;
- bare:  a plain loop making the same backend and verifier calls with the same prompts,
  building the same requests, no graph and no records.

Two shares of a round are printed. The graph's own share is the time outside the
corrector's node functions (``propose``, ``verify``, ``revise``, ``finish``, timed by
wrapping them): what LangGraph itself costs, state passing and routing. "Beyond the calls"
is ``(graph - bare) / graph``: everything redraft adds on top of the calls any corrector
must make (LangGraph, the typed per-round records, the routing). Batch sizes 1, 16 and 256
(``--batches``). Times are CPU seconds of this process (``time.process_time``): this is
pure Python work, and on a shared machine the wall clock mostly measures the others.

    python bench/orchestration.py [--batches 1,16,256] [--items 1024] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Any

from redraft.agent import CorrectorConfig, Item, _graph, build_corrector
from redraft.agent.backends import Generation, GenerationRequest, Message
from redraft.tools import Cost, FunctionVerifier, Verdict, safe_verify


class InstantBackend:
    """Answers at once: a wrong first proposal for every third item, right otherwise."""

    name = "instant"
    constraint_kinds: frozenset[str] = frozenset()

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [
            Generation(
                text="W" if r.purpose == "propose" and r.cache_key is not None
                and int(r.cache_key) % 3 == 0 else "R",
                usage=Cost(prompt_tokens=8, completion_tokens=1),
            )
            for r in requests
        ]

    async def aclose(self) -> None:
        return None


def check(_: object, output: str) -> Verdict:
    return Verdict.accept() if output == "R" else Verdict.reject("wrong_value", "Not R.")


NODE_SECONDS = [0.0]
"""Seconds spent inside the corrector's node functions."""


def _timed_node(method: Any) -> Any:
    async def node(self: Any, state: Any) -> Any:
        started = time.process_time()
        try:
            return await method(self, state)
        finally:
            NODE_SECONDS[0] += time.process_time() - started

    return node


for _name in ("propose", "verify", "revise", "finish"):
    setattr(_graph._Corrector, _name, _timed_node(getattr(_graph._Corrector, _name)))

VERIFIER = FunctionVerifier(check)
CONFIG = CorrectorConfig(critic="tool", max_revisions=2)


def make_items(n: int, offset: int) -> list[Item]:
    return [
        Item(
            id=str(i),
            messages=(
                Message(role="system", content="Answer R."),
                Message(role="user", content=f"Step {i + offset}: what is the answer?"),
            ),
            cache_key=str(i),
        )
        for i in range(n)
    ]


async def bare(backend: InstantBackend, items: list[Item], revisions: int) -> None:
    """The same calls without the graph: propose, verify, revise the rejected ones."""
    params = CONFIG.sampling
    todo = [(item, item.messages) for item in items]
    purpose = "propose"
    for _ in range(revisions + 1):
        requests = [
            GenerationRequest(messages=m, params=params, purpose=purpose, cache_key=i.cache_key)
            for i, m in todo
        ]
        outputs = await backend.generate(requests)
        pairs = zip(todo, outputs, strict=True)
        verdicts = await asyncio.gather(
            *(safe_verify(VERIFIER, i.context, g.text) for (i, _), g in pairs)
        )
        todo = [
            (
                i,
                (
                    *m,
                    Message(role="assistant", content=g.text),
                    Message(role="user", content=CONFIG.revise_template.format(
                        feedback=v.feedback())),
                ),
            )
            for (i, m), g, v in zip(todo, outputs, verdicts, strict=True)
            if not v.ok
        ]
        purpose = "revise"
        if not todo:
            return


async def timed_graph(batch: int, total: int) -> tuple[float, float]:
    """Seconds for ``total`` items, and the seconds of it spent outside the nodes."""
    graph = build_corrector(InstantBackend(), VERIFIER, config=CONFIG)
    await graph.ainvoke({"items": make_items(batch, 0)})  # warm-up
    # The caller's items are built before the clock starts: the graph does not build them.
    batches = [make_items(batch, start) for start in range(0, total, batch)]
    NODE_SECONDS[0] = 0.0
    started = time.process_time()
    for items in batches:
        state = await graph.ainvoke({"items": items})
        if len(state["results"]) != batch:
            raise RuntimeError("the corrector lost items")
    seconds = time.process_time() - started
    return seconds, seconds - NODE_SECONDS[0]


async def timed_bare(batch: int, total: int) -> float:
    backend = InstantBackend()
    await bare(backend, make_items(batch, 0), CONFIG.max_revisions)  # warm-up
    batches = [make_items(batch, start) for start in range(0, total, batch)]
    started = time.process_time()
    for items in batches:
        await bare(backend, items, CONFIG.max_revisions)
    return time.process_time() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batches", default="1,16,256")
    parser.add_argument(
        "--items", type=int, default=1024, help="agent-steps per measurement (>= 8 batches)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(b) for b in args.batches.split(",")]
    graph_times: dict[int, list[tuple[float, float]]] = {b: [] for b in sizes}
    bare_times: dict[int, list[float]] = {b: [] for b in sizes}
    for _ in range(args.repeats):
        for b in sizes:
            total = max(8 * b, args.items // b * b)  # at least 8 rounds at any size
            seconds, outside = await timed_graph(b, total)
            graph_times[b].append((seconds / total, outside / seconds))
            bare_times[b].append(await timed_bare(b, total) / total)
    print(
        f"instant backend and verifier, critic tool, k={CONFIG.max_revisions} (a third of the "
        f"items revised once), {args.items} agent-steps (>= 8 batches) per run, "
        f"min of {args.repeats} alternating runs"
    )
    header = ("batch", "graph steps/cpu-s", "bare", "graph's own share", "beyond the calls")
    print("{:>6} {:>18} {:>9} {:>18} {:>17}".format(*header))
    for b in sizes:
        g, share = min(graph_times[b])  # the fastest run, with its own share
        r = min(bare_times[b])
        print(f"{b:>6} {1 / g:>18.0f} {1 / r:>9.0f} {share:>18.1%} {(g - r) / g:>17.1%}")


if __name__ == "__main__":
    asyncio.run(main())
