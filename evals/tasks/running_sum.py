"""A running sum over a key→value table.

After Sinha et al. 2025, "The Illusion of Diminishing Returns". Each step names some keys;
the agent states the new running total as ``total: N``. Local: its total equals its own
previous total plus this step's values. Global: it equals the true total, so a global error
can be undone if the agent recomputes from the table.

``plant_errors`` (a rate, or a list of steps) replaces the total the agent stated at those
steps, in the history it is shown, by a wrong one: it measures self-conditioning (does seeing
"its own" earlier errors make the model err more?). The next step is judged locally against
the planted total, since that is the one the agent sees; planted errors count towards the
simulation hint's ``prior_errors``.
"""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redraft.agent.backends import Constraint, Message
from redraft.evals.tasks._episode import ConfiguredTask, EpisodeBase
from redraft.evals.tasks._protocol import ErrorPolicy, StepPrompt, StepResult
from redraft.tools import Correctness, Judgement
from redraft.tools.arithmetic import (
    RunningSumContext,
    RunningSumOracle,
    RunningSumTruth,
    RunningSumVerifier,
    read_total,
)

__all__ = ["RunningSumConfig", "RunningSumEpisode", "RunningSumTask"]

RunningSumRepresentation = Literal["history", "last", "shown", "lookup"]

SYSTEM_PROMPT = (
    "You keep a running total. Each step names some keys of the table; add their values to "
    "the running total. Reply with the new total, exactly as: total: N"
)


class RunningSumConfig(BaseModel):
    """Options of the ``running_sum`` task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_keys: int = Field(10, ge=1, le=26)
    """How many keys the table has (named A, B, C, ...)."""
    keys_per_step: int = Field(2, ge=1)
    """How many keys each step names."""
    value_min: int = -9
    """The smallest value in the table."""
    value_max: int = 9
    """The largest value in the table."""
    steps: int | None = Field(None, ge=1)
    """Steps after which the episode ends naturally; None: only ``max_steps`` ends it."""
    representation: RunningSumRepresentation = "history"
    """``history``: every earlier step and total is shown; ``last``: only the last total;
    ``shown``: only the last total, and this step's values written next to its keys (no
    table), in two short lines, so each step's computation is local: the form small testbed
    models learn; ``lookup``: the same short form with the table instead of the values, so
    each step looks two values up (where a scratchpad should help)."""
    plant_errors: float | list[int] = 0.0
    """A rate in [0, 1] at which a shown total is replaced by a wrong one, or the steps at
    which to do so (counted from 0)."""
    reveal: bool = False
    """The verifier gives the right total in its hint (a calculator critic)."""
    strict: bool = False
    """Read answers strictly (verifier, oracle and the task alike): only the exact answer
    format counts; what the lenient reader would pick out of prose is ``invalid_syntax``."""

    @model_validator(mode="after")
    def _sane(self) -> RunningSumConfig:
        if self.value_min > self.value_max:
            raise ValueError("value_min must not exceed value_max")
        if isinstance(self.plant_errors, float) and not 0.0 <= self.plant_errors <= 1.0:
            raise ValueError("plant_errors as a rate must lie in [0, 1]")
        return self


class RunningSumEpisode(EpisodeBase):
    """One running sum."""

    def __init__(self, config: RunningSumConfig, seed: int, *, max_steps: int,
                 error_policy: ErrorPolicy) -> None:
        super().__init__("running_sum", seed, max_steps=max_steps, error_policy=error_policy)
        self.config = config
        rng = self.rng("table")
        self.table = {k: rng.randint(config.value_min, config.value_max)
                      for k in string.ascii_uppercase[: config.n_keys]}
        self._keys_rng = self.rng("keys")
        self._plant_rng = self.rng("plant")
        self.shown = 0
        """The previous total as the agent is shown it (its own, or a planted one)."""
        self.truth = 0
        """The true running total."""
        self.history: list[tuple[tuple[str, ...], int, bool]] = []
        """(keys, shown total, planted) per finished step."""
        self._keys = self._draw_keys()

    def _draw_keys(self) -> tuple[str, ...]:
        keys = list(self.table)
        return tuple(self._keys_rng.choice(keys) for _ in range(self.config.keys_per_step))

    def context(self) -> RunningSumContext:
        """What the verifier checks this step against: the prompt's keys, values and total."""
        return RunningSumContext(keys=self._keys, values=tuple(self.table[k] for k in self._keys),
                                 previous=self.shown)

    def oracle_context(self) -> RunningSumTruth:
        """What the oracle judges this step against: the same plus the true total."""
        return RunningSumTruth(**self.context().model_dump(), true_previous=self.truth)

    def _render(self) -> str:
        table = ", ".join(f"{k}={v}" for k, v in self.table.items())
        if self.config.representation in ("shown", "lookup"):  # short: small models pay per char
            shown = self.config.representation == "shown"
            keys = ", ".join(f"{k}={self.table[k]}" if shown else k for k in self._keys)
            head = "" if shown else f"Table: {table}\n"
            return f"{head}Total so far: {self.shown}\nStep {self.step + 1}: add {keys}."
        lines = [f"Table: {table}", "Start: total: 0"]
        if self.config.representation == "history":
            lines += [f"Step {i + 1}: add {', '.join(keys)} -> total: {total}"
                      for i, (keys, total, _) in enumerate(self.history)]
        elif self.history:
            lines.append(f"After step {len(self.history)}: total: {self.shown}")
        lines.append(f"Step {self.step + 1}: add {', '.join(self._keys)}. What is the running "
                     "total now?")
        return "\n".join(lines)

    def prompt(self) -> StepPrompt:
        """The current step's prompt."""
        self._ensure_running()
        expected = self.context().expected()
        wrong = [f"total: {expected + d}" for d in (1, -1, 10)] + ["I lost track."]
        return StepPrompt(
            messages=(Message(role="system", content=SYSTEM_PROMPT),
                      Message(role="user", content=self._render())),
            context=self.context(),
            oracle_context=self.oracle_context(),
            constraint=Constraint(kind="regex", pattern=r"total: -?[0-9]{1,9}"),
            hint=self.hint(f"total: {expected}", wrong),
        )

    def _plant_now(self) -> bool:
        plant = self.config.plant_errors
        if isinstance(plant, list):
            return self.step in plant
        return plant > 0 and self._plant_rng.random() < plant

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        """Record the committed total (the locally right one, as forced, if unreadable)."""
        self._ensure_running()
        context = self.oracle_context()
        correctness = judgement.correctness
        read = read_total(proposal, strict=self.config.strict)
        forced = False
        global_correctness: Correctness | None = None
        if read.status == "ok":
            stated = read.values[0]
        else:  # unreadable: keep the locally right total, recorded as forced
            stated = context.expected()
            forced = True
            global_correctness = "correct" if stated == context.truth() else "incorrect"
        self.truth = context.truth()
        planted = self._plant_now()
        shown = stated
        if planted:
            offset = self._plant_rng.choice([d for d in range(-9, 10) if d])
            shown = stated + offset
            self.prior_errors += 1
        self.shown = shown
        self.history.append((self._keys, shown, planted))
        self._keys = self._draw_keys()
        natural = self.config.steps is not None and self.step + 1 >= self.config.steps
        info: dict[str, Any] = {"stated": stated, "true_total": self.truth,
                                "planted": planted, "shown": shown}
        return self.finish_step(
            action=f"total: {stated}", correctness=correctness,
            global_correctness=global_correctness,
            forced=forced and (self.error_policy == "continue" or correctness == "unknown"),
            natural=natural, info=info,
        )


class RunningSumTask(ConfiguredTask[RunningSumConfig, RunningSumEpisode]):
    """A running sum over a key→value table.

    Args:
        **options: see :class:`RunningSumConfig`.
    """

    name = "running_sum"
    representations: tuple[str, ...] = ("history", "last", "shown", "lookup")
    config_type = RunningSumConfig
    episode_type = RunningSumEpisode

    def verifier(self) -> RunningSumVerifier:
        """A calculator that checks each step against the agent's previous total."""
        return RunningSumVerifier(reveal=self.config.reveal, strict=self.config.strict)

    def oracle(self) -> RunningSumOracle:
        """Ground truth: the step (local) and the true total (global)."""
        return RunningSumOracle(strict=self.config.strict)

