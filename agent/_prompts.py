"""Default prompt templates of the corrector. Override any of them through the config."""

from __future__ import annotations

__all__ = [
    "DEFAULT_CRITIQUE_TEMPLATE",
    "DEFAULT_MONOLOGUE_CRITIQUE_TEMPLATE",
    "DEFAULT_MONOLOGUE_TEMPLATE",
    "DEFAULT_REVISE_TEMPLATE",
    "VERDICT_MARKER",
]

VERDICT_MARKER = "VERDICT:"
"""Starts the line that holds a monologue critique's verdict."""

DEFAULT_CRITIQUE_TEMPLATE = """\
Check the answer you just gave for mistakes. Say briefly what you checked, then end with one \
last line that is exactly VERDICT: CORRECT if the answer is right, or exactly \
VERDICT: INCORRECT if it is wrong."""
"""Asked after the model's own output in the ``self`` critic modes. The verdict line is what
:func:`~redraft.agent.parse_critique` reads; where the backend can constrain decoding to a
choice, the reply is restricted to the two verdict lines."""

DEFAULT_REVISE_TEMPLATE = """\
Your answer was checked and rejected:
{feedback}
Give a corrected answer, in the same format as asked."""
"""Shown after a rejected output; ``{feedback}`` is the critic's message (and hint)."""

DEFAULT_MONOLOGUE_TEMPLATE = """\
Before you answer, think it through step by step in writing. Then give your answer, in \
the format asked for, alone on a final line that starts with "ANSWER:". This replaces any \
instruction to reply with the answer only."""
"""Appended to the proposal and revision requests when the corrector's ``monologue`` is on
(task-independent; a task may refine it per item). The extractor reads the last ``ANSWER:``
line (:data:`redraft.agent.ANSWER_MARKER`)."""

DEFAULT_MONOLOGUE_CRITIQUE_TEMPLATE = """\
Check the answer you just gave for mistakes. Think it through step by step in writing \
first. Then end with a final line that is exactly "VERDICT: CORRECT" if the answer is \
right, or "VERDICT: INCORRECT" followed by what is wrong."""
"""The self-critique request when the monologue is on: reasoning, then a marked verdict
line; only that line is parsed, so the reasoning's words are never read as a verdict."""
