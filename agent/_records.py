"""Records of a correction: what happened in each round of one item, and how it ended."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redraft.agent.backends import Constraint, FinishReason, Message, Purpose
from redraft.core import Cost
from redraft.tools import Correctness, Judgement, Verdict

__all__ = [
    "COMMIT_POLICIES",
    "CRITIC_MODES",
    "CommitPolicy",
    "Correction",
    "CriticMode",
    "Item",
    "Outcome",
    "RevisionContext",
    "RoundRecord",
    "StopReason",
]

CriticMode = Literal["none", "self", "tool", "self+tool", "resample", "constrained", "oracle"]
"""Where feedback comes from: ``none`` (baseline), ``self`` (the model critiques itself),
``tool`` (verifier feedback), ``self+tool``, ``resample`` (best-of-k without feedback,
same budget), ``constrained`` (decoding restricted to valid answers, then tool feedback),
``oracle`` (ground truth as feedback: a leaky upper bound, always labelled)."""
CRITIC_MODES: tuple[CriticMode, ...] = (
    "none", "self", "tool", "self+tool", "resample", "constrained", "oracle",
)

CommitPolicy = Literal["last", "last_accepted"]
"""Which round's answer an item commits to: ``last`` (the last round's) or
``last_accepted`` (the latest answer the verifier accepted; when none was accepted, the last
round's, recorded as a fallback). In ``self+tool`` the verifier is the tool: a revision
the tool rejects is not committed over an answer it accepted that the self critique
doubted."""
COMMIT_POLICIES: tuple[CommitPolicy, ...] = ("last", "last_accepted")

RevisionContext = Literal["full", "last"]
"""What a revision sees: every earlier round and its feedback, or only the last one."""

StopReason = Literal[
    "accepted", "rounds_exhausted", "repeated_error", "no_critic", "verifier_failed"
]
"""Why an item's rounds ended. Never decided by the oracle."""

Outcome = Literal["kept_right", "recovered", "harmed", "stayed_wrong"]
"""Round-0 correctness against committed correctness, by the oracle (None if either is
unknown)."""


class Item(BaseModel):
    """One output to produce and correct."""

    # extra="forbid": a stale ``hint=`` (ground truth no longer travels with items) fails.
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    id: str
    """Unique within a batch."""
    messages: tuple[Message, ...]
    """The prompt."""
    context: Any = None
    """Passed to the verifier: what a deployed agent could know (the prompt, its own
    history, a schema). Never ground truth: the oracle gets its own context, outside."""
    constraint: Constraint | None = None
    """Valid answers, used by the ``constrained`` critic mode."""
    cache_key: str | None = None
    """Items with the same key share a prompt prefix (one episode)."""
    monologue_template: str | None = None
    """The task's refinement of the corrector's ``monologue_template`` (None: the
    corrector's); used only when the monologue is on."""
    stop: tuple[str, ...] = ()
    """Sequences that end this item's answer, added to the sampling's ``stop`` for its
    proposals and revisions (e.g. a newline, where the answer is one line). Not used with
    the monologue on, whose answer follows lines of reasoning, nor for critiques."""


class RoundRecord(BaseModel):
    """One round of one item: a proposal (round 0) or a revision (rounds 1..k)."""

    model_config = ConfigDict(frozen=True)

    round: int
    """0 for the first proposal, then 1..k."""
    purpose: Purpose
    """``propose`` (round 0), ``revise`` (a revision that saw feedback) or ``resample`` (a
    fresh draw in a revision's place, critic ``resample``)."""
    messages: tuple[Message, ...]
    """The exact prompt the backend saw."""
    output: str
    """The raw output."""
    finish_reason: FinishReason = "stop"
    """Why the backend stopped generating (``length``: cut at the token limit)."""
    usage: Cost = Field(default_factory=Cost)
    """What generating the output cost, reasoning included."""
    answer: str | None = None
    """The answer read from the output (:func:`redraft.agent.extract_answer`): all that the
    verifier and the oracle see. None when the output holds none (reasoning only, or cut
    off), and then the feedback is ``no_answer`` or ``truncated``."""
    first_answer: str | None = None
    """The first answer the output wrote; differs from ``answer`` when the model corrected
    itself inside the generation (``[BACK]``, or a second marked answer line)."""
    answers: int = 0
    """How many answers the output wrote."""
    reasoning: str | None = None
    """What the output held besides its answer: a reasoning field, think blocks, the
    monologue around the marked line, earlier answers. None when nothing."""
    reasoning_usage: Cost = Field(default_factory=Cost)
    """The part of ``usage`` spent on reasoning (completion tokens; included in ``usage``)."""
    truncated: bool = False
    """The token limit cut the output before its answer was complete."""
    critique: str | None = None
    """The raw self-critique, in ``self`` modes."""
    critique_usage: Cost | None = None
    """What the self-critique cost."""
    feedback: Verdict | None = None
    """What the critic said about this output: the only judgement the loop sees. In
    ``self+tool``, the self critique's verdict where the tool accepted the answer (and so
    the critique was asked), else the tool's."""
    tool_verdict: Verdict | None = None
    """In ``self+tool``: the tool's own verdict on the answer (None when the output held no
    answer), kept beside the self critique's so that the log shows what each critic said."""
    self_verdict: Verdict | None = None
    """In ``self+tool``: the self critique's verdict (None when it was not asked: the tool
    had rejected the answer, or there was none)."""
    judgement: Judgement | None = None
    """The oracle's ground truth: measurement only, filled after the graph has finished
    (by the runner, or by ``correct`` when given an oracle); the graph never sets it. It
    judges ``answer`` alone (see :func:`redraft.agent.judge_round`)."""
    first_judgement: Judgement | None = None
    """The oracle on ``first_answer`` when it differs from ``answer`` (a correction inside the
    generation); None otherwise, the ``judgement`` then standing for both."""


class Correction(BaseModel):
    """The full record of correcting one item."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    """The item's id."""
    critic: CriticMode
    """The critic mode used."""
    leaky: bool = False
    """True when ground truth fed the loop: derived from the feedback source (an oracle
    presented as a verifier, or any verifier that says ``leaky = True``)."""
    rounds: tuple[RoundRecord, ...]
    """Every round in order."""
    stop_reason: StopReason
    """Why the rounds ended."""
    commit_policy: CommitPolicy = "last"
    """The rule that chose :attr:`committed_round`."""
    committed_round: int = -1
    """The round whose answer is committed (-1 given: the last round; stored as its
    number)."""
    commit_fallback: bool = False
    """True when ``last_accepted`` found no accepted answer and committed the last round's
    (the stated fallback)."""

    @model_validator(mode="after")
    def _committed_in_range(self) -> Self:
        if self.committed_round == -1 and self.rounds:
            object.__setattr__(self, "committed_round", len(self.rounds) - 1)
        if not 0 <= self.committed_round < len(self.rounds):
            raise ValueError(
                f"committed_round {self.committed_round} is not a round of {self.item_id!r} "
                f"({len(self.rounds)} rounds)"
            )
        return self

    @property
    def committed_record(self) -> RoundRecord:
        """The committed round's record."""
        return self.rounds[self.committed_round]

    @property
    def committed_output(self) -> str:
        """The committed round's raw output (the task gets :attr:`committed_answer`)."""
        return self.committed_record.output

    @property
    def committed_answer(self) -> str | None:
        """The committed round's answer, all a task gets (None when it had none)."""
        return self.committed_record.answer

    @property
    def revisions(self) -> int:
        """How many revisions were made."""
        return len(self.rounds) - 1

    @property
    def initial(self) -> Correctness | None:
        """The oracle's judgement of round 0 (None when no oracle judged it)."""
        judgement = self.rounds[0].judgement
        return None if judgement is None else judgement.correctness

    @property
    def final(self) -> Correctness | None:
        """The oracle's judgement of the committed answer (None when no oracle judged it)."""
        judgement = self.committed_record.judgement
        return None if judgement is None else judgement.correctness

    @property
    def outcome(self) -> Outcome | None:
        """What correction did: ``harmed`` is a right answer broken by a revision.

        None when either end is unjudged or ``unknown``: an unknown is never a harm.
        """
        before, after = self.initial, self.final
        if before not in ("correct", "incorrect") or after not in ("correct", "incorrect"):
            return None
        if before == "correct":
            return "kept_right" if after == "correct" else "harmed"
        return "recovered" if after == "correct" else "stayed_wrong"

    def committing(self, policy: CommitPolicy) -> Correction:
        """This correction with its committed round chosen by ``policy``.

        ``last_accepted`` commits the latest round a verifier accepted (in ``self+tool``
        the tool, whatever the self critique said); when none was, the last round, marked
        :attr:`commit_fallback`. Without a critic (``none``) there is nothing to accept and
        the one round is committed.
        """
        last = len(self.rounds) - 1
        if policy == "last" or self.critic == "none":
            return self.model_copy(update={"commit_policy": policy, "committed_round": last,
                                           "commit_fallback": False})
        for index in range(last, -1, -1):
            record = self.rounds[index]
            verdict = record.tool_verdict if self.critic == "self+tool" else record.feedback
            if verdict is not None and verdict.ok:
                return self.model_copy(update={"commit_policy": policy,
                                               "committed_round": index,
                                               "commit_fallback": False})
        return self.model_copy(update={"commit_policy": policy, "committed_round": last,
                                       "commit_fallback": True})

    def judged(
        self,
        judgements: Sequence[Judgement],
        first_judgements: Sequence[Judgement | None] | None = None,
    ) -> Correction:
        """This correction with one oracle judgement per round attached, in round order.

        ``first_judgements`` (one per round, None where the round's first answer is its
        answer) judge the first answers of rounds that corrected themselves.
        """
        firsts = list(first_judgements) if first_judgements is not None else None
        for what, values in (("judgements", judgements), ("first judgements", firsts)):
            if values is not None and len(values) != len(self.rounds):
                raise ValueError(
                    f"{len(values)} {what} for {len(self.rounds)} rounds of {self.item_id!r}"
                )
        rounds = tuple(
            record.model_copy(
                update={
                    "judgement": judgement,
                    "first_judgement": firsts[i] if firsts is not None else None,
                }
            )
            for i, (record, judgement) in enumerate(zip(self.rounds, judgements, strict=True))
        )
        return self.model_copy(update={"rounds": rounds})

    @property
    def usage(self) -> Cost:
        """Everything generated for this item, critiques included."""
        total = Cost()
        for record in self.rounds:
            total = total + record.usage
            if record.critique_usage is not None:
                total = total + record.critique_usage
        return total
