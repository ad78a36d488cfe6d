"""Per-run curves of the decisive experiment, computed from label matrices.

Each function works on the ``(episodes, steps)`` label matrices of a run
(:class:`redraft.evals.stats.EpisodeArrays`: 1 wrong, 0 right, NaN unknown or padding;
unknown is never counted as wrong):

- :func:`step_rates`: the error at each step ``t`` (of a teacher-forced run: ``e_TF(t)``);
- :func:`survival_observed`: the share of episodes with no committed error through ``n``
  (Kaplan–Meier, censoring unknown labels);
- :func:`global_error_curve`: P(the state is wrong at ``t``), against the true state: with
  survival, ``P(globally right at n) - P(no error through n)`` is the share of episodes
  that erred and are back at the truth at ``n`` (undone, or by compensating errors);
- :func:`flatness_test`: whether ``e(t)`` changes with ``t`` (within-episode trend test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from redraft.evals.stats import PermutationTest, step_trend_test

__all__ = [
    "error_rate",
    "flatness_test",
    "global_error_curve",
    "step_rates",
    "survival_observed",
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
