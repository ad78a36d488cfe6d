"""The discrete hazard per step, and a likelihood-ratio test of constant hazard.

LeCun's argument predicts a constant (or, with compounding, rising) per-step error
hazard; correction should flatten it. The test fits a logistic hazard
``logit h(t) = a + b·t`` to the first-committed-error times and compares it with the
constant-hazard (geometric) model, ``b = 0``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from scipy import optimize
from scipy import stats as sps
from scipy.special import expit, log_expit

from redraft.evals.stats._intervals import DEFAULT_LEVEL, wilson
from redraft.evals.stats._metrics import StepCurve
from redraft.evals.stats._survival import risk_table

__all__ = ["HazardTrend", "hazard_curve", "hazard_trend_test"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

Direction = Literal["rising", "falling", "flat"]


def hazard_curve(
    time: IntArray, event: NDArray[np.bool_], level: float = DEFAULT_LEVEL
) -> StepCurve:
    """``h(t)`` = first committed errors at ``t`` / episodes at risk at ``t``, Wilson bands."""
    at_risk, events = risk_table(time, event)
    estimates = [wilson(int(d), int(n), level) for d, n in zip(events, at_risk, strict=True)]
    return StepCurve(
        steps=list(range(1, len(at_risk) + 1)),
        value=[e.value for e in estimates],
        ci_low=[e.ci_low for e in estimates],
        ci_high=[e.ci_high for e in estimates],
        n=[int(n) for n in at_risk],
    )


class HazardTrend(BaseModel):
    """Likelihood-ratio test of a constant hazard against a logistic trend in ``t``."""

    model_config = ConfigDict(frozen=True)

    statistic: float
    """``2·(ℓ_trend − ℓ_constant)``, asymptotically χ² with 1 degree of freedom."""
    p_value: float
    """Two-sided p-value."""
    direction: Direction
    """Sign of the fitted slope (``flat`` when there is nothing to fit)."""
    slope: float
    """Fitted change of the hazard's log-odds per step."""
    intercept: float = 0.0
    """Fitted log-odds at step 0: ``logit h(t) = intercept + slope·t``."""
    model: str = "logistic hazard in t"
    """The alternative model."""

    def fitted(self, steps: FloatArray) -> FloatArray:
        """The fitted hazard ``h(t)`` at ``steps``."""
        return np.asarray(expit(self.intercept + self.slope * np.asarray(steps)), dtype=float)

    def rejects(self, alpha: float = 0.05) -> bool:
        """True when constant hazard is rejected at level ``alpha``."""
        return self.p_value < alpha


def _logit(p: float) -> float:
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p / (1 - p))


def _loglik(n: FloatArray, d: FloatArray, logit: FloatArray) -> float:
    return float(np.sum(d * log_expit(logit) + (n - d) * log_expit(-logit)))


def hazard_trend_test(time: IntArray, event: NDArray[np.bool_]) -> HazardTrend:
    """Test ``h(t)`` constant against ``logit h(t) = a + b·t`` (rising or falling)."""
    at_risk, events = risk_table(time, event)
    keep = at_risk > 0
    n = at_risk[keep].astype(np.float64)
    d = events[keep].astype(np.float64)
    t = np.arange(1, len(at_risk) + 1, dtype=np.float64)[keep]
    total_n, total_d = float(n.sum()), float(d.sum())
    if total_d == 0 or total_d == total_n or len(t) < 2:
        flat = _logit(total_d / total_n) if total_n > 0 else -math.inf
        return HazardTrend(
            statistic=0.0, p_value=1.0, direction="flat", slope=0.0, intercept=flat
        )
    p0 = total_d / total_n
    null = _loglik(n, d, np.full_like(t, math.log(p0 / (1 - p0))))
    # Centre and scale t so that the optimiser sees a well-conditioned problem.
    centre = float(np.average(t, weights=n))
    scale = float(max(np.sqrt(np.average((t - centre) ** 2, weights=n)), 1e-9))
    x = (t - centre) / scale

    def negative(params: FloatArray) -> tuple[float, FloatArray]:
        logit = params[0] + params[1] * x
        residual = d - n * expit(logit)
        return -_loglik(n, d, logit), -np.array([residual.sum(), (residual * x).sum()])

    start = np.array([math.log(p0 / (1 - p0)), 0.0])
    fit = optimize.minimize(negative, start, jac=True, method="BFGS")
    alternative = -float(fit.fun)
    statistic = max(0.0, 2.0 * (alternative - null))
    slope = float(fit.x[1]) / scale
    direction: Direction = "rising" if slope > 0 else "falling" if slope < 0 else "flat"
    return HazardTrend(
        statistic=statistic,
        p_value=float(sps.chi2.sf(statistic, df=1)),
        direction=direction,
        slope=slope,
        intercept=float(fit.x[0]) - slope * centre,
    )
