"""The corrector's inner monologue: asking for reasoning first, and reading what came back.

With ``monologue`` on, proposal and revision requests end with the monologue template (the
model reasons, then writes its answer on a marked line) and the self critic reasons before a
marked verdict line. Whether or not it is on, every generation goes through
:func:`~redraft.agent.extract_answer`: the verifier and the oracle see the answer alone, and
the round record keeps the output, answer, first answer, reasoning and reasoning cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redraft.agent._answer import (
    extract_answer,
    marked_values,
    missing_answer_verdict,
    strip_think,
)
from redraft.agent._prompts import VERDICT_MARKER
from redraft.agent._records import RoundRecord
from redraft.agent.backends import Generation, Message
from redraft.tools import Cost, Judgement, Oracle, Verdict, safe_judge

__all__ = [
    "answer_fields",
    "critique_verdict",
    "judge_round",
    "visible_output",
    "with_instruction",
]


def with_instruction(messages: Sequence[Message], instruction: str) -> tuple[Message, ...]:
    """Append ``instruction`` to the last user message.

    Appended rather than sent as a second user turn: some chat templates require the roles
    to alternate.
    """
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].role == "user":
            out[i] = Message(role="user", content=f"{out[i].content}\n\n{instruction}")
            return tuple(out)
    return (*out, Message(role="user", content=instruction))


def answer_fields(generation: Generation, *, monologue: bool) -> dict[str, Any]:
    """The round record's fields read from one generation (see :class:`RoundRecord`)."""
    extracted = extract_answer(generation, monologue=monologue)
    return {
        "output": generation.text,
        "usage": generation.usage,
        "answer": extracted.answer,
        "first_answer": extracted.first_answer,
        "answers": extracted.answers,
        "reasoning": extracted.reasoning or None,
        "reasoning_usage": Cost(completion_tokens=extracted.reasoning_tokens),
        "truncated": extracted.truncated,
    }


def visible_output(output: str) -> str:
    """What a later request shows of an earlier output: think blocks left out.

    Reasoning models' own chat templates drop earlier reasoning the same way.
    """
    visible, _, _ = strip_think(output)
    return visible.strip()


def critique_verdict(
    generation: Generation,
    *,
    monologue: bool,
    parse: Callable[[str], Verdict],
) -> Verdict:
    """Read a self-critique.

    With the monologue only its last marked verdict line is parsed, so words in the
    reasoning ("is it correct?") are never read as approval.

    Args:
        generation: the critique.
        monologue: whether the critique was asked to end with a marked verdict line.
        parse: the critique parser, applied to the verdict (the whole visible text without the
            monologue).
    """
    visible, _, _ = strip_think(generation.text)
    if not monologue:
        return parse(visible)
    verdicts = marked_values(visible, VERDICT_MARKER)
    if not verdicts:
        return Verdict.reject(
            "self_rejected",
            f"Your review ended without a '{VERDICT_MARKER}' line, so it did not confirm the "
            "answer.",
            source="self",
        )
    return parse(verdicts[-1][0])


async def judge_round(
    oracle: Oracle[Any], context: Any, record: RoundRecord
) -> tuple[Judgement, Judgement | None]:
    """The oracle's judgement of a round's answer, and of its first answer when it differs.

    Only the answer is judged, never the reasoning around it. A round without an answer is
    judged without asking the oracle: ``no_answer`` (the model's error) or ``truncated``.

    Returns:
        ``(judgement, first_judgement)``; the second is None unless the generation
        corrected itself (its first answer differs from its answer).
    """
    if record.answer is None:
        verdict = missing_answer_verdict(truncated=record.truncated, source=oracle.name)
        return Judgement(local=verdict), None
    judgement = await safe_judge(oracle, context, record.answer)
    first = None
    if record.first_answer is not None and record.first_answer != record.answer:
        first = await safe_judge(oracle, context, record.first_answer)
    return judgement, first
