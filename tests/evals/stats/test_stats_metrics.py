"""Metrics on hand-built and simulated logs: regression, critic quality, global error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from synthetic_logs import BROKEN, Policy, simulate, simulated_run, to_events

from redraft.evals._events import RoundEvent
from redraft.evals.stats import (
    RunData,
    analyze_run,
    compare_runs,
    episode_arrays,
    kaplan_meier,
    wilson,
)


def test_revisions_that_break_right_answers_show_as_a_regression() -> None:
    # Bad revisions: rarely recover, often break a right answer.
    run = simulated_run(Policy(e=0.1, r=0.1, h=0.3), 200, 15, seed=2)
    m = analyze_run(run, n_boot=300).metrics
    assert m["harm"].ci_low is not None and m["harm"].ci_low > 0
    assert m["e_post"].value is not None and m["e_raw"].value is not None
    assert m["e_post"].value > m["e_raw"].value
    assert m["net_effect"].ci_high is not None and m["net_effect"].ci_high < 0


def test_comparison_shows_the_difference_to_the_baseline() -> None:
    base = simulated_run(Policy(e=0.2, revise=False), 150, 15, seed=1, name="none")
    tool = simulated_run(Policy(e=0.2, r=0.9, h=0.0), 150, 15, seed=2, name="tool")
    table = compare_runs([base, tool], n_boot=300)
    row = next(r for r in table.rows if r.metric == "e_post" and r.run == "tool")
    assert row.difference.ci_high is not None and row.difference.ci_high < 0
    same = next(r for r in table.rows if r.metric == "e_post" and r.run == "none")
    assert same.difference.value == 0.0
    with pytest.raises(ValueError, match="unknown metrics"):
        compare_runs([base], metrics=["nope"])


def test_critic_rates_count_verifier_errors_apart() -> None:
    policy = Policy(e=0.3, tpr=0.8, fpr=0.2)
    outcomes = simulate(policy, 200, 10, np.random.default_rng(0))
    events = to_events(outcomes, policy)
    # Turn every 10th feedback into a verifier failure: neither accept nor reject.
    broken = 0
    patched = []
    for i, event in enumerate(events):
        if isinstance(event, RoundEvent) and event.feedback is not None and i % 10 == 0:
            event = event.model_copy(update={"feedback": BROKEN})
            broken += 1
        patched.append(event)
    m = analyze_run(RunData.from_events(patched), n_boot=300).metrics
    assert m["critic_tpr"].covers(0.8)
    assert m["critic_fpr"].covers(0.2)
    assert m["verifier_error_rate"].value is not None and m["verifier_error_rate"].value > 0
    a = episode_arrays(RunData.from_events(patched))
    assert a.verifier_errors.sum() == broken
    assert a.tp.sum() + a.fp.sum() + a.fn.sum() + a.tn.sum() + broken == a.feedback_rounds.sum()


def test_critic_rates_leave_out_the_extractors_no_answer() -> None:
    # "No answer" is said by the extractor, unasked: no critic detected anything. Each
    # patched round is one the oracle rejects, so counting it would be a true positive.
    from redraft.agent import EXTRACTOR_SOURCE
    from redraft.agent._answer import missing_answer_verdict

    policy = Policy(e=0.3, tpr=0.5, fpr=0.2)
    events = to_events(simulate(policy, 200, 10, np.random.default_rng(3)), policy)
    clean = episode_arrays(RunData.from_events(events))
    no_answer = missing_answer_verdict(truncated=False, source=EXTRACTOR_SOURCE)
    patched, extracted, tp_lost = [], 0, 0
    for i, event in enumerate(events):
        if (isinstance(event, RoundEvent) and event.feedback is not None and i % 3 == 0
                and event.judgement is not None and event.judgement.correctness == "incorrect"):
            tp_lost += not event.feedback.ok
            event = event.model_copy(update={"feedback": no_answer})
            extracted += 1
        patched.append(event)
    assert extracted > 20
    a = episode_arrays(RunData.from_events(patched))
    assert a.tp.sum() == clean.tp.sum() - tp_lost
    assert a.tp.sum() + a.fn.sum() == clean.tp.sum() + clean.fn.sum() - extracted
    assert a.feedback_rounds.sum() == clean.feedback_rounds.sum() - extracted
    assert analyze_run(RunData.from_events(patched), n_boot=100).metrics["critic_tpr"].covers(0.5)


def test_no_critic_leaves_critic_rates_undefined() -> None:
    m = analyze_run(simulated_run(Policy(revise=False), 20, 5, 0), n_boot=50).metrics
    assert m["critic_tpr"].value is None and m["critic_fpr"].value is None
    # Nothing was revised: recovery and harm are undefined, not 0 [0, 0].
    for name in ("recovery", "harm", "wrong_to_right", "right_to_wrong", "repair", "damage"):
        assert m[name].value is None and m[name].ci_low is None, name


def test_global_error_undone_and_curve() -> None:
    policy = Policy(e=0.1, revise=False, error_policy="continue", undo=0.3)
    stats = analyze_run(simulated_run(policy, 200, 12, 4), n_boot=100)
    undone = stats.metrics["global_error_undone"]
    assert undone.value is not None and undone.value > 0.5
    curve = stats.global_error_curve
    assert curve.n[0] == 200 and len(curve.steps) == 12
    # Without undoing, errors only accumulate: P(global error at t) never falls by much.
    acc = analyze_run(
        simulated_run(Policy(e=0.1, revise=False, error_policy="continue"), 200, 12, 4),
        n_boot=100,
    )
    assert acc.metrics["global_error_undone"].value == 0.0
    values = [v for v in acc.global_error_curve.value if v is not None]
    assert values == sorted(values)


def test_missing_global_labels_fall_back_to_cumulative_local_errors() -> None:
    policy = Policy(e=0.1, revise=False, error_policy="continue", undo=0.5, global_labels=False)
    stats = analyze_run(simulated_run(policy, 100, 10, 4), n_boot=50)
    # No global state logged (like chess): undoing is undefined, not 0 by construction.
    assert stats.metrics["global_error_undone"].value is None
    assert stats.global_error_curve.value[-1] is not None
    assert stats.global_error_curve.value[-1] > 0.4  # ≈ 1 - 0.9^10


def test_kaplan_meier_matches_a_hand_computation() -> None:
    # Times 1,2,2,3(censored),4 with events at 1,2,4; the 2 at step 2: one event, one censored.
    time = np.array([1, 2, 2, 3, 4])
    event = np.array([True, True, False, False, True])
    km = kaplan_meier(time, event)
    assert km.at_risk == [5, 5, 4, 2, 1]
    expected = [1.0, 0.8, 0.8 * 0.75, 0.6, 0.0]
    assert km.survival == pytest.approx(expected)
    assert all(lo <= s <= hi for lo, s, hi in zip(km.ci_low, km.survival, km.ci_high, strict=True))


def test_wilson_known_values() -> None:
    w = wilson(5, 10)
    assert w.value == 0.5
    assert w.ci_low == pytest.approx(0.2366, abs=1e-4)
    assert w.ci_high == pytest.approx(0.7634, abs=1e-4)
    assert wilson(0, 0).value is None


def test_survival_is_compared_with_the_geometric_prediction() -> None:
    stats = analyze_run(simulated_run(Policy(e=0.1, revise=False), 400, 20, 9), n_boot=200)
    e = stats.metrics["e_hat"].value
    assert e is not None
    n = stats.survival.steps[10]
    assert stats.predicted_survival[10] == pytest.approx((1 - e) ** n)
    assert stats.survival.ci_low[10] <= (1 - 0.1) ** n <= stats.survival.ci_high[10]
    assert stats.metrics["horizon_50"].value == pytest.approx(math.log(0.5) / math.log(1 - e))


def test_undoing_by_a_forced_replacement_is_not_credited_to_the_agent() -> None:
    policy = Policy(e=0.1, revise=False, error_policy="continue", undo=0.3)
    run = simulated_run(policy, 100, 12, 4)
    # Mark every step forced: all undoing is then the task's, none the agent's.
    episodes = tuple(
        ep.model_copy(update={"steps": tuple(s.model_copy(update={"forced": True})
                                             for s in ep.steps)})
        for ep in run.episodes
    )
    forced = run.model_copy(update={"episodes": episodes})
    m = analyze_run(forced, n_boot=50).metrics
    assert m["global_error_undone"].value == 0.0
    assert m["global_error_undone_any"].value is not None
    assert m["global_error_undone_any"].value > 0.5
