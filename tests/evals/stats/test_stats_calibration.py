"""Calibration: intervals cover known truths, and the hazard test has the right size/power."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_logs import Policy, simulated_run

from redraft.evals.stats import analyze_run, episode_arrays, hazard_trend_test

pytestmark = pytest.mark.slow

SEEDS = 150


def test_intervals_cover_true_e_r_h_about_95_percent() -> None:
    policy = Policy(e=0.2, r=0.6, h=0.1)
    truth = {
        "e_raw": policy.e,
        "recovery": policy.recovery,
        "harm": policy.harm,
        "e_hat": policy.committed_error,
    }
    covered = dict.fromkeys(truth, 0)
    for seed in range(SEEDS):
        stats = analyze_run(simulated_run(policy, 80, 20, seed), n_boot=400, n_sim=0, n_perm=0,
                            seed=seed)
        for name, value in truth.items():
            covered[name] += stats.metrics[name].covers(value)
    rates = {name: hits / SEEDS for name, hits in covered.items()}
    print("coverage", rates)
    for name, rate in rates.items():
        assert 0.88 <= rate <= 0.99, (name, rate)


def _rejection_rate(growth: float, seeds: int = 100) -> float:
    policy = Policy(e=0.03, growth=growth, revise=False)
    rejected = 0
    for seed in range(seeds):
        arrays = episode_arrays(simulated_run(policy, 80, 25, 10_000 + seed))
        rejected += hazard_trend_test(arrays.time, arrays.event, n_sim=199,
                                      rng=np.random.default_rng(seed)).rejects(0.05)
    return rejected / seeds


def test_constant_hazard_is_rarely_rejected() -> None:
    rate = _rejection_rate(0.0)
    print("false rejection rate", rate)
    assert rate <= 0.09


def test_planted_hazard_growth_is_detected_as_rising() -> None:
    rate = _rejection_rate(0.08)
    print("rejection rate with growth 0.08", rate)
    assert rate >= 0.8
    arrays = episode_arrays(simulated_run(Policy(e=0.03, growth=0.08, revise=False), 80, 25, 7))
    assert hazard_trend_test(arrays.time, arrays.event).direction == "rising"


def test_falling_hazard_is_detected_as_falling() -> None:
    policy = Policy(e=0.3, growth=-0.1, revise=False)
    arrays = episode_arrays(simulated_run(policy, 300, 25, 3))
    trend = hazard_trend_test(arrays.time, arrays.event)
    assert trend.rejects() and trend.direction == "falling"


def test_ratio_estimates_are_deterministic_for_a_seed() -> None:
    run = simulated_run(Policy(), 30, 10, 1)
    a = analyze_run(run, n_boot=200, seed=5).metrics["e_raw"]
    b = analyze_run(run, n_boot=200, seed=5).metrics["e_raw"]
    assert a == b
    assert np.isclose(a.value or 0.0, b.value or 0.0)
