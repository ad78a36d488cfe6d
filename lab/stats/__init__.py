"""The study's statistics: seed-level inference and the decisive experiment's statistics.

A seed (one trained model) is the unit: :func:`seed_estimate` and :func:`seed_difference`
summarise per-model statistics across seeds, :func:`holm` adjusts the declared contrasts.
The per-model statistics (:mod:`._decisive`) work on the label matrices of
:class:`redraft.evals.stats.EpisodeArrays`. The framework's own statistics (per run, per
episode) are in :mod:`redraft.evals.stats`; nothing there imports this package.
"""

from redraft.lab.stats._decisive import (
    error_rate,
    flatness_test,
    fresh_errors,
    global_error_curve,
    planted_effect,
    step_rates,
    survival_gap,
    survival_null,
    survival_observed,
    undo_rate,
    undo_vs_chance,
    with_global,
)
from redraft.lab.stats._seeds import (
    DEFAULT_DRAWS,
    ModelData,
    SeedEstimate,
    Statistic,
    holm,
    seed_difference,
    seed_estimate,
)

__all__ = [
    "DEFAULT_DRAWS",
    "ModelData",
    "SeedEstimate",
    "Statistic",
    "error_rate",
    "flatness_test",
    "fresh_errors",
    "global_error_curve",
    "holm",
    "planted_effect",
    "seed_difference",
    "seed_estimate",
    "step_rates",
    "survival_gap",
    "survival_null",
    "survival_observed",
    "undo_rate",
    "undo_vs_chance",
    "with_global",
]
