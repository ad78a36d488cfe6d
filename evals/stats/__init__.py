"""Statistics: per-step error before and after correction, survival, hazard, comparisons.

Everything is computed from a run's event log alone (:func:`load_run`), with confidence
intervals: the bootstrap over whole episodes for pooled metrics, Wilson for simple
proportions, Greenwood for survival.
"""

from redraft.evals.stats._compare import COMPARED_METRICS, Comparison, ComparisonRow, compare_runs
from redraft.evals.stats._episodes import EpisodeArrays, episode_arrays
from redraft.evals.stats._hazard import HazardTrend, hazard_curve, hazard_trend_test
from redraft.evals.stats._intervals import (
    DEFAULT_LEVEL,
    Estimate,
    bootstrap_ratios,
    ratio_estimate,
    wilson,
)
from redraft.evals.stats._load import (
    EpisodeLog,
    EventLogError,
    RunData,
    load_run,
    read_events,
)
from redraft.evals.stats._metrics import (
    METRIC_DESCRIPTIONS,
    RATIO_METRICS,
    StepCurve,
    global_error_undone,
    step_curve,
)
from redraft.evals.stats._monologue import MONOLOGUE_METRICS, monologue_metrics
from redraft.evals.stats._run import DEFAULT_BOOTSTRAP, RunStats, analyze_run
from redraft.evals.stats._survival import GeometricFit, KaplanMeier, geometric_fit, kaplan_meier

__all__ = [
    "COMPARED_METRICS",
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_LEVEL",
    "METRIC_DESCRIPTIONS",
    "MONOLOGUE_METRICS",
    "RATIO_METRICS",
    "Comparison",
    "ComparisonRow",
    "EpisodeArrays",
    "EpisodeLog",
    "Estimate",
    "EventLogError",
    "GeometricFit",
    "HazardTrend",
    "KaplanMeier",
    "RunData",
    "RunStats",
    "StepCurve",
    "analyze_run",
    "bootstrap_ratios",
    "compare_runs",
    "episode_arrays",
    "geometric_fit",
    "global_error_undone",
    "hazard_curve",
    "hazard_trend_test",
    "kaplan_meier",
    "load_run",
    "monologue_metrics",
    "ratio_estimate",
    "read_events",
    "step_curve",
    "wilson",
]
