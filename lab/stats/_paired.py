"""Paired seeds: exact sign-flip tests on per-seed differences, and the power they have.

In the decisive experiment a seed is the unit: each seed's arms share its initial weights
and data stream, so a contrast is one number per seed (a difference between two arms of
the seed, or between two measurements of one model), and the question is whether those
numbers centre on 0. With ``n`` seeds:

- :func:`sign_flip_test`: the exact permutation test of "the differences are symmetric
  about 0": every one of the ``2^n`` sign patterns is equally likely under that null, so
  the p-value is the share of patterns whose mean is at least as far from 0 as the one
  observed. No normality is assumed; its smallest two-sided p is ``2 / 2^n`` (8 seeds:
  0.0078, so 4 contrasts under Holm can reach 0.031).
- :func:`t_test`: the one-sample t-test on the same differences (p and a t interval),
  reported beside.
- :func:`detectable_effect`: the smallest true mean difference the sign-flip test detects
  with 80% power at a given level, for ``n`` seeds whose differences spread with a given
  standard deviation, found by simulation (normal differences): what a null result can
  rule out ("no detectable effect; at most ±X at this scale").
- :class:`PairedEstimate` gathers them for one contrast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

__all__ = [
    "POWER",
    "PairedEstimate",
    "detectable_effect",
    "holm",
    "paired_estimate",
    "power",
    "sign_flip_test",
    "t_test",
]

POWER = 0.8
"""The power at which a detectable effect is stated."""
FloatArray = NDArray[np.float64]


@lru_cache(maxsize=32)
def _signs(n: int) -> FloatArray:
    """Every sign pattern of ``n`` values, ``(2^n, n)`` (n ≤ 20)."""
    if n > 20:
        raise ValueError(f"an exact sign-flip test enumerates 2^n patterns; n={n} is too many")
    codes = np.arange(2 ** n, dtype=np.int64)[:, None] >> np.arange(n, dtype=np.int64)
    return np.where(codes & 1, -1.0, 1.0)


def sign_flip_test(differences: Sequence[float]) -> float | None:
    """Two-sided exact p of "symmetric about 0" (None with no differences).

    The share of sign patterns whose mean is at least as far from 0 as the observed.
    """
    d = np.asarray([x for x in differences if math.isfinite(x)], dtype=np.float64)
    if d.size == 0:
        return None
    means = np.abs(_signs(d.size) @ d)
    observed = abs(float(d.sum()))
    # A tolerance, so patterns equal to the observed one up to rounding count as extreme.
    return float(np.mean(means >= observed - 1e-12 * max(1.0, observed)))


_PATTERNS = 4096
"""Sign patterns a power simulation draws when ``2^n`` is more (its p-values then carry a
Monte Carlo error of about 0.002 at 0.01; the test of the data itself stays exact)."""


def _sign_flip_batch(d: FloatArray) -> FloatArray:
    """Sign-flip p-values of many samples at once: ``d`` is ``(reps, n)``."""
    n = d.shape[1]
    if 2 ** n <= _PATTERNS:
        signs = _signs(n)
    else:
        rng = np.random.default_rng(n)
        drawn = np.where(rng.random((_PATTERNS - 1, n)) < 0.5, -1.0, 1.0)
        signs = np.vstack([np.ones((1, n)), drawn])
    means = np.abs(d @ signs.T)                      # (reps, 2^n)
    observed = np.abs(d.sum(axis=1, keepdims=True))
    return np.asarray(np.mean(means >= observed - 1e-12 * np.maximum(1.0, observed), axis=1))


def t_test(differences: Sequence[float], level: float = 0.95
           ) -> tuple[float | None, float | None, float | None]:
    """One-sample t-test of mean 0: ``(p, ci_low, ci_high)`` (None with fewer than 2)."""
    from scipy import stats

    d = np.asarray([x for x in differences if math.isfinite(x)], dtype=np.float64)
    if d.size < 2:
        return None, None, None
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    se = sd / math.sqrt(d.size)
    q = float(stats.t.ppf(0.5 + level / 2, d.size - 1))
    if se == 0:
        return (1.0 if mean == 0 else 0.0), mean, mean
    p = float(2 * stats.t.sf(abs(mean / se), d.size - 1))
    return p, mean - q * se, mean + q * se


def power(effect: float, sd: float, n: int, alpha: float, *, reps: int = 2000,
          rng: np.random.Generator | None = None) -> float:
    """The sign-flip test's power at ``alpha`` (simulated).

    For ``n`` normal differences of mean ``effect`` and standard deviation ``sd``.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    draws = rng.normal(effect, sd, size=(reps, n)) if sd > 0 else np.full((reps, n), effect)
    return float(np.mean(_sign_flip_batch(draws) <= alpha + 1e-12))


def detectable_effect(sd: float, n: int, alpha: float, *, target: float = POWER,
                      reps: int = 2000) -> float | None:
    """The smallest mean difference detected with power ``target``.

    ``sd`` times the effect in units of the SD (the sign-flip test is scale-free),
    simulated once per ``n`` and level. None when no effect can be: ``2/2^n > alpha``.
    """
    unit = _unit_effect(n, round(alpha, 12), target, reps)
    if unit is None:
        return None
    return float(unit * max(sd, 0.0))


@lru_cache(maxsize=64)
def _unit_effect(n: int, alpha: float, target: float, reps: int) -> float | None:
    """The detectable effect in units of the SD (bisection on simulated power)."""
    if n < 1 or 2.0 / 2 ** n > alpha + 1e-12:
        return None
    low, high = 0.0, 1.0
    while power(high, 1.0, n, alpha, reps=reps) < target:
        high *= 2
        if high > 1e3:
            return None
    while high - low > 2e-3:
        mid = (low + high) / 2
        if power(mid, 1.0, n, alpha, reps=reps) >= target:
            high = mid
        else:
            low = mid
    return high


class PairedEstimate(BaseModel):
    """One contrast over paired seeds: the per-seed differences and what they support."""

    model_config = ConfigDict(frozen=True)

    per_seed: list[float | None]
    """Each seed's difference (None: left out, e.g. a model that had not converged)."""
    seeds: list[int]
    """The seeds, in the same order."""
    value: float | None
    """Mean of the defined differences."""
    ci_low: float | None
    """Lower end of the t interval of the mean."""
    ci_high: float | None
    """Upper end."""
    sd: float | None
    """Between-seed standard deviation of the differences (ddof 1)."""
    n: int
    """Seeds with a defined difference."""
    p_sign_flip: float | None
    """Exact two-sided sign-flip p."""
    p_t: float | None
    """Two-sided one-sample t p."""
    detectable: float | None
    """The smallest mean difference the sign-flip test detects with 80% power at
    ``alpha``, for these ``n`` seeds and this ``sd`` (None: none can be)."""
    alpha: float
    """The level the detectable effect is stated at (0.05 over the Holm family's size: a
    conservative stand-in for Holm's first step)."""
    level: float
    """The interval's confidence level."""


def paired_estimate(per_seed: Sequence[float | None], seeds: Sequence[int], *, alpha: float,
                    level: float = 0.95, sd_for_power: float | None = None) -> PairedEstimate:
    """The estimate, interval, tests and detectable effect of per-seed differences.

    ``sd_for_power``: the standard deviation the detectable effect is computed at (default:
    the measured one).
    """
    values = [float(v) for v in per_seed if v is not None and math.isfinite(v)]
    n = len(values)
    p_t, low, high = t_test(values, level)
    sd = float(np.std(values, ddof=1)) if n >= 2 else None
    spread = sd_for_power if sd_for_power is not None else sd
    detectable = (detectable_effect(spread, n, alpha) if spread is not None else None)
    return PairedEstimate(
        per_seed=[None if v is None or not math.isfinite(v) else float(v) for v in per_seed],
        seeds=list(seeds), value=float(np.mean(values)) if values else None,
        ci_low=low, ci_high=high, sd=sd, n=n, p_sign_flip=sign_flip_test(values), p_t=p_t,
        detectable=detectable, alpha=alpha, level=level)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values, in the order given (None stays None, untested).

    The family is the p-values that are not None: the k-th smallest of m is multiplied by
    ``m - k + 1``, running maxima keep the order, and nothing exceeds 1.
    """
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - k) * p))
        adjusted[i] = running
    return adjusted
