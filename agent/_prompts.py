"""Default prompt templates of the corrector. Override any of them through the config."""

from __future__ import annotations

__all__ = ["DEFAULT_CRITIQUE_TEMPLATE", "DEFAULT_REVISE_TEMPLATE"]

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
