"""Statistics of the decisive experiment: compounding against a measured null, on matrices.

Each function here is a per-model statistic for :func:`~redraft.evals.stats.seed_estimate`
(a model's runs in, one number out) or a curve, computed from the ``(episodes, steps)``
label matrices of :class:`~redraft.evals.stats.EpisodeArrays` (1 wrong, 0 right, NaN
unknown or padding; unknown is never counted as wrong):

- ``e_TF(t)``: the error at step ``t`` of a **teacher-forced** run (every episode advances
  with the true total, so every prompt is an expert state): the model's per-step error
  with no compounding in it. Its flatness is tested with the within-episode trend test.
- **survival against the null**: the (Kaplan–Meier) share of free-running episodes with no
  committed error in the first ``n`` steps, minus ``prod_{t<=n} (1 - e_TF(t))``: what the
  same model's per-step error predicts if errors did not feed on each other. Below 0:
  errors compound beyond (1-e)^n; above 0: fewer episodes fail than independent steps
  would.
- **the planted-error effect**: the share of *fresh* errors (locally wrong and not a return
  to the true total) at the steps just after a planted wrong total, minus the same share at
  the same steps of unplanted episodes (matched t): self-conditioning.
- **undo**: P(the state is right at ``t`` | it was wrong at ``t-1``), judged against the true
  state; where the prompt cannot show the truth this is the chance rate of compensating
  errors, so undo is read as the difference between the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from redraft.evals.stats import PermutationTest, step_trend_test
from redraft.lab.stats._seeds import Statistic

__all__ = [
    "error_rate",
    "flatness_test",
    "fresh_errors",
    "global_error_curve",
    "planted_effect",
    "step_rates",
    "survival_gap",
    "survival_null",
    "survival_observed",
    "undo_rate",
    "undo_vs_chance",
    "with_global",
]

FloatArray = NDArray[np.float64]


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def step_rates(matrix: FloatArray, steps: int | None = None) -> FloatArray:
    """Per-step error rate ``(steps,)`` over the labelled episodes (NaN where none is)."""
    cut = matrix[:, : steps if steps is not None else matrix.shape[1]]
    known = np.isfinite(cut)
    count = known.sum(axis=0)
    wrong = np.where(known, cut, 0.0).sum(axis=0)
    rates = np.where(count > 0, wrong / np.maximum(count, 1), np.nan)
    return np.asarray(rates, dtype=np.float64)


def error_rate(conditions: Sequence[FloatArray]) -> float:
    """Share of labelled steps wrong in the first condition (e.g. round 0: e_raw)."""
    matrix = conditions[0]
    known = np.isfinite(matrix)
    return _ratio(float(np.where(known, matrix, 0.0).sum()), float(known.sum()))


def survival_null(teacher_forced: FloatArray, steps: int) -> FloatArray:
    """``prod_{t<=n} (1 - e_TF(t))`` for ``n = 1..steps`` (steps without labels count 0)."""
    rates = np.nan_to_num(step_rates(teacher_forced, steps), nan=0.0)
    return np.asarray(np.cumprod(1.0 - rates), dtype=np.float64)


def survival_observed(committed: FloatArray, steps: int) -> FloatArray:
    """Kaplan–Meier share of episodes with no committed error in the first ``n`` steps.

    ``n = 1..steps``. An episode leaves the risk set at its first error (an event) or at its
    first unknown label (censored there: unknown is never counted as wrong, nor as right),
    so the estimate is the product over t of (1 - errors/labelled at risk), the same
    per-step form as the null. Without unknown labels it is the plain share.
    """
    cut = committed[:, :steps]
    if not len(cut):
        return np.full(steps, np.nan)
    known = np.isfinite(cut)
    wrong = known & (np.nan_to_num(cut, nan=0.0) > 0)
    clean = known & ~wrong
    at_risk = np.ones_like(clean)
    at_risk[:, 1:] = np.logical_and.accumulate(clean, axis=1)[:, :-1]
    risk = (at_risk & known).sum(axis=0)
    events = (at_risk & wrong).sum(axis=0)
    factor = np.where(risk > 0, 1.0 - events / np.maximum(risk, 1), 1.0)
    return np.asarray(np.cumprod(factor), dtype=np.float64)


def survival_gap(steps: int) -> Statistic:
    """Statistic: observed survival at ``steps`` minus the teacher-forced null there.

    Conditions: the free-running run's committed labels, then the teacher-forced run's
    round-0 labels (the same model at the same temperature).
    """

    def stat(conditions: Sequence[FloatArray]) -> float:
        free, forced = conditions[0], conditions[1]
        if not len(free) or not len(forced):
            return math.nan
        return float(survival_observed(free, steps)[-1] - survival_null(forced, steps)[-1])

    return stat


def with_global(local: FloatArray, global_: FloatArray) -> FloatArray:
    """Stack a run's local and global labels ``(episodes, 2, steps)`` (resampled together)."""
    stacked: FloatArray = np.stack([local, global_], axis=1)
    return stacked


def fresh_errors(stacked: FloatArray) -> FloatArray:
    """A fresh error: locally wrong and globally wrong (not a return to the true total).

    ``stacked`` is :func:`with_global`'s array; NaN where either label is unknown.
    """
    local, global_ = stacked[:, 0, :], stacked[:, 1, :]
    fresh: FloatArray = np.where(np.isfinite(local) & np.isfinite(global_),
                                 ((local > 0) & (global_ > 0)).astype(float), np.nan)
    return fresh


def planted_effect(first: int, last: int) -> Statistic:
    """Statistic: fresh-error rate at steps ``first..last`` (1-based) planted minus unplanted.

    Conditions: the planted run's :func:`with_global` array, then the unplanted run's (the
    same model, task options and temperature, without the plant).
    """

    def stat(conditions: Sequence[FloatArray]) -> float:
        planted, plain = conditions[0], conditions[1]
        window = slice(first - 1, last)
        return (error_rate([fresh_errors(planted)[:, window]])
                - error_rate([fresh_errors(plain)[:, window]]))

    return stat


def _undo_counts(global_: FloatArray, from_step: int) -> tuple[float, float]:
    # Columns are steps 1..L: the pairs (t-1, t) for t >= from_step (>= 2).
    before, after = global_[:, from_step - 2: -1], global_[:, from_step - 1:]
    trials = (before > 0) & np.isfinite(after)
    undone = trials & (after == 0)
    return float(undone.sum()), float(trials.sum())


def undo_rate(from_step: int = 2) -> Statistic:
    """Statistic: P(global state right at t | wrong at t-1), over steps ``t >= from_step``.

    Condition: a run's global labels (judged against the true state).
    """

    def stat(conditions: Sequence[FloatArray]) -> float:
        return _ratio(*_undo_counts(conditions[0], max(2, from_step)))

    return stat


def undo_vs_chance(from_step: int = 2) -> Statistic:
    """Statistic: undo rate where the prompt can show the truth minus where it cannot.

    Conditions: the global labels of the run where undo is possible, then of the run where
    it is not (whose returns to the truth are compensating errors: the chance rate).
    """
    undo = undo_rate(from_step)

    def stat(conditions: Sequence[FloatArray]) -> float:
        return undo([conditions[0]]) - undo([conditions[1]])

    return stat


def global_error_curve(global_: FloatArray, steps: int) -> FloatArray:
    """P(global error at t) for ``t = 1..steps`` (NaN where no episode is labelled)."""
    return step_rates(global_, steps)


def flatness_test(teacher_forced: Sequence[FloatArray], *, n_perm: int = 999,
                  rng: np.random.Generator | None = None) -> PermutationTest:
    """Is ``e_TF(t)`` flat in t? The within-episode trend test on every model's episodes.

    Shuffling steps within an episode keeps each episode (and so each model) together, so
    pooling the models' episodes keeps the test exact under "no dependence on t".
    """
    width = max((m.shape[1] for m in teacher_forced), default=0)
    padded = [np.pad(m, ((0, 0), (0, width - m.shape[1])), constant_values=np.nan)
              for m in teacher_forced if len(m)]
    if not padded:
        return PermutationTest(statistic=None, p_value=None, direction="flat", permutations=0,
                               n=0, description="no teacher-forced steps")
    matrix = np.concatenate(padded)
    taken = np.isfinite(matrix)
    length = np.where(taken.any(axis=1), width - np.argmax(taken[:, ::-1], axis=1), 0)
    return step_trend_test(matrix, length.astype(np.int64), n_perm=n_perm, rng=rng)
