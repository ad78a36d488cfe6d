"""The event log's records: one JSON object per line in ``events.jsonl``.

Every record carries ``schema``, ``kind``, ``episode``, ``step`` and ``round``. Per episode a
log holds one ``episode_start``, then per step one ``round`` record per round and one
``step`` record, and exactly one ``episode_end``. Everything a report needs, and every
prompt and output, is in the log, so reports are rebuilt (and runs replayed) from it alone.

Schema 2 speaks one vocabulary: a step has rounds (0 = proposal, 1..k = revisions), the
oracle's judgement is ``correct``, ``incorrect`` or ``unknown`` (never a bool whose polarity
flips), and a round records its ``finish_reason``.

Schema 3 adds the commit policy and names things one way each:

- a step record names its ``committed_round`` (and ``commit_fallback``: ``last_accepted``
  found no accepted answer and committed the last round's);
- a ``self+tool`` round keeps each critic's verdict (``tool_verdict``, ``self_verdict``);
- a step's global label is ``global_correctness`` (the name a
  :class:`~redraft.tools.Judgement` gives that correct/incorrect/unknown value; schema 2:
  ``global_state``), and its committed answer is ``committed_answer`` (schema 2:
  ``committed``; the raw committed output is the committed round's ``output``);
- an oracle that failed is ``oracle_error`` (schema 2 said ``verifier_error``; both are
  unknown).

Schema 2 logs are read as schema 3 (migration): a step committed its last round, so
``committed_round`` is its ``round``; ``global_state`` and ``committed`` are read under
their new names; the manifest's config gets ``commit_policy = "last"``. Only records that
declare schema 2 are migrated: a schema 3 step record without ``committed_round`` (or
with a schema 2 name) is refused. Logs of other schemas are refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationInfo,
    model_validator,
)

from redraft.agent import RoundRecord, StopReason
from redraft.core import Cost
from redraft.evals.tasks import EndReason
from redraft.tools import LOG_CONTEXT, Correctness

__all__ = [
    "READABLE_SCHEMAS",
    "SCHEMA_VERSION",
    "EpisodeEndEvent",
    "EpisodeStartEvent",
    "Event",
    "RoundEvent",
    "StepEvent",
    "parse_event",
]

SCHEMA_VERSION = 3
"""Bumped whenever a record's meaning changes. Records are written in this version."""
READABLE_SCHEMAS: tuple[int, ...] = (2, 3)
"""Versions a reader accepts: this one, and schema 2 by the migration in the module
docstring."""


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    schema_version: Literal[2, 3] = Field(3, alias="schema")
    """The log schema version (serialised as ``schema``)."""
    episode: int
    """Episode id, unique within a run."""
    step: int
    """Step index within the episode (0 for ``episode_start`` and ``episode_end``)."""
    round: int
    """Round within the step (0 for records that are not about one round)."""

    @model_validator(mode="before")
    @classmethod
    def _declares_schema(cls, data: Any, info: ValidationInfo) -> Any:
        # Made in this process, the version is implied; read from a log, it must be stated.
        from_log = isinstance(info.context, dict) and info.context.get("from_log")
        if from_log and isinstance(data, dict) and "schema" not in data:
            raise ValueError("the record declares no schema version")
        return data


class EpisodeStartEvent(_Envelope):
    """An episode began."""

    kind: Literal["episode_start"] = "episode_start"
    seed: int
    """The seed that fully determines the episode's environment."""


class RoundEvent(_Envelope, RoundRecord):
    """One round of one step: the prompt, the output and why it ended, feedback, judgement.

    The oracle's judgement is filled by the runner after the corrector returned.
    """

    kind: Literal["round"] = "round"


class StepEvent(_Envelope):
    """A step was committed."""

    kind: Literal["step"] = "step"
    revisions: int
    """Revisions made (``round`` of the step's last round)."""
    stop_reason: StopReason
    """Why the rounds ended."""
    committed_round: int
    """The round whose answer was committed, by the run's commit policy (schema 2 logs,
    which always committed the last round, read as ``round``)."""
    commit_fallback: bool = False
    """``last_accepted`` found no accepted answer and committed the last round's."""
    committed_answer: str
    """The committed answer (empty when the committed round had none); raw outputs are in
    the round records (``output``)."""
    action: str
    """The action the task applied (forced if the answer was replaced)."""
    initial: Correctness
    """The oracle on round 0, locally: ``correct``, ``incorrect`` or ``unknown``."""
    final: Correctness
    """The oracle on the committed round's answer, locally."""
    global_correctness: Correctness | None
    """Does the agent's state equal the true state after this step? None: the task has no
    global state distinct from the local one; ``unknown`` when the step was unknown."""
    forced: bool = False
    """The task replaced an erroneous answer (``continue`` policy)."""
    usage: Cost
    """Everything this step cost (all rounds and critiques)."""
    info: dict[str, JsonValue] = Field(default_factory=dict)
    """Task-specific detail."""

    @model_validator(mode="before")
    @classmethod
    def _schema_2(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("schema", data.get("schema_version")) != 2:
            # Schema 3 (a log's record, or one made in this process) states its commit: a
            # step record without it is refused, never guessed.
            if "committed_round" not in data:
                raise ValueError(
                    "a schema 3 step record must name its committed_round (only schema 2 "
                    "records, which always committed their last round, are read without it)"
                )
            return data
        # Schema 2 committed the last round always and did not say so, and called the step's
        # global label global_state (the name of the oracle's Verdict in a Judgement) and its
        # committed answer committed.
        renamed = {"committed": "committed_answer", "global_state": "global_correctness"}
        data = {renamed.get(key, key): value for key, value in data.items()}
        if "committed_round" not in data and "round" in data:
            data["committed_round"] = data["round"]
        return data


class EpisodeEndEvent(_Envelope):
    """An episode ended. Exactly one per episode."""

    kind: Literal["episode_end"] = "episode_end"
    steps: int
    """Steps committed."""
    end: EndReason
    """``error`` (stopped at a committed error), ``natural``, or ``max_steps`` (censored)."""
    first_error_step: int | None
    """The first step whose committed answer was ``incorrect``, if any (unknown steps are
    not errors)."""


Event = Annotated[
    EpisodeStartEvent | RoundEvent | StepEvent | EpisodeEndEvent, Field(discriminator="kind")
]
_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(line: str | bytes) -> Event:
    """Validate one log line.

    Verdict codes are not checked against this process's registry (see
    :data:`redraft.tools.LOG_CONTEXT`): a log written with a plug-in's code loads without it.

    Raises:
        pydantic.ValidationError: if the line is not a valid record (of this schema).
    """
    return _adapter.validate_json(line, context=LOG_CONTEXT)
