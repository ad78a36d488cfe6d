"""The corrector's inner monologue: asking for reasoning first, and reading what came back.

With ``monologue`` on, proposal and revision requests end with the monologue template (the
model reasons, then writes its answer on a marked line) and the self critic reasons before a
marked verdict line. Whether or not it is on, every generation goes through
:func:`~redraft.agent.extract_answer`: the verifier and the oracle see the answer alone, and
the round record keeps the output, answer, first answer, reasoning and reasoning cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redraft.agent._answer import (
    extract_answer,
    missing_answer_verdict,
    strip_think,
)
from redraft.agent._critique import parse_critique
from redraft.agent._prompts import VERDICT_MARKER
from redraft.agent._records import RoundRecord
from redraft.agent.backends import Generation, Message
from redraft.core import Cost
from redraft.tools import Judgement, Oracle, Verdict, safe_judge, truncated_judgement

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
        "finish_reason": generation.finish_reason,
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
    generation: Generation, *, monologue: bool, proposal: str | None
) -> Verdict:
    """Read a self-critique with :func:`~redraft.agent.parse_critique`, think blocks left out.

    With the monologue the critique reasons at length before its verdict, and its reasoning
    weighs words like "correct" and "wrong" it may then dismiss: only a verdict line can
    approve. Prose that objects still rejects; prose that seems to approve is
    ``critique_unreadable``.

    Args:
        generation: the critique.
        monologue: whether the critique was asked to reason before a verdict line.
        proposal: the answer being critiqued.
    """
    visible, _, _ = strip_think(generation.text)
    verdict = parse_critique(visible, proposal=proposal)
    if monologue and verdict.ok and verdict.evidence.get("read") != "verdict_line":
        return Verdict.reject(
            "critique_unreadable",
            f"Your review ended without a '{VERDICT_MARKER} CORRECT' line, so it did not "
            "confirm the answer.",
            source=verdict.source,
            evidence={"read": "monologue_without_verdict_line", "critique": visible[:1000]},
        )
    return verdict


async def _judge(
    oracle: Oracle[Any], context: Any, answer: str, timeout_s: float | None
) -> Judgement:
    # With a limit the oracle runs on the verifier thread: one that blocks (a stuck engine)
    # is bounded too, not only one that awaits for ever; past it the judgement is unknown.
    return await safe_judge(oracle, context, answer, timeout_s=timeout_s)


def _cut(judgement: Judgement) -> Judgement:
    """An answer the token limit cut, judged ``truncated`` (unknown) whatever it read as.

    "ANSWER: 12" cut on its way to 123 reads as a wrong 12, and a cut "4" of 42 can even
    read as right: neither is the model's answer, so neither counts. What the oracle made
    of the partial text stays in the evidence (``read_code``).
    """
    local = judgement.local
    if judgement.correctness == "unknown":  # the oracle failed: unknown already
        return judgement
    cut = Verdict.reject(
        "truncated",
        "the output hit the token limit before its answer was complete",
        evidence={**local.evidence, "read_code": local.code},
        source=local.source,
        cost=local.cost,
    )
    glob = judgement.global_state
    if glob is not None:
        glob = cut
    return judgement.model_copy(update={"local": cut, "global_state": glob})


async def judge_round(
    oracle: Oracle[Any], context: Any, record: RoundRecord, *, timeout_s: float | None = None
) -> tuple[Judgement, Judgement | None]:
    """The oracle's judgement of a round's answer, and of its first answer when it differs.

    Only the answer is judged, never the reasoning around it. A round without an answer is
    ``no_answer`` (the model's error), or ``truncated`` (unknown) when the token limit cut
    it; the oracle still judges the empty answer, so that the global state it reports is
    kept. A round whose generation the token limit cut before its answer was complete
    (``record.truncated``) is ``truncated`` too, whatever the oracle read in the partial
    answer; so is a length-cut answer the oracle cannot read
    (:func:`~redraft.tools.truncated_judgement`). A failing oracle is unknown.

    Returns:
        ``(judgement, first_judgement)``; the second is None unless the generation
        corrected itself (its first answer differs from its answer).
    """
    if record.answer is None:
        judgement = await _judge(oracle, context, "", timeout_s)
        if judgement.correctness == "unknown":  # the oracle failed
            return judgement, None
        missing = missing_answer_verdict(
            truncated=record.truncated, source=judgement.local.source or oracle.name
        )
        glob = judgement.global_state
        if record.truncated and glob is not None and not glob.ok:
            glob = missing
        # A server that withheld the output (content_filter) makes this "withheld": unknown.
        missed = judgement.model_copy(update={"local": missing, "global_state": glob})
        return truncated_judgement(missed, record.finish_reason), None
    judgement = await _judge(oracle, context, record.answer, timeout_s)
    if record.truncated:
        judgement = _cut(judgement)
    else:
        judgement = truncated_judgement(judgement, record.finish_reason)
    first = None
    if record.first_answer is not None and record.first_answer != record.answer:
        # Complete by construction: a later answer followed it.
        first = await _judge(oracle, context, record.first_answer, timeout_s)
    return judgement, first
