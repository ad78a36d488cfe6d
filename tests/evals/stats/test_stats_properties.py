"""Properties of the estimators on arbitrary inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from redraft.evals.stats import hazard_trend_test, kaplan_meier
from redraft.evals.stats._intervals import bootstrap_ratios, ratio_estimate

durations = st.lists(
    st.tuples(st.integers(1, 15), st.booleans()), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(durations)
def test_kaplan_meier_is_a_survival_curve_inside_its_band(data: list[tuple[int, bool]]) -> None:
    time = np.array([t for t, _ in data])
    event = np.array([e for _, e in data])
    km = kaplan_meier(time, event)
    s = np.array(km.survival)
    assert s[0] == 1.0 and np.all(np.diff(s) <= 1e-12) and np.all((s >= 0) & (s <= 1))
    assert np.all(np.array(km.ci_low) <= s + 1e-12) and np.all(s <= np.array(km.ci_high) + 1e-12)
    # Without censoring, S(n) is the plain share of episodes that survived n steps.
    if not event.all():
        return
    for n, value in enumerate(km.survival):
        assert abs(value - float((time > n).mean())) < 1e-9


@settings(max_examples=60, deadline=None)
@given(durations)
def test_hazard_trend_test_is_well_formed(data: list[tuple[int, bool]]) -> None:
    trend = hazard_trend_test(np.array([t for t, _ in data]), np.array([e for _, e in data]))
    assert trend.statistic >= 0 and 0 <= trend.p_value <= 1
    assert trend.direction in {"rising", "falling", "flat"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=30))
def test_bootstrap_interval_holds_the_estimate(pairs: list[tuple[int, int]]) -> None:
    num = np.array([min(k, n) for k, n in pairs], dtype=float)
    den = np.array([n for _, n in pairs], dtype=float)
    reps = bootstrap_ratios({"x": (num, den)}, 200, np.random.default_rng(0))["x"]
    est = ratio_estimate(num, den, reps)
    if den.sum() == 0:
        assert est.value is None
        return
    assert est.ci_low is not None and est.ci_high is not None and est.value is not None
    assert 0 <= est.ci_low <= est.ci_high <= 1
    # A percentile interval can miss a skewed point estimate only by a little.
    assert est.ci_low - 0.2 <= est.value <= est.ci_high + 0.2
