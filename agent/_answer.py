"""Reading the answer out of one generation: inner monologue, reasoning models, retries.

One extractor serves every backend. The verifier and the oracle see only the answer it
returns; the round record keeps the raw output, the answer, the first answer and the
reasoning, and the reasoning's tokens are costed apart from the answer's.

Where reasoning comes from, in the order they are read:

1. **a reasoning field**: OpenAI-compatible servers (vLLM's reasoning parsers, DeepSeek,
   llama.cpp with ``--reasoning-format``) return it beside the content as
   ``reasoning_content`` or ``reasoning``; the backend puts it in
   :attr:`Generation.reasoning <redraft.agent.backends.Generation.reasoning>`.
2. **think blocks** written inline: ``<think>…</think>``. A lone ``</think>`` closes a block
   the chat template opened in the prompt (DeepSeek-R1 does this). A block never closed is
   reasoning to the end of the text: when the generation hit its token limit (finish reason
   ``length``) the result is ``truncated``, otherwise the model stopped thinking without
   answering (no answer).
3. **the final-line marker** (:data:`ANSWER_MARKER`, ``ANSWER: ...``) the monologue template
   asks for: the text of the last marked line is the answer, the rest is reasoning.

Corrections inside one generation: the retry marker :data:`RETRY_MARKER` (``[BACK]``, the
testbed's retry data, after Ye et al. 2024) separates answers, and the final-line marker
may be written more than once ("ANSWER: 17 … wait … ANSWER: 19"). Of these answers the
last is the one committed, the first is recorded as ``first_answer``, so "before
and after correction" exists inside one generation too.

Without a marker the visible text is the answer, as it always was, except when the
monologue was asked for (``monologue=True``) and the model wrote several lines with no
marked answer: that is reasoning without an answer (``answer`` is None, verdict code
``no_answer``), never its last line guessed as an answer.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from redraft.agent.backends import Generation
from redraft.tools import Verdict

__all__ = [
    "ANSWER_MARKER",
    "EXTRACTOR_SOURCE",
    "RETRY_MARKER",
    "THINK_CLOSE",
    "THINK_OPEN",
    "AnswerPath",
    "ExtractedAnswer",
    "extract_answer",
    "marked_values",
    "missing_answer_verdict",
    "strip_think",
]

RETRY_MARKER = "[BACK]"
"""Separates an abandoned answer from the next one inside one generation."""
ANSWER_MARKER = "ANSWER:"
"""Starts the line that holds the answer when the model reasons first."""
EXTRACTOR_SOURCE = "extractor"
"""The ``source`` of the verdict the corrector gives an output with no answer, unasked:
no critic gave it, so detection statistics leave it out."""
THINK_OPEN = "<think>"
"""Opens an inline reasoning block."""
THINK_CLOSE = "</think>"
"""Closes an inline reasoning block."""

AnswerPath = Literal["plain", "marker", "none"]
"""How the answer was found: the visible text itself, a marked line, or not at all."""
ReasoningSource = Literal["none", "field", "think", "text"]
"""Where reasoning came from: nowhere, the backend's reasoning field, inline think blocks, or
visible text around a marked answer (the first that applies, in that order)."""

_THINK_BLOCK = re.compile(re.escape(THINK_OPEN) + r"(.*?)" + re.escape(THINK_CLOSE), re.DOTALL)


class ExtractedAnswer(BaseModel):
    """What one generation answered, and what it thought on the way."""

    model_config = ConfigDict(frozen=True)

    answer: str | None
    """The committed answer: the last one written; what the verifier and the oracle see.
    None when the generation holds no answer (reasoning only, or cut off)."""
    first_answer: str | None
    """The first answer written; equal to ``answer`` unless the generation corrected
    itself."""
    answers: int = Field(0, ge=0)
    """How many answers the generation wrote (2 or more: it corrected itself)."""
    reasoning: str = ""
    """Everything the generation wrote besides its answer: the reasoning field, think blocks,
    the monologue around the marked line, earlier answers."""
    reasoning_tokens: int = Field(0, ge=0)
    """Completion tokens spent on ``reasoning``: the backend's count where it gives one,
    otherwise the completion tokens apportioned by the reasoning's share of the characters."""
    truncated: bool = False
    """The generation hit its token limit before its answer was complete: cut inside a think
    block or the monologue, or while writing the answer. ``answer`` may be partial or None."""
    path: AnswerPath = "plain"
    """How the answer was found."""
    reasoning_source: ReasoningSource = "none"
    """Where the reasoning came from."""

    @property
    def corrected(self) -> bool:
        """True when the generation wrote more than one answer and the last differs."""
        return self.answers > 1 and self.first_answer != self.answer


def strip_think(text: str) -> tuple[str, str, bool]:
    """Split inline think blocks from the visible text.

    Returns:
        ``(visible, reasoning, unclosed)``: the text outside think blocks, the text inside
        them (blocks joined by blank lines), and whether the last block was never closed.
    """
    parts: list[str] = []
    # A lone closing tag: the template opened the block in the prompt.
    close = text.find(THINK_CLOSE)
    open_ = text.find(THINK_OPEN)
    if close != -1 and (open_ == -1 or close < open_):
        parts.append(text[:close])
        text = text[close + len(THINK_CLOSE) :]
    parts.extend(m.group(1) for m in _THINK_BLOCK.finditer(text))
    visible = _THINK_BLOCK.sub("", text)
    unclosed = False
    start = visible.find(THINK_OPEN)
    if start != -1:
        parts.append(visible[start + len(THINK_OPEN) :])
        visible = visible[:start]
        unclosed = True
    reasoning = "\n\n".join(p.strip() for p in parts if p.strip())
    return visible, reasoning, unclosed


def _marker_pattern(marker: str) -> re.Pattern[str]:
    label = re.escape(marker.strip().rstrip(":").strip())
    # "ANSWER: x", "**Answer:** x", "Final answer: x", "> ANSWER: x"; the value may be on
    # the next line when the marked line holds nothing else.
    return re.compile(
        r"^[ \t>*_#`-]*(?:final[ \t]+)?" + label + r"[ \t*_]*:[ \t*_]*(?P<value>.*?)[ \t*_`]*$",
        re.IGNORECASE | re.MULTILINE,
    )


_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)", re.MULTILINE)


def _fenced_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the fenced code blocks (markdown: an unclosed fence runs to the end)."""
    marks = [m.start() for m in _FENCE.finditer(text)]
    if len(marks) % 2:
        marks.append(len(text))
    return list(zip(marks[::2], marks[1::2], strict=True))


def marked_values(text: str, marker: str = ANSWER_MARKER) -> list[tuple[str, int, int]]:
    """Every value written on a line starting with ``marker``, in order.

    A marked line inside a fenced code block is code (``# Answer: ...`` is a comment), not
    an answer line.

    Returns:
        ``(value, start, end)`` per marked line, ``start:end`` spanning the marked line (and
        the next line, when the value was written there). Empty values are left out.
    """
    found = []
    fenced = _fenced_spans(text) if "```" in text or "~~~" in text else []
    for match in _marker_pattern(marker).finditer(text):
        if any(lo < match.start() < hi for lo, hi in fenced):
            continue
        value, end = match.group("value").strip(), match.end()
        if not value:
            rest = text[end:].lstrip("\n")
            line = rest.split("\n", 1)[0]
            if line.strip() and not _marker_pattern(marker).match(line):
                value = line.strip().strip("*_`").strip()
                end = len(text) - len(rest) + len(line)
        if value:
            found.append((value, match.start(), end))
    return found


def _segments(visible: str) -> list[tuple[int, int]]:
    """Spans of the answers the retry marker separates."""
    spans, start = [], 0
    while True:
        at = visible.find(RETRY_MARKER, start)
        if at == -1:
            spans.append((start, len(visible)))
            return spans
        spans.append((start, at))
        start = at + len(RETRY_MARKER)


def _find_answers(
    visible: str, *, marker: str, marker_required: bool
) -> tuple[list[tuple[str, int, int]], AnswerPath]:
    answers: list[tuple[str, int, int]] = []
    path: AnswerPath = "none"
    for lo, hi in _segments(visible):
        segment = visible[lo:hi]
        marked = marked_values(segment, marker)
        if marked:
            answers.extend((v, lo + s, lo + e) for v, s, e in marked)
            path = "marker"
            continue
        stripped = segment.strip()
        if not stripped:
            continue
        if marker_required and "\n" in stripped:
            continue  # a monologue with no marked answer: reasoning, not an answer
        start = lo + segment.index(stripped)
        answers.append((stripped, start, start + len(stripped)))
        if path == "none":
            path = "plain"
    return answers, path


def _apportion(tokens: int, reasoning_chars: int, answer_chars: int) -> int:
    if tokens <= 0 or reasoning_chars <= 0:
        return 0
    return round(tokens * reasoning_chars / (reasoning_chars + answer_chars))


def extract_answer(
    generation: Generation | str,
    *,
    monologue: bool = False,
    marker: str = ANSWER_MARKER,
) -> ExtractedAnswer:
    """Read the answer, the first answer and the reasoning out of one generation.

    Args:
        generation: what the backend returned (a bare string is a generation that stopped
            on its own and reported no tokens).
        monologue: the prompt asked for reasoning first and a marked answer line; then a
            multi-line output with no marked line has no answer.
        marker: the answer line's marker.

    Returns:
        The answer (None when there is none), the first answer, the reasoning and its
        tokens, and whether the generation was cut off; see the module docstring.
    """
    if isinstance(generation, str):
        generation = Generation(text=generation)
    cut = generation.finish_reason == "length"
    visible, think, unclosed = strip_think(generation.text)
    field = (generation.reasoning or "").strip()
    source: ReasoningSource = "field" if field else ("think" if think or unclosed else "none")
    separated = "\n\n".join(p for p in (field, think) if p)
    if unclosed:
        # Nothing after an unclosed think block is an answer, whatever precedes it.
        answers: list[tuple[str, int, int]] = []
        path: AnswerPath = "none"
        visible_reasoning = visible.strip()
    else:
        answers, path = _find_answers(
            visible, marker=marker, marker_required=monologue and source == "none"
        )
        if answers:
            _, start, end = answers[-1]
            visible_reasoning = (visible[:start].strip() + "\n" + visible[end:].strip()).strip()
        else:
            visible_reasoning = visible.strip()
    if visible_reasoning and source == "none":
        source = "text"
    reasoning = "\n\n".join(p for p in (separated, visible_reasoning) if p)
    answer = answers[-1][0] if answers else None
    # Cut off while writing the answer: nothing but whitespace follows the answer's span.
    truncated = cut and (answer is None or not visible[answers[-1][2] :].strip())
    # Tokens by the characters' share: reasoning against the answer (markup not counted);
    # a generation with no answer spent everything on reasoning.
    completion = generation.usage.completion_tokens
    answer_chars = len(answer) if answer is not None else 0
    if generation.reasoning_tokens is not None:
        visible_tokens = max(0, completion - generation.reasoning_tokens)
        reasoning_tokens = generation.reasoning_tokens + _apportion(
            visible_tokens, len(visible_reasoning) + len(think), answer_chars
        )
    else:
        reasoning_tokens = _apportion(completion, len(reasoning), answer_chars)
    return ExtractedAnswer(
        answer=answer,
        first_answer=answers[0][0] if answers else None,
        answers=len(answers),
        reasoning=reasoning,
        reasoning_tokens=reasoning_tokens,
        truncated=truncated,
        path=path,
        reasoning_source=source,
    )


def missing_answer_verdict(*, truncated: bool, source: str) -> Verdict:
    """The verdict on a generation with no answer, given without asking any verifier.

    ``truncated`` when the token limit cut it (the oracle counts that as unknown, never as
    wrong), else ``no_answer`` (the model reasoned but never answered: its own error).
    """
    if truncated:
        return Verdict.reject(
            "truncated",
            "Your output was cut off at the token limit before you gave an answer. Reason "
            "more briefly and give the answer.",
            source=source,
        )
    return Verdict.reject(
        "no_answer",
        f"Your output has no answer. End it with a line '{ANSWER_MARKER} <your answer>'.",
        source=source,
    )
