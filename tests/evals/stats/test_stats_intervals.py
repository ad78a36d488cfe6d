"""Intervals that hold at small n and at 0 and 1; scipy agrees where it implements the same.

Coverage is measured on planted truth (synthetic logs written as real event records).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats as sps
from synthetic_logs import Policy, simulated_run

from redraft.evals.stats import episode_arrays, kaplan_meier, wilson
from redraft.evals.stats._intervals import (
    MIN_BOOTSTRAP_EPISODES,
    bca_interval,
    bootstrap_ratios,
    clopper_pearson,
    clustered_wilson,
    jackknife_ratios,
    ratio_estimate,
)
from redraft.evals.stats._metrics import ratio_metrics


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_wilson_equals_scipy(level: float) -> None:
    for trials in (1, 2, 7, 30, 250):
        for k in sorted({0, 1, trials // 3, trials - 1, trials}):
            ours = wilson(k, trials, level)
            ci = sps.binomtest(k, trials).proportion_ci(confidence_level=level,
                                                        method="wilson")
            assert ours.ci_low == pytest.approx(ci.low, abs=1e-12)
            assert ours.ci_high == pytest.approx(ci.high, abs=1e-12)
    exact = clopper_pearson(0, 10)
    assert exact.ci_low == 0.0 and exact.ci_high == pytest.approx(1 - 0.025 ** 0.1)


def _greenwood_loglog(time: np.ndarray, event: np.ndarray, level: float) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """The textbook estimate and band, written out independently of scipy."""
    z = sps.norm.ppf(0.5 + level / 2)
    surv, green, s = [], [], 1.0
    var = 0.0
    for t in range(1, int(time.max()) + 1):
        n = int((time >= t).sum())
        d = int(((time == t) & event).sum())
        if n:
            s *= 1 - d / n
            if n > d:
                var += d / (n * (n - d))
        surv.append(s)
        green.append(var)
    survival = np.array(surv)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(np.array(green)) / np.abs(np.log(survival))
        return survival, survival ** np.exp(z * se), survival ** np.exp(-z * se)


def test_kaplan_meier_is_scipys_greenwood_loglog_and_never_zero_width() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        time = rng.integers(1, 12, size=25)
        event = rng.random(25) < 0.6
        for level in (0.9, 0.95):
            km = kaplan_meier(time, event, level)
            s, low, high = _greenwood_loglog(time, event, level)
            inside = (s > 0) & (s < 1)
            assert np.allclose(km.survival[1:], s)
            assert np.allclose(np.array(km.ci_low[1:])[inside], low[inside])
            assert np.allclose(np.array(km.ci_high[1:])[inside], high[inside])
            widths = np.array(km.ci_high[1:]) - np.array(km.ci_low[1:])
            assert np.all(widths > 0)
    # While S = 1 (no error yet) the lower end is the exact bound for m of m survivors.
    km = kaplan_meier(np.array([3, 3, 3, 3, 5]), np.array([False, False, False, False, True]))
    assert km.survival[1:4] == [1.0, 1.0, 1.0]
    assert km.ci_low[3] == pytest.approx(0.025 ** (1 / 5))
    # Once everyone at risk erred, S = 0 and the upper end stays above 0.
    assert km.survival[5] == 0.0 and km.ci_low[5] == 0.0 and km.ci_high[5] > 0.0


def test_bca_matches_scipy_bootstrap_on_a_ratio() -> None:
    rng = np.random.default_rng(0)
    den = rng.integers(3, 20, size=40).astype(float)
    num = rng.binomial(den.astype(int), 0.25).astype(float)
    reps = bootstrap_ratios({"x": (num, den)}, 20_000, np.random.default_rng(1))["x"]
    value = num.sum() / den.sum()
    low, high = bca_interval(reps, value, jackknife_ratios(num, den), 0.95)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sps.bootstrap(
            (num, den), lambda a, b, axis=-1: a.sum(axis=axis) / b.sum(axis=axis),
            paired=True, vectorized=True, n_resamples=20_000, method="BCa",
            random_state=np.random.default_rng(2),
        ).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.006)
    assert high == pytest.approx(ref.high, abs=0.006)


def test_the_fallback_is_used_at_0_1_and_below_the_episode_threshold() -> None:
    den = np.full(MIN_BOOTSTRAP_EPISODES + 10, 10.0)
    num = np.zeros_like(den)
    reps = bootstrap_ratios({"x": (num, den)}, 200, np.random.default_rng(0))["x"]
    zero = ratio_estimate(num, den, reps)
    # Every replicate is 0: a percentile interval would be [0, 0].
    assert zero.method == "clustered-wilson" and zero.ci_low == 0.0
    assert zero.ci_high == pytest.approx(wilson(0, int(den.sum())).ci_high)
    one = ratio_estimate(den, den, reps)
    assert one.ci_high == 1.0 and one.ci_low is not None and one.ci_low < 1.0
    # Few episodes: clustered Wilson, wider than the naive Wilson on pooled steps when the
    # episodes differ (design effect > 1).
    num, den = np.array([0.0, 9.0, 1.0, 8.0]), np.full(4, 10.0)
    few = clustered_wilson(num, den)
    naive = wilson(18, 40)
    assert few.width is not None and naive.width is not None and few.width > naive.width


def _coverage(policy: Policy, episodes: int, seeds: int, truth: dict[str, float]) -> tuple[
        dict[str, float], int]:
    covered = dict.fromkeys(truth, 0)
    zero_width = 0
    for seed in range(seeds):
        arrays = episode_arrays(simulated_run(policy, episodes, 20, 5000 + seed))
        metrics = ratio_metrics(arrays, 300, np.random.default_rng(seed))
        for name, value in truth.items():
            estimate = metrics[name]
            covered[name] += estimate.covers(value)
            zero_width += estimate.width == 0.0
    return {name: hits / seeds for name, hits in covered.items()}, zero_width


@pytest.mark.parametrize("harm", [0.1, 0.02])
def test_intervals_cover_planted_truth_at_10_episodes(harm: float) -> None:
    # harm 0.02 at 10 episodes is often observed as 0: the case that gave [0, 0].
    policy = Policy(e=0.2, r=0.6, h=harm)
    truth = {"e_raw": policy.e, "recovery": policy.recovery, "harm": policy.harm,
             "e_hat": policy.committed_error}
    rates, zero_width = _coverage(policy, 10, 150, truth)
    print("coverage at 10 episodes", rates)
    assert zero_width == 0
    for name, rate in rates.items():
        assert 0.90 <= rate <= 1.0, (name, rate)


@pytest.mark.slow
def test_true_rates_of_0_and_1_are_covered_without_zero_width() -> None:
    # A perfect critic and reviser: harm 0, FPR 0, TPR 1, recovery and repair 1.
    policy = Policy(e=0.3, r=1.0, h=0.0, tpr=1.0, fpr=0.0)
    truth = {"harm": 0.0, "critic_fpr": 0.0, "critic_tpr": 1.0, "recovery": 1.0,
             "repair": 1.0, "e_post": 0.0, "right_to_wrong": 0.0}
    for episodes in (10, 60):
        rates, zero_width = _coverage(policy, episodes, 60, truth)
        print(episodes, "episodes", rates)
        assert zero_width == 0
        assert all(rate == 1.0 for rate in rates.values()), rates
