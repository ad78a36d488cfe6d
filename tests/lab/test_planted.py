"""Planted truth: the analysis finds known effects at its stated power and holds its level.

Seeds are simulated with known effects (compounding, undo, a retry benefit, a recovery
benefit) at a scale's seed count, state by state, with a between-seed spread, and go
through the same analysis as a real grid (``redraft.lab.findings._planted``). With zero
effects the family of four is rejected in at most 5% of 200 grids; with each effect as
large as the analysis says it detects with 80% power, each is found in about 80%.
(Tiny sizes here; the full table, per scale, is in docs/findings-power.md.)
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from redraft.lab.findings._planted import World, planted_at_power, replicate

REPS = 200
SLACK = 2.5 * (0.05 * 0.95 / REPS) ** 0.5
"""Monte Carlo allowance: 2.5 standard errors of a 5% rate over REPS grids."""


@pytest.fixture(scope="module")
def world() -> World:
    return World(e=0.04, effect_sd=0.01, states=60)


def test_zero_effects_are_rejected_at_most_five_percent_of_the_time(world: World) -> None:
    rates = replicate(world, 8, REPS, seed=11)
    assert rates["any"] <= 0.05 + SLACK
    assert all(rates[k] <= 0.05 for k in ("compounding", "undo", "retry", "recovery"))


@pytest.mark.slow
@pytest.mark.parametrize("key", ["compounding", "undo", "retry", "recovery"])
def test_an_effect_at_the_stated_detectable_size_is_found_at_about_80_percent(
    world: World, key: str,
) -> None:
    # One effect planted alone, the others 0: Holm's first step is the level it is
    # stated at, so it is found about 80% of the time (no less, beyond Monte Carlo error).
    planted = planted_at_power(world, 8, only=key)
    reps = 2 * REPS
    rates = replicate(planted, 8, reps, seed=12)
    allowance = 2.5 * (0.8 * 0.2 / reps) ** 0.5
    assert 0.8 - allowance <= rates[key] <= 0.95, rates
    others = [k for k in ("compounding", "undo", "retry", "recovery") if k != key]
    assert all(rates[k] <= 0.05 for k in others)


def test_a_small_effect_is_missed_and_a_large_one_always_found(world: World) -> None:
    planted = planted_at_power(world, 8, only="compounding")
    small = replicate(replace(world, compounding=planted.compounding / 4), 8, 100, seed=13)
    large = replicate(replace(world, compounding=planted.compounding * 3), 8, 100, seed=14)
    assert small["compounding"] < 0.5 < 0.95 <= large["compounding"]
