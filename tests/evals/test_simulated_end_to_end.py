"""The whole pipeline recovers a simulated model's known truth: runner, log, statistics.

Each run is one fixed seed, checked against several truths at once, so intervals here are
99% (at 95%, sixteen intervals miss somewhere more often than not); the coverage *rate* of
the 95% intervals is measured over many seeds in ``tests/evals/stats``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from redraft.evals import EvalConfig, run_eval
from redraft.evals.stats import RunStats, analyze_run, load_run

TRUTH = {"e_raw": 0.15, "recovery": 0.6, "harm": 0.1}
LEVEL = 0.99


def _run(tmp_path: Path, name: str, *, level: float = LEVEL, critic: str,
         **options: object) -> RunStats:
    config = EvalConfig.model_validate(
        {"seed": 5, "corrector": {"critic": critic, "max_revisions": 1}, **options})
    run_eval(config, tmp_path / name)
    return analyze_run(load_run(tmp_path / name), level=level, n_boot=600, n_sim=199,
                       n_perm=199, seed=0)


@pytest.mark.parametrize("task", ["addition", "running_sum", "tracking", "chess"])
@pytest.mark.slow
def test_intervals_cover_the_planted_rates(task: str, tmp_path: Path) -> None:
    # critic=self with the simulated critic flagging everything (tpr=fpr=1) and one revision:
    # every first proposal is revised once, so recovery and harm are exactly r and h.
    model = "simulated/e={e_raw},r={recovery},h={harm},seed=11".format(**TRUTH)
    stats = _run(tmp_path, task, task=task, model=model, critic="self", episodes=150,
                 max_steps=10, error_policy="continue")
    for name, truth in TRUTH.items():
        estimate = stats.metrics[name]
        assert estimate.covers(truth), (name, estimate)
    # The simulated critic flags every proposal: all true positives, all false alarms.
    assert stats.metrics["critic_tpr"].value == 1.0
    assert stats.metrics["critic_fpr"].value == 1.0
    # ... and the reviser's own rates are r and h: detection and repair kept apart.
    assert stats.metrics["repair"].covers(TRUTH["recovery"])
    assert stats.metrics["damage"].covers(TRUTH["harm"])
    # e_post = e·(1-r) + (1-e)·h
    e, r, h = TRUTH["e_raw"], TRUTH["recovery"], TRUTH["harm"]
    assert stats.metrics["e_post"].covers(e * (1 - r) + (1 - e) * h)
    assert stats.metrics["unknown_rate"].value == 0.0
    assert stats.level == LEVEL and stats.unfinished == 0


@pytest.mark.parametrize("task", ["running_sum", "addition"])
def test_ten_episodes_and_true_rates_of_0_and_1(task: str, tmp_path: Path) -> None:
    # A reviser that always repairs and never harms: recovery 1, harm 0, e_post 0.
    stats = _run(tmp_path, "perfect", level=0.95, task=task, critic="self", episodes=10,
                 max_steps=12, model="simulated/e=0.2,r=1.0,h=0.0,seed=3")
    for name, truth in {"recovery": 1.0, "harm": 0.0, "e_post": 0.0, "repair": 1.0,
                        "critic_tpr": 1.0, "e_hat": 0.0}.items():
        estimate = stats.metrics[name]
        assert estimate.covers(truth), (name, estimate)
        assert estimate.width is not None and estimate.width > 0, (name, estimate)
    assert stats.metrics["e_raw"].covers(0.2)
    # Survival stays 1 and its band keeps a width.
    assert stats.survival.survival[-1] == 1.0 and stats.survival.ci_low[-1] < 1.0
    # A model that never errs, and one without a critic: undefined is None, never 0.
    never = _run(tmp_path, "never", level=0.95, task=task, critic="none", episodes=10,
                 max_steps=12, model="simulated/e=0.0,seed=3")
    e_raw = never.metrics["e_raw"]
    assert e_raw.value == 0.0 and e_raw.width is not None and e_raw.width > 0
    for name in ("recovery", "harm", "critic_tpr", "critic_fpr", "repair"):
        assert never.metrics[name].value is None, name


def test_planted_self_conditioning_is_found_through_the_runner(tmp_path: Path) -> None:
    # e = 0.10 before a committed error and 0.20 after; no critic, the episode goes on.
    # Power at 100 episodes × 20 steps is ≈ 0.99 (at 60: ≈ 0.93; measured on vectorised
    # draws in tests/evals/stats/test_stats_compounding.py).
    stats = _run(tmp_path, "selfcond", level=0.95, task="running_sum", critic="none",
                 episodes=100, max_steps=20, error_policy="continue",
                 model="simulated/e=0.1,selfcond=0.1,seed=4")
    test = stats.self_conditioning
    assert test is not None and test.before is not None and test.after is not None
    print(f"self-conditioning: before {test.before:.3f}, after {test.after:.3f}, "
          f"p {test.p_value}; hazard trend p {stats.trend.p_value:.3f}")
    assert test.rejects() and test.direction == "rising"
    assert test.before == pytest.approx(0.1, abs=0.035)
    assert test.after == pytest.approx(0.2, abs=0.04)
