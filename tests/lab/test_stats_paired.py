"""Paired seeds: the exact sign-flip test, the t-test beside it, Holm, and the power."""

from __future__ import annotations

import math

import numpy as np
import pytest

from redraft.lab.stats import (
    detectable_effect,
    holm,
    paired_estimate,
    power,
    sign_flip_test,
    t_test,
)


def test_the_sign_flip_p_is_the_share_of_sign_patterns_at_least_as_extreme() -> None:
    assert sign_flip_test([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(2 / 256)  # the floor
    assert sign_flip_test([-1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4 / 256)
    assert sign_flip_test([1.0, -1.0]) == 1.0
    assert sign_flip_test([]) is None
    assert sign_flip_test([1, 2, 3]) == pytest.approx(2 / 8)


def test_the_t_test_gives_its_interval_around_the_mean() -> None:
    p, low, high = t_test([0.1, 0.2, 0.3, 0.4])
    assert p is not None and p < 0.05
    assert low is not None and high is not None and low < 0.25 < high
    assert t_test([0.5]) == (None, None, None)


def test_holm_adjusts_step_down_and_keeps_order() -> None:
    assert holm([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06])
    assert holm([]) == []


def test_the_detectable_effect_scales_with_the_spread_and_falls_with_seeds() -> None:
    one = detectable_effect(1.0, 8, 0.0125)
    assert one is not None and 1.5 < one < 2.4
    assert detectable_effect(0.01, 8, 0.0125) == pytest.approx(one * 0.01)
    twelve = detectable_effect(1.0, 12, 0.0125)
    assert twelve is not None and twelve < one
    assert detectable_effect(1.0, 3, 0.05) is None  # 2/2^3 = 0.25 can never be below 0.05
    assert power(one, 1.0, 8, 0.0125) == pytest.approx(0.8, abs=0.05)


def test_with_eight_seeds_the_exact_test_holds_its_level() -> None:
    rng = np.random.default_rng(3)
    p = [sign_flip_test(rng.normal(0, 1, 8).tolist()) for _ in range(2000)]
    assert np.mean([x is not None and x <= 0.05 for x in p]) <= 0.05 + 0.015


def test_a_paired_estimate_leaves_out_missing_seeds_and_states_its_power() -> None:
    e = paired_estimate([0.1, None, 0.12, 0.09, math.nan], [0, 1, 2, 3, 4], alpha=0.05)
    assert e.n == 3 and e.per_seed[1] is None and e.per_seed[4] is None
    assert e.value == pytest.approx(0.10333, abs=1e-4)
    assert e.p_sign_flip == pytest.approx(0.25)
    assert e.detectable is None  # 3 seeds cannot reach 0.05
