"""The page's figures, drawn from ``decisive.json`` and ``meta.json`` (not from run logs).

- ``etf.png``: exact e_TF(t) per arm at the evaluation temperature, beside e(t) of the
  free-running runs;
- ``post_error.png``: per arm, the fresh error after a wrong total against its clean twin,
  and P(back to the truth) against chance, the regime arms also at matched clean error
  (what their contrasts compare);
- ``survival.png``: per arm, P(globally right at n) against survival to n (free-running);
- ``learning.png``: every model's held-out accuracy over training (convergence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from redraft.evals.report import COLOURS, label_axes, png_bytes
from redraft.lab.findings._analysis import DecisiveResults
from redraft.lab.findings._page import Findings

__all__ = ["FIGURE_FILES", "write_figures"]

FIGURE_FILES = ("etf.png", "post_error.png", "survival.png", "learning.png")


def _figure(panels: int) -> tuple[Figure, list[Axes]]:
    cols = min(panels, 2) or 1
    rows = max(1, (panels + cols - 1) // cols)
    fig = Figure(figsize=(5.2 * cols, 3.6 * rows), dpi=72, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(max(panels, 1))]


def _line(ax: Axes, values: list[float | None], colour: str, label: str,
          style: str = "-") -> None:
    if not values:
        return
    ax.plot(range(1, len(values) + 1), [float("nan") if v is None else v for v in values],
            style, color=colour, label=label, linewidth=1.2)


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small", frameon=False)


def _etf(results: DecisiveResults) -> bytes:
    fig, (ax,) = _figure(1)
    for i, (name, arm) in enumerate(results.arms.items()):
        colour = COLOURS[i % len(COLOURS)]
        _line(ax, list(arm.e_tf_curve), colour, f"{name}: e_TF(t) exact")
        free = arm.runs.get("free")
        if free is not None:
            _line(ax, free.error, colour, f"{name}: e(t) free-running", ":")
    label_axes(ax, f"per-step error at T={results.temperature:g}", "step t", "error")
    ax.set_ylim(bottom=0)
    _legend(ax)
    png: bytes = png_bytes(fig)
    return png


def _post(results: DecisiveResults) -> bytes:
    fig, axes = _figure(2)
    width = 0.38
    at = f"T={results.temperature:g}"
    for ax, (after, twin, title, matched) in zip(axes, (
            ("fresh", "clean_fresh", f"fresh error: after a wrong total vs its twin ({at})",
             False),
            ("truth", "clean_chance", f"back to the truth vs chance ({at};\n'matched': "
             "at matched clean error)", True)), strict=True):
        bars: list[tuple[str, Mapping[str, Sequence[float | None]]]] = [
            (name, arm.post.get("all") or {}) for name, arm in results.arms.items()]
        if matched:  # what the regime contrasts compare
            bars += [(f"{name}\nmatched", arm.matched) for name, arm in results.arms.items()
                     if arm.matched]
        for i, (_, values_by_key) in enumerate(bars):
            for j, (key, label) in enumerate(((after, "after the error"),
                                              (twin, "clean twin"))):
                values = [v for v in values_by_key.get(key, []) if v is not None]
                if not values:
                    continue
                mean = sum(values) / len(values)
                ax.bar(i + (j - 0.5) * width, mean, width, color=COLOURS[j],
                       label=label if i == 0 else None)
                ax.plot([i + (j - 0.5) * width] * len(values), values, ".", color="black",
                        markersize=3)
        ax.set_xticks(range(len(bars)), [name for name, _ in bars])
        label_axes(ax, title, "arm", "probability")
        ax.set_xlim(-0.6, len(bars) - 0.4)  # label_axes starts at 0: the first bar's half
        _legend(ax)
    png: bytes = png_bytes(fig)
    return png


def _survival(results: DecisiveResults) -> bytes:
    arms = [(n, a) for n, a in results.arms.items() if "free" in a.runs]
    fig, axes = _figure(len(arms))
    for ax, (name, arm) in zip(axes, arms, strict=False):
        free = arm.runs["free"]
        _line(ax, free.globally_right, COLOURS[0], "globally right at n")
        _line(ax, free.survival, COLOURS[1], "no error through n", "--")
        ax.set_ylim(-0.02, 1.02)
        label_axes(ax, f"{name}, free-running at T={results.temperature:g}", "step n",
                   "share of episodes")
        _legend(ax)
    png: bytes = png_bytes(fig)
    return png


def _learning(meta: dict[str, Any]) -> bytes:
    models = [m for m in meta.get("models") or [] if m.get("curve")]
    arms = list(dict.fromkeys(str(m["arm"]) for m in models))
    fig, (ax,) = _figure(1)
    for m in models:
        colour = COLOURS[arms.index(str(m["arm"])) % len(COLOURS)]
        steps = [p[0] for p in m["curve"]]
        label = m["arm"] if m is next(x for x in models if x["arm"] == m["arm"]) else None
        ax.plot(steps, [p[1] for p in m["curve"]], color=colour, linewidth=0.8, label=label)
    label_axes(ax, "held-out greedy accuracy while training\n(base from scratch; arms "
               "from their base)", "optimizer step", "accuracy")
    ax.set_ylim(-0.02, 1.02)
    _legend(ax)
    png: bytes = png_bytes(fig)
    return png


def write_figures(findings: Findings, out: Path) -> list[Path]:
    """Write :data:`FIGURE_FILES` into ``out`` (those the page's files can draw)."""
    paths = []
    results = findings.decisive
    drawn: dict[str, bytes] = {"learning.png": _learning(findings.meta)}
    if results is not None and results.arms:
        drawn |= {"etf.png": _etf(results), "post_error.png": _post(results),
                  "survival.png": _survival(results)}
    for name in FIGURE_FILES:
        if name in drawn:
            path = out / name
            path.write_bytes(drawn[name])
            paths.append(path)
    return paths
