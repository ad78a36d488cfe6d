"""Correct one output: the embedding entry points ``correct`` and ``acorrect``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redraft.agent._config import CorrectorConfig
from redraft.agent._graph import build_corrector
from redraft.agent._records import Correction, Item
from redraft.agent.backends import Backend, Message, load_backend
from redraft.tools import Oracle, Verifier

__all__ = ["DEFAULT_MODEL", "acorrect", "arun_items", "correct"]

DEFAULT_MODEL = "llamacpp/smollm2"
"""The embedded default: SmolLM2-135M-Instruct through llama.cpp, no server, no download."""


def _messages(prompt: str | Sequence[Message], system: str | None) -> tuple[Message, ...]:
    if isinstance(prompt, str):
        messages: list[Message] = [Message(role="user", content=prompt)]
    else:
        messages = list(prompt)
    if system is not None:
        messages.insert(0, Message(role="system", content=system))
    return tuple(messages)


async def arun_items(
    backend: Backend,
    items: Sequence[Item],
    verifier: Verifier[Any] | None = None,
    *,
    oracle: Oracle[Any] | None = None,
    config: CorrectorConfig | None = None,
    **overrides: Any,
) -> list[Correction]:
    """Correct a batch of items in one graph invocation; results in input order."""
    graph = build_corrector(backend, verifier, oracle=oracle, config=config, **overrides)
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
    **config: Any,
) -> Correction:
    """Produce one output and correct it until the verifier accepts or rounds run out.

    Args:
        prompt: the user's request, or a whole chat.
        verifier: the feedback source (e.g. ``SchemaVerifier(model=MyModel)``).
        model: a model string (``"llamacpp/smollm2"``) or a backend object.
        context: what the verifier checks against, if it needs one.
        system: an optional system message.
        oracle: optional ground truth, to measure the correction.
        **config: :class:`CorrectorConfig` fields, e.g. ``critic="tool", max_rounds=2``.
    """
    owned = isinstance(model, str)
    backend = load_backend(model) if isinstance(model, str) else model
    try:
        item = Item(id="0", messages=_messages(prompt, system), context=context)
        (result,) = await arun_items(backend, [item], verifier, oracle=oracle, **config)
    finally:
        if owned:
            await backend.aclose()
    return result


def correct(
    prompt: str | Sequence[Message],
    verifier: Verifier[Any] | None = None,
    *,
    model: str | Backend = DEFAULT_MODEL,
    context: Any = None,
    system: str | None = None,
    oracle: Oracle[Any] | None = None,
    **config: Any,
) -> Correction:
    """Synchronous :func:`acorrect`; call it where no event loop is running."""
    return asyncio.run(
        acorrect(
            prompt, verifier, model=model, context=context, system=system, oracle=oracle, **config
        )
    )
