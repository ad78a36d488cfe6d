"""Default prompt templates of the corrector. Override any of them through the config."""

from __future__ import annotations

__all__ = ["DEFAULT_CRITIQUE_TEMPLATE", "DEFAULT_REVISE_TEMPLATE"]

DEFAULT_CRITIQUE_TEMPLATE = """\
Check the answer you just gave for mistakes.
If it is correct, reply with the single word CORRECT.
If it is wrong, reply INCORRECT: followed by what is wrong."""
"""Asked after the model's own output in the ``self`` critic modes."""

DEFAULT_REVISE_TEMPLATE = """\
Your answer was checked and rejected:
{feedback}
Give a corrected answer, in the same format as asked."""
"""Shown after a rejected output; ``{feedback}`` is the critic's message (and hint)."""
