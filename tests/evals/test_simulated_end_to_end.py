"""The whole pipeline recovers a simulated model's known truth: runner, log, statistics."""

from __future__ import annotations

from pathlib import Path

import pytest

from redraft.evals import EvalConfig, run_eval
from redraft.evals.stats import analyze_run, load_run

TRUTH = {"e_raw": 0.15, "recovery": 0.6, "harm": 0.1}


@pytest.mark.parametrize("task", ["addition", "running_sum", "tracking", "chess"])
def test_intervals_cover_the_planted_rates(task: str, tmp_path: Path) -> None:
    # critic=self with the simulated critic flagging everything (tpr=fpr=1) and one revision:
    # every first proposal is revised once, so recovery and harm are exactly r and h.
    model = "simulated/e={e_raw},r={recovery},h={harm},seed=11".format(**TRUTH)
    config = EvalConfig(
        task=task, model=model, critic="self", max_rounds=1, episodes=150, max_steps=10,
        error_policy="continue", seed=5,
    )
    run_eval(config, tmp_path / task)
    stats = analyze_run(load_run(tmp_path / task), n_boot=400, seed=0)
    for name, truth in TRUTH.items():
        estimate = stats.metrics[name]
        assert estimate.ci_low is not None and estimate.ci_high is not None
        assert estimate.ci_low <= truth <= estimate.ci_high, (name, estimate)
    # The simulated critic flags every proposal: all true positives, all false alarms.
    assert stats.metrics["critic_tpr"].value == 1.0
    assert stats.metrics["critic_fpr"].value == 1.0
    # e_post = e·(1-r) + (1-e)·h
    e, r, h = TRUTH["e_raw"], TRUTH["recovery"], TRUTH["harm"]
    post = stats.metrics["e_post"]
    assert post.ci_low is not None and post.ci_high is not None
    assert post.ci_low <= e * (1 - r) + (1 - e) * h <= post.ci_high
