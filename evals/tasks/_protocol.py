"""The task protocol: an episodic environment the agent acts in, one step at a time.

A task builds episodes. An episode renders the prompt for its current step (with the
context the verifier and the oracle need, an optional decoding constraint, and the hooks the
``simulated`` backend plays by), and advances with the committed answer.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.agent.backends import Constraint, Message, SimulationHint
from redraft.tools import Oracle, Verifier

__all__ = ["EndReason", "Episode", "ErrorPolicy", "StepPrompt", "StepResult", "Task"]

ErrorPolicy = Literal["stop", "continue"]
"""What happens after an uncorrected error: ``stop`` ends the episode (survival);
``continue`` counts it and goes on, the task deciding how (chess forces a random legal move)."""

EndReason = Literal["error", "natural", "max_steps"]
"""Why an episode ended: a committed error under ``stop``, the task's own end (checkmate,
last digit), or the step limit (censored)."""


class StepPrompt(BaseModel):
    """Everything the runner needs to run one step of one episode."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    messages: tuple[Message, ...]
    """The prompt in the episode's representation."""
    context: Any
    """What the verifier and the oracle check the proposal against (task-specific)."""
    constraint: Constraint | None = None
    """The valid answers, for the ``constrained`` critic mode (None if the task has none)."""
    hint: SimulationHint
    """A correct and some wrong answers: the ``simulated`` backend's hooks."""


class StepResult(BaseModel):
    """What committing an answer did to the episode."""

    model_config = ConfigDict(frozen=True)

    action: str
    """The action applied, in canonical form (the forced one if the answer was replaced)."""
    local_ok: bool
    """The committed answer was right given its own inputs (agrees with the oracle)."""
    global_ok: bool | None = None
    """The agent's state equals the true state after this step (None: same as local)."""
    forced: bool = False
    """The answer was an error and the task replaced it (``continue`` policy)."""
    end: EndReason | None = None
    """Set when this step ended the episode."""
    info: dict[str, JsonValue] = Field(default_factory=dict)
    """Task-specific detail for the log (e.g. the opponent's reply)."""


@runtime_checkable
class Episode(Protocol):
    """One episode; steps advance with :meth:`commit` until :attr:`done`."""

    @property
    def step(self) -> int:
        """The index of the current step, from 0."""
        ...

    @property
    def done(self) -> bool:
        """True once the episode has ended."""
        ...

    def prompt(self) -> StepPrompt:
        """The prompt and checking context of the current step."""
        ...

    def commit(self, proposal: str) -> StepResult:
        """Advance with the committed raw output; never raises on bad output."""
        ...


@runtime_checkable
class Task(Protocol):
    """An episodic environment family (chess, addition, ...). Built by a registered factory."""

    name: str
    """The registered name."""
    error_policies: tuple[ErrorPolicy, ...]
    """The uncorrected-error policies it supports."""
    representations: tuple[str, ...]
    """The prompt representations it can render (the first is the default)."""

    def verifier(self) -> Verifier[Any]:
        """The feedback source the agent may see."""
        ...

    def oracle(self) -> Oracle[Any]:
        """Ground truth for measurement."""
        ...

    def new_episode(self, seed: int, *, max_steps: int, error_policy: ErrorPolicy) -> Episode:
        """A fresh episode, fully determined by ``seed``."""
        ...
