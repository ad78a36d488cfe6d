"""The event log's records: one JSON object per line in ``events.jsonl``.

Every record carries ``schema``, ``kind``, ``episode``, ``step`` and ``round``. Per episode a
log holds one ``episode_start``, then per step one ``round`` record per round and one
``step`` record, and exactly one ``episode_end``. Everything a report needs, and every
prompt and output, is in the log, so reports are rebuilt (and runs replayed) from it alone.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from redraft.agent import RoundRecord, StopReason
from redraft.evals.tasks import EndReason
from redraft.tools import Cost

__all__ = [
    "SCHEMA_VERSION",
    "EpisodeEndEvent",
    "EpisodeStartEvent",
    "Event",
    "RoundEvent",
    "StepEvent",
    "parse_event",
]

SCHEMA_VERSION = 1
"""Bumped whenever a record's meaning changes."""


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    schema_version: int = Field(SCHEMA_VERSION, alias="schema")
    """The log schema version (serialised as ``schema``)."""
    episode: int
    """Episode id, unique within a run."""
    step: int
    """Step index within the episode (for ``episode_end``: the number of steps taken)."""
    round: int
    """Round within the step (0 for records that are not about one round)."""


class EpisodeStartEvent(_Envelope):
    """An episode began."""

    kind: Literal["episode_start"] = "episode_start"
    seed: int
    """The seed that fully determines the episode's environment."""


class RoundEvent(_Envelope, RoundRecord):
    """One round of one step: the prompt, the output, feedback and the hidden oracle."""

    kind: Literal["round"] = "round"


class StepEvent(_Envelope):
    """A step was committed."""

    kind: Literal["step"] = "step"
    rounds: int
    """Revisions made (``round`` of the committed round)."""
    stop_reason: StopReason
    """Why the rounds ended."""
    committed: str
    """The committed answer (empty when the last round had none); raw outputs are in the
    round records."""
    action: str
    """The action the task applied (forced if the answer was replaced)."""
    initial_ok: bool | None
    """Oracle: was round 0 locally right?"""
    final_ok: bool | None
    """Oracle: is the committed output locally right?"""
    global_ok: bool | None
    """Oracle: does the agent's state equal the true state after this step?"""
    forced: bool = False
    """The task replaced an erroneous answer (``continue`` policy)."""
    usage: Cost
    """Everything this step cost (all rounds and critiques)."""
    info: dict[str, JsonValue] = Field(default_factory=dict)
    """Task-specific detail."""


class EpisodeEndEvent(_Envelope):
    """An episode ended. Exactly one per episode."""

    kind: Literal["episode_end"] = "episode_end"
    steps: int
    """Steps committed."""
    end: EndReason
    """``error`` (stopped at a committed error), ``natural``, or ``max_steps`` (censored)."""
    first_error_step: int | None
    """The first step whose committed output was wrong, if any."""


Event = Annotated[
    EpisodeStartEvent | RoundEvent | StepEvent | EpisodeEndEvent, Field(discriminator="kind")
]
_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(line: str | bytes) -> Event:
    """Validate one log line.

    Raises:
        pydantic.ValidationError: if the line is not a valid record.
    """
    return _adapter.validate_json(line)
