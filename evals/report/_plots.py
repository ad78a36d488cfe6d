"""The report's figures, as PNG bytes (matplotlib's Agg canvas; no pyplot global state)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import LineStyleType

from redraft.evals.report._headline import p_clause
from redraft.evals.report._settings import setting
from redraft.evals.stats import RunStats, StepCurve

__all__ = ["COLOURS", "FIGURES", "error_rates_png", "global_error_png", "hazard_png",
           "label_axes", "png_bytes", "run_label", "survival_png"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")
"""The colours of runs in every figure, in run order (matplotlib's tab10)."""
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
_MIN_AT_RISK = 10
"""Per-step points resting on fewer episodes are drawn faded and without a band (noisy)."""
_FEW = f"faded points: fewer than {_MIN_AT_RISK} episodes at that step"


@dataclass(frozen=True)
class _Look:
    """How one run is drawn: runs that coincide must still be told apart.

    Each run has its own colour and hollow marker shape, and a line and marker thinner and
    smaller than the run before it (three sizes, in turn), so that a later run drawn
    exactly over an earlier one shows inside it.
    """

    colour: str
    marker: str
    width: float
    size: float

    @classmethod
    def of(cls, index: int) -> _Look:
        shrink = index % 3
        return cls(COLOURS[index % len(COLOURS)], _MARKERS[index % len(_MARKERS)],
                   width=(4.5, 2.4, 1.0)[shrink], size=(11.0, 7.5, 4.5)[shrink])


def _key(*series: Sequence[object] | np.ndarray) -> tuple[tuple[object, ...], ...]:
    """What identifies a drawn curve (its points), to find runs that coincide."""
    return tuple(tuple(np.round(np.asarray(s, dtype=np.float64), 9).tolist()) for s in series)


def _coincident(keys: Sequence[object], names: Sequence[str]) -> list[str | None]:
    """For each run, the name of the first earlier run whose curve is the same (else None)."""
    first: dict[object, str] = {}
    same: list[str | None] = []
    for key, name in zip(keys, names, strict=True):
        same.append(first.get(key))
        first.setdefault(key, name)
    return same


def _same_note(what: str, other: str | None) -> str:
    return "" if other is None else f" [{what}: same curve as {other}, drawn inside it]"


def run_label(stats: RunStats) -> str:
    """A run's legend label: name, critic mode, and the leaky mark."""
    critic = setting(stats.config, "critic")
    label = stats.name if critic is None else f"{stats.name} (critic={critic})"
    return label + " [LEAKY upper bound]" if stats.leaky else label


def _figure(width: float = 8.0, height: float = 4.8) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def png_bytes(fig: Figure) -> bytes:
    """A figure as PNG bytes, as reports embed it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _curve(ax: Axes, curve: StepCurve, look: _Look, label: str) -> None:
    """A per-step curve to its last step with data; points on few episodes faded."""
    n = np.asarray(curve.n)
    values = _nan(curve.value)
    data = (n > 0) & np.isfinite(values)
    if not data.any():
        # Say so in the legend rather than leave a run silently missing from the plot.
        ax.plot([], [], "-", color=look.colour, label=f"{label}: no data at any step")
        return
    steps = np.asarray(curve.steps)
    many = data & (n >= _MIN_AT_RISK)
    ax.plot(steps[data], values[data], "-", color=look.colour, linewidth=look.width,
            marker=look.marker, markersize=look.size, markerfacecolor="none",
            markevery=[bool(m) for m in many[data]], label=label)
    few = data & ~many
    if few.any():
        ax.plot(steps[few], values[few], linestyle="none", color=look.colour, alpha=0.35,
                marker=look.marker, markersize=look.size, markerfacecolor="none")
    ax.fill_between(steps, _nan(curve.ci_low), _nan(curve.ci_high), where=many.tolist(),
                    color=look.colour, alpha=0.12, linewidth=0)


def _few_key(curves: Sequence[StepCurve]) -> list[tuple[LineStyleType, str]]:
    """The legend key for faded points, when some curve has them."""
    if any(0 < n < _MIN_AT_RISK for curve in curves for n in curve.n):
        return [("none", _FEW)]
    return []


def _curve_key(curve: StepCurve) -> object:
    return _key(curve.steps, _nan(curve.value), curve.n)


def label_axes(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    """Title and label a figure's axes as every report figure is."""
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.set_xlim(left=0)


def _finish(
    fig: Figure,
    ax: Axes,
    title: str,
    xlabel: str,
    ylabel: str,
    styles: Sequence[tuple[LineStyleType, str]] = (),
) -> None:
    label_axes(ax, title, xlabel, ylabel)
    _legend(fig, styles)


def _legend(fig: Figure, styles: Sequence[tuple[LineStyleType, str]] = ()) -> None:
    # Below the plot, so that it never hides the data; line styles get grey keys.
    handles: list[Artist] = []
    labels: list[str] = []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    for style, label in styles:
        if label == _FEW:
            handles.append(Line2D([], [], color="#555", linestyle="none", marker="o",
                                  markerfacecolor="none", alpha=0.35))
        else:
            handles.append(Line2D([], [], color="#555", linestyle=style))
        labels.append(label)
    ncols = 2 if max((len(label) for label in labels), default=0) <= 55 else 1
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize="small",
               frameon=False)


def survival_png(runs: Sequence[RunStats]) -> bytes:
    """Kaplan–Meier survival with Greenwood bands beside the geometric ``(1-ê)^n``."""
    fig, ax = _figure()
    same = _coincident([_key(s.survival.steps, s.survival.survival) for s in runs],
                       [s.name for s in runs])
    for i, stats in enumerate(runs):
        look = _Look.of(i)
        km = stats.survival
        e = stats.metrics["e_hat"].value
        label = run_label(stats) + ("" if e is None else f", ê={e:.3g}")
        ax.step(km.steps, km.survival, where="post", color=look.colour, linewidth=look.width,
                marker=look.marker, markersize=look.size, markerfacecolor="none",
                label=label + _same_note("survival", same[i]))
        ax.fill_between(km.steps, km.ci_low, km.ci_high, step="post", color=look.colour,
                        alpha=0.12, linewidth=0)
        if e is not None:
            ax.plot(km.steps, _nan(stats.predicted_survival), "--", color=look.colour)
    ax.set_ylim(-0.02, 1.02)
    _finish(fig, ax, "Survival: no committed error in the first n steps (95% Greenwood band)",
            "step n", "share of episodes without a committed error",
            styles=[("-", "observed (Kaplan–Meier)"), ("--", "predicted (1-ê)^n")])
    return png_bytes(fig)


def error_rates_png(runs: Sequence[RunStats]) -> bytes:
    """``e_raw(t)`` (left) and ``e_post(t)`` (right) per step, Wilson bands."""
    fig = Figure(figsize=(10.0, 4.8), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    raw, post = fig.subplots(1, 2, sharey=True)
    names = [s.name for s in runs]
    same_raw = _coincident([_curve_key(s.e_raw_curve) for s in runs], names)
    same_post = _coincident([_curve_key(s.e_post_curve) for s in runs], names)
    for i, stats in enumerate(runs):
        label = (run_label(stats) + _same_note("e_raw", same_raw[i])
                 + _same_note("e_post", same_post[i]))
        _curve(raw, stats.e_raw_curve, _Look.of(i), label)
        _curve(post, stats.e_post_curve, _Look.of(i), label)
    raw.set_ylim(bottom=0)
    label_axes(raw, "e_raw(t): first proposals (round 0)", "step t", "share wrong (oracle)")
    label_axes(post, "e_post(t): committed answers", "step t", "share wrong (oracle)")
    fig.suptitle("Per-step error before and after correction (95% Wilson bands)")
    _legend(fig, _few_key([c for s in runs for c in (s.e_raw_curve, s.e_post_curve)]))
    return png_bytes(fig)


def hazard_png(runs: Sequence[RunStats]) -> bytes:
    """Hazard of the first committed error per step, with the constant ``ê`` for reference."""
    fig, ax = _figure()
    same = _coincident([_curve_key(s.hazard) for s in runs], [s.name for s in runs])
    for i, stats in enumerate(runs):
        look = _Look.of(i)
        trend = stats.trend
        _curve(ax, stats.hazard, look,
               f"{run_label(stats)}: {trend.direction}, "
               f"p {p_clause(trend.p_value, trend.simulations)}"
               + _same_note("hazard", same[i]))
        e = stats.metrics["e_hat"].value
        if e is not None:
            ax.axhline(e, color=look.colour, linestyle=":", linewidth=1)
        steps = np.asarray(stats.hazard.steps, dtype=np.float64)
        if steps.size and trend.direction != "flat":
            ax.plot(steps, trend.fitted(steps), "--", color=look.colour, linewidth=1)
    ax.set_ylim(bottom=0)
    _finish(fig, ax, "Hazard of the first committed error (95% Wilson bands)", "step t",
            "P(first error at t | none before)",
            styles=[(":", "constant hazard ê (geometric fit)"),
                    ("--", "logistic trend fit (LR test p in label)"),
                    *_few_key([s.hazard for s in runs])])
    return png_bytes(fig)


def global_error_png(runs: Sequence[RunStats]) -> bytes:
    """``P(global error at t)`` among episodes still running at ``t``."""
    fig, ax = _figure()
    same = _coincident([_curve_key(s.global_error_curve) for s in runs], [s.name for s in runs])
    for i, stats in enumerate(runs):
        undone = stats.metrics["global_error_undone"].value
        note = "" if undone is None else f"; later undone in {undone:.0%} of episodes with one"
        _curve(ax, stats.global_error_curve, _Look.of(i),
               f"{run_label(stats)}{note}" + _same_note("P(global error)", same[i]))
    ax.set_ylim(bottom=0)
    _finish(fig, ax, "P(global error at t): non-monotone if errors get undone (95% bands)",
            "step t", "share of running episodes in a wrong state",
            styles=_few_key([s.global_error_curve for s in runs]))
    return png_bytes(fig)


FIGURES = {
    "survival.png": survival_png,
    "error_rates.png": error_rates_png,
    "hazard.png": hazard_png,
    "global_error.png": global_error_png,
}
"""Every figure of a report, by file name."""
