"""Survival of "no committed error yet", and the constant-error fit.

Kaplan–Meier with Greenwood bands, and the censored geometric fit that LeCun's ``(1-e)^n``
argument assumes.

Time counts committed steps from 1. An episode's event time is the step of its first
committed error; episodes that end naturally or at ``max_steps`` are censored at the
number of steps they took.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from scipy import stats as sps

from redraft.evals.stats._intervals import (
    DEFAULT_LEVEL,
    Estimate,
    bootstrap_ratios,
    ratio_estimate,
)

__all__ = [
    "GeometricFit",
    "KaplanMeier",
    "geometric_fit",
    "kaplan_meier",
    "risk_table",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def risk_table(time: IntArray, event: NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """Episodes at risk and events at each step ``1..max(time)`` (index 0 is step 1)."""
    horizon = int(time.max(initial=0))
    steps = np.arange(1, horizon + 1)
    at_risk = (time[None, :] >= steps[:, None]).sum(axis=1).astype(np.int64)
    events = np.bincount(time[event], minlength=horizon + 1)[1:].astype(np.int64)
    return at_risk, events


class KaplanMeier(BaseModel):
    """``S(n)``: the share of episodes with no committed error in their first ``n`` steps."""

    model_config = ConfigDict(frozen=True)

    steps: list[int]
    """``0..L``."""
    survival: list[float]
    """Kaplan–Meier estimate at each step."""
    ci_low: list[float]
    """Lower Greenwood band (log-log transformed, stays within [0, 1])."""
    ci_high: list[float]
    """Upper Greenwood band."""
    at_risk: list[int]
    """Episodes at risk at each step (step 0: all)."""
    events: list[int]
    """First committed errors at each step."""


def kaplan_meier(
    time: IntArray, event: NDArray[np.bool_], level: float = DEFAULT_LEVEL
) -> KaplanMeier:
    """Kaplan–Meier estimate with Greenwood's variance, on the log(-log) scale."""
    at_risk, events = risk_table(time, event)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1 - events / np.maximum(at_risk, 1), 1.0)
        surv = np.cumprod(factor)
        green = np.cumsum(
            np.where(at_risk > events, events / (at_risk * np.maximum(at_risk - events, 1)), 0.0)
        )
        z = float(sps.norm.ppf(0.5 + level / 2))
        log_s = np.log(surv)
        se_loglog = np.sqrt(green) / np.abs(log_s)
        low = np.where(
            (surv > 0) & (surv < 1), surv ** np.exp(z * se_loglog), np.where(surv >= 1, 1.0, 0.0)
        )
        high = np.where(
            (surv > 0) & (surv < 1), surv ** np.exp(-z * se_loglog), np.where(surv > 0, 1.0, 0.0)
        )
    return KaplanMeier(
        steps=list(range(0, len(surv) + 1)),
        survival=[1.0, *map(float, surv)],
        ci_low=[1.0, *map(float, low)],
        ci_high=[1.0, *map(float, high)],
        at_risk=[int(time.size), *map(int, at_risk)],
        events=[0, *map(int, events)],
    )


class GeometricFit(BaseModel):
    """The constant per-step error model: ``P(first error at n) = (1-ê)^(n-1) ê``."""

    model_config = ConfigDict(frozen=True)

    e_hat: Estimate
    """The censored geometric MLE: committed errors / steps at risk."""

    def survival(self, n: int | FloatArray) -> FloatArray:
        """Predicted ``(1-ê)^n``."""
        e = self.e_hat.value if self.e_hat.value is not None else math.nan
        return np.power(1.0 - e, np.asarray(n, dtype=np.float64))

    def predicted_error_share(self, n: int) -> Estimate:
        """Predicted share of episodes of ``n`` steps with an error: ``1-(1-ê)^n``.

        The interval maps the ends of ``ê``'s interval through the (monotone) formula.
        """
        def share(e: float | None) -> float:
            return math.nan if e is None else 1.0 - (1.0 - e) ** n

        return Estimate.of(
            share(self.e_hat.value), share(self.e_hat.ci_low), share(self.e_hat.ci_high),
            n=self.e_hat.n, method=self.e_hat.method,
        )

    def horizon(self, s: float = 0.5) -> Estimate:
        """``H_s = ln s / ln(1-ê)``: steps until the survival falls to ``s``.

        None where ``ê`` is 0 (no error seen: the horizon is unbounded).
        """
        def steps(e: float | None) -> float:
            if e is None or e <= 0.0:
                return math.inf
            if e >= 1.0:
                return 0.0
            return math.log(s) / math.log1p(-e)

        # A larger ê gives a shorter horizon, so the interval's ends swap.
        return Estimate.of(
            steps(self.e_hat.value), steps(self.e_hat.ci_high), steps(self.e_hat.ci_low),
            n=self.e_hat.n, method=self.e_hat.method,
        )


def geometric_fit(
    time: IntArray,
    event: NDArray[np.bool_],
    *,
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
    level: float = DEFAULT_LEVEL,
) -> GeometricFit:
    """Fit the censored geometric model: ``ê`` = events / steps at risk.

    The interval resamples whole episodes.
    """
    num, den = event.astype(np.float64), time.astype(np.float64)
    rng = rng if rng is not None else np.random.default_rng(0)
    replicates = bootstrap_ratios({"e_hat": (num, den)}, n_boot, rng)["e_hat"]
    return GeometricFit(e_hat=ratio_estimate(num, den, replicates, level))
