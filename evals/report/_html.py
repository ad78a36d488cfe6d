"""The self-contained HTML report: tables, figures embedded as base64 PNG, method notes.

The page is ``templates/report.html.j2``, rendered by Jinja2 with autoescaping: this module
turns the statistics into plain values (text, numbers, lists), the template holds all the
markup, and nothing a run recorded (a model's output, a label) can reach the page unescaped.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, PackageLoader, StrictUndefined

from redraft.evals.report._headline import Headline, judged_steps, p_text
from redraft.evals.report._power import trend_power
from redraft.evals.report._profile import RunProfile, run_setting
from redraft.evals.report._settings import setting
from redraft.evals.report._transcripts import kind_words, log_href
from redraft.evals.stats import (
    DEFAULT_LEVEL,
    METRIC_DESCRIPTIONS,
    MONOLOGUE_METRICS,
    Comparison,
    Estimate,
    RunStats,
)

__all__ = ["FIGURES_READY_TITLE", "render_html"]

FIGURES_READY_TITLE = "redraft report: figures loaded"
"""The page title once every figure has decoded (a marker for headless checks)."""

_TABLE_METRICS = (
    "e_raw", "e_post", "net_effect", "recovery", "harm", "e_hat", "critic_tpr", "critic_fpr",
    "verifier_error_rate", "error_share", "predicted_error_share", "horizon_50",
    "global_error_undone", "global_error_undone_any", "wrong_to_right", "right_to_wrong",
    "repair", "damage", "unknown_rate", "revisions_per_step", "tokens_per_step",
    "seconds_per_step",
    "tokens_per_corrected_error", "seconds_per_corrected_error",
    *MONOLOGUE_METRICS,
)
_JUDGED = frozenset({"e_raw", "e_post", "net_effect"})
"""Metrics that leave out different unjudged steps: their counts are shown when they differ."""
_EXTRA_DESCRIPTIONS = {
    "error_share": "share of episodes with a committed error (observed)",
    "predicted_error_share": "1-(1-ê)^n at n = the longest episode: the geometric prediction",
    "horizon_50": "H_0.5 = ln 0.5 / ln(1-ê): steps until half the episodes hold an error",
    "global_error_undone": "episodes with a global error where the agent later gets the state "
    "right again (steps next to a forced replacement not counted)",
    "global_error_undone_any": "the same, counting states the task restored by a forced "
    "replacement",
}
def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:.1f}"


class _Cell(NamedTuple):
    """A value with its interval, as a table cell shows it."""

    value: str
    ci: str | None
    judged: int | None
    """The steps it counts, where e_raw, e_post and net_effect count different ones."""


def _cell(estimate: Estimate | None, *, judged: bool = False) -> _Cell | None:
    if estimate is None or estimate.value is None:
        return None
    ci = None
    if estimate.ci_low is not None or estimate.ci_high is not None:
        ci = f"[{_fmt(estimate.ci_low)}, {_fmt(estimate.ci_high)}]"
    return _Cell(_fmt(estimate.value), ci, estimate.n if judged else None)


def _run_head(stats: RunStats) -> dict[str, Any]:
    return {"name": stats.name, "critic": setting(stats.config, "critic"), "leaky": stats.leaky}


_SETTINGS = (
    ("model", "model"), ("task", "task"), ("representation", "representation"),
    ("verifier", "verifier"), ("critic", "critic mode"), ("max_revisions", "revisions (k)"),
    ("commit_policy", "commit policy"), ("repeat_limit", "repeat limit"),
    ("error_policy", "error policy"), ("max_steps", "max steps"),
)


def _stops(profile: RunProfile | None) -> list[str]:
    if profile is None or not profile.steps:
        return ["–"]
    return [f"{reason}: {count} ({count / profile.steps:.0%})"
            for reason, count in profile.stop_reasons.items()]


def _lenient(profile: RunProfile | None) -> list[str]:
    if profile is None or not profile.lenient.recorded:
        return ["not recorded"]
    r = profile.lenient
    lines = [f"{r.lenient} of {r.recorded} committed ({r.lenient / r.recorded:.0%})"]
    if r.correct:
        lines.append(f"{r.correct_lenient} of {r.correct} judged correct")
    if r.recovered:
        lines.append(f"{r.recovered_lenient} of {r.recovered} recoveries")
    return lines


def _setting_cell(stats: RunStats, key: str) -> str:
    critic = setting(stats.config, "critic")
    if key in ("max_revisions", "repeat_limit", "commit_policy") and critic == "none":
        return "– (no critic)"
    return run_setting(stats.config, key)


_CAVEAT_TITLES = {
    "leaky": "Leaky upper bound",
    "no_data": "No data",
    "one_step": "One step only",
    "untestable": "Uninformative test",
    "no_errors": "No errors",
    "low_power": "Little power",
    "unfinished": "Unfinished episodes",
    "unknown": "Unjudged answers",
    "repeat_rule": "Stopped by the repeat rule",
    "lenient": "Lenient reading",
    "not_comparable": "Not comparable",
    "undefined": "Undefined",
    "all_same": "Degenerate rates",
}


def _headline(item: Headline) -> dict[str, Any]:
    return {"kind": item.kind, "subject": item.subject, "text": item.text, "caveats": [
        {"title": _CAVEAT_TITLES.get(c.kind, "Warning"), "text": c.text} for c in item.caveats]}


def _metric_rows(runs: Sequence[RunStats]) -> list[dict[str, Any]]:
    rows = []
    for name in _TABLE_METRICS:
        meaning = (
            METRIC_DESCRIPTIONS.get(name)
            or MONOLOGUE_METRICS.get(name)
            or _EXTRA_DESCRIPTIONS.get(name, "")
        )
        cells = [_cell(s.metrics.get(name), judged=name in _JUDGED and bool(judged_steps(s)))
                 for s in runs]
        rows.append({"name": name, "meaning": meaning, "cells": cells})
    return rows


def _trend_row(stats: RunStats) -> dict[str, Any]:
    t = stats.trend
    power, flagged = _power(stats)
    return {
        "name": stats.name, "leaky": stats.leaky, "e_hat": _cell(stats.metrics["e_hat"]),
        "horizon": _cell(stats.metrics["horizon_50"]), "statistic": _fmt(t.statistic),
        "sig": t.rejects(), "p": p_text(t.p_value, t.simulations), "direction": t.direction,
        "slope": _fmt(t.slope), "power": power, "power_tag": flagged,
    }


def _power(stats: RunStats) -> tuple[str, bool]:
    """The detectable change in words, and whether it is flagged (uninformative, low)."""
    power = trend_power(stats)
    if stats.steps == 0:
        return "no data", False
    if power.first_errors == 0:
        return "no errors: nothing to test", False
    if not power.testable:
        return "none: uninformative", True
    fold = power.detectable_fold or 0.0
    label = f"{fold:.3g}×" if fold < 1e6 else ">10⁶×"
    # Low power matters only where the test did not reject: one that did saw a trend.
    low = power.low and not stats.trend.rejects()
    return (f"{label} (low)", True) if low else (label, False)


def _comparison(comparison: Comparison, runs: Sequence[RunStats]) -> dict[str, Any]:
    others = [s for s in runs if s.name != comparison.baseline]
    by_metric: dict[str, dict[str, tuple[Estimate, Estimate]]] = {}
    for row in comparison.rows:
        by_metric.setdefault(row.metric, {})[row.run] = (row.value, row.difference)
    rows = []
    for metric, cells in by_metric.items():
        base = cells.get(comparison.baseline)
        values = [_cell(base[0] if base else None)]
        for other in others:
            value, diff = cells.get(other.name, (None, None))
            values += [_cell(value), _cell(diff)]
        rows.append({"metric": metric, "cells": values})
    return {"baseline": comparison.baseline, "level": f"{comparison.level:.0%}",
            "others": [{"name": s.name, "leaky": s.leaky} for s in others], "rows": rows}


def _transcripts(profile: RunProfile, base: Path | None) -> dict[str, Any]:
    steps = [{
        "episode": t.episode, "step": t.step, "kind": kind_words(t),
        "stop_reason": t.stop_reason, "step_line": t.step_line, "prompt": t.prompt,
        "rounds": [{
            "round": r.round, "name": "proposal" if r.round == 0 else f"revision {r.round}",
            "line": r.line, "output": r.output, "answer": r.answer, "feedback": r.feedback,
            "judgement": r.judgement,
        } for r in t.rounds],
    } for t in profile.transcripts]
    return {"name": profile.name, "log": profile.log, "href": log_href(profile.log, base),
            "steps": steps}


_TEMPLATES = Environment(
    loader=PackageLoader("redraft.evals.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
"""The report's templates (``templates/``): every value they show is escaped."""


def render_html(
    runs: Sequence[RunStats],
    comparison: Comparison | None,
    figures: Mapping[str, bytes],
    *,
    headlines: Sequence[Headline] = (),
    profiles: Sequence[RunProfile | None] = (),
    base: Path | None = None,
) -> str:
    """The whole report page as one string.

    Args:
        runs: per-run statistics, in report order.
        comparison: runs against the baseline (None for one run).
        figures: PNG bytes by file name, embedded.
        headlines: the first screen's sentences and warnings.
        profiles: per-run settings, stop reasons, lenient readings and transcripts.
        base: the report directory, for relative links to the runs' logs.
    """
    profiled = list(profiles) + [None] * (len(runs) - len(profiles))
    level = runs[0].level if runs else DEFAULT_LEVEL
    counts = (
        ("episodes (finished)", [[str(s.episodes)] for s in runs]),
        ("steps", [[str(s.steps)] for s in runs]),
        ("unfinished episodes (censored at their last step)", [[str(s.unfinished)] for s in runs]),
        ("why steps stopped revising", [_stops(p) for p in profiled]),
        ("committed answers read leniently", [_lenient(p) for p in profiled]),
    )
    return _TEMPLATES.get_template("report.html.j2").render(
        runs=[_run_head(s) for s in runs],
        stamp=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        level=f"{level:.0%}",
        headlines=[_headline(h) for h in headlines],
        settings=[{"label": label, "cells": [_setting_cell(s, key) for s in runs]}
                  for key, label in _SETTINGS],
        counts=[{"label": label, "cells": cells} for label, cells in counts],
        # Where the episodes came from (a dataset's file and hash, the sandbox's isolation).
        provenance=[{"label": key, "cells": [p.task_info.get(key, "–") if p else "–"
                                             for p in profiled]}
                    for key in dict.fromkeys(k for p in profiled if p is not None
                                             for k in p.task_info)],
        metrics=_metric_rows(runs),
        trends=[_trend_row(s) for s in runs],
        comparison=(_comparison(comparison, runs)
                    if comparison is not None and len(runs) > 1 else None),
        figures=[{"name": name, "data": base64.b64encode(png).decode("ascii")}
                 for name, png in figures.items()],
        transcripts=[_transcripts(p, base) for p in profiled if p is not None],
        figures_ready_title=FIGURES_READY_TITLE,
    )
