"""Seeds as the unit: a two-stage bootstrap over trained models, and Holm's correction.

A regime's number is the mean over its trained models (seeds) of each model's own value, so
that one lucky training run cannot stand for the regime. Its interval comes from a
**two-stage bootstrap**: draw the models with replacement, then, inside each drawn model,
draw its episodes with replacement (each run of a model separately), and recompute. The
first stage carries the between-seed spread, the second the episode noise inside a model;
the between-seed standard deviation of the per-model values is reported beside it.

A model's data is a list of *conditions* (its runs: e.g. free-running and teacher-forced),
each an array with one row per episode. A statistic maps a model's (resampled) conditions to
one number, so one machinery serves rates, paired differences inside a model (a planted
error against none, undo against chance) and survival against a null built from another run.

With only 3–5 models the first stage sees few distinct values, so percentile intervals are
somewhat narrow; the coverage measured in the tests is stated there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from redraft.tools import BadInputError

__all__ = [
    "DEFAULT_DRAWS",
    "ModelData",
    "SeedEstimate",
    "Statistic",
    "holm",
    "seed_difference",
    "seed_estimate",
]

FloatArray = NDArray[np.float64]
ModelData = Sequence[FloatArray]
"""One trained model's conditions (runs), each ``(episodes, ...)``."""
Statistic = Callable[[Sequence[FloatArray]], float]
"""A model's conditions → one number (NaN where undefined)."""

DEFAULT_DRAWS = 1000
"""Bootstrap draws unless a caller asks for another number."""


class SeedEstimate(BaseModel):
    """A seed-level estimate: the mean of per-model values, a two-stage bootstrap interval."""

    model_config = ConfigDict(frozen=True)

    value: float | None
    """Mean of the defined per-model values (for a difference: group B's minus group A's)."""
    ci_low: float | None
    """Lower end of the two-stage bootstrap percentile interval."""
    ci_high: float | None
    """Upper end."""
    p_value: float | None = None
    """Two-sided bootstrap p-value of "the value is 0" (contrasts only; at least
    ``1/(draws+1)``, so write it as ``p < 1/(draws+1)`` at that floor)."""
    per_model: list[float | None]
    """Each model's own value (for a difference between groups: A's models then B's)."""
    between_sd: float | None
    """Standard deviation of the per-model values (ddof 1; None with fewer than 2)."""
    models: int
    """Models with a defined value."""
    episodes: int
    """Episodes behind the estimate, all conditions and models together."""
    level: float
    """Confidence level of the interval."""
    draws: int
    """Bootstrap draws."""

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or below 0."""
        return (self.ci_low is not None and self.ci_high is not None
                and (self.ci_low > 0 or self.ci_high < 0))


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _mean(values: Sequence[float]) -> float:
    kept = _finite(values)
    return float(np.mean(kept)) if kept else math.nan


def _opt(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _check(models: Sequence[ModelData], what: str) -> None:
    if not models:
        raise BadInputError(f"{what}: no models to estimate from (train at least one seed)")
    widths = {len(m) for m in models}
    if len(widths) != 1:
        raise BadInputError(f"{what}: every model needs the same conditions (runs); got "
                            f"{sorted(widths)} per model")


def _draw(models: Sequence[ModelData], stat: Statistic, draws: int,
          rng: np.random.Generator) -> FloatArray:
    """Two-stage bootstrap replicates of the mean per-model statistic."""
    m = len(models)
    out = np.empty(draws)
    for b in range(draws):
        values = []
        for j in rng.integers(0, m, size=m):
            resampled = [cond[rng.integers(0, len(cond), size=len(cond))] if len(cond) else cond
                         for cond in models[j]]
            values.append(stat(resampled))
        out[b] = _mean(values)
    return out


def _interval(replicates: FloatArray, level: float) -> tuple[float | None, float | None]:
    kept = replicates[np.isfinite(replicates)]
    if kept.size == 0:
        return None, None
    tail = (1 - level) / 2
    return float(np.quantile(kept, tail)), float(np.quantile(kept, 1 - tail))


def _p_zero(replicates: FloatArray) -> float | None:
    """Two-sided bootstrap p-value of 0 (the percentile interval inverted)."""
    kept = replicates[np.isfinite(replicates)]
    if kept.size == 0:
        return None
    below = int(np.sum(kept <= 0))
    above = int(np.sum(kept >= 0))
    return min(1.0, 2 * (1 + min(below, above)) / (kept.size + 1))


def _sd(values: Sequence[float]) -> float | None:
    kept = _finite(values)
    return float(np.std(kept, ddof=1)) if len(kept) >= 2 else None


def _episodes(models: Sequence[ModelData]) -> int:
    return int(sum(len(cond) for model in models for cond in model))


def seed_estimate(
    models: Sequence[ModelData],
    stat: Statistic,
    *,
    test_zero: bool = False,
    draws: int = DEFAULT_DRAWS,
    level: float = 0.95,
    rng: np.random.Generator | None = None,
) -> SeedEstimate:
    """The mean over models of ``stat``, with a two-stage bootstrap interval.

    Args:
        models: each model's conditions (its runs, episodes in rows).
        stat: a model's conditions → its value (a rate, or a difference of two runs of the
            same model: the paired contrasts).
        test_zero: also give the two-sided p-value of "the value is 0".
        draws: bootstrap draws.
        level: confidence level.
        rng: random source (default: seeded 0, so a page is reproducible).

    Raises:
        BadInputError: no models, or models with different numbers of conditions.
    """
    _check(models, "seed estimate")
    rng = rng if rng is not None else np.random.default_rng(0)
    per_model = [stat(list(model)) for model in models]
    replicates = _draw(models, stat, draws, rng)
    low, high = _interval(replicates, level)
    return SeedEstimate(
        value=_opt(_mean(per_model)), ci_low=low, ci_high=high,
        p_value=_p_zero(replicates) if test_zero else None,
        per_model=[_opt(v) for v in per_model], between_sd=_sd(per_model),
        models=len(_finite(per_model)), episodes=_episodes(models), level=level, draws=draws)


def seed_difference(
    a: Sequence[ModelData],
    b: Sequence[ModelData],
    stat: Statistic,
    *,
    draws: int = DEFAULT_DRAWS,
    level: float = 0.95,
    rng: np.random.Generator | None = None,
) -> SeedEstimate:
    """Group B's mean per-model ``stat`` minus group A's (models trained apart: unpaired).

    Each group is bootstrapped in two stages on its own; the p-value is two-sided.

    Raises:
        BadInputError: a group without models, or models with different conditions.
    """
    _check(a, "seed difference (first group)")
    _check(b, "seed difference (second group)")
    rng = rng if rng is not None else np.random.default_rng(0)
    va = [stat(list(model)) for model in a]
    vb = [stat(list(model)) for model in b]
    replicates = _draw(b, stat, draws, rng) - _draw(a, stat, draws, rng)
    low, high = _interval(replicates, level)
    spread = [x for x in (_sd(va), _sd(vb)) if x is not None]
    return SeedEstimate(
        value=_opt(_mean(vb) - _mean(va)), ci_low=low, ci_high=high,
        p_value=_p_zero(replicates), per_model=[_opt(v) for v in (*va, *vb)],
        between_sd=max(spread) if spread else None,
        models=len(_finite(va)) + len(_finite(vb)), episodes=_episodes(a) + _episodes(b),
        level=level, draws=draws)


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
