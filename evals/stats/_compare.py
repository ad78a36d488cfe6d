"""Comparing runs: each metric's difference from a baseline run, with a bootstrap interval.

Runs of one grid share episode seeds (``episode_start.seed``): the same episodes, played
with a different critic or budget. Such runs are compared **paired by episode**: replicates
resample the shared episodes once and both runs' metrics are computed on the same
resample, so episode-to-episode variation cancels out of the difference (BCa interval,
jackknife over pairs). Runs with no seed in common are independent samples: each is
resampled on its own and the difference of the replicates gives a percentile interval.
Small samples and the boundaries get the same care as a single run's metrics: with fewer
than ``MIN_BOOTSTRAP_EPISODES`` pairs a paired difference uses the linearised variance with
Student's t, and an unpaired proportion at 0 or 1 or with few episodes uses Newcombe's
hybrid score interval built from the two runs' score intervals.

When two paired runs agree on every shared episode the replicates are all 0; a proportion's
difference then gets the bound ``|Δ| ≤`` the Wilson upper bound for 0 discordant steps out
of the steps compared, so the interval is tight but never of zero width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats as sps

from redraft.evals.stats._episodes import EpisodeArrays, episode_arrays
from redraft.evals.stats._intervals import (
    DEFAULT_LEVEL,
    MIN_BOOTSTRAP_EPISODES,
    Estimate,
    FloatArray,
    bca_interval,
    bootstrap_ratios,
    percentile_interval,
    ratio_estimate,
    wilson,
)
from redraft.evals.stats._load import RunData
from redraft.evals.stats._metrics import NOT_PROPORTIONS, ratio_parts
from redraft.evals.stats._run import DEFAULT_BOOTSTRAP

__all__ = ["COMPARED_METRICS", "Comparison", "ComparisonRow", "compare_runs", "seed_pairs"]

COMPARED_METRICS: tuple[str, ...] = (
    "e_raw",
    "e_post",
    "net_effect",
    "recovery",
    "harm",
    "e_hat",
    "critic_tpr",
    "critic_fpr",
    "repair",
    "unknown_rate",
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
    leaky: bool = False
    """The run is a leaky upper bound (ground truth fed its loop)."""
    value: Estimate
    """The run's value."""
    difference: Estimate
    """The run's value minus the baseline's."""
    paired: bool = False
    """True when the difference was computed paired by episode seed."""
    pairs: int = 0
    """Episodes the paired difference rests on (0 when unpaired)."""


class Comparison(BaseModel):
    """Every compared metric for every run, against one baseline run."""

    model_config = ConfigDict(frozen=True)

    baseline: str
    """The baseline run's name."""
    rows: list[ComparisonRow]
    """Ordered by metric, then run."""
    level: float = DEFAULT_LEVEL
    """Confidence level of every interval."""


_Parts = dict[str, tuple[FloatArray, FloatArray]]


def seed_pairs(a: EpisodeArrays, b: EpisodeArrays) -> tuple[np.ndarray, np.ndarray] | None:
    """Row indices of the episodes two runs share by seed (None: compare unpaired).

    Runs pair when every episode of both logged a seed, seeds are unique within each run,
    and the runs share at least one seed.
    """
    if not (a.has_seed.all() and b.has_seed.all()) or a.n_episodes == 0 or b.n_episodes == 0:
        return None
    if len(set(a.seed.tolist())) != a.n_episodes or len(set(b.seed.tolist())) != b.n_episodes:
        return None
    where_b = {int(s): j for j, s in enumerate(b.seed)}
    rows_a = [i for i, s in enumerate(a.seed) if int(s) in where_b]
    if not rows_a:
        return None
    rows_b = [where_b[int(a.seed[i])] for i in rows_a]
    return np.asarray(rows_a, dtype=np.int64), np.asarray(rows_b, dtype=np.int64)


def _ratio(num: FloatArray, den: FloatArray) -> float:
    total = float(den.sum())
    return float(num.sum()) / total if total > 0 else float("nan")


def _feasible(
    metric: str, low: float | None, high: float | None
) -> tuple[float | None, float | None]:
    """A difference of two proportions lies in [-1, 1]: clip an interval that leaves it.

    Small-sample intervals (paired t, the discordance bound) are symmetric about the
    estimate and can cross the bounds when the estimate is near them.
    """
    if metric in NOT_PROPORTIONS:
        return low, high
    return (None if low is None else max(-1.0, low), None if high is None else min(1.0, high))


def _paired_difference(
    a: tuple[FloatArray, FloatArray], b: tuple[FloatArray, FloatArray], metric: str,
    n_boot: int, rng: np.random.Generator, level: float,
) -> Estimate:
    (num_a, den_a), (num_b, den_b) = a, b
    if den_a.sum() <= 0 or den_b.sum() <= 0:
        return Estimate.undefined("paired-bca")
    value_a, value_b = _ratio(num_a, den_a), _ratio(num_b, den_b)
    value = value_a - value_b
    pairs = int(num_a.size)
    reps = bootstrap_ratios({"a": (num_a, den_a), "b": (num_b, den_b)}, n_boot, rng)
    diffs = reps["a"] - reps["b"]
    steps = round(min(den_a.sum(), den_b.sum()))
    finite = diffs[np.isfinite(diffs)]
    if metric not in NOT_PROPORTIONS and (finite.size == 0 or np.ptp(finite) == 0.0):
        # No discordant episode: |Δ| is at most the discordant share of the steps compared.
        bound = wilson(0, steps, level).ci_high or 1.0
        low, high = _feasible(metric, value - bound, value + bound)
        return Estimate.of(value, low, high, n=steps,
                           method="paired-discordance-bound", episodes=pairs)
    if pairs < MIN_BOOTSTRAP_EPISODES:
        # Few pairs: the linearised (delta-method) variance of the paired difference with
        # Student's t, which the BCa bootstrap undercovers at this size.
        influence = ((num_a - value_a * den_a) / den_a.sum()
                     - (num_b - value_b * den_b) / den_b.sum())
        spread = math.sqrt(pairs / (pairs - 1) * float(np.sum(influence**2))) if pairs > 1 else 0
        half = float(sps.t.ppf(0.5 + level / 2, max(pairs - 1, 1))) * spread
        low, high = _feasible(metric, value - half, value + half)
        return Estimate.of(value, low, high, n=steps, method="paired-t", episodes=pairs)
    jack_a = _leave_one_out(num_a, den_a)
    jack_b = _leave_one_out(num_b, den_b)
    low, high = _feasible(metric, *bca_interval(diffs, value, jack_a - jack_b, level))
    return Estimate.of(value, low, high, n=steps, method="paired-bca", episodes=pairs)


def _leave_one_out(num: FloatArray, den: FloatArray) -> FloatArray:
    top, bottom = num.sum() - num, den.sum() - den
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def _newcombe(a: Estimate, b: Estimate) -> Estimate | None:
    """Newcombe's hybrid score interval for ``a − b`` from each side's score interval."""
    if None in (a.value, a.ci_low, a.ci_high, b.value, b.ci_low, b.ci_high):
        return None
    pa, la, ua = float(a.value or 0), float(a.ci_low or 0), float(a.ci_high or 0)
    pb, lb, ub = float(b.value or 0), float(b.ci_low or 0), float(b.ci_high or 0)
    value = pa - pb
    low = value - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    high = value + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    return Estimate.of(value, max(-1.0, low), min(1.0, high), n=a.n, method="newcombe",
                       episodes=a.episodes)


def _unpaired_difference(
    a: tuple[FloatArray, FloatArray], reps_a: FloatArray,
    b: tuple[FloatArray, FloatArray], reps_b: FloatArray, level: float, metric: str,
) -> Estimate:
    (num_a, den_a), (num_b, den_b) = a, b
    if den_a.sum() <= 0 or den_b.sum() <= 0:
        return Estimate.undefined("bootstrap")
    value = _ratio(num_a, den_a) - _ratio(num_b, den_b)
    if metric not in NOT_PROPORTIONS:
        one = ratio_estimate(num_a, den_a, reps_a, level)
        two = ratio_estimate(num_b, den_b, reps_b, level)
        if "wilson" in one.method or "wilson" in two.method:
            # At 0 or 1, or with few episodes: combine the two score intervals.
            combined = _newcombe(one, two)
            if combined is not None:
                return combined
    low, high = percentile_interval(reps_a - reps_b, level)
    return Estimate.of(value, low, high, n=round(den_a.sum()), method="bootstrap",
                       episodes=int(num_a.size))


def _subset(parts: _Parts, rows: np.ndarray) -> _Parts:
    return {name: (num[rows], den[rows]) for name, (num, den) in parts.items()}


def compare_runs(
    runs: Sequence[RunData],
    *,
    baseline: int = 0,
    metrics: Sequence[str] = COMPARED_METRICS,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    paired: bool | None = None,
) -> Comparison:
    """Each run's metrics and their differences from ``runs[baseline]``.

    Args:
        runs: The runs; ``runs[baseline]`` is the reference.
        baseline: Index of the baseline run.
        metrics: Metric names (see ``RATIO_METRICS``).
        level: Confidence level.
        n_boot: Bootstrap replicates.
        seed: Seed of the resampling.
        paired: None: pair by episode seed wherever runs share seeds; False: never pair.

    Raises:
        ValueError: if there are no runs, ``baseline`` is out of range, or a metric is unknown.
    """
    if not runs:
        raise ValueError("compare_runs needs at least one run")
    if not 0 <= baseline < len(runs):
        raise ValueError(f"baseline index {baseline} is out of range for {len(runs)} runs")
    rng = np.random.default_rng(seed)
    arrays = [episode_arrays(run) for run in runs]
    parts = [ratio_parts(a, metrics) for a in arrays]
    replicates = [bootstrap_ratios(p, n_boot, rng) for p in parts]
    base = parts[baseline]
    rows: list[ComparisonRow] = []
    for metric in metrics:
        for index, (run, p, reps) in enumerate(zip(runs, parts, replicates, strict=True)):
            match = None if paired is False else seed_pairs(arrays[index], arrays[baseline])
            if match is not None:
                rows_run, rows_base = match
                difference = _paired_difference(
                    _subset(p, rows_run)[metric], _subset(base, rows_base)[metric], metric,
                    n_boot, np.random.default_rng([seed, index]), level,
                )
            else:
                difference = _unpaired_difference(p[metric], reps[metric], base[metric],
                                                  replicates[baseline][metric], level, metric)
            rows.append(ComparisonRow(
                metric=metric,
                run=run.name,
                critic=run.critic,
                leaky=run.leaky,
                value=ratio_estimate(*p[metric], reps[metric], level,
                                     proportion=metric not in NOT_PROPORTIONS),
                difference=difference,
                paired=match is not None,
                pairs=0 if match is None else int(match[0].size),
            ))
    return Comparison(baseline=runs[baseline].name, rows=rows, level=level)
