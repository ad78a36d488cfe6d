"""Object tracking (BIG-Bench "tracking shuffled objects", one swap per step).

Alice, Bob, Claire, ... each hold one object; each step names two holders who swap. The agent
states who holds what after the swap, as ``Alice: ball, Bob: cup, Claire: hat``. Local: the
state follows from its own previous state and this swap. Global: it equals the true state
(a later error can undo an earlier one, e.g. by recomputing from the start).
Reading and checking live in :mod:`redraft.tools.tracking`.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import Field

from redraft.agent.backends import Constraint, Message
from redraft.core import Settings
from redraft.evals.tasks._episode import ConfiguredTask, EpisodeBase
from redraft.evals.tasks._protocol import ErrorPolicy, StepPrompt, StepResult
from redraft.tools import Correctness, Judgement
from redraft.tools.tracking import (
    TrackingContext,
    TrackingOracle,
    TrackingTruth,
    TrackingVerifier,
    read_tracking,
    tracking_answer,
)

__all__ = ["TrackingConfig", "TrackingEpisode", "TrackingTask"]

TrackingRepresentation = Literal["state", "history"]

HOLDERS = ("Alice", "Bob", "Claire", "Dave", "Eve", "Fred", "Gertrude")
OBJECTS = ("apple", "ball", "book", "cup", "hat", "key", "pen")
SYSTEM_PROMPT = (
    "You track objects. Each person holds one object; when two people swap, they exchange "
    "their objects. After the swap you are told about, reply with who holds what, exactly "
    "as: {example}"
)
_MAX_CHOICES = 120  # choice constraints for up to 5 holders (5! = 120)


class TrackingConfig(Settings):
    """Options of the ``tracking`` task."""

    n_objects: int = Field(3, ge=2, le=len(HOLDERS))
    """How many holders (and objects) there are (BIG-Bench uses 3, 5 and 7)."""
    steps: int | None = Field(None, ge=1)
    """Swaps after which the episode ends naturally; None: only ``max_steps`` ends it."""
    representation: TrackingRepresentation = "state"
    """``state``: the start, the agent's last stated state and the swap; ``history``: the
    start and every earlier swap with the state the agent stated after it."""
    reveal: bool = False
    """The verifier gives the right state in its hint."""
    strict: bool = False
    """Read answers strictly (verifier, oracle and the task alike): only the exact answer
    format counts; what the lenient reader would pick out of prose is ``invalid_syntax``."""


class TrackingEpisode(EpisodeBase):
    """One sequence of swaps."""

    def __init__(self, config: TrackingConfig, seed: int, *, max_steps: int,
                 error_policy: ErrorPolicy) -> None:
        super().__init__("tracking", seed, max_steps=max_steps, error_policy=error_policy)
        self.config = config
        n = config.n_objects
        self.holders = HOLDERS[:n]
        rng = self.rng("objects")
        self.objects = tuple(rng.sample(OBJECTS, n))
        self.start = self.objects
        self.stated = self.start
        """The state the agent stated last (its own)."""
        self.truth = self.start
        """The true state."""
        self.history: list[tuple[tuple[int, int], tuple[str, ...]]] = []
        """(swap, stated state) per finished step."""
        self._swap_rng = self.rng("swaps")
        self._swap = self._draw_swap()
        self._choices = (
            tuple(tracking_answer(self.holders, p) for p in itertools.permutations(self.objects))
            if len(self.objects) <= 5 else ()
        )

    def _draw_swap(self) -> tuple[int, int]:
        i, j = sorted(self._swap_rng.sample(range(len(self.holders)), 2))
        return i, j

    def context(self) -> TrackingContext:
        """What the verifier checks this step against: the agent's own state and the swap."""
        return TrackingContext(holders=self.holders, objects=self.objects, previous=self.stated,
                               swap=self._swap)

    def oracle_context(self) -> TrackingTruth:
        """What the oracle judges this step against: the same plus the true state."""
        return TrackingTruth(**self.context().model_dump(), true_previous=self.truth)

    def _names(self, swap: tuple[int, int]) -> str:
        return f"{self.holders[swap[0]]} and {self.holders[swap[1]]} swap"

    def _render(self) -> str:
        lines = [f"At the start: {tracking_answer(self.holders, self.start)}."]
        if self.config.representation == "history":
            lines += [f"Swap {i + 1}: {self._names(swap)}. Then: "
                      f"{tracking_answer(self.holders, state)}."
                      for i, (swap, state) in enumerate(self.history)]
        elif self.history:
            lines.append(f"After swap {len(self.history)}: "
                         f"{tracking_answer(self.holders, self.stated)}.")
        lines.append(f"Swap {self.step + 1}: {self._names(self._swap)}. Who holds what now?")
        return "\n".join(lines)

    def prompt(self) -> StepPrompt:
        """The current swap's prompt."""
        self._ensure_running()
        context = self.context()
        expected = context.expected()
        i, j = self._swap
        wrong = [tracking_answer(self.holders, self.stated), "They all still hold theirs."]
        bystanders = [k for k in range(len(self.holders)) if k not in (i, j)]
        if bystanders:  # the swap done with the wrong partner
            detour = list(self.stated)
            detour[i], detour[bystanders[0]] = detour[bystanders[0]], detour[i]
            wrong.insert(1, tracking_answer(self.holders, tuple(detour)))
        example = tracking_answer(self.holders, self.start)
        return StepPrompt(
            messages=(Message(role="system", content=SYSTEM_PROMPT.format(example=example)),
                      Message(role="user", content=self._render())),
            context=context,
            oracle_context=self.oracle_context(),
            constraint=Constraint(kind="choice", choices=self._choices) if self._choices else None,
            hint=self.hint(tracking_answer(self.holders, expected), wrong),
        )

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        """Record the committed state (the locally right one, forced, if unreadable)."""
        self._ensure_running()
        context = self.oracle_context()
        correctness = judgement.correctness
        read = read_tracking(proposal, self.holders, self.objects,
                             strict=self.config.strict)
        forced = False
        global_correctness: Correctness | None = None
        if read.status == "ok":
            stated = read.state
        else:  # unreadable or impossible: keep the locally right state, recorded as forced
            stated = context.expected()
            forced = True
            global_correctness = "correct" if stated == context.truth() else "incorrect"
        self.truth = context.truth()
        self.stated = stated
        self.history.append((self._swap, stated))
        self._swap = self._draw_swap()
        natural = self.config.steps is not None and self.step + 1 >= self.config.steps
        info: dict[str, Any] = {"stated": list(stated), "true_state": list(self.truth)}
        return self.finish_step(
            action=tracking_answer(self.holders, stated), correctness=correctness,
            global_correctness=global_correctness,
            forced=forced and (self.error_policy == "continue" or correctness == "unknown"),
            natural=natural, info=info,
        )


class TrackingTask(ConfiguredTask[TrackingConfig, TrackingEpisode]):
    """Object tracking under swaps.

    Args:
        **options: see :class:`TrackingConfig`.
    """

    name = "tracking"
    representations: tuple[str, ...] = ("state", "history")
    config_type = TrackingConfig
    episode_type = TrackingEpisode

    def verifier(self) -> TrackingVerifier:
        """Checks each stated state against the agent's previous one and the swap."""
        return TrackingVerifier(reveal=self.config.reveal, strict=self.config.strict)

    def oracle(self) -> TrackingOracle:
        """Ground truth: the step (local) and the true state (global)."""
        return TrackingOracle(strict=self.config.strict)

