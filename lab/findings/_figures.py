"""The page's figures, drawn from ``decisive.json`` (not from the event logs).

One panel per arm: e_TF(t) at temperature 1 (teacher-forced) beside e(t) free-running;
survival free-running against the prod(1 - e_TF(t)) null; P(global error at t) with
checkpoints (undo possible) and without (chance).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from redraft.evals.report import COLOURS, label_axes, png_bytes
from redraft.lab.findings._analysis import ArmResult
from redraft.lab.findings._page import Findings

__all__ = ["FIGURE_FILES", "write_figures"]

FIGURE_FILES = ("etf.png", "survival.png", "global_error.png")


def _panels(count: int) -> tuple[Figure, list[Axes]]:
    cols = 2 if count > 1 else 1
    rows = max(1, (count + cols - 1) // cols)
    fig = Figure(figsize=(5.2 * cols, 3.6 * rows), dpi=72, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(max(count, 1))]
    return fig, axes


def _line(ax: Axes, values: list[float | None], colour: str, label: str,
          style: str = "-") -> None:
    if not values:
        return
    steps = list(range(1, len(values) + 1))
    ax.plot(steps, [float("nan") if v is None else v for v in values], style, color=colour,
            label=label, linewidth=1.2)


def _draw(findings: Findings, panel: str) -> bytes:
    arms: dict[str, ArmResult] = findings.decisive.arms if findings.decisive else {}
    fig, axes = _panels(len(arms))
    for ax, (name, arm) in zip(axes, arms.items(), strict=False):
        free, forced = arm.conditions.get("free-t1"), arm.conditions.get("tf-t1")
        if panel == "etf":
            if forced is not None:
                _line(ax, forced.e_raw_curve, COLOURS[0], "e_TF(t), temperature 1")
            if free is not None:
                _line(ax, free.e_raw_curve, COLOURS[1], "e(t) free-running", "--")
            label_axes(ax, f"{name}: per-step error", "step t", "error")
        elif panel == "survival":
            _line(ax, arm.survival_observed, COLOURS[0], "observed (free-running)")
            _line(ax, arm.survival_null, COLOURS[1], "prod(1 - e_TF(t))", "--")
            ax.set_ylim(-0.02, 1.02)
            label_axes(ax, f"{name}: survival vs the null", "step n", "no committed error")
        else:
            nocheck = arm.conditions.get("nocheck-t1")
            if free is not None:
                _line(ax, free.global_curve, COLOURS[0], "with checkpoints")
            if nocheck is not None:
                _line(ax, nocheck.global_curve, COLOURS[2], "without (chance)", "--")
            label_axes(ax, f"{name}: P(global error at t)", "step t", "share in a wrong state")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize="x-small", frameon=False, loc="best")
    png: bytes = png_bytes(fig)
    return png


def write_figures(findings: Findings, out: Path) -> list[Path]:
    """Write :data:`FIGURE_FILES` into ``out``."""
    paths = []
    for name, panel in zip(FIGURE_FILES, ("etf", "survival", "global"), strict=True):
        path = out / name
        path.write_bytes(_draw(findings, panel))
        paths.append(path)
    return paths
