"""The orchestration ceiling: agent-steps/s through the corrector with an instant backend.

With a backend and a verifier that cost (almost) nothing, what is left is redraft's own
work. Two setups do the same rounds on the same items, alternating, each warmed up and
repeated (the minimum is kept):

- graph: the compiled LangGraph corrector (propose -> verify -> revise, ``critic=tool``,
  ``k`` revisions), one ``ainvoke`` per batch;
- bare:  a plain loop making the same backend and verifier calls with the same prompts,
  building the same requests, no graph and no records.

Two shares of a round are printed. The graph's own share is the time outside the
corrector's nodes (``propose``, ``verify``, ``revise``, ``finish``, timed from each node
function's start to its end through a LangChain callback handler, a public hook of the
graph, in a second pass so that the handler's own cost is not counted): what LangGraph
itself costs, state passing and routing. "Beyond the calls" is ``(graph - bare) / graph``:
everything redraft adds on top of the calls any corrector
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
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from redraft.agent import CorrectorConfig, Item, build_corrector
from redraft.agent.backends import Generation, GenerationRequest, Message
from redraft.core import Cost
from redraft.tools import FunctionVerifier, Verdict, safe_verify


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


NODES = frozenset({"propose", "verify", "revise", "finish"})


class NodeTimer(BaseCallbackHandler):
    """CPU seconds inside the corrector's node functions.

    LangGraph runs each node as a task named for it, holding the node's own function (a run
    of the same name) and the writes of its result. The innermost run of a node's name is its
    function: that run is timed, from its start to its end.
    """

    run_inline = True  # called in the graph's own task, not a thread pool

    def __init__(self) -> None:
        self.seconds = 0.0
        self._runs: list[tuple[UUID, float, bool]] = []  # open node runs: id, start, inner?

    def on_chain_start(
        self, serialized: Any, inputs: Any, *, run_id: UUID, name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if name in NODES:
            if self._runs:
                self._runs[-1] = (*self._runs[-1][:2], False)
            self._runs.append((run_id, time.process_time(), True))

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if self._runs and self._runs[-1][0] == run_id:
            _, started, inner = self._runs.pop()
            if inner:
                self.seconds += time.process_time() - started

    on_chain_error = on_chain_end  # type: ignore[assignment]


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
    started = time.process_time()
    for items in batches:
        state = await graph.ainvoke({"items": items})
        if len(state["results"]) != batch:
            raise RuntimeError("the corrector lost items")
    seconds = time.process_time() - started
    # The nodes' share is timed in a second pass: the handler's own calls cost the graph
    # time (about a fifth at batch 16), which must not count as LangGraph's.
    timer = NodeTimer()
    for items in batches:
        await graph.ainvoke({"items": items}, config={"callbacks": [timer]})
    return seconds, seconds - timer.seconds


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
