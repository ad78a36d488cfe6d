"""The report's figures, as PNG bytes (matplotlib's Agg canvas; no pyplot global state)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import LineStyleType

from redraft.evals.report._headline import p_clause
from redraft.evals.stats import RunStats, StepCurve

__all__ = ["COLOURS", "FIGURES", "error_rates_png", "global_error_png", "hazard_png",
           "label_axes", "png_bytes", "run_label", "survival_png"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")
_MIN_AT_RISK = 10
"""Per-step points resting on fewer episodes are left out of curves (too noisy to read)."""


def run_label(stats: RunStats) -> str:
    """A run's legend label: name, critic mode, and the leaky mark."""
    critic = stats.config.get("critic")
    label = stats.name if critic is None else f"{stats.name} (critic={critic})"
    return label + " [LEAKY upper bound]" if stats.leaky else label


def _figure(width: float = 8.0, height: float = 4.8) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _curve(ax: Axes, curve: StepCurve, colour: str, label: str, style: str = "-") -> None:
    n = np.asarray(curve.n)
    keep = n >= _MIN_AT_RISK
    if not keep.any():
        # Say so in the legend rather than leave a run silently missing from the plot.
        ax.plot([], [], style, color=colour,
                label=f"{label}: not drawn (fewer than {_MIN_AT_RISK} episodes at every step)")
        return
    steps = np.asarray(curve.steps)[keep]
    ax.plot(steps, _nan(curve.value)[keep], style, color=colour, marker="o", markersize=3,
            label=label)
    ax.fill_between(steps, _nan(curve.ci_low)[keep], _nan(curve.ci_high)[keep], color=colour,
                    alpha=0.15, linewidth=0)


def label_axes(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
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
        handles.append(Line2D([], [], color="#555", linestyle=style))
        labels.append(label)
    ncols = 2 if max((len(label) for label in labels), default=0) <= 55 else 1
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize="small",
               frameon=False)


def survival_png(runs: Sequence[RunStats]) -> bytes:
    """Kaplan–Meier survival with Greenwood bands beside the geometric ``(1-ê)^n``."""
    fig, ax = _figure()
    for i, stats in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        km = stats.survival
        e = stats.metrics["e_hat"].value
        label = run_label(stats) + ("" if e is None else f", ê={e:.3g}")
        ax.step(km.steps, km.survival, where="post", color=colour, label=label)
        ax.fill_between(km.steps, km.ci_low, km.ci_high, step="post", color=colour, alpha=0.15,
                        linewidth=0)
        if e is not None:
            ax.plot(km.steps, _nan(stats.predicted_survival), "--", color=colour)
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
    for i, stats in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        _curve(raw, stats.e_raw_curve, colour, run_label(stats))
        _curve(post, stats.e_post_curve, colour, run_label(stats))
    raw.set_ylim(bottom=0)
    label_axes(raw, "e_raw(t): first proposals (round 0)", "step t", "share wrong (oracle)")
    label_axes(post, "e_post(t): committed answers", "step t", "share wrong (oracle)")
    fig.suptitle("Per-step error before and after correction (95% Wilson bands)")
    _legend(fig)
    return png_bytes(fig)


def hazard_png(runs: Sequence[RunStats]) -> bytes:
    """Hazard of the first committed error per step, with the constant ``ê`` for reference."""
    fig, ax = _figure()
    for i, stats in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        trend = stats.trend
        _curve(ax, stats.hazard, colour,
               f"{run_label(stats)}: {trend.direction}, "
               f"p {p_clause(trend.p_value, trend.simulations)}")
        e = stats.metrics["e_hat"].value
        if e is not None:
            ax.axhline(e, color=colour, linestyle=":", linewidth=1)
        steps = np.asarray(stats.hazard.steps, dtype=np.float64)
        if steps.size and trend.direction != "flat":
            ax.plot(steps, trend.fitted(steps), "--", color=colour, linewidth=1)
    ax.set_ylim(bottom=0)
    _finish(fig, ax, "Hazard of the first committed error (95% Wilson bands)", "step t",
            "P(first error at t | none before)",
            styles=[(":", "constant hazard ê (geometric fit)"),
                    ("--", "logistic trend fit (LR test p in label)")])
    return png_bytes(fig)


def global_error_png(runs: Sequence[RunStats]) -> bytes:
    """``P(global error at t)`` among episodes still running at ``t``."""
    fig, ax = _figure()
    for i, stats in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        undone = stats.metrics["global_error_undone"].value
        note = "" if undone is None else f"; later undone in {undone:.0%} of episodes with one"
        _curve(ax, stats.global_error_curve, colour, f"{run_label(stats)}{note}")
    ax.set_ylim(bottom=0)
    _finish(fig, ax, "P(global error at t): non-monotone if errors get undone (95% bands)",
            "step t", "share of running episodes in a wrong state")
    return png_bytes(fig)


FIGURES = {
    "survival.png": survival_png,
    "error_rates.png": error_rates_png,
    "hazard.png": hazard_png,
    "global_error.png": global_error_png,
}
"""Every figure of a report, by file name."""
