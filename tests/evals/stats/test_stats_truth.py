"""Planted truth: unknowns, censoring, undo vs cancelling errors, detection vs repair, pairing."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_logs import Outcomes, Policy, lockstep, simulate, simulated_run, to_events

from redraft.evals._events import Event, RoundEvent, StepEvent
from redraft.evals.stats import RunData, analyze_run, compare_runs, episode_arrays
from redraft.evals.stats._metrics import ratio_metrics
from redraft.tools import Judgement, Verdict

CRASHED = Judgement(local=Verdict.reject("oracle_error", "the oracle crashed",
                                         source="oracle"))


def _crash_oracle(events: list[Event], every: int) -> list[Event]:
    """Every ``every``-th step's oracle crashed: its labels become unknown."""
    out: list[Event] = []
    crashed: set[tuple[int, int]] = set()
    steps = 0
    for event in events:
        if isinstance(event, StepEvent):
            steps += 1
            if steps % every == 0:
                crashed.add((event.episode, event.step))
                event = event.model_copy(update={"initial": "unknown", "final": "unknown"})
        out.append(event)
    return [
        e.model_copy(update={"judgement": CRASHED})
        if isinstance(e, RoundEvent) and (e.episode, e.step) in crashed else e
        for e in out
    ]


def test_a_crashing_oracle_yields_unknowns_that_change_no_rate() -> None:
    policy = Policy(e=0.25, r=0.6, h=0.1, tpr=0.8, fpr=0.3, error_policy="continue")
    events = to_events(simulate(policy, 150, 12, np.random.default_rng(0)), policy)
    crashed = _crash_oracle(events, 5)
    full = episode_arrays(RunData.from_events(events))
    part = episode_arrays(RunData.from_events(crashed))
    m = ratio_metrics(part, 200, np.random.default_rng(0))
    # Each rate is exactly the rate over the labelled steps and rounds: unknown is not wrong.
    known = np.isfinite(part.initial_wrong)
    assert m["e_raw"].value == pytest.approx(full.initial_wrong[known].mean())
    assert m["e_post"].value == pytest.approx(full.final_wrong[known].mean())
    assert m["unknown_rate"].value == pytest.approx(0.2)
    assert m["unknown_rate_initial"].value == pytest.approx(0.2)
    assert m["unknown_rate_rounds"].value is not None and m["unknown_rate_rounds"].value > 0.15
    # Rounds whose oracle crashed leave the critic's confusion matrix.
    assert part.feedback_unjudged.sum() > 0
    assert (part.tp + part.fp + part.fn + part.tn).sum() < (full.tp + full.fp + full.fn
                                                            + full.tn).sum()
    for name, truth in (("e_raw", 0.25), ("critic_tpr", 0.8), ("critic_fpr", 0.3),
                        ("recovery", 0.8 * 0.6), ("harm", 0.3 * 0.1)):
        assert m[name].covers(truth), (name, m[name])


def test_a_log_cut_half_way_does_not_bias_e_hat() -> None:
    # The lockstep runner finishes the episodes that stop at an early error first: a log cut
    # half way holds mostly erring episodes among the finished ones.
    truth = 0.14
    policy = Policy(e=truth, revise=False)
    events = lockstep(to_events(simulate(policy, 400, 30, np.random.default_rng(4)), policy))
    cut = RunData.from_events(events[: len(events) // 2])
    assert cut.unfinished > 100
    censored = analyze_run(cut, n_boot=400, n_sim=0, n_perm=0)
    finished_only = cut.model_copy(update={"episodes": tuple(
        ep for ep in cut.episodes if ep.finished)})
    dropped = analyze_run(finished_only, n_boot=400, n_sim=0, n_perm=0)
    e_cens, e_drop = censored.metrics["e_hat"], dropped.metrics["e_hat"]
    print(f"truth {truth}: censored ê {e_cens.value:.3f} [{e_cens.ci_low:.3f}, "
          f"{e_cens.ci_high:.3f}], dropped ê {e_drop.value:.3f}")
    assert e_cens.covers(truth)
    assert not e_drop.covers(truth) and (e_drop.value or 0) > truth + 0.05
    assert censored.episodes == 400 and censored.unfinished == cut.unfinished


def _hand_run(episodes: list[list[tuple[bool, bool | None]]]) -> RunData:
    """Episodes as lists of (committed answer wrong, state globally wrong) per step."""
    events: list[Event] = []
    policy = Policy(e=0.0, revise=False, error_policy="continue")
    for ep, steps in enumerate(episodes):
        o = simulate(policy, 1, len(steps), np.random.default_rng(ep))
        base = to_events(o, policy, first_id=ep)
        for event in base:
            if isinstance(event, StepEvent):
                wrong, glob = steps[event.step]
                label = "incorrect" if wrong else "correct"
                event = event.model_copy(update={
                    "initial": label, "final": label,
                    "global_correctness": None if glob is None else (
                        "incorrect" if glob else "correct")})
            events.append(event)
    return RunData.from_events(events)


def test_a_second_error_that_cancels_the_first_is_not_an_undo() -> None:
    cancelled = [(True, True), (True, False), (False, False)]  # +1 then −1: back to truth
    repaired = [(True, True), (False, False), (False, False)]  # a right step restores it
    m = analyze_run(_hand_run([cancelled, cancelled, repaired]), n_boot=50, n_sim=0,
                    n_perm=0).metrics
    assert m["global_error_undone"].value == pytest.approx(1 / 3)
    # A simulator that never repairs: errors land on the truth only by cancelling.
    never = analyze_run(_hand_run([cancelled] * 5), n_boot=50, n_sim=0, n_perm=0).metrics
    undone = never["global_error_undone"]
    assert undone.value == 0.0 and undone.ci_high is not None and undone.ci_high > 0
    chess = analyze_run(_hand_run([[(True, None), (False, None)]]), n_boot=50, n_sim=0,
                        n_perm=0).metrics
    assert chess["global_error_undone"].value is None


def test_detection_repair_and_transitions_are_reported_apart() -> None:
    policy = Policy(e=0.3, r=0.6, h=0.2, tpr=0.7, fpr=0.2, error_policy="continue")
    # Eight intervals checked at once: 99% each, so that the test fails for a defect only.
    m = analyze_run(simulated_run(policy, 300, 15, 8), level=0.99, n_boot=1000, n_sim=0,
                    n_perm=0).metrics
    truth = {
        "critic_tpr": 0.7, "critic_fpr": 0.2,  # detection
        "repair": 0.6, "damage": 0.2,  # the reviser, given a flag
        "recovery": 0.7 * 0.6, "harm": 0.2 * 0.2,  # both together
        "wrong_to_right": 0.3 * 0.7 * 0.6, "right_to_wrong": 0.7 * 0.2 * 0.2,  # Huang et al.
    }
    for name, value in truth.items():
        assert m[name].covers(value), (name, value, m[name])


def test_predicted_error_share_uses_each_episodes_own_length() -> None:
    e = 0.05
    policy = Policy(e=e, revise=False, error_policy="continue")
    short = to_events(simulate(policy, 300, 4, np.random.default_rng(1)), policy)
    long = to_events(simulate(policy, 300, 40, np.random.default_rng(2)), policy,
                     first_id=1000)
    stats = analyze_run(RunData.from_events(short + long), n_boot=300, n_sim=0, n_perm=0)
    truth = 0.5 * (1 - (1 - e) ** 4) + 0.5 * (1 - (1 - e) ** 40)
    predicted, observed = stats.metrics["predicted_error_share"], stats.metrics["error_share"]
    assert predicted.covers(truth) and observed.covers(truth)
    assert predicted.value == pytest.approx(truth, abs=0.03)
    # Against the longest episode's length the prediction would be far off.
    e_hat = stats.metrics["e_hat"].value or 0.0
    assert abs(1 - (1 - e_hat) ** 40 - truth) > 0.25


def test_runs_sharing_seeds_are_compared_paired() -> None:
    policy = Policy(e=0.2, r=0.6, h=0.1)
    a = simulated_run(policy, 100, 15, 3, name="a")
    same = a.model_copy(update={"name": "b"})
    table = compare_runs([a, same], n_boot=400)
    row = next(r for r in table.rows if r.metric == "e_raw" and r.run == "b")
    assert row.paired and row.pairs == 100
    width = row.difference.width
    assert row.difference.value == 0.0 and width is not None
    # Identical runs: tight (|Δ| ≤ the Wilson bound for 0 discordant steps of those
    # compared), but never of zero width.
    assert 0.0 < width < 0.02
    unpaired = compare_runs([a, same], n_boot=400, paired=False)
    loose = next(r for r in unpaired.rows if r.metric == "e_raw" and r.run == "b")
    assert not loose.paired and (loose.difference.width or 0) > 4 * width
    # Runs whose seeds differ (other episodes) are compared unpaired.
    other = RunData.from_events(
        to_events(simulate(policy, 100, 15, np.random.default_rng(9)), policy, first_id=500),
        name="c")
    mixed = compare_runs([a, other], n_boot=200)
    assert not any(r.paired for r in mixed.rows if r.run == "c")


@pytest.mark.parametrize("episodes", [10, 40])
@pytest.mark.slow
def test_paired_comparison_keeps_its_coverage(episodes: int) -> None:
    # The same episodes, hard and easy ones (e = 0.05 or 0.45), played without a critic and
    # with a tool critic that flags every wrong proposal and repairs it w.p. 0.8. Pairing
    # takes the episode-to-episode spread out of the difference in e_post.
    base = Policy(e=0.25, revise=False, error_policy="continue")
    tool = Policy(e=0.25, r=0.8, h=0.0, fpr=0.0, error_policy="continue")
    truth = -0.25 * 0.8
    covered, ratio, runs, shape = 0, [], 40, (episodes, 10)
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        wrong0 = rng.random(shape) < rng.choice([0.05, 0.45], size=(shape[0], 1))
        fixed = wrong0 & (rng.random(shape) < 0.8)
        none = Outcomes(wrong0, wrong0 & False, wrong0, wrong0 & False, wrong0, wrong0,
                        np.full(shape[0], shape[1]), shape[1])
        flagged = wrong0.copy()
        wrong1 = wrong0 & ~fixed
        tooled = Outcomes(wrong0, flagged, wrong1, wrong1, wrong1, wrong1,
                          np.full(shape[0], shape[1]), shape[1])
        a = RunData.from_events(to_events(none, base), name="none")
        b = RunData.from_events(to_events(tooled, tool), name="tool")
        paired = compare_runs([a, b], metrics=["e_post"], n_boot=400, seed=seed).rows[1]
        loose = compare_runs([a, b], metrics=["e_post"], n_boot=400, seed=seed,
                             paired=False).rows[1]
        assert paired.paired and not loose.paired
        covered += paired.difference.covers(truth)
        ratio.append((paired.difference.width or 1.0) / (loose.difference.width or 1.0))
    print(f"{episodes} episodes: paired coverage {covered / runs:.2f}, paired/unpaired width "
          f"{np.mean(ratio):.2f}")
    assert covered / runs >= 0.85
    assert float(np.mean(ratio)) < 0.9


def test_paired_differences_of_proportions_stay_within_minus_one_and_one() -> None:
    # Two episodes, one run almost always wrong and the other almost always right: the
    # small-sample intervals (paired t, the discordance bound) are symmetric about a
    # difference near -1 and used to reach -2.17.
    for seed in range(6):
        a = simulated_run(Policy(e=0.95, revise=False, error_policy="continue"), 2, 5, seed,
                          name="a")
        b = simulated_run(Policy(e=0.05, revise=False, error_policy="continue"), 2, 5,
                          seed + 100, name="b")
        rows = [r for r in compare_runs([a, b], n_boot=200).rows if r.run == "b"]
        assert any(r.paired for r in rows)
        for row in rows:
            low, high = row.difference.ci_low, row.difference.ci_high
            if low is not None and high is not None:
                assert -1.0 <= low <= high <= 1.0, (row.metric, row.difference)
