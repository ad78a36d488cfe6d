"""``redraft report``: statistics, figures, ``report.html`` and ``summary.json`` for runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from redraft.core import BadInputError
from redraft.evals._log import EVENTS_FILE
from redraft.evals._manifest import read_label
from redraft.evals.report._headline import Headline, headlines
from redraft.evals.report._html import render_html
from redraft.evals.report._plots import FIGURES
from redraft.evals.report._profile import RunProfile, profile_run
from redraft.evals.report._summary import SUMMARY_FILE, summary
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

__all__ = ["HTML_FILE", "Report", "build_report", "run_labels", "write_report"]

HTML_FILE = "report.html"
"""The report page's file name inside a report directory."""


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
    headlines: list[Headline]
    """The first screen: a sentence per run and per comparison, with warnings."""
    profiles: list[RunProfile]
    """Per-run settings, stop reasons, lenient readings and sample transcripts."""


def _labelled(runs: Sequence[RunData], labels: Sequence[str | None] | None) -> list[RunData]:
    given = list(labels or []) + [None] * (len(runs) - len(labels or []))
    out = [run if label is None else run.model_copy(update={"name": label})
           for run, label in zip(runs, given, strict=True)]
    names = [run.name for run in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInputError(
            f"two runs are both called {twice[0]!r}; give them labels to tell them apart "
            "(redraft report DIR=LABEL ..., or redraft eval --label NAME)"
        )
    return out


def build_report(
    runs: Sequence[RunData],
    out: Path,
    *,
    labels: Sequence[str | None] | None = None,
    logs: Sequence[Path | None] | None = None,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> Report:
    """Write a report for already-loaded runs; the first run is the comparison baseline.

    Args:
        runs: the runs, baseline first.
        out: the report directory (created).
        labels: a name per run to show instead of its own (None keeps the run's name).
        logs: each run's ``events.jsonl``, so that sample transcripts cite its lines.
        level: confidence level of every interval.
        n_boot: bootstrap replicates.
        seed: the bootstrap's seed.

    Raises:
        BadInputError: if there are no runs, or two runs share a name and no labels tell
            them apart.
    """
    if not runs:
        raise BadInputError("a report needs at least one run directory")
    runs = _labelled(runs, labels)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stats = [analyze_run(run, level=level, n_boot=n_boot, seed=seed) for run in runs]
    comparison = (
        compare_runs(runs, level=level, n_boot=n_boot, seed=seed) if len(runs) > 1 else None
    )
    given_logs = list(logs or []) + [None] * (len(runs) - len(logs or []))
    profiles = [profile_run(run, log) for run, log in zip(runs, given_logs, strict=True)]
    lines = headlines(stats, comparison, profiles)
    pngs = {name: draw(stats) for name, draw in FIGURES.items()}
    figures: dict[str, Path] = {}
    for name, png in pngs.items():
        figures[name] = out / name
        figures[name].write_bytes(png)
    html_path = out / HTML_FILE
    html_path.write_text(
        render_html(stats, comparison, pngs, headlines=lines, profiles=profiles, base=out),
        # Transcripts quote model output verbatim, and a model can emit a lone surrogate that
        # UTF-8 cannot hold: show it as a visible escape rather than fail the whole report.
        encoding="utf-8",
        errors="backslashreplace",
    )
    data = summary(stats, comparison)
    entries = data["runs"] if isinstance(data["runs"], list) else []
    for entry, run in zip(entries, runs, strict=True):
        if isinstance(entry, dict) and "task_info" in run.manifest:
            entry["task_info"] = run.manifest["task_info"]  # a dataset's hash, the sandbox
    data["headlines"] = [line.summary() for line in lines]
    summary_path = out / SUMMARY_FILE
    summary_path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return Report(
        out=out, html=html_path, summary=summary_path, figures=figures, runs=stats,
        comparison=comparison, headlines=lines, profiles=profiles,
    )


def run_labels(run_dirs: Sequence[Path]) -> list[str]:
    """Each run's name: its manifest's ``label``, else its directory's name.

    Directories that share a name are told apart by as much of their path as it takes
    (``a/run`` and ``b/run``).
    """
    names = []
    for d in run_dirs:
        label = read_label(Path(d))
        names.append(label if label else Path(d).resolve().name)
    for name in set(names):
        same = [i for i, n in enumerate(names) if n == name]
        if len(same) < 2 or any(read_label(Path(run_dirs[i])) for i in same):
            continue
        parts = [Path(run_dirs[i]).resolve().parts for i in same]
        for depth in range(2, max(len(p) for p in parts) + 1):
            tails = ["/".join(p[-depth:]) for p in parts]
            if len(set(tails)) == len(tails):
                for i, tail in zip(same, tails, strict=True):
                    names[i] = tail
                break
    return names


def write_report(
    run_dirs: Sequence[Path],
    out: Path,
    *,
    labels: Sequence[str | None] | None = None,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> Report:
    """Load run directories and write ``report.html``, the PNGs and ``summary.json`` to ``out``.

    Args:
        run_dirs: the runs, baseline first.
        out: the report directory.
        labels: a name per run (None: the manifest's label, else the directory's name).
        level: confidence level.
        n_boot: bootstrap replicates.
        seed: the bootstrap's seed.

    Raises:
        BadInputError: if a run directory or its event log cannot be read (``EventLogError``),
            or two runs end up with the same name.
    """
    dirs = [Path(d) for d in run_dirs]
    if len({d.resolve() for d in dirs}) != len(dirs):
        raise BadInputError("the same run directory is given twice; name each run once")
    defaults = run_labels(dirs)
    given = list(labels or []) + [None] * (len(dirs) - len(labels or []))
    names = [label or default for label, default in zip(given, defaults, strict=True)]
    return build_report(
        [load_run(d) for d in dirs], out, labels=names, logs=[d / EVENTS_FILE for d in dirs],
        level=level, n_boot=n_boot, seed=seed,
    )
