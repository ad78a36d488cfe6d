"""The corrector's configuration."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from redraft.agent._prompts import (
    DEFAULT_CRITIQUE_TEMPLATE,
    DEFAULT_MONOLOGUE_CRITIQUE_TEMPLATE,
    DEFAULT_MONOLOGUE_TEMPLATE,
    DEFAULT_REVISE_TEMPLATE,
)
from redraft.agent._records import CommitPolicy, CriticMode, RevisionContext
from redraft.agent.backends import SamplingParams
from redraft.core import Settings

__all__ = ["MAX_REVISIONS_LIMIT", "CorrectorConfig"]

MAX_REVISIONS_LIMIT = 16
"""The largest revision budget; the graph's recursion limit is set from it."""


class CorrectorConfig(Settings):
    """How the corrector proposes, critiques and revises. Recorded in every run."""

    renamed: ClassVar[Mapping[str, str]] = {
        "max_rounds": "max_revisions",
        "retry_context": "revision_context",
    }
    """Old names still read: ``max_rounds`` counted revisions, not rounds, and a revision is
    not a retry."""

    critic: CriticMode = "tool"
    """Where feedback comes from; see :data:`redraft.agent.CriticMode`."""
    max_revisions: int = Field(2, ge=0, le=MAX_REVISIONS_LIMIT)
    """The revision budget k: revisions allowed after the first proposal (round 0 is not
    counted, so a step has up to k+1 rounds)."""
    commit_policy: CommitPolicy = "last_accepted"
    """Which round's answer is committed: ``last_accepted`` (the latest answer the verifier
    accepted, else the last round's, marked as a fallback) or ``last``; see
    :data:`redraft.agent.CommitPolicy`."""
    revision_context: RevisionContext = "full"
    """What a revision sees: every earlier round (``full``) or only the last (``last``)."""
    repeat_limit: int | None = Field(2, ge=2)
    """Stop once this many consecutive rounds get the same rejection (code and message);
    None never stops early. Not applied to ``resample``, whose draws are independent."""
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    """Sampling for proposals, revisions and critiques."""
    resample_temperature: float = Field(0.7, gt=0.0)
    """Temperature of the extra samples in ``resample`` mode when ``sampling`` is greedy
    (greedy resampling would repeat the first answer)."""
    critique_template: str = DEFAULT_CRITIQUE_TEMPLATE
    """The self-critique request."""
    critique_verdict: Literal["choice", "free"] = "choice"
    """``choice``: where the backend can constrain decoding to a choice, the critique is
    exactly ``VERDICT: CORRECT`` or ``VERDICT: INCORRECT``; ``free``: always free text,
    read by :func:`~redraft.agent.parse_critique`."""
    revise_template: str = DEFAULT_REVISE_TEMPLATE
    """The revision request; must contain ``{feedback}``."""
    monologue: bool = False
    """Inner monologue: proposals and revisions ask the model to reason first and end with
    its answer on a marked line (``monologue_template``); the self critic reasons before a
    marked verdict. Only the answer is verified; the reasoning is logged and costed."""
    monologue_template: str = DEFAULT_MONOLOGUE_TEMPLATE
    """Appended to proposal and revision requests when ``monologue`` is on (an item's own
    ``monologue_template`` refines it)."""
    monologue_critique_template: str = DEFAULT_MONOLOGUE_CRITIQUE_TEMPLATE
    """The self-critique request when ``monologue`` is on."""
    monologue_max_tokens: int | None = Field(256, ge=1)
    """Token limit of a generation when ``monologue`` is on, so that reasoning fits (None:
    ``sampling.max_tokens``). Budgets are compared in the report's tokens per step."""
    verify_concurrency: int = Field(64, ge=1)
    """How many verifier and oracle calls run at once."""
    verify_timeout_s: float | None = Field(30.0, gt=0)
    """The most seconds one verifier or oracle call may take; a call that takes longer is
    recorded as ``verifier_error`` (an oracle's as ``oracle_error``: unknown). Bounded calls
    run on a verifier thread, so a verifier that blocks is bounded too. None: no limit, in
    the caller's loop."""

    @field_validator("revise_template")
    @classmethod
    def _only_feedback(cls, template: str) -> str:
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(template)
                      if field is not None]
        except ValueError as exc:
            raise ValueError(f"revise_template is not a valid template ({exc}); write "
                             "literal braces as {{ and }}") from None
        unknown = sorted({f for f in fields if f != "feedback"})
        if unknown:
            shown = ", ".join("{" + f + "}" for f in unknown)
            raise ValueError(f"revise_template has unknown placeholder(s) {shown}; the only one "
                             "is {feedback} (write literal braces as {{ and }})")
        if "feedback" not in fields:
            raise ValueError("revise_template must contain '{feedback}'")
        return template
