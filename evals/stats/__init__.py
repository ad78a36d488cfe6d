"""Statistics: per-step error before and after correction, survival, hazard, comparisons.

Everything is computed from a run's event log alone (:func:`load_run`), with confidence
intervals that hold at small samples and at 0 and 1: the BCa bootstrap over whole episodes
for pooled metrics (a clustered Wilson interval on pooled counts at 0 or 1 or with few
episodes), Wilson for simple proportions, Greenwood (log-log) for survival. Unknown oracle
labels are left out of every rate; undefined metrics are None, never 0; unfinished episodes
are censored at their last step.
"""

from redraft.evals.stats._compare import Comparison, ComparisonRow, compare_runs
from redraft.evals.stats._compounding import (
    PermutationTest,
    self_conditioning_test,
    step_trend_test,
)
from redraft.evals.stats._episodes import EpisodeArrays, episode_arrays
from redraft.evals.stats._hazard import HazardTrend, hazard_curve, hazard_trend_test
from redraft.evals.stats._intervals import DEFAULT_LEVEL, Estimate, wilson
from redraft.evals.stats._load import EpisodeLog, RunData, load_run
from redraft.evals.stats._metrics import (
    METRIC_DESCRIPTIONS,
    StepCurve,
    global_error_undone,
    step_curve,
)
from redraft.evals.stats._monologue import MONOLOGUE_METRICS, monologue_metrics
from redraft.evals.stats._run import DEFAULT_BOOTSTRAP, RunStats, analyze_run
from redraft.evals.stats._survival import GeometricFit, KaplanMeier, geometric_fit, kaplan_meier

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_LEVEL",
    "METRIC_DESCRIPTIONS",
    "MONOLOGUE_METRICS",
    "Comparison",
    "ComparisonRow",
    "EpisodeArrays",
    "EpisodeLog",
    "Estimate",
    "GeometricFit",
    "HazardTrend",
    "KaplanMeier",
    "PermutationTest",
    "RunData",
    "RunStats",
    "StepCurve",
    "analyze_run",
    "compare_runs",
    "episode_arrays",
    "geometric_fit",
    "global_error_undone",
    "hazard_curve",
    "hazard_trend_test",
    "kaplan_meier",
    "load_run",
    "monologue_metrics",
    "self_conditioning_test",
    "step_curve",
    "step_trend_test",
    "wilson",
]
