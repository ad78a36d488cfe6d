"""Correct one output: the embedding entry points ``correct`` and ``acorrect``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redraft.agent._config import CorrectorConfig
from redraft.agent._graph import build_corrector
from redraft.agent._monologue import judge_round
from redraft.agent._records import Correction, Item, RoundRecord
from redraft.agent.backends import Backend, Message, load_backend
from redraft.core import RedraftError
from redraft.tools import Judgement, Oracle, Verifier, ensure_oracle, oracle_as_verifier

__all__ = [
    "DEFAULT_MODEL",
    "RunningLoopError",
    "acorrect",
    "ajudge_correction",
    "arun_items",
    "correct",
]

DEFAULT_MODEL = "llamacpp/smollm2"
"""The embedded default: SmolLM2-135M-Instruct through llama.cpp, no server, no download."""


class RunningLoopError(RedraftError, RuntimeError):
    """A synchronous entry point was called inside a running event loop (use its twin)."""


def _messages(prompt: str | Sequence[Message], system: str | None) -> tuple[Message, ...]:
    if isinstance(prompt, str):
        messages: list[Message] = [Message(role="user", content=prompt)]
    else:
        messages = list(prompt)
    if system is not None:
        messages.insert(0, Message(role="system", content=system))
    return tuple(messages)


async def ajudge_correction(
    correction: Correction, oracle: Oracle[Any], context: Any, *, concurrency: int = 64
) -> Correction:
    """Judge every round of a finished correction with the oracle (measurement only).

    A crashing oracle gives ``oracle_error`` (unknown), and an output cut at the token
    limit with no readable answer gives ``truncated`` (unknown): neither counts as wrong.
    """
    semaphore = asyncio.Semaphore(concurrency)

    async def judge(record: RoundRecord) -> tuple[Judgement, Judgement | None]:
        async with semaphore:
            return await judge_round(oracle, context, record)

    judged = await asyncio.gather(*(judge(r) for r in correction.rounds))
    return correction.judged([j for j, _ in judged], [f for _, f in judged])


async def arun_items(
    backend: Backend,
    items: Sequence[Item],
    verifier: Verifier[Any] | None = None,
    *,
    config: CorrectorConfig | None = None,
    **overrides: Any,
) -> list[Correction]:
    """Correct a batch of items in one graph invocation; results in input order."""
    graph = build_corrector(backend, verifier, config=config, **overrides)
    state = await graph.ainvoke({"items": list(items)})
    results: list[Correction] = state["results"]
    return results


async def acorrect(
    prompt: str | Sequence[Message],
    verifier: Verifier[Any] | None = None,
    *,
    model: str | Backend = DEFAULT_MODEL,
    context: Any = None,
    system: str | None = None,
    oracle: Oracle[Any] | None = None,
    oracle_context: Any = None,
    **config: Any,
) -> Correction:
    """Produce one output and correct it until the verifier accepts or rounds run out.

    Args:
        prompt: the user's request, or a whole chat.
        verifier: the feedback source (e.g. ``SchemaVerifier(model=MyModel)``).
        model: a model string (``"llamacpp/smollm2"``) or a backend object.
        context: what the verifier checks against, if it needs one.
        system: an optional system message.
        oracle: optional ground truth, to measure the correction: every round is judged
            after the graph has finished (the loop never sees it, except with
            ``critic="oracle"`` and no verifier: then the oracle is the feedback too, and
            the result says ``leaky``).
        oracle_context: what the oracle judges against (default: ``context``).
        **config: :class:`CorrectorConfig` fields, e.g. ``critic="tool", max_revisions=2``.
    """
    oracle_context = context if oracle_context is None else oracle_context
    verifier_context = context
    if oracle is not None:
        ensure_oracle(oracle)
        if config.get("critic") == "oracle" and verifier is None:
            # The leaky upper bound: feedback from the oracle, which judges in its context.
            verifier, verifier_context = oracle_as_verifier(oracle), oracle_context
    owned = isinstance(model, str)
    backend = load_backend(model) if isinstance(model, str) else model
    try:
        item = Item(id="0", messages=_messages(prompt, system), context=verifier_context)
        (result,) = await arun_items(backend, [item], verifier, **config)
    finally:
        if owned:
            await backend.aclose()
    if oracle is not None:
        result = await ajudge_correction(result, oracle, oracle_context)
    return result


def correct(
    prompt: str | Sequence[Message],
    verifier: Verifier[Any] | None = None,
    *,
    model: str | Backend = DEFAULT_MODEL,
    context: Any = None,
    system: str | None = None,
    oracle: Oracle[Any] | None = None,
    oracle_context: Any = None,
    **config: Any,
) -> Correction:
    """Synchronous :func:`acorrect`; call it where no event loop is running.

    Raises:
        RunningLoopError: called inside a running event loop (async code, a notebook
            cell): use ``await acorrect(...)`` with the same arguments there.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # checked before the coroutine exists, so none is left un-awaited
        raise RunningLoopError(
            "correct() cannot run inside a running event loop; in async code use "
            "`await acorrect(...)` with the same arguments"
        )
    return asyncio.run(
        acorrect(
            prompt, verifier, model=model, context=context, system=system, oracle=oracle,
            oracle_context=oracle_context, **config,
        )
    )
