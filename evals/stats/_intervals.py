"""Point estimates with confidence intervals that hold at small samples and at 0 and 1.

Pooled metrics are ratios of per-episode sums, ``sum(num) / sum(den)`` (steps within an
episode are correlated, so episodes are the unit). Their interval is the episode bootstrap
with the BCa correction (bias and skew, Efron 1987). Where the bootstrap cannot be trusted
the interval falls back to a score interval on pooled counts:

- the estimate is 0 or 1 (every replicate equals it: a percentile interval has zero width);
- fewer than :data:`MIN_BOOTSTRAP_EPISODES` episodes carry the ratio (BCa undercovers).

The fallback is Wilson's interval at the *effective* number of trials (pooled trials over
the design effect estimated from the episodes, Kish 1965) with a Student-t quantile for
the few clusters the design effect rests on; at 0 or 1 the design effect cannot be
estimated and the pooled counts are used as they are, so the interval never has zero width.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from scipy import stats as sps

__all__ = [
    "DEFAULT_LEVEL",
    "MIN_BOOTSTRAP_EPISODES",
    "Estimate",
    "bca_interval",
    "bootstrap_ratios",
    "clopper_pearson",
    "clustered_wilson",
    "percentile_interval",
    "ratio_estimate",
    "wilson",
]

DEFAULT_LEVEL = 0.95
"""The confidence level used unless a caller asks for another."""

MIN_BOOTSTRAP_EPISODES = 40
"""Below this many episodes a proportion's interval is the clustered Wilson interval."""

FloatArray = NDArray[np.float64]


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


class Estimate(BaseModel):
    """A value with a confidence interval; None where undefined (e.g. no data)."""

    model_config = ConfigDict(frozen=True)

    value: float | None
    """The point estimate."""
    ci_low: float | None = None
    """Lower end of the interval."""
    ci_high: float | None = None
    """Upper end of the interval."""
    n: int = 0
    """How many units the estimate rests on (denominator count)."""
    method: str = ""
    """How the interval was made: ``wilson``, ``bca``, ``clustered-wilson``, ..."""
    episodes: int | None = None
    """Episodes that carry the estimate (None where not episode-based)."""

    @classmethod
    def undefined(cls, method: str = "") -> Estimate:
        """An estimate with no data behind it."""
        return cls(value=None, method=method)

    @classmethod
    def of(
        cls, value: float, low: float | None, high: float | None, *, n: int, method: str,
        episodes: int | None = None,
    ) -> Estimate:
        """Build an estimate, mapping NaN and infinities to None."""
        return cls(value=_finite(value), ci_low=_finite(low), ci_high=_finite(high), n=n,
                   method=method, episodes=episodes)

    def covers(self, truth: float) -> bool:
        """True when the interval contains ``truth``."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low <= truth <= self.ci_high

    @property
    def width(self) -> float | None:
        """``ci_high − ci_low`` (None without an interval)."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return self.ci_high - self.ci_low

    def summary(self) -> dict[str, float | None]:
        """The ``{"value", "ci_low", "ci_high"}`` shape of ``summary.json``."""
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


def _z(level: float) -> float:
    return float(sps.norm.ppf(0.5 + level / 2))


def _wilson_bounds(p: float, trials: float, quantile: float) -> tuple[float, float]:
    z2 = quantile * quantile
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = quantile * math.sqrt(max(p * (1 - p), 0.0) / trials + z2 / (4 * trials * trials))
    # At 0 or 1 the end on that side is exact (no rounding residue).
    low = 0.0 if p <= 0.0 else max(0.0, centre - half / denom)
    high = 1.0 if p >= 1.0 else min(1.0, centre + half / denom)
    return low, high


def wilson(successes: float, trials: float, level: float = DEFAULT_LEVEL) -> Estimate:
    """The Wilson score interval of a binomial proportion (independent trials).

    Equal to ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` for integer
    counts (tests compare); written out because the clustered fallback needs fractional
    (effective) counts.
    """
    if trials <= 0:
        return Estimate.undefined("wilson")
    p = successes / trials
    low, high = _wilson_bounds(p, trials, _z(level))
    return Estimate.of(p, low, high, n=round(trials), method="wilson")


def clopper_pearson(successes: int, trials: int, level: float = DEFAULT_LEVEL) -> Estimate:
    """The exact (Clopper–Pearson) interval, from scipy."""
    if trials <= 0:
        return Estimate.undefined("clopper-pearson")
    ci = sps.binomtest(successes, trials).proportion_ci(confidence_level=level, method="exact")
    return Estimate.of(successes / trials, float(ci.low), float(ci.high), n=trials,
                       method="clopper-pearson")


def clustered_wilson(num: FloatArray, den: FloatArray, level: float = DEFAULT_LEVEL) -> Estimate:
    """Wilson's interval for a pooled proportion of clustered trials.

    Trials are pooled over episodes; the design effect ``deff`` (the cluster-robust variance
    of the ratio over the binomial one, at least 1) shrinks them to ``n / deff`` effective
    trials, and the quantile is Student's t with ``episodes − 1`` degrees of freedom. At 0
    or 1 nothing estimates ``deff`` and the pooled counts are used as they are.

    Args:
        num: Per-episode successes.
        den: Per-episode trials.
        level: Confidence level.
    """
    total = float(den.sum())
    if total <= 0:
        return Estimate.undefined("clustered-wilson")
    used = den > 0
    episodes = int(used.sum())
    p = float(num.sum()) / total
    quantile = _z(level)
    trials = total
    if 0.0 < p < 1.0 and episodes >= 2:
        residual = num[used] - p * den[used]
        robust = episodes / (episodes - 1) * float(np.sum(residual**2)) / total**2
        deff = max(1.0, robust / (p * (1 - p) / total))
        trials = total / deff
        quantile = float(sps.t.ppf(0.5 + level / 2, episodes - 1))
    low, high = _wilson_bounds(p, trials, quantile)
    return Estimate.of(p, low, high, n=round(total), method="clustered-wilson",
                       episodes=episodes)


def bootstrap_ratios(
    parts: Mapping[str, tuple[FloatArray, FloatArray]],
    n_boot: int,
    rng: np.random.Generator,
    *,
    max_cells: int = 2_000_000,
) -> dict[str, FloatArray]:
    """Bootstrap replicates of ``sum(num) / sum(den)`` for named ratios, by whole episodes.

    Args:
        parts: Per ratio, its per-episode numerators and denominators (same episode order).
        n_boot: Replicates to draw.
        rng: The random source.
        max_cells: Resampling weights are drawn in chunks of at most this many cells, so that
            memory stays bounded for runs with many episodes.

    Returns:
        Per ratio, ``n_boot`` replicates; NaN where a replicate has no denominator. Every
        ratio sees the same resamples, so replicates of different ratios pair up.
    """
    names = list(parts)
    if not names:
        return {}
    n = len(parts[names[0]][0])
    if n == 0:
        return {name: np.full(n_boot, np.nan) for name in names}
    stacked = np.column_stack([parts[k][0] for k in names] + [parts[k][1] for k in names])
    sums = np.empty((n_boot, stacked.shape[1]))
    chunk = max(1, min(n_boot, max_cells // n))
    uniform = np.full(n, 1.0 / n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        # Row b: how often each episode appears in replicate b.
        weights = rng.multinomial(n, uniform, size=stop - start).astype(np.float64)
        sums[start:stop] = weights @ stacked
    top, bottom = sums[:, : len(names)], sums[:, len(names) :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
    return {name: ratios[:, i] for i, name in enumerate(names)}


def percentile_interval(
    replicates: FloatArray, level: float = DEFAULT_LEVEL
) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (NaN replicates ignored)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


def jackknife_ratios(num: FloatArray, den: FloatArray) -> FloatArray:
    """Leave-one-episode-out values of ``sum(num) / sum(den)`` (NaN with no denominator)."""
    top, bottom = num.sum() - num, den.sum() - den
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def bca_interval(
    replicates: FloatArray, estimate: float, jackknife: FloatArray, level: float = DEFAULT_LEVEL
) -> tuple[float, float]:
    """Efron's bias-corrected and accelerated bootstrap interval.

    Args:
        replicates: Bootstrap replicates of the statistic (NaN ignored).
        estimate: The statistic on the data.
        jackknife: Leave-one-out values of the statistic (for the acceleration).
        level: Confidence level.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    below = float(np.mean(finite < estimate)) + 0.5 * float(np.mean(finite == estimate))
    below = min(max(below, 1.0 / (finite.size + 1)), finite.size / (finite.size + 1))
    z0 = float(sps.norm.ppf(below))
    jack = jackknife[np.isfinite(jackknife)]
    accel = 0.0
    if jack.size >= 3:
        dev = jack.mean() - jack
        spread = float(np.sum(dev**2))
        if spread > 0:
            accel = float(np.sum(dev**3)) / (6.0 * spread**1.5)
    z = _z(level)
    ends = []
    for zq in (-z, z):
        shifted = z0 + zq
        ends.append(float(sps.norm.cdf(z0 + shifted / (1 - accel * shifted))))
    low, high = np.quantile(finite, ends)
    return float(low), float(high)


def ratio_estimate(
    num: FloatArray,
    den: FloatArray,
    replicates: FloatArray,
    level: float = DEFAULT_LEVEL,
    *,
    proportion: bool = True,
) -> Estimate:
    """``sum(num) / sum(den)`` over episodes, with an interval that holds at small n.

    Args:
        num: Per-episode numerators (e.g. wrong first proposals in the episode).
        den: Per-episode denominators (e.g. steps in the episode).
        replicates: This ratio's replicates from :func:`bootstrap_ratios`.
        level: Confidence level.
        proportion: The ratio is a share of trials in ``[0, 1]``: at 0 or 1, or with fewer
            than :data:`MIN_BOOTSTRAP_EPISODES` episodes, use :func:`clustered_wilson`.
            Other ratios (tokens per step, net effect) always use the BCa bootstrap.
    """
    total = float(den.sum())
    if total <= 0:
        return Estimate.undefined("bca")
    value = float(num.sum()) / total
    episodes = int(np.count_nonzero(den > 0))
    if proportion and (value <= 0.0 or value >= 1.0 or episodes < MIN_BOOTSTRAP_EPISODES):
        return clustered_wilson(num, den, level)
    if episodes < 2:
        return Estimate.of(value, None, None, n=round(total), method="bca", episodes=episodes)
    low, high = bca_interval(replicates, value, jackknife_ratios(num, den), level)
    return Estimate.of(value, low, high, n=round(total), method="bca", episodes=episodes)
