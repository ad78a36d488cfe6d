"""Error, correction, critic-quality and cost metrics, and their per-step curves.

Every pooled metric is a ratio of per-episode sums, ``sum(num) / sum(den)``, so its interval
comes from resampling whole episodes (steps within an episode are correlated). Per-step
curves hold at most one observation per episode at each step, so they use Wilson intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from redraft.evals.stats._episodes import EpisodeArrays
from redraft.evals.stats._intervals import (
    DEFAULT_LEVEL,
    Estimate,
    bootstrap_ratios,
    ratio_estimate,
    wilson,
)

__all__ = [
    "METRIC_DESCRIPTIONS",
    "NOT_PROPORTIONS",
    "RATIO_METRICS",
    "StepCurve",
    "global_error_undone",
    "ratio_metrics",
    "ratio_parts",
    "step_curve",
]

FloatArray = NDArray[np.float64]
RatioParts = Callable[[EpisodeArrays], tuple[FloatArray, FloatArray]]


def _known(x: FloatArray) -> FloatArray:
    return np.asarray(np.isfinite(x), dtype=np.float64)


def _sum(x: FloatArray) -> FloatArray:
    return np.asarray(np.nansum(x, axis=1), dtype=np.float64)


def _rate(matrix: Callable[[EpisodeArrays], FloatArray]) -> RatioParts:
    def parts(a: EpisodeArrays) -> tuple[FloatArray, FloatArray]:
        m = matrix(a)
        return _sum(m), _known(m).sum(axis=1)

    return parts


def _only_if_corrected(parts: RatioParts) -> RatioParts:
    """Undefined (no denominator) in a run where the correction loop never ran."""

    def guarded(a: EpisodeArrays) -> tuple[FloatArray, FloatArray]:
        num, den = parts(a)
        return (num, den) if a.corrects else (np.zeros_like(num), np.zeros_like(den))

    return guarded


def _conditional(given: float, then: float) -> RatioParts:
    """P(final wrong == then | initial wrong == given), over steps with both labels."""

    def parts(a: EpisodeArrays) -> tuple[FloatArray, FloatArray]:
        base = (a.initial_wrong == given) & np.isfinite(a.final_wrong)
        hit = base & (a.final_wrong == then)
        return hit.sum(axis=1).astype(np.float64), base.sum(axis=1).astype(np.float64)

    return parts


def _transition(given: float, then: float) -> RatioParts:
    """Share of all steps (both labels known) going from ``given`` to ``then``."""

    def parts(a: EpisodeArrays) -> tuple[FloatArray, FloatArray]:
        both = np.isfinite(a.initial_wrong) & np.isfinite(a.final_wrong)
        hit = both & (a.initial_wrong == given) & (a.final_wrong == then)
        return hit.sum(axis=1).astype(np.float64), both.sum(axis=1).astype(np.float64)

    return parts


def _unknown(matrix: Callable[[EpisodeArrays], FloatArray]) -> RatioParts:
    """Share of taken steps whose label is unknown."""

    def parts(a: EpisodeArrays) -> tuple[FloatArray, FloatArray]:
        taken = a.mask
        missing = taken & ~np.isfinite(matrix(a))
        return missing.sum(axis=1).astype(np.float64), taken.sum(axis=1).astype(np.float64)

    return parts


def _net_effect(a: EpisodeArrays) -> tuple[FloatArray, FloatArray]:
    both = np.isfinite(a.initial_wrong) & np.isfinite(a.final_wrong)
    diff = np.where(both, a.initial_wrong - a.final_wrong, 0.0)
    return diff.sum(axis=1), both.sum(axis=1).astype(np.float64)


def _per_corrected(matrix: Callable[[EpisodeArrays], FloatArray]) -> RatioParts:
    recovered = _conditional(1.0, 0.0)

    def parts(a: EpisodeArrays) -> tuple[FloatArray, FloatArray]:
        return _sum(matrix(a)), recovered(a)[0]

    return parts


RATIO_METRICS: dict[str, RatioParts] = {
    "e_raw": _rate(lambda a: a.initial_wrong),
    "e_post": _rate(lambda a: a.final_wrong),
    "net_effect": _net_effect,
    "recovery": _only_if_corrected(_conditional(1.0, 0.0)),
    "harm": _only_if_corrected(_conditional(0.0, 1.0)),
    "wrong_to_right": _only_if_corrected(_transition(1.0, 0.0)),
    "right_to_wrong": _only_if_corrected(_transition(0.0, 1.0)),
    "e_hat": lambda a: (a.event.astype(np.float64), a.time.astype(np.float64)),
    "critic_tpr": lambda a: (a.tp, a.tp + a.fn),
    "critic_fpr": lambda a: (a.fp, a.fp + a.tn),
    "repair": lambda a: (a.repair_hits, a.repair_trials),
    "damage": lambda a: (a.damage_hits, a.damage_trials),
    "unknown_rate": _unknown(lambda a: a.final_wrong),
    "unknown_rate_initial": _unknown(lambda a: a.initial_wrong),
    "unknown_rate_rounds": lambda a: (a.rounds_unknown, a.rounds),
    "verifier_error_rate": lambda a: (a.verifier_errors, a.feedback_rounds),
    "revisions_per_step": _rate(lambda a: a.revised),
    "tokens_per_step": _rate(lambda a: a.tokens),
    "seconds_per_step": _rate(lambda a: a.seconds),
    "tokens_per_corrected_error": _per_corrected(lambda a: a.overhead_tokens),
    "seconds_per_corrected_error": _per_corrected(lambda a: a.overhead_seconds),
}
"""Each metric as (per-episode numerators, per-episode denominators). A metric with no
denominator is undefined (None), never 0."""

NOT_PROPORTIONS: frozenset[str] = frozenset({
    "net_effect", "revisions_per_step", "tokens_per_step", "seconds_per_step",
    "tokens_per_corrected_error", "seconds_per_corrected_error",
})
"""Ratios that are not shares of trials in [0, 1]: always the BCa bootstrap interval."""

METRIC_DESCRIPTIONS: dict[str, str] = {
    "e_raw": "share of first proposals (round 0) the oracle rejects",
    "e_post": "share of committed answers the oracle rejects",
    "net_effect": "e_raw − e_post: errors removed by correction per step (negative: harm)",
    "recovery": "P(committed right | round 0 wrong); null where nothing was corrected",
    "harm": "P(committed wrong | round 0 right); null where nothing was corrected",
    "wrong_to_right": "share of all steps going from a wrong round 0 to a right commit",
    "right_to_wrong": "share of all steps going from a right round 0 to a wrong commit",
    "e_hat": "constant-hazard (censored geometric) MLE of the per-step committed-error "
    "probability",
    "critic_tpr": "detection: feedback rejects, among rounds the oracle rejects",
    "critic_fpr": "false alarms: feedback rejects, among rounds the oracle accepts",
    "repair": "reviser: P(revision right | the output before it was wrong and flagged)",
    "damage": "reviser: P(revision wrong | the output before it was right and flagged)",
    "unknown_rate": "share of committed answers the oracle could not label (left out of "
    "every rate)",
    "unknown_rate_initial": "share of first proposals the oracle could not label",
    "unknown_rate_rounds": "share of all rounds the oracle could not label",
    "verifier_error_rate": "share of feedback rounds where the verifier itself failed",
    "revisions_per_step": "revisions made per committed step",
    "tokens_per_step": "tokens (prompt + completion, all rounds and critiques) per step",
    "seconds_per_step": "wall-clock seconds per step",
    "tokens_per_corrected_error": "tokens spent beyond first proposals, per recovered error",
    "seconds_per_corrected_error": "seconds spent beyond first proposals, per recovered error",
}
"""What each metric means, for reports."""


def ratio_parts(
    arrays: EpisodeArrays, names: Sequence[str] | None = None
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Per-episode numerators and denominators of the named metrics (default: all).

    Raises:
        ValueError: if a name is not in :data:`RATIO_METRICS`.
    """
    chosen = list(RATIO_METRICS) if names is None else list(names)
    unknown = [m for m in chosen if m not in RATIO_METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(RATIO_METRICS)}")
    return {name: RATIO_METRICS[name](arrays) for name in chosen}


def ratio_metrics(
    arrays: EpisodeArrays,
    n_boot: int,
    rng: np.random.Generator,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Estimate]:
    """Every metric of :data:`RATIO_METRICS` with an episode-bootstrap interval."""
    parts = ratio_parts(arrays)
    replicates = bootstrap_ratios(parts, n_boot, rng)
    return {
        name: ratio_estimate(num, den, replicates[name], level,
                             proportion=name not in NOT_PROPORTIONS)
        for name, (num, den) in parts.items()
    }


class StepCurve(BaseModel):
    """A proportion per step ``1..L`` with Wilson intervals (None where no data)."""

    model_config = ConfigDict(frozen=True)

    steps: list[int]
    """Step numbers, from 1."""
    value: list[float | None]
    """The proportion at each step."""
    ci_low: list[float | None]
    """Lower interval ends."""
    ci_high: list[float | None]
    """Upper interval ends."""
    n: list[int]
    """Episodes with a label at each step."""


def step_curve(matrix: FloatArray, level: float = DEFAULT_LEVEL) -> StepCurve:
    """Share of 1s among labelled entries per column (one observation per episode)."""
    known = np.isfinite(matrix)
    hits = np.nansum(matrix, axis=0).astype(int)
    totals = known.sum(axis=0).astype(int)
    estimates = [wilson(int(k), int(t), level) for k, t in zip(hits, totals, strict=True)]
    return StepCurve(
        steps=list(range(1, matrix.shape[1] + 1)),
        value=[e.value for e in estimates],
        ci_low=[e.ci_low for e in estimates],
        ci_high=[e.ci_high for e in estimates],
        n=[int(t) for t in totals],
    )


def global_error_undone(
    arrays: EpisodeArrays, level: float = DEFAULT_LEVEL, *, by_agent: bool = True
) -> Estimate:
    """Share of episodes with a global error that a later correction undid.

    The direct test of non-monotonic error: under pure accumulation this is 0. A global
    error counts as undone at step ``t`` only when the state is wrong after ``t-1``, right
    after ``t``, and step ``t``'s committed answer is itself locally right: a second error
    that happens to cancel the first (a committed local error landing on the true state) is
    not an undo. Null where the task logs no global state (its global label would only
    repeat the local one, e.g. chess).

    Args:
        arrays: The run's episodes.
        level: Confidence level (Wilson interval over episodes).
        by_agent: Count only undoing the agent did: neither step was forced (a task that
            replaces an erroneous answer under the ``continue`` policy can restore the state
            itself).
    """
    if not arrays.has_global_state:
        return Estimate.undefined("wilson")
    g = np.where(arrays.global_labelled == 1.0, arrays.global_wrong, np.nan)
    wrong = g == 1.0
    ever_wrong = wrong.any(axis=1)
    undo = np.zeros_like(wrong)
    undo[:, 1:] = (g[:, 1:] == 0.0) & wrong[:, :-1] & (arrays.final_wrong[:, 1:] == 0.0)
    if by_agent:
        forced = arrays.forced == 1.0
        undo[:, 1:] &= ~forced[:, 1:] & ~forced[:, :-1]
    undone = undo.any(axis=1)
    return wilson(int(undone.sum()), int(ever_wrong.sum()), level)
