"""Survival of "no committed error yet", and the constant-error fit.

Kaplan–Meier with Greenwood bands, and the censored geometric fit that LeCun's ``(1-e)^n``
argument assumes.

Time counts committed steps from 1. An episode's event time is the step of its first
committed error; episodes that end naturally or at ``max_steps`` are censored at the
number of steps they took.
"""

from __future__ import annotations

import math
import warnings

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


def _scipy_kaplan_meier(
    time: IntArray, event: NDArray[np.bool_], steps: IntArray, level: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Scipy's product-limit estimate and log-log Greenwood band at ``steps``."""
    data = sps.CensoredData(uncensored=time[event].astype(float),
                            right=time[~event].astype(float))
    result = sps.ecdf(data)
    survival = np.asarray(result.sf.evaluate(steps), dtype=np.float64)
    with warnings.catch_warnings():
        # scipy warns where the log-log band is undefined (S = 0 or 1); filled below.
        warnings.simplefilter("ignore", RuntimeWarning)
        band = result.sf.confidence_interval(level, method="log-log")
        low = np.asarray(band.low.evaluate(steps), dtype=np.float64)
        high = np.asarray(band.high.evaluate(steps), dtype=np.float64)
    return survival, low, high


def kaplan_meier(
    time: IntArray, event: NDArray[np.bool_], level: float = DEFAULT_LEVEL
) -> KaplanMeier:
    """Kaplan–Meier estimate with Greenwood's variance on the log(-log) scale (scipy).

    Where the log-log band is undefined it is replaced by an exact binomial bound, so that
    no band has zero width: while ``S = 1`` (no error yet) the lower end is the
    Clopper–Pearson bound for ``m`` survivors of ``m`` (``((1-level)/2)^(1/m)``, ``m`` the
    episodes followed that far); once ``S = 0`` (everyone at risk erred at step ``u``) the
    upper end is the previous upper end times the bound for 0 survivors of ``n_u``.
    """
    at_risk, events = risk_table(time, event)
    horizon = len(at_risk)
    steps = np.arange(1, horizon + 1)
    if horizon == 0:
        surv = low = high = np.zeros(0)
    elif not event.any():
        surv, low, high = np.ones(horizon), np.full(horizon, np.nan), np.ones(horizon)
    else:
        surv, low, high = _scipy_kaplan_meier(time, event, steps, level)
    tail = (1 - level) / 2
    previous_high = 1.0
    for i in range(horizon):
        m = max(int(at_risk[i]), 1)
        if surv[i] >= 1.0:
            low[i], high[i] = tail ** (1.0 / m), 1.0
        elif surv[i] <= 0.0:
            low[i] = 0.0
            first_zero = i == 0 or surv[i - 1] > 0.0
            high[i] = previous_high * (1.0 - tail ** (1.0 / m)) if first_zero else high[i - 1]
        previous_high = float(high[i])
    return KaplanMeier(
        steps=list(range(0, horizon + 1)),
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

    def predicted_error_share(self, lengths: int | IntArray) -> Estimate:
        """Predicted share of episodes with an error: the mean of ``1-(1-ê)^n_i``.

        Args:
            lengths: Each episode's own length ``n_i`` (how many steps it would run), or
                one length for all.

        The interval maps the ends of ``ê``'s interval through the (monotone) formula.
        """
        n = np.atleast_1d(np.asarray(lengths, dtype=np.float64))

        def share(e: float | None) -> float:
            if e is None or n.size == 0:
                return math.nan
            return float(np.mean(1.0 - (1.0 - e) ** n))

        return Estimate.of(
            share(self.e_hat.value), share(self.e_hat.ci_low), share(self.e_hat.ci_high),
            n=self.e_hat.n, method=self.e_hat.method, episodes=self.e_hat.episodes,
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
