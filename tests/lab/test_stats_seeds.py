"""Seed-level statistics: Holm, the two-stage bootstrap, and the decisive statistics.

The coverage tests plant a known self-conditioning effect and a known undo rate in
synthetic runs (tests/lab/synthetic_decisive.py), analyse them as the findings page
does, and count how often the 95% two-stage interval (3 models × 40 episodes × 16 steps,
150 draws) covers the planted value over 60 independent repetitions. Measured while writing
them (these seeds): the planted effect (selfcond 0.25 at e 0.1, true effect 0.114 over steps
7–10) was covered 60 of 60 times, the undo-minus-chance difference (undo 0.3, chance 0.2,
true 0.291) 57 of 60; with no planted effect the interval excluded 0 in 1 of 60. The tests
require at least 52 of 60 (87%), which a correct nominal-95% interval fails with
probability under 1%, and which an interval of a wrong quantity (e.g. the planted effect
without the matched-t baseline) misses every time.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_decisive import World, draw

from redraft.lab.findings._analysis import analyze_arrays
from redraft.lab.stats import (
    error_rate,
    flatness_test,
    holm,
    planted_effect,
    seed_difference,
    seed_estimate,
    survival_gap,
    survival_null,
    survival_observed,
    undo_vs_chance,
    with_global,
)
from redraft.tools import BadInputError

REPEATS = 60
MIN_COVERED = 52


def test_holm_adjusts_step_down_and_keeps_order() -> None:
    # sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([None, 0.5, 0.2]) == [None, pytest.approx(0.5), pytest.approx(0.4)]
    assert holm([0.9, 0.8]) == [pytest.approx(1.0), pytest.approx(1.0)]


def test_seed_estimate_is_the_mean_of_per_model_values_with_their_spread() -> None:
    models = [[np.array([[1.0, 0.0], [0.0, 0.0]])], [np.array([[1.0, 1.0], [0.0, np.nan]])]]
    est = seed_estimate(models, error_rate, draws=200)
    assert est.per_model == pytest.approx([0.25, 2 / 3])
    assert est.value == pytest.approx((0.25 + 2 / 3) / 2)
    assert est.between_sd == pytest.approx(np.std([0.25, 2 / 3], ddof=1))
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low <= est.value <= est.ci_high
    with pytest.raises(BadInputError, match="no models"):
        seed_estimate([], error_rate)


def test_the_between_seed_stage_widens_the_interval() -> None:
    # Two models far apart and many episodes each: the episode stage alone is narrow; the
    # model stage makes the interval span the two models' values.
    rng = np.random.default_rng(1)
    models = [[(rng.random((400, 5)) < p).astype(float)] for p in (0.1, 0.3)]
    est = seed_estimate(models, error_rate, draws=400)
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low < 0.13 and est.ci_high > 0.27


def test_seed_difference_detects_a_regime_gap_and_gives_a_two_sided_p() -> None:
    rng = np.random.default_rng(2)
    a = [[(rng.random((60, 10)) < 0.1).astype(float)] for _ in range(3)]
    b = [[(rng.random((60, 10)) < 0.3).astype(float)] for _ in range(3)]
    diff = seed_difference(a, b, error_rate, draws=400)
    assert diff.value == pytest.approx(0.2, abs=0.04)
    assert diff.excludes_zero and diff.p_value is not None and diff.p_value < 0.01
    same = seed_difference(a, a, error_rate, draws=400)
    assert not same.excludes_zero and same.p_value is not None and same.p_value > 0.5


def test_survival_gap_is_zero_without_compounding_and_negative_below_the_null() -> None:
    rng = np.random.default_rng(3)
    world = World(e=0.05)
    free = [draw(world, 300, 20, rng) for _ in range(3)]
    forced = [draw(world, 300, 20, rng, teacher_force=True) for _ in range(3)]
    null = survival_null(forced[0].initial, 20)[-1]
    assert null == pytest.approx(0.95**20, abs=0.05)
    gap = seed_estimate([[f.final, t.initial] for f, t in zip(free, forced, strict=True)],
                        survival_gap(20), test_zero=True, draws=300)
    assert not gap.excludes_zero
    # Self-conditioning alone leaves the first error's hazard as it is: survival to the
    # first error still follows the null. Free-running states that are harder than expert
    # states (the per-step error doubles off the expert's path) put survival below it.
    drifting = World(e=0.10)
    free_d = [draw(drifting, 300, 20, rng) for _ in range(3)]
    gap_d = seed_estimate([[f.final, t.initial] for f, t in zip(free_d, forced, strict=True)],
                          survival_gap(20), test_zero=True, draws=300)
    assert gap_d.excludes_zero and gap_d.value is not None
    assert gap_d.value == pytest.approx(0.90**20 - 0.95**20, abs=0.06)


def _planted_interval(world: World, rng: np.random.Generator, first: int, last: int,
                      draws: int = 150) -> tuple[float, float]:
    models = []
    for _ in range(3):
        planted = draw(world, 40, 16, rng, plant=first - 1)
        plain = draw(world, 40, 16, rng)
        models.append([with_global(planted.final, planted.global_),
                       with_global(plain.final, plain.global_)])
    est = seed_estimate(models, planted_effect(first, last), test_zero=True, draws=draws, rng=rng)
    assert est.ci_low is not None and est.ci_high is not None
    return est.ci_low, est.ci_high


def test_a_planted_self_conditioning_effect_is_recovered_with_stated_coverage() -> None:
    world = World(e=0.1, selfcond=0.25)
    first, last = 7, 10
    truth = world.planted_effect(first, last)
    rng = np.random.default_rng(4)
    covered = sum(lo <= truth <= hi for lo, hi in
                  (_planted_interval(world, rng, first, last) for _ in range(REPEATS)))
    assert covered >= MIN_COVERED, f"covered {covered} of {REPEATS}"


def test_a_planted_undo_rate_against_chance_is_recovered_with_stated_coverage() -> None:
    world = World(e=0.15, undo=0.3, chance=0.2)
    truth = world.undo_minus_chance()
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(REPEATS):
        models = [[draw(world, 40, 16, rng, plant=3).global_,
                   draw(world, 40, 16, rng, plant=3, undo_possible=False).global_]
                  for _ in range(3)]
        est = seed_estimate(models, undo_vs_chance(4), test_zero=True, draws=150, rng=rng)
        assert est.ci_low is not None and est.ci_high is not None
        covered += est.ci_low <= truth <= est.ci_high
    assert covered >= MIN_COVERED, f"covered {covered} of {REPEATS}"


def test_flatness_test_finds_a_trend_in_e_tf_and_none_where_it_is_flat() -> None:
    rng = np.random.default_rng(6)
    flat = [(rng.random((80, 20)) < 0.1).astype(float) for _ in range(3)]
    rising = [(rng.random((80, 20)) < np.linspace(0.02, 0.3, 20)).astype(float)
              for _ in range(3)]
    assert flatness_test(rising, n_perm=199).p_value == pytest.approx(0.005, abs=1e-9)
    result = flatness_test(flat, n_perm=199)
    assert result.p_value is not None and result.p_value > 0.01


def test_the_analysis_holms_the_declared_contrasts_and_reads_zero_effects_as_zero() -> None:
    rng = np.random.default_rng(7)
    world = World(e=0.1)
    runs: dict[str, dict[int, dict[str, object]]] = {}
    for arm in ("expert", "retry-masked", "recovery"):
        runs[arm] = {}
        for seed in range(3):
            runs[arm][seed] = {
                "free-t1": draw(world, 30, 12, rng), "tf-t1": draw(world, 30, 12, rng,
                                                                   teacher_force=True),
                "plant-t1": draw(world, 30, 12, rng, plant=4),
                "nocheck-t1": draw(world, 30, 12, rng, undo_possible=False)}
    result = analyze_arrays(runs, width=12, plant_step=4, plant_window=3, undo_from=3,  # type: ignore[arg-type]
                            task_options={}, representation="recent", draws=200)
    by_key = {c.contrast.key: c for c in result.contrasts}
    assert by_key["scratchpad-error"].estimate is None  # not in this grid
    assert by_key["scratchpad-error"].p_holm is None
    tested = [c for c in result.contrasts if c.estimate is not None]
    assert len(tested) == 6
    raw = [c.estimate.p_value for c in tested if c.estimate is not None]
    assert [c.p_holm for c in tested] == pytest.approx(holm(raw))
    planted = by_key["planted-error"].estimate
    assert planted is not None and not planted.excludes_zero


def test_observed_survival_censors_unknown_labels_instead_of_counting_them_as_right() -> None:
    nan = np.nan
    committed = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [nan, nan, nan], [0.0, nan, 1.0]])
    # t1: 3 labelled at risk, 0 errors; t2: 2 at risk (row 3 censored), 1 error; t3: 1 at
    # risk, 0 errors → 1, 1/2, 1/2. Counting unknown as right would give 3/4 and 1/2 at t3
    # with the wrong denominator (row 2 surviving).
    assert survival_observed(committed, 3) == pytest.approx([1.0, 0.5, 0.5])
    plain = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    assert survival_observed(plain, 2) == pytest.approx([0.75, 0.5])


def test_the_unknown_share_counts_unjudged_steps_among_the_steps_taken() -> None:
    from redraft.lab.findings._analysis import RunMatrices

    nan = np.nan
    initial = np.array([[0.0, nan, nan], [1.0, 0.0, nan]])
    taken = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # row 2 took 2 steps
    run = RunMatrices.model_validate({"initial": initial, "final": initial, "global": initial,
                                      "taken": taken})
    result = analyze_arrays({"expert": {0: {"free-t1": run}}}, width=3, plant_step=1,  # type: ignore[dict-item]
                            plant_window=1, undo_from=2, task_options={},
                            representation="recent", draws=20)
    free = result.arms["expert"].conditions["free-t1"]
    assert free.unknown_share == pytest.approx(2 / 5)  # 2 unjudged of 5 taken
    assert free.e_raw.value == pytest.approx(1 / 3)
