"""Compounding tests: false-positive rate near nominal at 10 and 30 episodes, stated power.

Simulated truth drawn with vectorised numpy (``synthetic_logs.simulate``): the tests take
arrays, so thousands of data sets fit in seconds. Tolerances: with ``N`` data sets the
rejection rate's standard error at 5% is ``sqrt(.05·.95/N)``; bounds sit ~3.5 SE out.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_logs import Policy, simulate, simulated_run

from redraft.evals.stats import (
    analyze_run,
    hazard_trend_test,
    self_conditioning_test,
    step_trend_test,
)

ALPHA = 0.05


def _first_errors(policy: Policy, episodes: int, steps: int, seed: int) -> tuple[
        np.ndarray, np.ndarray]:
    o = simulate(policy, episodes, steps, np.random.default_rng(seed))
    erred = o.final.any(axis=1)
    time = np.where(erred, o.final.argmax(axis=1) + 1, steps)
    return time.astype(np.int64), erred


def _hazard_rejections(policy: Policy, episodes: int, sets: int) -> tuple[float, float]:
    simulated = chi2 = 0
    for seed in range(sets):
        time, event = _first_errors(policy, episodes, 20, 40_000 + seed)
        test = hazard_trend_test(time, event, n_sim=199, rng=np.random.default_rng(seed))
        simulated += test.rejects(ALPHA)
        chi2 += test.chi2_p_value < ALPHA
    return simulated / sets, chi2 / sets


@pytest.mark.parametrize("episodes", [10, 30])
@pytest.mark.slow
def test_hazard_trend_false_positive_rate_is_nominal(episodes: int) -> None:
    rate, chi2 = _hazard_rejections(Policy(e=0.1, revise=False), episodes, 500)
    print(f"hazard trend at {episodes} episodes: simulated p rejects {rate:.3f}, "
          f"chi2 p rejects {chi2:.3f} (nominal {ALPHA})")
    assert 0.02 <= rate <= 0.085


def test_hazard_trend_power_against_planted_growth() -> None:
    rate, _ = _hazard_rejections(Policy(e=0.03, growth=0.15, revise=False), 80, 150)
    print(f"hazard trend power, growth 0.15, 80 episodes: {rate:.3f}")
    assert rate >= 0.8


def _continue_rejections(policy: Policy, episodes: int, steps: int, sets: int) -> tuple[
        float, float]:
    selfcond = trend = 0
    for seed in range(sets):
        o = simulate(policy, episodes, steps, np.random.default_rng(70_000 + seed))
        initial, final = o.wrong0.astype(float), o.final.astype(float)
        rng = np.random.default_rng(seed)
        selfcond += self_conditioning_test(initial, final, o.length, n_perm=199,
                                           rng=rng).rejects(ALPHA)
        trend += step_trend_test(initial, o.length, n_perm=199, rng=rng).rejects(ALPHA)
    return selfcond / sets, trend / sets


@pytest.mark.parametrize("episodes", [10, 30])
@pytest.mark.slow
def test_self_conditioning_and_trend_false_positive_rates_are_nominal(episodes: int) -> None:
    policy = Policy(e=0.1, revise=False, error_policy="continue")
    selfcond, trend = _continue_rejections(policy, episodes, 20, 500)
    print(f"{episodes} episodes: self-conditioning rejects {selfcond:.3f}, "
          f"e_raw(t) trend rejects {trend:.3f} (nominal {ALPHA})")
    assert 0.02 <= selfcond <= 0.085
    assert 0.02 <= trend <= 0.085


def test_self_conditioning_test_holds_its_size_when_episodes_differ() -> None:
    # Hard and easy episodes: a hard one errs more *and* spends more steps after an error,
    # so a naive after-vs-before comparison finds self-conditioning where there is none.
    rng = np.random.default_rng(5)
    rejected = naive = 0
    sets = 300
    for seed in range(sets):
        e = rng.choice([0.02, 0.3], size=(30, 1))
        wrong = (rng.random((30, 20)) < e).astype(float)
        length = np.full(30, 20)
        test = self_conditioning_test(wrong, wrong, length, n_perm=199,
                                      rng=np.random.default_rng(seed))
        rejected += test.rejects(ALPHA)
        naive += test.statistic is not None and test.statistic > 0.05
    print(f"heterogeneous episodes: permutation rejects {rejected / sets:.3f}, "
          f"after − before > 0.05 in {naive / sets:.3f}")
    assert rejected / sets <= 0.085
    assert naive / sets > 0.5


@pytest.mark.slow
def test_self_conditioning_is_found_with_stated_power() -> None:
    # Planted: e = 0.10 before a committed error, 0.20 after (the backend's selfcond=0.1).
    # Stated power at 60 episodes × 20 steps: ≥ 0.85 (measured ≈ 0.93); at 30 episodes
    # ≈ 0.7, at 10 ≈ 0.2 (printed, not asserted).
    policy = Policy(e=0.1, selfcond=0.1, revise=False, error_policy="continue")
    power, _ = _continue_rejections(policy, 60, 20, 200)
    small, _ = _continue_rejections(policy, 30, 20, 100)
    print(f"self-conditioning power 0.10→0.20: 60 episodes {power:.3f}, 30 episodes "
          f"{small:.3f}")
    assert power >= 0.85
    # The first-error hazard test cannot see it: its rejection rate stays near nominal.
    blind, _ = _hazard_rejections(policy, 60, 150)
    print(f"hazard trend test on the same truth: rejects {blind:.3f}")
    assert blind <= 0.12


def test_e_raw_trend_finds_planted_growth() -> None:
    policy = Policy(e=0.05, growth=0.08, revise=False, error_policy="continue")
    _, power = _continue_rejections(policy, 30, 20, 150)
    print(f"e_raw(t) trend power, growth 0.08, 30 episodes: {power:.3f}")
    assert power >= 0.9


def test_analyze_run_reports_the_continue_tests_only_under_continue() -> None:
    stop = analyze_run(simulated_run(Policy(e=0.1, revise=False), 30, 15, 1), n_boot=100,
                       n_sim=99, n_perm=99)
    assert stop.self_conditioning is None and stop.e_raw_trend is None
    assert stop.trend.simulations == 99
    planted = Policy(e=0.1, selfcond=0.3, revise=False, error_policy="continue")
    run = analyze_run(simulated_run(planted, 60, 20, 2), n_boot=100, n_sim=99, n_perm=199)
    assert run.self_conditioning is not None and run.self_conditioning.rejects()
    assert run.self_conditioning.direction == "rising"
    before, after = run.self_conditioning.before, run.self_conditioning.after
    assert before is not None and after is not None
    assert before == pytest.approx(0.1, abs=0.05) and after == pytest.approx(0.4, abs=0.08)
    assert run.e_raw_trend is not None
