"""``summary.json``: the machine-readable contract of ``redraft report``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from pydantic import JsonValue

from redraft.evals.stats import RunStats

__all__ = ["SUMMARY_FILE", "summary", "write_summary"]

SUMMARY_FILE = "summary.json"


def _clean(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _entry(stats: RunStats) -> dict[str, JsonValue]:
    metrics: dict[str, JsonValue] = {
        name: {k: _clean(v) for k, v in estimate.summary().items()}
        for name, estimate in stats.metrics.items()
    }
    trend = stats.trend
    # A test statistic has no interval; reported in the same shape with null bounds.
    for name, value in (
        ("hazard_trend_statistic", trend.statistic),
        ("hazard_trend_p_value", trend.p_value),
        ("hazard_trend_slope", trend.slope),
    ):
        metrics[name] = {"value": _clean(value), "ci_low": None, "ci_high": None}
    config: dict[str, JsonValue] = dict(stats.config)
    entry: dict[str, JsonValue] = {
        "run": stats.name,
        "config": config,
        "episodes": stats.episodes,
        "steps": stats.steps,
        "metrics": metrics,
    }
    if stats.leaky:
        config["leaky"] = True
        entry["leaky"] = True
    return entry


def summary(runs: Sequence[RunStats]) -> dict[str, JsonValue]:
    """The ``{"runs": [...]}`` object; undefined values are null, never NaN."""
    return {"runs": [_entry(stats) for stats in runs]}


def write_summary(runs: Sequence[RunStats], path: Path) -> Path:
    """Write ``summary.json`` (strict JSON: no NaN or Infinity)."""
    path.write_text(json.dumps(summary(runs), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path
