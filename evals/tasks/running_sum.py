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

For an experiment in which every step is equally hard (the decisive one: does the error
compound?), ``modulus`` keeps the totals in a fixed range at a fixed width, ``start="random"``
draws the first total, ``step_label=False`` keeps the step number out of the prompt, and
``teacher_force`` advances every episode with the true total whatever was committed (so the
per-step error is measured from expert states). The ``recent`` representation shows the last
few steps with the totals the agent stated and, every ``checkpoint_every`` steps, the true
total, so an agent can notice an earlier wrong total and return to the truth.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from redraft.agent.backends import Constraint, Message
from redraft.core import Settings
from redraft.evals.tasks._episode import ConfiguredTask, EpisodeBase
from redraft.evals.tasks._protocol import ErrorPolicy, StepPrompt, StepResult
from redraft.tools import Correctness, Judgement
from redraft.tools.arithmetic import (
    RunningSumContext,
    RunningSumOracle,
    RunningSumTruth,
    RunningSumVerifier,
    format_total,
    read_total,
)

__all__ = ["RunningSumConfig", "RunningSumEpisode", "RunningSumTask"]

RunningSumRepresentation = Literal["history", "last", "shown", "lookup", "recent"]

SYSTEM_PROMPT = (
    "You keep a running total. Each step names some keys of the table; add their values to "
    "the running total. Reply with the new total, exactly as: total: N"
)


class RunningSumConfig(Settings):
    """Options of the ``running_sum`` task."""

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
    each step looks two values up (where a scratchpad should help); ``recent``: the last
    ``window`` steps, each with its values and the total the agent stated (and the true
    total on checkpoint steps), then this step's values."""
    plant_errors: float | list[int] = 0.0
    """A rate in [0, 1] at which a shown total is replaced by a wrong one, or the steps at
    which to do so (counted from 0)."""
    reveal: bool = False
    """The verifier gives the right total in its hint (a calculator critic)."""
    strict: bool = False
    """Read answers strictly (verifier, oracle and the task alike): only the exact answer
    format counts; what the lenient reader would pick out of prose is ``invalid_syntax``."""
    modulus: int | None = Field(None, ge=2)
    """Totals are reduced modulo this and written zero-padded at a fixed width (modulo 100:
    ``total: 07``), so the numbers do not grow with the step; answers are compared modulo
    it. None: plain integers, which grow with the episode."""
    start: Literal["zero", "random", "mixed"] = "zero"
    """The total before the first step: 0, or drawn uniformly modulo ``modulus``; ``mixed``:
    0 in half the episodes (a coin per episode), drawn in the others. Training on ``mixed``
    and evaluating on ``random`` keeps every evaluated prompt in distribution while the
    zero-start episodes give a small model the easy first steps it learns from (measured:
    a micro model on totals modulo 100 stays at uniform digits for 1500 steps from random
    starts alone and is right on 100% of held-out steps after 1500 from zero starts)."""
    step_label: bool = True
    """Write ``Step N`` in the prompt; False: the prompt does not reveal the step."""
    window: int = Field(4, ge=1)
    """``recent``: how many earlier rows (the start, then one per step) are shown."""
    checkpoint_every: int | None = Field(None, ge=1)
    """``recent``: every this many steps the row shows the true total beside the stated one
    (the start is shown true too), so that with ``checkpoint_every <= window`` the true
    total can always be recomputed from the prompt. None: no checkpoints."""
    teacher_force: bool = False
    """Advance every episode with the true total whatever was committed (the committed
    answer is still judged and logged): the per-step error from expert states, e_TF(t).
    Planted errors still replace the shown total at their steps."""

    @model_validator(mode="after")
    def _sane(self) -> RunningSumConfig:
        if self.value_min > self.value_max:
            raise ValueError("value_min must not exceed value_max")
        if isinstance(self.plant_errors, float) and not 0.0 <= self.plant_errors <= 1.0:
            raise ValueError("plant_errors as a rate must lie in [0, 1]")
        if self.start != "zero" and self.modulus is None:
            raise ValueError(f"start={self.start} needs a modulus to draw the first total from")
        if self.checkpoint_every is not None and self.representation != "recent":
            raise ValueError("checkpoint_every applies to the recent representation only")
        return self

    def recoverable(self) -> bool:
        """True when every prompt lets the true total be recomputed from what it shows."""
        if self.representation == "history":
            return True
        every = self.checkpoint_every
        return self.representation == "recent" and every is not None and every <= self.window


@dataclass(frozen=True)
class _Row:
    """One finished step as the episode remembers it."""

    keys: tuple[str, ...]
    shown: int
    """The total the agent is shown for this step (its own, or a planted one)."""
    planted: bool
    truth: int
    """The true total after this step."""


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
        self.first = 0
        """The total before the first step."""
        if config.start != "zero" and config.modulus is not None:
            rng = self.rng("start")
            if config.start == "random" or rng.random() < 0.5:
                self.first = rng.randrange(config.modulus)
        self.shown = self.first
        """The previous total as the agent is shown it (its own, or a planted one)."""
        self.truth = self.first
        """The true running total."""
        self.history: list[_Row] = []
        """Each finished step."""
        self._keys = self._draw_keys()

    def _draw_keys(self) -> tuple[str, ...]:
        keys = list(self.table)
        return tuple(self._keys_rng.choice(keys) for _ in range(self.config.keys_per_step))

    def _fmt(self, value: int) -> str:
        return format_total(value, self.config.modulus)

    def context(self) -> RunningSumContext:
        """What the verifier checks this step against: the prompt's keys, values and total."""
        return RunningSumContext(keys=self._keys, values=tuple(self.table[k] for k in self._keys),
                                 previous=self.shown, modulus=self.config.modulus)

    def oracle_context(self) -> RunningSumTruth:
        """What the oracle judges this step against: the same plus the true total."""
        return RunningSumTruth(**self.context().model_dump(), true_previous=self.truth)

    def _items(self, keys: tuple[str, ...], values: bool) -> str:
        return ", ".join(f"{k}={self.table[k]}" if values else k for k in keys)

    def _ask(self) -> str:
        """This step's request: ``Step N: add ...`` or, unlabelled, ``Add ...``."""
        lead = f"Step {self.step + 1}: add" if self.config.step_label else "Add"
        return f"{lead} {self._items(self._keys, self.config.representation != 'lookup')}."

    def _recent(self) -> str:
        # Rows: the start, then one per finished step; the last `window` are shown, so once
        # the window is full the prompt's form no longer changes with the step.
        every = self.config.checkpoint_every
        rows = [f"Start: {self._fmt(self.first)}"]
        for i, row in enumerate(self.history):
            line = f"{self._items(row.keys, True)} -> {self._fmt(row.shown)}"
            if every is not None and (i + 1) % every == 0:
                # In front, so the stated total always ends its row: the last one then
                # sits at the same place before the request on every step.
                line = f"(true {self._fmt(row.truth)}) {line}"
            rows.append(line)
        return "\n".join([*rows[-self.config.window:], self._ask()])

    def _render(self) -> str:
        representation = self.config.representation
        if representation == "recent":
            return self._recent()
        if representation in ("shown", "lookup"):  # short: small models pay per char
            table = ", ".join(f"{k}={v}" for k, v in self.table.items())
            head = f"Table: {table}\n" if representation == "lookup" else ""
            return f"{head}Total so far: {self._fmt(self.shown)}\n{self._ask()}"
        table = ", ".join(f"{k}={v}" for k, v in self.table.items())
        labelled = self.config.step_label
        lines = [f"Table: {table}", f"Start: total: {self._fmt(self.first)}"]
        if representation == "history":
            lines += [f"{f'Step {i + 1}: add' if labelled else 'Add'} {', '.join(row.keys)} "
                      f"-> total: {self._fmt(row.shown)}" for i, row in enumerate(self.history)]
        elif self.history:
            after = f"After step {len(self.history)}" if labelled else "So far"
            lines.append(f"{after}: total: {self._fmt(self.shown)}")
        lead = f"Step {self.step + 1}: add" if labelled else "Add"
        lines.append(f"{lead} {', '.join(self._keys)}. What is the running total now?")
        return "\n".join(lines)

    def prompt(self) -> StepPrompt:
        """The current step's prompt."""
        self._ensure_running()
        context = self.context()
        expected = context.expected()
        wrong = [context.answer(expected + d) for d in (1, -1, 10)] + ["I lost track."]
        modulus = self.config.modulus
        pattern = (r"total: -?[0-9]{1,9}" if modulus is None
                   else f"total: [0-9]{{{len(str(modulus - 1))}}}")
        return StepPrompt(
            messages=(Message(role="system", content=SYSTEM_PROMPT),
                      Message(role="user", content=self._render())),
            context=context,
            oracle_context=self.oracle_context(),
            constraint=Constraint(kind="regex", pattern=pattern),
            hint=self.hint(context.answer(expected), wrong),
        )

    def _plant_now(self) -> bool:
        plant = self.config.plant_errors
        if isinstance(plant, list):
            return self.step in plant
        return plant > 0 and self._plant_rng.random() < plant

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        """Record the committed total (the locally right one, as forced, if unreadable).

        With ``teacher_force`` the episode goes on from the true total whatever was
        committed; the committed total is still judged and logged.
        """
        self._ensure_running()
        context = self.oracle_context()
        correctness = judgement.correctness
        read = read_total(proposal, strict=self.config.strict)
        forced = False
        global_correctness: Correctness | None = None
        if read.status == "ok":
            stated = context.reduce(read.values[0])
        else:  # unreadable: keep the locally right total, recorded as forced
            stated = context.expected()
            forced = True
            global_correctness = "correct" if stated == context.truth() else "incorrect"
        self.truth = context.truth()
        planted = self._plant_now()
        shown = self.truth if self.config.teacher_force else stated
        if planted:
            offsets = [d for d in range(-9, 10) if context.reduce(d) != 0]
            shown = context.reduce(shown + self._plant_rng.choice(offsets))
            self.prior_errors += 1
        self.shown = shown
        self.history.append(_Row(self._keys, shown, planted, self.truth))
        self._keys = self._draw_keys()
        natural = self.config.steps is not None and self.step + 1 >= self.config.steps
        info: dict[str, Any] = {"stated": stated, "true_total": self.truth,
                                "planted": planted, "shown": shown}
        return self.finish_step(
            action=context.answer(stated), correctness=correctness,
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
    representations: tuple[str, ...] = ("history", "last", "shown", "lookup", "recent")
    config_type = RunningSumConfig
    episode_type = RunningSumEpisode

    def verifier(self) -> RunningSumVerifier:
        """A calculator that checks each step against the agent's previous total."""
        return RunningSumVerifier(reveal=self.config.reveal, strict=self.config.strict)

    def oracle(self) -> RunningSumOracle:
        """Ground truth: the step (local) and the true total (global)."""
        return RunningSumOracle(strict=self.config.strict)

