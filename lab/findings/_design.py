"""The decisive experiment's design, fixed before any result: arms, outcomes, conditions.

- **Arms** (:data:`ARMS`): data regimes, each trained for every seed. Each seed first
  trains a **base** model from scratch to convergence (:data:`BASE`: behaviour cloning);
  every arm of the seed then starts from that base and trains on the same data stream (the
  same training episodes in the same batches), differing only in what its regime writes,
  for the same steps, except the retry: it trains until it has learnt its ``[BACK]``
  decision (``until_learnt``; declared 2026-12-07 from the retry arms' learning curves
  alone, before any outcome of the change: at the common 3000 steps only 1, 3 and 3 retry
  seeds of 8, 8 and 12 had converged, against 15 of 16 other arms at quick; a longer budget
  for the retry alone is no confound of sharpness since the regime contrasts compare at
  matched clean error, below, and every arm of a seed still starts from one base and reads
  one data stream). So a seed is a paired unit, a regime contrast is one difference per
  seed, and the wrong totals the arms learn from are the base's own mistakes (drawn from
  its answer distribution at each state, at the evaluation temperature).
- **Primary outcomes** (:data:`PRIMARY`): four contrasts declared here, before the grid
  runs, each one that can come out either way (below), each scored exactly from the models'
  logits on one shared set of constructed states (:mod:`._states`), at the evaluation
  temperature; Holm's correction runs over exactly these four. Everything else on the page
  is exploratory.
- **Conditions** (:data:`CONDITIONS`): the runs through ``redraft eval`` (the framework's
  runner and the ``hf`` backend) that need a trajectory: free-running episodes at the
  evaluation temperature (P(globally right at n) against survival), greedy beside it, and
  teacher-forced sampling (the exact scores checked against sampled ones).

Why each primary outcome can fail, in the decisive task (``recent`` rows of values and
stated totals, window 3, no true-total checkpoints, totals modulo 100): a post-error state
shows the wrong total in its last row (1 step after) or middle row (2 steps after), with
the rows before it right.

- ``compounding`` (LeCun): if the model computes each step from the last stated total
  whatever came before, its fresh error after an error equals its error on the clean twin
  state, and the contrast is 0; it is positive only if an error in view raises the next
  error (the state is off the expert's distribution).
- ``undo`` (gwern): the true total is in no field of the prompt; the model must notice that
  a row disagrees with the one before and recompute (two or three additions). If it does
  not, it writes the truth only when its own error happens to cancel δ, which is what the
  clean twin's ``P(right − δ)`` measures: the contrast is then 0.
- ``retry`` (Razied): if taking answers back does not lower the committed error (or
  raises it by retrying right answers), the difference is 0 or positive.
- ``recovery`` (DAgger): if training on post-error states with true targets does not teach
  recomputing, the recovery model continues from the wrong total as the expert does and the
  difference is 0.

**Regime contrasts at matched clean error** (declared 2026-12-07, after the full run and
before any score at a matched temperature was computed): a regime contrast samples the arm
at the temperature where its exact error on the clean states equals its seed's expert's at
the evaluation temperature (:data:`REGIME_ARMS`; the expert at the evaluation temperature).
The runs showed the arms much flatter than their experts at one temperature (recovery 0.63
more clean error, retry 0.3 more), and a flatter model puts more mass on every total, the
truth after an error included, so at one temperature these two contrasts moved by flatness
alone; at matched clean error they measure what the arm does after an error, and a
retry's committed error is compared at an equal error of the first total. The outcome at
the evaluation temperature stays on the page beside each, exploratory.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "ARMS",
    "BASE",
    "CONDITIONS",
    "DECISIVE_CALIBRATION",
    "DECISIVE_TASK_OPTIONS",
    "DECISIVE_TRAIN_OVERRIDES",
    "PRIMARY",
    "REGIME_ARMS",
    "Arm",
    "ArmName",
    "Condition",
    "Contrast",
    "ContrastKind",
    "Side",
    "arm_named",
]

# The calibrated task options per scale and how each was chosen live with the testbed;
# re-exported here because the design names them (importing them does not load torch).
from redraft.lab.testbed import (
    DECISIVE_CALIBRATION,
    DECISIVE_TASK_OPTIONS,
    DECISIVE_TRAIN_OVERRIDES,
)

ArmName = Literal["base", "expert", "retry", "recovery", "scratchpad"]
ConditionName = Literal["free", "greedy", "tf"]
ContrastKind = Literal["compounding", "undo", "retry", "recovery"]
Side = Literal["negative", "positive"]


class Arm(BaseModel):
    """A data regime as trained: the testbed regime and its settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ArmName
    """Name on the page and in folder names."""
    regime: Literal["expert", "retry", "recovery", "scratchpad"]
    """The testbed regime."""
    train: dict[str, JsonValue] = Field(default_factory=dict)
    """The regime's settings (:class:`~redraft.lab.testbed.Member` fields)."""
    phase: Literal[1, 2] = 2
    """1: the base, trained from scratch; 2: the arms, each starting from its seed's base."""
    primary: bool
    """Whether a primary outcome involves the arm (else exploratory only)."""
    budget: Literal["base", "steps", "supervised_tokens", "until_learnt"] = "steps"
    """``base``: the scale's base steps; ``steps``: the scale's arm steps;
    ``supervised_tokens``: as many supervised (loss) tokens as the expert's steps give (the
    scratchpad writes about 2.4 times as many per step, so it trains fewer steps);
    ``until_learnt``: until its held-out greedy accuracy is at least ``LEARNT`` at three
    scorings in a row (the stopping rule), at most the scale's ``learn_steps``, the learning
    rate cooling over those; read as a base is (one that reaches its cap short of learning
    has not learnt, however flat its curve, and is left out of every contrast)."""
    description: str
    """What the arm's data is, for the page."""

    @property
    def until_learnt(self) -> bool:
        """Whether it trains until the stopping rule says it learnt (the base, the retry)."""
        return self.budget in ("base", "until_learnt")


BASE = Arm(name="base", regime="expert", phase=1, primary=False, budget="base",
           description="behaviour cloning from scratch to convergence: every arm of its seed "
           "starts from it, and its mistakes are the arms' wrong totals")
"""The seed's base model (trained first; not an arm of any contrast)."""

ARMS: tuple[Arm, ...] = (
    Arm(name="expert", regime="expert", primary=True,
        description="behaviour cloning continued: every step's right total"),
    Arm(name="retry", regime="retry", primary=True, budget="until_learnt",
        train={"retry_p": 0.5, "mask_wrong": True},
        description="half the steps first write a wrong total the seed's base would write at "
        "that very state at the evaluation temperature, then [BACK] and the right total; no "
        "loss on the wrong total"),
    Arm(name="recovery", regime="recovery", primary=True, train={"error_p": 0.2},
        description="a fifth of the steps are committed with a wrong total the seed's base "
        "would write there (at most one per 3 steps), and every target is the true total, so "
        "the step after an error recomputes it from the row before the error"),
    Arm(name="scratchpad", regime="scratchpad", primary=False, budget="supervised_tokens",
        description="chain of thought: the value and the unreduced sum written before each "
        "total; trained to as many supervised tokens as the expert, not as many steps"),
)
"""The arms, expert first (every regime contrast is against it); each starts from its seed's
:data:`BASE`."""


def arm_named(name: str) -> Arm:
    """The base or the arm called ``name``.

    Raises:
        KeyError: no arm has that name.
    """
    for arm in (BASE, *ARMS):
        if arm.name == name:
            return arm
    raise KeyError(name)


class Condition(BaseModel):
    """A run through ``redraft eval`` of a trained model: what it samples."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ConditionName
    """Name in folder names and tables."""
    temperature: Literal["eval", "greedy"]
    """The evaluation temperature of the scale, or greedy decoding."""
    teacher_force: bool = False
    """Episodes advance with the true total (e_raw(t) is e_TF(t), sampled)."""
    description: str
    """What the run measures."""


CONDITIONS: dict[str, Condition] = {c.name: c for c in (
    Condition(name="free", temperature="eval", description="free-running at the evaluation "
              "temperature (the main condition): P(globally right at n) against survival"),
    Condition(name="greedy", temperature="greedy", description="free-running, greedy"),
    Condition(name="tf", temperature="eval", teacher_force=True,
              description="teacher-forced, sampled at the evaluation temperature: e_TF "
              "sampled, beside the exact score"),
)}
"""Every condition by name."""


class Contrast(BaseModel):
    """A primary outcome: what it estimates, per seed, and whom each sign supports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    """Short stable name."""
    kind: ContrastKind
    """Which statistic."""
    arm: ArmName
    """The arm measured (for a regime contrast: the one compared with ``expert``)."""
    label: str
    """What the number is, in words."""
    supports: dict[Side, str]
    """Whom a detectable negative / positive value supports, and why."""
    fails_if: str
    """What result would leave it at 0: why it is a test that can fail."""


PRIMARY: tuple[Contrast, ...] = (
    Contrast(key="compounding", kind="compounding", arm="expert",
             label="expert: fresh error on the 2 steps after a wrong total (its own kind of "
             "mistake) minus on the same steps of the same episodes without it",
             supports={"positive": "LeCun (an error in view breeds errors: the hazard rises "
                       "after the first)",
                       "negative": "an error in view makes the next steps more careful"},
             fails_if="the model computes from the last stated total whatever came before"),
    Contrast(key="undo", kind="undo", arm="expert",
             label="expert: P(back to the true total) after a wrong total minus the chance "
             "that its own error there cancels it (the clean twin's P(right − δ))",
             supports={"positive": "gwern (an autoregressive model notices and undoes its "
                       "errors: P(global error) can fall)",
                       "negative": "errors are less often undone than chance"},
             fails_if="the model does not recompute the truth from the row before the error"),
    Contrast(key="retry", kind="retry", arm="retry",
             label="committed error on clean states (the model may take its first total back), "
             "retry minus expert, at matched clean error",
             supports={"negative": "Razied (training on mistakes and their corrections lowers "
                       "the committed error)",
                       "positive": "the case against Razied: retry data raises the error"},
             fails_if="taking answers back does not lower the committed error"),
    Contrast(key="recovery", kind="recovery", arm="recovery",
             label="post-error error judged against the true total (1 − P(truth)), recovery "
             "minus expert, at matched clean error",
             supports={"negative": "DAgger / Razied (training on states that hold errors, "
                       "with true targets, teaches returning to the truth)",
                       "positive": "the case against: recovery data makes it worse"},
             fails_if="the recovery model continues from the wrong total as the expert does"),
)
"""The primary outcomes, in the order Holm's correction and the page list them."""
REGIME_ARMS: tuple[str, ...] = tuple(c.arm for c in PRIMARY if c.kind in ("retry", "recovery"))
"""The arms a regime contrast compares with the expert: scored at matched clean error too."""
