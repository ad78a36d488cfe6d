"""Comparing runs: each metric's difference from a baseline run, with a bootstrap interval.

Runs are independent samples, so each is resampled by episode on its own and the
difference of the replicates gives the interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from redraft.evals.stats._episodes import EpisodeArrays, episode_arrays
from redraft.evals.stats._intervals import (
    DEFAULT_LEVEL,
    Estimate,
    episode_weights,
    percentile_interval,
    ratio_estimate,
    ratio_replicates,
)
from redraft.evals.stats._load import RunData
from redraft.evals.stats._metrics import RATIO_METRICS
from redraft.evals.stats._run import DEFAULT_BOOTSTRAP

__all__ = ["COMPARED_METRICS", "Comparison", "ComparisonRow", "compare_runs"]

COMPARED_METRICS: tuple[str, ...] = (
    "e_raw",
    "e_post",
    "net_effect",
    "recovery",
    "harm",
    "e_hat",
    "critic_tpr",
    "critic_fpr",
    "tokens_per_step",
    "seconds_per_step",
    "tokens_per_corrected_error",
)
"""Metrics compared by default."""


class ComparisonRow(BaseModel):
    """One metric of one run against the baseline."""

    model_config = ConfigDict(frozen=True)

    metric: str
    """Metric name."""
    run: str
    """The run's name."""
    critic: str | None
    """The run's critic mode."""
    value: Estimate
    """The run's value."""
    difference: Estimate
    """The run's value minus the baseline's."""


class Comparison(BaseModel):
    """Every compared metric for every run, against one baseline run."""

    model_config = ConfigDict(frozen=True)

    baseline: str
    """The baseline run's name."""
    rows: list[ComparisonRow]
    """Ordered by metric, then run."""


def _critic(run: RunData) -> str | None:
    return run.critic


def _difference(
    a: EpisodeArrays,
    wa: np.ndarray,
    b: EpisodeArrays,
    wb: np.ndarray,
    metric: str,
    level: float,
) -> Estimate:
    parts = RATIO_METRICS[metric]
    num_a, den_a = parts(a)
    num_b, den_b = parts(b)
    if den_a.sum() <= 0 or den_b.sum() <= 0:
        return Estimate.undefined("bootstrap")
    value = num_a.sum() / den_a.sum() - num_b.sum() / den_b.sum()
    replicates = ratio_replicates(num_a, den_a, wa) - ratio_replicates(num_b, den_b, wb)
    low, high = percentile_interval(replicates, level)
    return Estimate.of(float(value), low, high, n=int(den_a.sum()), method="bootstrap")


def compare_runs(
    runs: Sequence[RunData],
    *,
    baseline: int = 0,
    metrics: Sequence[str] = COMPARED_METRICS,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> Comparison:
    """Each run's metrics and their differences from ``runs[baseline]``.

    Raises:
        ValueError: if there are no runs, ``baseline`` is out of range, or a metric is unknown.
    """
    if not runs:
        raise ValueError("compare_runs needs at least one run")
    if not 0 <= baseline < len(runs):
        raise ValueError(f"baseline index {baseline} is out of range for {len(runs)} runs")
    unknown = [m for m in metrics if m not in RATIO_METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(RATIO_METRICS)}")
    rng = np.random.default_rng(seed)
    arrays = [episode_arrays(run) for run in runs]
    weights = [episode_weights(a.n_episodes, n_boot, rng) for a in arrays]
    base = arrays[baseline]
    rows = [
        ComparisonRow(
            metric=metric,
            run=run.name,
            critic=_critic(run),
            value=ratio_estimate(*RATIO_METRICS[metric](a), w, level),
            difference=_difference(a, w, base, weights[baseline], metric, level),
        )
        for metric in metrics
        for run, a, w in zip(runs, arrays, weights, strict=True)
    ]
    return Comparison(baseline=runs[baseline].name, rows=rows)
