"""Point estimates with confidence intervals.

Wilson for simple proportions; the bootstrap over whole episodes for everything pooled over
correlated steps.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from scipy import stats as sps

__all__ = [
    "DEFAULT_LEVEL",
    "Estimate",
    "episode_weights",
    "percentile_interval",
    "ratio_estimate",
    "ratio_replicates",
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


def episode_weights(n_episodes: int, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """Bootstrap resampling of whole episodes, as a ``(n_boot, n_episodes)`` count matrix.

    Row ``b`` says how often each episode appears in replicate ``b``; any per-episode sum
    ``x`` then has replicates ``weights @ x``.
    """
    if n_episodes == 0:
        return np.zeros((n_boot, 0))
    counts = rng.multinomial(n_episodes, np.full(n_episodes, 1.0 / n_episodes), size=n_boot)
    return counts.astype(np.float64)


def ratio_replicates(num: FloatArray, den: FloatArray, weights: FloatArray) -> FloatArray:
    """Bootstrap replicates of ``sum(num) / sum(den)``; NaN where a replicate has no data."""
    top = weights @ num
    bottom = weights @ den
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


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
    num: FloatArray, den: FloatArray, weights: FloatArray, level: float = DEFAULT_LEVEL
) -> Estimate:
    """``sum(num) / sum(den)`` over episodes, with an episode-bootstrap percentile interval.

    Args:
        num: Per-episode numerators (e.g. wrong first proposals in the episode).
        den: Per-episode denominators (e.g. steps in the episode).
        weights: From :func:`episode_weights`, one column per episode.
        level: Confidence level.
    """
    total = float(den.sum())
    if total <= 0:
        return Estimate.undefined("bootstrap")
    value = float(num.sum()) / total
    low, high = percentile_interval(ratio_replicates(num, den, weights), level)
    return Estimate.of(value, low, high, n=round(total), method="bootstrap")
