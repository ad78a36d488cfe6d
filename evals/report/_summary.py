"""``summary.json``: the machine-readable contract of ``redraft report``.

Per run: ``metrics`` maps each name to ``{"value", "ci_low", "ci_high"}`` (null where
undefined, never NaN or 0); ``intervals`` says how each interval was made and on how much
data; ``n_episodes``, ``unfinished`` and ``level`` (the confidence level actually used);
the compounding ``tests``; the ``curves`` ``e_raw(t)``, ``e_post(t)``, ``P(global error at
t)`` and the hazard; ``survival`` (Kaplan–Meier and the geometric prediction). With more
than one run, ``comparison`` holds every run's differences from the baseline, tagged paired
or unpaired and leaky or not.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from pydantic import JsonValue

from redraft.evals.stats import Comparison, PermutationTest, RunStats

__all__ = ["SUMMARY_FILE", "summary", "write_summary"]

SUMMARY_FILE = "summary.json"
"""The summary's file name inside a report directory (its shape is a contract: DESIGN.md)."""


def _clean(value: object) -> JsonValue:
    """JSON-safe copy: non-finite floats become null, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"summary.json cannot hold {type(value).__name__}")


def _bare(value: float | None) -> JsonValue:
    """A statistic with no interval, in the metric shape."""
    return {"value": _clean(value), "ci_low": None, "ci_high": None}


def _test_metrics(prefix: str, test: PermutationTest | None) -> dict[str, JsonValue]:
    if test is None:
        return {}
    return {f"{prefix}_statistic": _bare(test.statistic),
            f"{prefix}_p_value": _bare(test.p_value)}


def _entry(stats: RunStats) -> dict[str, JsonValue]:
    metrics: dict[str, JsonValue] = {
        name: _clean(estimate.summary()) for name, estimate in stats.metrics.items()
    }
    trend = stats.trend
    # A test statistic has no interval; reported in the same shape with null bounds.
    metrics["hazard_trend_statistic"] = _bare(trend.statistic)
    metrics["hazard_trend_p_value"] = _bare(trend.p_value)
    metrics["hazard_trend_slope"] = _bare(trend.slope)
    metrics.update(_test_metrics("self_conditioning", stats.self_conditioning))
    metrics.update(_test_metrics("e_raw_trend", stats.e_raw_trend))
    intervals: dict[str, JsonValue] = {
        name: {"method": e.method, "n": e.n, "episodes": e.episodes}
        for name, e in stats.metrics.items()
    }
    config: dict[str, JsonValue] = dict(stats.config)
    entry: dict[str, JsonValue] = {
        "run": stats.name,
        "config": config,
        "episodes": stats.episodes,
        "n_episodes": stats.episodes,
        "unfinished": stats.unfinished,
        "steps": stats.steps,
        "level": stats.level,
        "metrics": metrics,
        "intervals": intervals,
        "tests": {
            "hazard_trend": _clean(trend.model_dump()),
            "self_conditioning": _clean(
                stats.self_conditioning.model_dump() if stats.self_conditioning else None),
            "e_raw_trend": _clean(stats.e_raw_trend.model_dump() if stats.e_raw_trend
                                  else None),
        },
        "curves": {
            "e_raw": _clean(stats.e_raw_curve.model_dump()),
            "e_post": _clean(stats.e_post_curve.model_dump()),
            "global_error": _clean(stats.global_error_curve.model_dump()),
            "hazard": _clean(stats.hazard.model_dump()),
        },
        "survival": {
            "kaplan_meier": _clean(stats.survival.model_dump()),
            "predicted": _clean(stats.predicted_survival),
            "e_hat": _clean(stats.geometric.e_hat.summary()),
        },
    }
    if stats.leaky:
        config["leaky"] = True
        entry["leaky"] = True
    return entry


def _comparison(comparison: Comparison) -> dict[str, JsonValue]:
    rows: list[JsonValue] = [
        {
            "metric": row.metric,
            "run": row.run,
            "critic": row.critic,
            "leaky": row.leaky,
            "paired": row.paired,
            "pairs": row.pairs,
            "value": _clean(row.value.summary()),
            "difference": _clean(row.difference.summary()),
            "method": row.difference.method,
        }
        for row in comparison.rows
    ]
    return {"baseline": comparison.baseline, "level": comparison.level, "rows": rows}


def summary(
    runs: Sequence[RunStats], comparison: Comparison | None = None
) -> dict[str, JsonValue]:
    """The ``{"runs": [...]}`` object; undefined values are null, never NaN."""
    out: dict[str, JsonValue] = {"runs": [_entry(stats) for stats in runs]}
    if comparison is not None:
        out["comparison"] = _comparison(comparison)
    return out


def write_summary(
    runs: Sequence[RunStats], path: Path, comparison: Comparison | None = None
) -> Path:
    """Write ``summary.json`` (strict JSON: no NaN or Infinity)."""
    text = json.dumps(summary(runs, comparison), indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
