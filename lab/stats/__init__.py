"""The study's statistics: paired seeds, exact tests, power, and per-run curves.

A seed (one trained model per arm, the arms of a seed sharing its initial weights and data)
is the unit: a contrast is one number per seed, tested with the exact sign-flip test
(:func:`sign_flip_test`) and a t-test beside it, Holm-adjusted over the primary outcomes
(:func:`holm`), with the smallest effect it detects with 80% power
(:func:`detectable_effect`). :mod:`._planted` checks the whole chain on seeds simulated with
known effects. The per-run curves (:mod:`._curves`) work on the label matrices of
:class:`redraft.evals.stats.EpisodeArrays`. The framework's own statistics (per run, per
episode) are in :mod:`redraft.evals.stats`; nothing there imports this package.
"""

from redraft.lab.stats._curves import (
    error_rate,
    flatness_test,
    global_error_curve,
    step_rates,
    survival_observed,
)
from redraft.lab.stats._paired import (
    POWER,
    PairedEstimate,
    detectable_effect,
    holm,
    paired_estimate,
    power,
    sign_flip_test,
    t_test,
)

__all__ = [
    "POWER",
    "PairedEstimate",
    "detectable_effect",
    "error_rate",
    "flatness_test",
    "global_error_curve",
    "holm",
    "paired_estimate",
    "power",
    "sign_flip_test",
    "step_rates",
    "survival_observed",
    "t_test",
]
