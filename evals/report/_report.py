"""``redraft report``: statistics, figures, ``report.html`` and ``summary.json`` for runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from redraft.evals.report._html import render_html
from redraft.evals.report._plots import FIGURES
from redraft.evals.report._summary import SUMMARY_FILE, write_summary
from redraft.evals.stats import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_LEVEL,
    Comparison,
    RunData,
    RunStats,
    analyze_run,
    compare_runs,
    load_run,
)
from redraft.tools import BadInputError

__all__ = ["HTML_FILE", "Report", "build_report", "write_report"]

HTML_FILE = "report.html"


class Report(BaseModel):
    """What a report wrote, and the statistics behind it."""

    model_config = ConfigDict(frozen=True)

    out: Path
    """The report directory."""
    html: Path
    """``report.html``: self-contained (figures embedded)."""
    summary: Path
    """``summary.json``."""
    figures: dict[str, Path]
    """Each figure's PNG, by file name."""
    runs: list[RunStats]
    """Per-run statistics, in the order given."""
    comparison: Comparison | None
    """Runs against the first one (None for a single run)."""


def build_report(
    runs: Sequence[RunData],
    out: Path,
    *,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> Report:
    """Write a report for already-loaded runs; the first run is the comparison baseline.

    Raises:
        BadInputError: if there are no runs, or two runs share a name.
    """
    if not runs:
        raise BadInputError("a report needs at least one run directory")
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise BadInputError(f"run names must differ to be told apart in a report: {names}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stats = [analyze_run(run, level=level, n_boot=n_boot, seed=seed) for run in runs]
    comparison = (
        compare_runs(runs, level=level, n_boot=n_boot, seed=seed) if len(runs) > 1 else None
    )
    pngs = {name: draw(stats) for name, draw in FIGURES.items()}
    figures: dict[str, Path] = {}
    for name, png in pngs.items():
        figures[name] = out / name
        figures[name].write_bytes(png)
    html_path = out / HTML_FILE
    html_path.write_text(render_html(stats, comparison, pngs), encoding="utf-8")
    summary_path = write_summary(stats, out / SUMMARY_FILE, comparison)
    return Report(
        out=out, html=html_path, summary=summary_path, figures=figures, runs=stats,
        comparison=comparison,
    )


def write_report(
    run_dirs: Sequence[Path],
    out: Path,
    *,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> Report:
    """Load run directories and write ``report.html``, the PNGs and ``summary.json`` to ``out``.

    Raises:
        BadInputError: if a run directory or its event log cannot be read (``EventLogError``).
    """
    return build_report(
        [load_run(Path(d)) for d in run_dirs], out, level=level, n_boot=n_boot, seed=seed
    )
