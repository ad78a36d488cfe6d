"""The report's curves: drawn to their last step, and runs that coincide told apart."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from redraft.evals.report._plots import _coincident, _curve, _curve_key, _Look, _same_note
from redraft.evals.stats import StepCurve


def curve(values: list[float | None], n: list[int]) -> StepCurve:
    return StepCurve(steps=list(range(1, len(values) + 1)), value=values,
                     ci_low=[None if v is None else max(v - 0.1, 0.0) for v in values],
                     ci_high=[None if v is None else min(v + 0.1, 1.0) for v in values], n=n)


def test_a_curve_runs_to_its_last_step_with_few_episodes_faded() -> None:
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _curve(ax, curve([0.5, 0.6, 0.7, None], [16, 12, 3, 0]), _Look.of(0), "run")
    line, faded = ax.lines
    assert list(line.get_xdata()) == [1, 2, 3]  # to the last step with data
    assert list(faded.get_xdata()) == [3] and faded.get_alpha() == 0.35
    assert line.get_label() == "run"


def test_runs_with_the_same_curve_are_named_and_drawn_inside_each_other() -> None:
    a = curve([0.5, 0.6], [16, 16])
    b = curve([0.5, 0.6], [16, 16])
    c = curve([0.5, 0.7], [16, 16])
    same = _coincident([_curve_key(x) for x in (a, b, c, b)], ["a", "b", "c", "d"])
    assert same == [None, "a", None, "a"]
    assert "same curve as a" in _same_note("e_raw", same[1])
    looks = [_Look.of(i) for i in range(3)]
    assert len({look.marker for look in looks}) == 3
    assert looks[0].width > looks[1].width > looks[2].width
    assert looks[0].size > looks[1].size > looks[2].size
