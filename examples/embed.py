"""Embed the self-correcting agent in an app: one call from sync code, many from async code.

A booking app asks a model for a JSON booking and needs one it can trust: the agent checks
each answer against a pydantic model (SchemaVerifier) and hands the validation errors back
to the model until the answer validates or the revisions run out.

    python examples/embed.py                                  # the embedded SmolLM2, no server
    python examples/embed.py --model openai/NAME@http://127.0.0.1:8080/v1

The embedded model is small: expect it to use up its revisions on some requests. Every
round (prompt, output, the feedback it got) is in the returned ``Correction``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from pydantic import BaseModel, Field

from redraft.agent import Correction, Item, acorrect, build_corrector, correct
from redraft.agent.backends import Backend, Message, SamplingParams, load_backend
from redraft.tools import SchemaVerifier
from redraft.tools.schema import extract_json

PROMPT = ('Reply with only a JSON object with the keys "city" (a string) and "nights" (a '
          "number) for this request: {request}")
SAMPLING = SamplingParams(max_tokens=48)


class Booking(BaseModel):
    """What the app needs from the model."""

    city: str = Field(min_length=1)
    nights: int = Field(ge=1, le=30)


VERIFIER = SchemaVerifier(model=Booking)


def book(request: str, model: str | Backend) -> Correction:
    """Sync code (a CLI, a Flask view): one request, one call."""
    return correct(PROMPT.format(request=request), VERIFIER, model=model, max_revisions=2,
                   sampling=SAMPLING)


async def book_one(request: str, model: str | Backend) -> Correction:
    """Async code (a FastAPI handler): the same, awaited."""
    return await acorrect(PROMPT.format(request=request), VERIFIER, model=model,
                          max_revisions=2, sampling=SAMPLING)


async def book_many(requests: Sequence[str], backend: Backend) -> list[Correction]:
    """Many requests at once: one graph call, one backend call per round for the batch."""
    graph = build_corrector(backend, VERIFIER, max_revisions=2, sampling=SAMPLING)
    items = [
        Item(id=str(i), messages=(Message(role="user", content=PROMPT.format(request=r)),))
        for i, r in enumerate(requests)
    ]
    state = await graph.ainvoke({"items": items})
    results: list[Correction] = state["results"]
    return results


def booking(result: Correction) -> Booking | None:
    """The validated booking the app can use, or None when no answer validated.

    The verifier accepted JSON found in the answer (alone, in a fenced block or in prose);
    the app reads it the same way.
    """
    if result.stop_reason != "accepted" or result.committed_answer is None:
        return None
    value, _ = extract_json(result.committed_answer)
    return Booking.model_validate(value)


def show(result: Correction) -> str:
    """One line per request: what it settled on, after how many revisions."""
    return f"{result.stop_reason:<16} revisions={result.revisions}  {booking(result)!r}"


def main(argv: Sequence[str] | None = None) -> int:
    """Book from sync code, async code and a batch; print what each settled on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llamacpp/smollm2", help="PROVIDER/MODEL")
    args = parser.parse_args(argv)
    print("sync: ", show(book("two nights in Lyon", args.model)))
    print("async:", show(asyncio.run(book_one("a week in Oslo", args.model))))

    async def batch() -> list[Correction]:
        backend = load_backend(args.model)
        try:
            return await book_many(["3 nights in Rome", "one night in Porto"], backend)
        finally:
            await backend.aclose()

    for result in asyncio.run(batch()):
        print("batch:", show(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
