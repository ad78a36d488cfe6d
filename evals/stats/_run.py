"""Everything measured about one run, from its event log alone."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, JsonValue

from redraft.evals.stats._episodes import episode_arrays
from redraft.evals.stats._hazard import HazardTrend, hazard_curve, hazard_trend_test
from redraft.evals.stats._intervals import DEFAULT_LEVEL, Estimate, wilson
from redraft.evals.stats._load import RunData
from redraft.evals.stats._metrics import (
    StepCurve,
    global_error_undone,
    ratio_metrics,
    step_curve,
)
from redraft.evals.stats._monologue import monologue_metrics
from redraft.evals.stats._survival import GeometricFit, KaplanMeier, kaplan_meier

__all__ = ["DEFAULT_BOOTSTRAP", "RunStats", "analyze_run"]

DEFAULT_BOOTSTRAP = 2000
"""Bootstrap replicates unless a caller asks for another number."""


class RunStats(BaseModel):
    """One run's metrics, curves, survival and hazard test."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The run's name."""
    config: dict[str, JsonValue]
    """The run's config (from the manifest)."""
    leaky: bool
    """Ground truth fed the loop (``critic='oracle'``): an upper bound, not a result."""
    episodes: int
    """Finished episodes analysed."""
    steps: int
    """Committed steps over all episodes."""
    unfinished: int
    """Episodes left out because they never ended."""
    metrics: dict[str, Estimate]
    """Pooled metrics (see ``METRIC_DESCRIPTIONS``) plus ``error_share``,
    ``predicted_error_share``, ``horizon_50``, ``global_error_undone`` (by the agent) and
    ``global_error_undone_any`` (forced replacements included)."""
    e_raw_curve: StepCurve
    """``e_raw(t)``."""
    e_post_curve: StepCurve
    """``e_post(t)``."""
    global_error_curve: StepCurve
    """``P(global error at t)`` among episodes still running at ``t``."""
    hazard: StepCurve
    """Hazard of the first committed error per step."""
    survival: KaplanMeier
    """Kaplan–Meier survival of "no committed error yet"."""
    geometric: GeometricFit
    """The constant-hazard fit."""
    predicted_survival: list[float | None]
    """``(1-ê)^n`` at each of ``survival.steps``."""
    trend: HazardTrend
    """Constant hazard against a rising or falling one."""
    horizon_steps: int
    """Longest episode: the ``n`` used for ``predicted_error_share``."""
    level: float
    """Confidence level of every interval."""


def analyze_run(
    run: RunData,
    *,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> RunStats:
    """Measure one run. Deterministic for a given ``seed``."""
    arrays = episode_arrays(run)
    metrics = ratio_metrics(arrays, n_boot, np.random.default_rng(seed), level)
    geometric = GeometricFit(e_hat=metrics["e_hat"])
    longest = int(arrays.length.max(initial=0))
    metrics["error_share"] = wilson(int(arrays.event.sum()), arrays.n_episodes, level)
    metrics["predicted_error_share"] = geometric.predicted_error_share(longest)
    metrics["horizon_50"] = geometric.horizon(0.5)
    metrics["global_error_undone"] = global_error_undone(arrays, level)
    metrics["global_error_undone_any"] = global_error_undone(arrays, level, by_agent=False)
    # The in-generation layer and generated-token costs (inner monologue, reasoning models).
    metrics.update(
        monologue_metrics(run, n_boot=n_boot, rng=np.random.default_rng([seed, 1]), level=level)
    )
    km = kaplan_meier(arrays.time, arrays.event, level)
    predicted = geometric.survival(np.asarray(km.steps))
    return RunStats(
        name=run.name,
        config=run.config,
        leaky=run.leaky,
        episodes=arrays.n_episodes,
        steps=int(arrays.length.sum()),
        unfinished=run.unfinished,
        metrics=metrics,
        e_raw_curve=step_curve(arrays.initial_wrong, level),
        e_post_curve=step_curve(arrays.final_wrong, level),
        global_error_curve=step_curve(arrays.global_wrong, level),
        hazard=hazard_curve(arrays.time, arrays.event, level),
        survival=km,
        geometric=geometric,
        predicted_survival=[float(p) if np.isfinite(p) else None for p in predicted],
        trend=hazard_trend_test(arrays.time, arrays.event),
        horizon_steps=longest,
        level=level,
    )

