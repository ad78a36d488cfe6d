"""The task protocol: an episodic environment the agent acts in, one step at a time.

A task builds episodes. An episode renders the prompt for its current step (with the
verifier's context, the oracle's context, an optional decoding constraint, and the hooks the
``simulated`` backend plays by), and advances with the committed answer and the oracle's one
judgement of it.

Ground truth lives in the oracle alone: the verifier context holds what a deployed agent
could know (the prompt, its own history), the oracle context adds the truth. The runner
judges every round with the oracle after the corrector returns, and :meth:`Episode.commit`
consumes the judgement of the committed round; no task asks the oracle again.

A step judged ``unknown`` (the oracle failed, or the output was cut at the token limit)
is not an error: it never ends an episode under ``stop`` and is not counted in the
episode's errors; the task advances deterministically from the answer it can read, or from
the locally right answer (recorded as ``forced``) when it cannot.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from redraft.agent.backends import Constraint, Message, SimulationHint
from redraft.tools import Correctness, Judgement, Oracle, Verifier

__all__ = [
    "DescribedTask",
    "EndReason",
    "Episode",
    "ErrorPolicy",
    "IndexedTask",
    "StepPrompt",
    "StepResult",
    "Task",
]

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
    """What the verifier checks the proposal against: what a deployed agent could know
    (the prompt, its own history). Never the true state."""
    oracle_context: Any = None
    """What the oracle judges the proposal against: the truth. Given as None, it is
    :attr:`context` (a task whose truth follows from the prompt alone)."""
    constraint: Constraint | None = None
    """The valid answers, for the ``constrained`` critic mode (None if the task has none)."""
    hint: SimulationHint | None = None
    """A correct and some wrong answers: the ``simulated`` backend's hooks. The runner
    hands it to the simulated backend out of band; no request and no prompt carries it.
    None: the task does not play with the simulated backend (real models need no hint)."""
    monologue_template: str | None = None
    """The task's own request to reason first and mark the answer line, used instead of the
    corrector's when the monologue is on (None: the corrector's, task-independent)."""
    stop: tuple[str, ...] = ()
    """Sequences that end an answer in this representation (e.g. a newline: the answer is
    one line), so that a model that goes on writing after its answer is stopped there
    rather than cut at the token limit. Not used with the monologue on."""

    @model_validator(mode="after")
    def _oracle_sees_the_context_by_default(self) -> Self:
        # One name for what the oracle gets, whether or not the task gave it apart.
        if self.oracle_context is None:
            object.__setattr__(self, "oracle_context", self.context)
        return self


class StepResult(BaseModel):
    """What committing an answer did to the episode."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str
    """The action applied, in canonical form (the forced one if the answer was replaced)."""
    global_correctness: Correctness | None = None
    """Set only when the task replaced the answer: does the agent's state after the
    replacement equal the true state? None: the oracle's judgement of the output stands."""
    forced: bool = False
    """The task replaced the committed answer (unreadable under ``continue``, or judged
    ``unknown`` and unreadable)."""
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

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        """Advance with the committed raw output and the oracle's judgement of it.

        The judgement decides whether the step was an error (``incorrect``); ``unknown``
        is not an error. Never raises on bad output, never calls the oracle.
        """
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
        """The feedback source the agent may see (it gets :attr:`StepPrompt.context`)."""
        ...

    def oracle(self) -> Oracle[Any]:
        """Ground truth for measurement (it gets :attr:`StepPrompt.oracle_context`)."""
        ...

    def new_episode(self, seed: int, *, max_steps: int, error_policy: ErrorPolicy) -> Episode:
        """A fresh episode, fully determined by ``seed``."""
        ...


@runtime_checkable
class IndexedTask(Task, Protocol):
    """A task over a fixed list of items, a dataset's records: episode ``i`` is item ``i``.

    The runner builds episode ``i`` with :meth:`new_episode_at` instead of
    :meth:`Task.new_episode`; a run may not hold more episodes than the task has items, and
    ``redraft eval`` without ``--episodes`` runs each item once.
    """

    def __len__(self) -> int:
        """How many items (episodes) the task holds."""
        ...

    def new_episode_at(
        self, index: int, seed: int, *, max_steps: int, error_policy: ErrorPolicy
    ) -> Episode:
        """Episode ``index`` (item ``index``); ``seed`` is its seed, for any random draw."""
        ...


@runtime_checkable
class DescribedTask(Task, Protocol):
    """A task that records where its episodes come from, beyond its options."""

    def provenance(self) -> dict[str, JsonValue]:
        """What a run's manifest records about the task, as its ``task_info``.

        E.g. a dataset's file name and content hash, the sandbox its programs run in. A
        resume whose task describes itself otherwise is refused: a changed file is a
        different run. Each entry may carry a ``summary`` string, which reports show.
        """
        ...
