"""Comparing runs: each metric's difference from a baseline run, with a bootstrap interval.

Runs are independent samples, so each is resampled by episode on its own and the
difference of the replicates gives the interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from redraft.evals.stats._episodes import episode_arrays
from redraft.evals.stats._intervals import (
    DEFAULT_LEVEL,
    Estimate,
    FloatArray,
    bootstrap_ratios,
    percentile_interval,
    ratio_estimate,
)
from redraft.evals.stats._load import RunData
from redraft.evals.stats._metrics import ratio_parts
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


_Parts = dict[str, tuple[FloatArray, FloatArray]]


def _difference(
    a: _Parts, reps_a: dict[str, FloatArray], b: _Parts, reps_b: dict[str, FloatArray],
    metric: str, level: float,
) -> Estimate:
    num_a, den_a = a[metric]
    num_b, den_b = b[metric]
    if den_a.sum() <= 0 or den_b.sum() <= 0:
        return Estimate.undefined("bootstrap")
    value = num_a.sum() / den_a.sum() - num_b.sum() / den_b.sum()
    low, high = percentile_interval(reps_a[metric] - reps_b[metric], level)
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
    rng = np.random.default_rng(seed)
    parts = [ratio_parts(episode_arrays(run), metrics) for run in runs]
    replicates = [bootstrap_ratios(p, n_boot, rng) for p in parts]
    rows = [
        ComparisonRow(
            metric=metric,
            run=run.name,
            critic=run.critic,
            value=ratio_estimate(*p[metric], reps[metric], level),
            difference=_difference(p, reps, parts[baseline], replicates[baseline], metric,
                                   level),
        )
        for metric in metrics
        for run, p, reps in zip(runs, parts, replicates, strict=True)
    ]
    return Comparison(baseline=runs[baseline].name, rows=rows)
