"""Records of a correction: what happened in each round of one item, and how it ended."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from redraft.agent.backends import Constraint, Message, Purpose, SimulationHint
from redraft.tools import Cost, Judgement, Verdict

__all__ = [
    "CRITIC_MODES",
    "Correction",
    "CriticMode",
    "Item",
    "Outcome",
    "RetryContext",
    "RoundRecord",
    "StopReason",
]

CriticMode = Literal["none", "self", "tool", "self+tool", "resample", "constrained", "oracle"]
"""Where feedback comes from: ``none`` (baseline), ``self`` (the model critiques itself),
``tool`` (verifier feedback), ``self+tool``, ``resample`` (retry without feedback, same
budget), ``constrained`` (decoding restricted to valid answers, then tool feedback),
``oracle`` (ground truth as feedback: a leaky upper bound, always labelled)."""
CRITIC_MODES: tuple[CriticMode, ...] = (
    "none", "self", "tool", "self+tool", "resample", "constrained", "oracle",
)

RetryContext = Literal["full", "last"]
"""What a revision sees: every earlier attempt and its feedback, or only the last one."""

StopReason = Literal[
    "accepted", "rounds_exhausted", "repeated_error", "no_critic", "verifier_failed"
]
"""Why an item's rounds ended. Never decided by the oracle."""

Outcome = Literal["kept_right", "recovered", "harmed", "stayed_wrong"]
"""Round-0 correctness against committed correctness, by the oracle."""


class Item(BaseModel):
    """One output to produce and correct."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str
    """Unique within a batch."""
    messages: tuple[Message, ...]
    """The prompt."""
    context: Any = None
    """Passed to the verifier and the oracle (task state, a schema, ...)."""
    constraint: Constraint | None = None
    """Valid answers, used by the ``constrained`` critic mode."""
    hint: SimulationHint | None = None
    """Hooks for the ``simulated`` backend; never shown in a prompt."""
    cache_key: str | None = None
    """Items with the same key share a prompt prefix (one episode)."""


class RoundRecord(BaseModel):
    """One round of one item: a proposal (round 0) or a revision (rounds 1..k)."""

    model_config = ConfigDict(frozen=True)

    round: int
    """0 for the first proposal, then 1..k."""
    purpose: Purpose
    """``propose`` or ``revise``."""
    messages: tuple[Message, ...]
    """The exact prompt the backend saw."""
    output: str
    """The raw output."""
    usage: Cost = Field(default_factory=Cost)
    """What generating the output cost."""
    finish_reason: str | None = None
    """Why generation ended, as the backend said: ``stop``, ``length``, ``content_filter``,
    ``no_content`` (the server withheld the answer: the empty output is not the model's)."""
    critique: str | None = None
    """The raw self-critique, in ``self`` modes."""
    critique_usage: Cost | None = None
    """What the self-critique cost."""
    feedback: Verdict | None = None
    """What the critic said about this output: the only judgement the loop sees."""
    judgement: Judgement | None = None
    """The oracle's ground truth: measurement only, never shown to the backend."""


class Correction(BaseModel):
    """The full record of correcting one item."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    """The item's id."""
    critic: CriticMode
    """The critic mode used."""
    leaky: bool = False
    """True when ground truth fed the loop (``critic='oracle'``)."""
    max_rounds: int
    """The revision budget."""
    retry_context: RetryContext
    """What revisions saw."""
    rounds: tuple[RoundRecord, ...]
    """Every round in order."""
    stop_reason: StopReason
    """Why the rounds ended."""

    @property
    def final(self) -> str:
        """The committed output: the last round's."""
        return self.rounds[-1].output

    @property
    def revisions(self) -> int:
        """How many revisions were made."""
        return len(self.rounds) - 1

    @property
    def initial_correct(self) -> bool | None:
        """The oracle's local verdict on round 0 (None without an oracle)."""
        judgement = self.rounds[0].judgement
        return None if judgement is None else judgement.local.ok

    @property
    def final_correct(self) -> bool | None:
        """The oracle's local verdict on the committed output (None without an oracle)."""
        judgement = self.rounds[-1].judgement
        return None if judgement is None else judgement.local.ok

    @property
    def outcome(self) -> Outcome | None:
        """What correction did: ``harmed`` is a right answer broken by a revision."""
        before, after = self.initial_correct, self.final_correct
        if before is None or after is None:
            return None
        if before:
            return "kept_right" if after else "harmed"
        return "recovered" if after else "stayed_wrong"

    @property
    def usage(self) -> Cost:
        """Everything generated for this item, critiques included."""
        total = Cost()
        for record in self.rounds:
            total = total + record.usage
            if record.critique_usage is not None:
                total = total + record.critique_usage
        return total
