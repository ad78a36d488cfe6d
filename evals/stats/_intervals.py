"""Point estimates with confidence intervals.

Wilson for simple proportions; the bootstrap over whole episodes for everything pooled over
correlated steps.
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
    "Estimate",
    "bootstrap_ratios",
    "percentile_interval",
    "ratio_estimate",
    "wilson",
]

DEFAULT_LEVEL = 0.95
"""The confidence level used unless a caller asks for another."""

FloatArray = NDArray[np.float64]


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


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
    """How the interval was made: ``wilson``, ``bootstrap``, ``delta``, ..."""

    @classmethod
    def undefined(cls, method: str = "") -> Estimate:
        """An estimate with no data behind it."""
        return cls(value=None, method=method)

    @classmethod
    def of(cls, value: float, low: float, high: float, *, n: int, method: str) -> Estimate:
        """Build an estimate, mapping NaN and infinities to None."""
        return cls(value=_finite(value), ci_low=_finite(low), ci_high=_finite(high), n=n,
                   method=method)

    def covers(self, truth: float) -> bool:
        """True when the interval contains ``truth``."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low <= truth <= self.ci_high

    def summary(self) -> dict[str, float | None]:
        """The ``{"value", "ci_low", "ci_high"}`` shape of ``summary.json``."""
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


def wilson(successes: int, trials: int, level: float = DEFAULT_LEVEL) -> Estimate:
    """The Wilson score interval of a binomial proportion (independent trials)."""
    if trials <= 0:
        return Estimate.undefined("wilson")
    z = float(sps.norm.ppf(0.5 + level / 2))
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Estimate.of(p, low, high, n=trials, method="wilson")


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


def ratio_estimate(
    num: FloatArray, den: FloatArray, replicates: FloatArray, level: float = DEFAULT_LEVEL
) -> Estimate:
    """``sum(num) / sum(den)`` over episodes, with the percentile interval of ``replicates``.

    Args:
        num: Per-episode numerators (e.g. wrong first proposals in the episode).
        den: Per-episode denominators (e.g. steps in the episode).
        replicates: This ratio's replicates from :func:`bootstrap_ratios`.
        level: Confidence level.
    """
    total = float(den.sum())
    if total <= 0:
        return Estimate.undefined("bootstrap")
    value = float(num.sum()) / total
    low, high = percentile_interval(replicates, level)
    return Estimate.of(value, low, high, n=round(total), method="bootstrap")
