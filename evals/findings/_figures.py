"""The page's figures, drawn from the committed summaries (not from the event logs).

The curves in ``summary.json`` are the report's own (:class:`StepCurve`, Kaplan–Meier), so
the figures reuse the report's drawing helpers on them: one panel per group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from redraft.evals.findings._page import Findings
from redraft.evals.report._plots import _COLOURS, _axes, _curve, _nan, _png
from redraft.evals.stats import KaplanMeier, StepCurve

__all__ = ["FIGURE_FILES", "global_error_png", "survival_png", "write_figures"]

FIGURE_FILES = ("survival.png", "global_error.png")
_MAX_RUNS = 6
"""Runs per panel (the critic modes beyond are in the tables)."""


def _panels(count: int) -> tuple[Figure, list[Axes]]:
    cols = 2 if count > 1 else 1
    rows = (count + cols - 1) // cols
    fig = Figure(figsize=(5.2 * cols, 3.9 * rows), dpi=72, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(count)]
    return fig, axes


def _legend_axes(ax: Axes) -> None:
    ax.legend(fontsize="x-small", frameon=False, loc="best")


def _label(run: dict[str, Any]) -> str:
    config = run.get("config", {})
    mono = " +monologue" if (config.get("corrector") or {}).get("monologue") else ""
    return f"{run['run']}{mono}"


def survival_png(findings: Findings) -> bytes:
    """Kaplan–Meier survival (solid, Greenwood band) against ``(1-ê)^n`` (dashed)."""
    groups = [(n, s) for n, s in findings.summaries.items() if s.get("runs")]
    fig, axes = _panels(len(groups))
    for ax, (name, summary) in zip(axes, groups, strict=True):
        for i, run in enumerate(summary["runs"][:_MAX_RUNS]):
            colour = _COLOURS[i % len(_COLOURS)]
            km = KaplanMeier.model_validate(run["survival"]["kaplan_meier"])
            if not km.steps:
                continue
            e = (run["survival"].get("e_hat") or {}).get("value")
            label = _label(run) + ("" if e is None else f", ê={e:.3g}")
            ax.step(km.steps, km.survival, where="post", color=colour, label=label)
            ax.fill_between(km.steps, _nan(km.ci_low), _nan(km.ci_high), step="post",
                            color=colour, alpha=0.12, linewidth=0)
            predicted = run["survival"].get("predicted") or []
            if e is not None and predicted:
                ax.plot(km.steps, _nan(predicted), "--", color=colour, linewidth=1)
        ax.set_ylim(-0.02, 1.02)
        _axes(ax, f"{name}: survival vs (1-ê)^n (dashed)", "step n", "no committed error")
        _legend_axes(ax)
    png: bytes = _png(fig)
    return png


def global_error_png(findings: Findings) -> bytes:
    """``P(global error at t)`` per run, one panel per group."""
    groups = [(n, s) for n, s in findings.summaries.items() if s.get("runs")]
    fig, axes = _panels(len(groups))
    for ax, (name, summary) in zip(axes, groups, strict=True):
        for i, run in enumerate(summary["runs"][:_MAX_RUNS]):
            curve = StepCurve.model_validate(run["curves"]["global_error"])
            _curve(ax, curve, _COLOURS[i % len(_COLOURS)], _label(run))
        ax.set_ylim(bottom=0)
        _axes(ax, f"{name}: P(global error at t)", "step t", "share in a wrong state")
        _legend_axes(ax)
    png: bytes = _png(fig)
    return png


def write_figures(findings: Findings, out: Path) -> list[Path]:
    """Write :data:`FIGURE_FILES` into ``out``."""
    paths = []
    for name, draw in (("survival.png", survival_png), ("global_error.png", global_error_png)):
        path = out / name
        path.write_bytes(draw(findings))
        paths.append(path)
    return paths
