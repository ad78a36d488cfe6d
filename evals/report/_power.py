"""How much the compounding (hazard-trend) test could see: its power, from the risk table."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from redraft.evals.stats import RunStats

__all__ = ["LOW_POWER_FOLD", "TrendPower", "trend_power"]

LOW_POWER_FOLD = 4.0
"""A compounding test that would miss a trend changing the hazard's odds this many times
over the observed steps is reported as having little power."""
_Z_POWER = 1.959964 + 0.841621
"""Two-sided 5% test, 80% power."""


class TrendPower(BaseModel):
    """How much the compounding (hazard trend) test could see."""

    model_config = ConfigDict(frozen=True)

    first_errors: int
    """First committed errors observed (the test's events)."""
    at_risk_after_first: int
    """Episode-steps at risk after step 1 (0: the hazard was seen at one step only)."""
    steps_observed: int
    """Steps with anyone at risk."""
    detectable_fold: float | None
    """The change in the hazard's odds over the observed steps the test would detect with
    80% power at the 5% level; None when no trend can be fitted at all."""

    @property
    def testable(self) -> bool:
        """False when the data cannot show a trend at all."""
        return self.detectable_fold is not None

    @property
    def low(self) -> bool:
        """True when only a steep trend could be detected."""
        return self.detectable_fold is not None and self.detectable_fold > LOW_POWER_FOLD


def trend_power(stats: RunStats) -> TrendPower:
    """The power of the hazard-trend test, from the run's at-risk table.

    Under a constant hazard ``p`` the Fisher information about the logistic slope is
    ``Σ n_t p(1-p)(t - t̄)²``; the smallest slope the likelihood-ratio test detects with 80%
    power is ``2.80 / sqrt(I)``, reported as the odds change it makes over the steps seen.
    """
    curve = stats.hazard
    n = [int(x) for x in curve.n]
    d = [round((v or 0.0) * k) for v, k in zip(curve.value, n, strict=True)]
    steps = [t for t, k in zip(curve.steps, n, strict=True) if k > 0]
    total_n, total_d = sum(n), sum(d)
    after_first = sum(k for t, k in zip(curve.steps, n, strict=True) if t > 1)
    fold: float | None = None
    if len(steps) >= 2 and 0 < total_d < total_n:
        p = total_d / total_n
        mean = sum(t * k for t, k in zip(curve.steps, n, strict=True)) / total_n
        info = sum(k * p * (1 - p) * (t - mean) ** 2
                   for t, k in zip(curve.steps, n, strict=True))
        if info > 0:
            span = max(steps) - min(steps)
            fold = math.exp(min(_Z_POWER / math.sqrt(info) * span, 700.0))
    return TrendPower(first_errors=total_d, at_risk_after_first=after_first,
                      steps_observed=len(steps), detectable_fold=fold)
