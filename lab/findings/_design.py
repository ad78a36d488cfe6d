"""The decisive experiment's design, fixed before any result: arms, conditions, contrasts.

- **Arms**: the data regimes trained, several seeds each (seeds are the unit).
- **Conditions**: the runs every trained model gets, all in distribution (evaluation
  episodes exactly as long as the training ones, the trained task options): free-running at
  temperature 1 (the main condition) and 0, teacher-forced (``teacher_force``: e_TF(t)), a
  planted wrong total at a fixed step, and the same task without true-total checkpoints
  (undo impossible once the start leaves the window: the chance rate of compensating errors).
- **Contrasts** (:data:`DECLARED_CONTRASTS`): the only numbers the headline may name, with
  what each side would support, declared here, in code, before the grid runs; Holm's
  correction runs over exactly this list. Everything else on the page is exploratory.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "ARMS",
    "CONDITIONS",
    "DECISIVE_CALIBRATION",
    "DECISIVE_TASK_OPTIONS",
    "DECISIVE_TRAIN_OVERRIDES",
    "DECLARED_CONTRASTS",
    "Arm",
    "Condition",
    "Contrast",
    "ContrastKind",
    "Side",
]

# The calibrated task options per scale and how each was chosen live with the testbed;
# re-exported here because the design names them (importing them does not load torch).
from redraft.lab.testbed._decisive import (
    DECISIVE_CALIBRATION,
    DECISIVE_TASK_OPTIONS,
    DECISIVE_TRAIN_OVERRIDES,
)

ArmName = Literal["expert", "retry-masked", "retry-unmasked", "scratchpad", "recovery"]
ConditionName = Literal["free-t1", "free-t0", "free-t0.5", "tf-t1", "tf-t0", "plant-t1",
                        "nocheck-t1"]


class Arm(BaseModel):
    """A data regime as trained: the testbed regime and its training settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ArmName
    """Name on the page and in folder names."""
    regime: str
    """Testbed regime (``redraft train --regime``)."""
    train: dict[str, JsonValue] = Field(default_factory=dict)
    """``TrainConfig`` fields beyond the scale's (``wrong_model`` is the same seed's expert
    when ``wrong_source`` is ``model``)."""
    conditions: tuple[ConditionName, ...]
    """The runs each model of the arm gets."""
    description: str
    """What the arm's data is, for the page."""


_BASE: tuple[ConditionName, ...] = ("free-t1", "free-t0", "tf-t1")
ARMS: tuple[Arm, ...] = (
    Arm(name="expert", regime="expert",
        conditions=(*_BASE, "tf-t0", "free-t0.5", "plant-t1", "nocheck-t1"),
        description="behaviour cloning: every shown total right"),
    Arm(name="retry-masked", regime="retry",
        train={"mask_wrong": True, "retry_p": 0.5, "wrong_source": "model"},
        conditions=_BASE,
        description="half the steps show a wrong total (from the same seed's expert sampled "
        "at temperature 1), [BACK], the right one; no loss on the wrong tokens"),
    Arm(name="retry-unmasked", regime="retry",
        train={"mask_wrong": False, "retry_p": 0.5, "wrong_source": "model"},
        conditions=_BASE,
        description="the same with the loss on the wrong tokens (the model also learns to "
        "write them)"),
    Arm(name="scratchpad", regime="scratchpad", conditions=_BASE,
        description="reasoning written before each total"),
    Arm(name="recovery", regime="recovery",
        train={"recovery_p": 0.2, "wrong_source": "model"},
        conditions=(*_BASE, "plant-t1", "nocheck-t1"),
        description="states that already hold earlier wrong totals (the expert's kind of "
        "mistakes), with targets that restore the true total"),
)
"""The arms, expert first (every regime contrast is against it)."""


class Condition(BaseModel):
    """One run of a trained model: what differs from the trained task and greedy decoding."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ConditionName
    """Name in folder names and tables."""
    temperature: float = Field(ge=0.0)
    """Sampling temperature."""
    teacher_force: bool = False
    """Episodes advance with the true total (e_raw(t) is e_TF(t))."""
    plant: bool = False
    """A wrong total is planted in the shown history at the scale's plant step."""
    checkpoints: bool = True
    """False: no true-total checkpoints (``checkpoint_every`` None): undo impossible."""
    description: str
    """What the run measures."""


CONDITIONS: dict[str, Condition] = {c.name: c for c in (
    Condition(name="free-t1", temperature=1.0, description="free-running, temperature 1 "
              "(the main condition)"),
    Condition(name="free-t0", temperature=0.0, description="free-running, greedy"),
    Condition(name="free-t0.5", temperature=0.5, description="free-running, temperature 0.5 "
              "(the expert's temperature sweep)"),
    Condition(name="tf-t1", temperature=1.0, teacher_force=True,
              description="teacher-forced, temperature 1: e_TF(t)"),
    Condition(name="tf-t0", temperature=0.0, teacher_force=True,
              description="teacher-forced, greedy"),
    Condition(name="plant-t1", temperature=1.0, plant=True,
              description="free-running, temperature 1, one planted wrong total"),
    Condition(name="nocheck-t1", temperature=1.0, checkpoints=False,
              description="free-running, temperature 1, no true-total checkpoints: returns "
              "to the truth are compensating errors (chance)"),
)}
"""Every condition by name."""

ContrastKind = Literal["survival_gap", "planted", "undo_chance", "regime_error", "regime_undo"]
Side = Literal["negative", "positive"]


class Contrast(BaseModel):
    """A contrast declared before the results: what it estimates and whom each sign backs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    """Short stable name."""
    kind: ContrastKind
    """Which statistic."""
    arm: ArmName
    """The arm measured (for regime contrasts: the one compared with ``expert``)."""
    label: str
    """What the number is, in words."""
    supports: dict[Side, str]
    """Whom a detectable negative / positive value supports, and why."""


DECLARED_CONTRASTS: tuple[Contrast, ...] = (
    Contrast(key="survival-vs-null", kind="survival_gap", arm="expert",
             label="expert, temperature 1: survival to the last step minus "
             "prod(1 - e_TF(t)) there",
             supports={"negative": "LeCun (errors compound beyond (1-e)^n)",
                       "positive": "gwern (fewer episodes fail than independent steps "
                       "predict: errors are undone)"}),
    Contrast(key="planted-error", kind="planted", arm="expert",
             label="expert, temperature 1: fresh-error rate just after a planted wrong "
             "total minus unplanted, at the same steps",
             supports={"positive": "LeCun (a mistake in view breeds mistakes: "
                       "self-conditioning)",
                       "negative": "gwern (a visible mistake is noticed and avoided)"}),
    Contrast(key="undo-vs-chance", kind="undo_chance", arm="expert",
             label="expert, temperature 1: P(back to the true total given a wrong one) with "
             "checkpoints minus without (chance)",
             supports={"positive": "gwern (errors are undone: P(global error) can fall)",
                       "negative": "LeCun (the truth in view is not used)"}),
    Contrast(key="retry-masked-error", kind="regime_error", arm="retry-masked",
             label="e_raw at temperature 1, retry (masked) minus expert",
             supports={"negative": "Razied (mistakes and their corrections in the data "
                       "lower the error)",
                       "positive": "the case against Razied: retry data raises the error"}),
    Contrast(key="retry-unmasked-error", kind="regime_error", arm="retry-unmasked",
             label="e_raw at temperature 1, retry (unmasked) minus expert",
             supports={"negative": "Razied", "positive": "the case against Razied: the model "
                       "learns to write the wrong totals"}),
    Contrast(key="recovery-error", kind="regime_error", arm="recovery",
             label="e_raw at temperature 1, recovery minus expert",
             supports={"negative": "Razied", "positive": "the case against Razied"}),
    Contrast(key="recovery-undo", kind="regime_undo", arm="recovery",
             label="P(back to the true total given a wrong one) at temperature 1, recovery minus "
             "expert",
             supports={"positive": "Razied (recovery data teaches returning to the truth)",
                       "negative": "the case against Razied"}),
    Contrast(key="scratchpad-error", kind="regime_error", arm="scratchpad",
             label="e_raw at temperature 1, scratchpad minus expert",
             supports={"negative": "gwern (reasoning before the answer lowers the error)",
                       "positive": "the case against gwern"}),
)
"""The contrasts the headline may name (Holm-adjusted over exactly these)."""
