"""The self-contained HTML report: tables, figures embedded as base64 PNG, method notes."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from redraft.evals.report._headline import Headline, judged_steps, p_text
from redraft.evals.report._power import trend_power
from redraft.evals.report._profile import RunProfile, run_setting
from redraft.evals.report._transcripts import transcripts_html
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
_CAPTIONS = {
    "survival.png": "Kaplan–Meier survival of “no committed error yet” with 95% Greenwood "
    "bands (solid), beside the constant-error prediction (1-ê)<sup>n</sup> (dashed). Episodes "
    "that end naturally or at max_steps are censored.",
    "error_rates.png": "Left: e_raw(t), the share of first proposals the oracle rejects at "
    "step t. Right: e_post(t), the share of committed answers it rejects; 95% Wilson bands. "
    "Points resting on fewer than 10 episodes are drawn faded, without a band. Runs that "
    "coincide are drawn one inside the other (each run its own marker, and a thinner line "
    "than the run before), and the legend names the run each one coincides with.",
    "hazard.png": "Hazard of the first committed error per step with 95% Wilson bands; the "
    "dotted line is the constant-hazard fit ê. LeCun's argument predicts a flat or rising "
    "hazard; correction should flatten it.",
    "global_error.png": "P(global error at t): the share of running episodes whose state is "
    "wrong. Pure accumulation makes it rise monotonically; an agent that undoes errors can "
    "bring it down. Under the <code>stop</code> policy an episode ends at its first error, so "
    "this curve is the hazard; the <code>continue</code> policy shows accumulation.",
}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1100px;color:#222;line-height:1.4;padding:0 16px}
h1{margin-bottom:4px} .meta{color:#666;font-size:90%}
table{border-collapse:collapse;margin:8px 0 20px;font-size:88%}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f4f4f4} td.name,th.name{text-align:left}
.ci{color:#777;font-size:90%;white-space:nowrap} .desc{color:#777;font-size:90%}
.leaky{background:#fff3cd;border:1px solid #e0b000;
padding:8px 12px;margin:12px 0;border-radius:4px}
tr.leaky td{background:#fff8e1} .tag{font-weight:bold;color:#a15c00}
figure{margin:20px 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:90%;max-width:860px}
.sig{font-weight:bold}
.first{border-left:4px solid #1f77b4;padding:4px 14px;margin:10px 0 18px}
p.headline{margin:8px 0;font-size:104%} p.headline b{color:#123}
.warn{background:#fff3cd;border:1px solid #e0b000;padding:6px 12px;margin:6px 0;
border-radius:4px;font-size:95%} .warn b{color:#7a4a00}
table.runs td{text-align:left} td.stops{font-size:90%}
.transcript{border:1px solid #ddd;border-radius:4px;padding:8px 12px;margin:10px 0}
.transcript pre{white-space:pre-wrap;background:#f8f8f8;padding:6px;margin:4px 0;
font-size:88%} .round{margin:6px 0 6px 12px} .line{color:#777;font-size:85%}
.fb{color:#a15c00} .judge{color:#225522}
"""
_SCRIPT = f"""
window.addEventListener('load', function () {{
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.length > 0 && imgs.every(function (i) {{
    return i.complete && i.naturalWidth > 0;
  }});
  if (ok) {{ document.title = {FIGURES_READY_TITLE!r} + ' (' + imgs.length + ')'; }}
}});
"""


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:.1f}"


def _cell(estimate: Estimate | None, *, judged: bool = False) -> str:
    """A value with its interval; ``judged``: also the steps it counts (they differ)."""
    if estimate is None or estimate.value is None:
        return "<td>–</td>"
    ci = ""
    if estimate.ci_low is not None or estimate.ci_high is not None:
        ci = f'<br><span class="ci">[{_fmt(estimate.ci_low)}, {_fmt(estimate.ci_high)}]</span>'
    steps = f'<br><span class="ci">{estimate.n} judged steps</span>' if judged else ""
    return f"<td>{_fmt(estimate.value)}{ci}{steps}</td>"


def _esc(text: object) -> str:
    return html.escape(str(text))


def _leaky_tag(stats: RunStats) -> str:
    return ' <span class="tag">LEAKY upper bound</span>' if stats.leaky else ""


def _run_head(stats: RunStats) -> str:
    critic = stats.config.get("critic")
    mode = "" if critic is None else f'<br><span class="desc">critic={_esc(critic)}</span>'
    return f"<th>{_esc(stats.name)}{mode}{_leaky_tag(stats)}</th>"


_SETTINGS = (
    ("model", "model"), ("task", "task"), ("representation", "representation"),
    ("verifier", "verifier"), ("critic", "critic mode"), ("max_revisions", "revisions (k)"),
    ("commit_policy", "commit policy"), ("repeat_limit", "repeat limit"),
    ("error_policy", "error policy"), ("max_steps", "max steps"),
)


def _stops(profile: RunProfile | None) -> str:
    if profile is None or not profile.steps:
        return "–"
    return "<br>".join(
        f"{_esc(reason)}: {count} ({count / profile.steps:.0%})"
        for reason, count in profile.stop_reasons.items()
    )


def _lenient(profile: RunProfile | None) -> str:
    if profile is None or not profile.lenient.recorded:
        return "not recorded"
    r = profile.lenient
    text = f"{r.lenient} of {r.recorded} committed ({r.lenient / r.recorded:.0%})"
    if r.correct:
        text += f"<br>{r.correct_lenient} of {r.correct} judged correct"
    if r.recovered:
        text += f"<br>{r.recovered_lenient} of {r.recovered} recoveries"
    return text


def _setting_cell(stats: RunStats, key: str) -> str:
    critic = stats.config.get("critic")
    if key in ("max_revisions", "repeat_limit", "commit_policy") and critic == "none":
        return "– (no critic)"
    return _esc(run_setting(stats.config, key))


def _runs_table(runs: Sequence[RunStats], profiles: Sequence[RunProfile | None]) -> str:
    """One column per run, one row per setting or count (a wide config reads down)."""
    head = "".join(_run_head(s) for s in runs)
    rows = [
        f'<tr><td class="name">{label}</td>'
        + "".join(f"<td>{_setting_cell(s, key)}</td>" for s in runs) + "</tr>"
        for key, label in _SETTINGS
    ]
    counts = (
        ("episodes (finished)", [str(s.episodes) for s in runs]),
        ("steps", [str(s.steps) for s in runs]),
        ("unfinished episodes (censored at their last step)", [str(s.unfinished) for s in runs]),
        ("why steps stopped revising", [_stops(p) for p in profiles]),
        ("committed answers read leniently", [_lenient(p) for p in profiles]),
    )
    rows.extend(
        f'<tr><td class="name">{label}</td>'
        + "".join(f'<td class="stops">{v}</td>' for v in values) + "</tr>"
        for label, values in counts
    )
    # Where the episodes came from (a dataset's file and hash, the sandbox's isolation).
    keys = list(dict.fromkeys(k for p in profiles if p is not None for k in p.task_info))
    rows.extend(
        f'<tr><td class="name">{_esc(key)}</td>'
        + "".join(f"<td>{_esc(p.task_info.get(key, '–') if p else '–')}</td>"
                  for p in profiles) + "</tr>"
        for key in keys
    )
    return (f'<table class="runs"><tr><th class="name">setting</th>{head}</tr>'
            f'{"".join(rows)}</table>')


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


def _first_screen(items: Sequence[Headline]) -> str:
    parts = []
    for item in items:
        parts.append(f'<p class="headline {item.kind}"><b>{_esc(item.subject)}.</b> '
                     f"{_esc(item.text)}</p>")
        parts.extend(f'<div class="warn"><b>{_CAVEAT_TITLES.get(c.kind, "Warning")}:</b> '
                     f"{_esc(c.text)}</div>" for c in item.caveats)
    return f'<section class="first" id="headline">{"".join(parts)}</section>'


def _metrics_table(runs: Sequence[RunStats]) -> str:
    head = "".join(_run_head(s) for s in runs)
    rows = []
    for name in _TABLE_METRICS:
        meaning = (
            METRIC_DESCRIPTIONS.get(name)
            or MONOLOGUE_METRICS.get(name)
            or _EXTRA_DESCRIPTIONS.get(name, "")
        )
        cells = "".join(
            _cell(s.metrics.get(name), judged=name in _JUDGED and bool(judged_steps(s)))
            for s in runs)
        rows.append(
            f'<tr><td class="name"><b>{name}</b><br><span class="desc">{_esc(meaning)}</span>'
            f"</td>{cells}</tr>"
        )
    level = runs[0].level if runs else DEFAULT_LEVEL
    return (f'<table><tr><th class="name">metric ({level:.0%} CI)</th>{head}</tr>'
            f'{"".join(rows)}</table>')


def _trend_table(runs: Sequence[RunStats]) -> str:
    rows = []
    for s in runs:
        t = s.trend
        sig = ' class="sig"' if t.rejects() else ""
        rows.append(
            f'<tr><td class="name">{_esc(s.name)}{_leaky_tag(s)}</td>{_cell(s.metrics["e_hat"])}'
            f'{_cell(s.metrics["horizon_50"])}<td>{_fmt(t.statistic)}</td>'
            f"<td{sig}>{_esc(p_text(t.p_value, t.simulations))}</td><td>{t.direction}</td>"
            f"<td>{_fmt(t.slope)}</td>"
            f"<td>{_power(s)}</td></tr>"
        )
    return (
        '<table><tr><th class="name">run</th><th>ê</th><th>H<sub>0.5</sub> (steps)</th>'
        "<th>LR statistic</th><th>p (simulated)</th><th>direction</th><th>slope (log-odds/step)"
        "</th><th>power: odds change detectable over the steps seen</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _power(stats: RunStats) -> str:
    power = trend_power(stats)
    if stats.steps == 0:
        return "no data"
    if power.first_errors == 0:
        return "no errors: nothing to test"
    if not power.testable:
        return '<span class="tag">none: uninformative</span>'
    fold = power.detectable_fold or 0.0
    label = f"{fold:.3g}×" if fold < 1e6 else "&gt;10⁶×"
    # Low power matters only where the test did not reject: one that did saw a trend.
    low = power.low and not stats.trend.rejects()
    return f'<span class="tag">{label} (low)</span>' if low else label


def _comparison_table(comparison: Comparison, runs: Sequence[RunStats]) -> str:
    names = [s.name for s in runs if s.name != comparison.baseline]
    leaky = {s.name for s in runs if s.leaky}
    tag = ' <span class="tag">LEAKY upper bound</span>'
    head = "".join(f"<th>{_esc(n)}{tag if n in leaky else ''}</th><th>Δ vs baseline</th>"
                   for n in names)
    by_metric: dict[str, dict[str, tuple[Estimate, Estimate]]] = {}
    for row in comparison.rows:
        by_metric.setdefault(row.metric, {})[row.run] = (row.value, row.difference)
    rows = []
    for metric, cells in by_metric.items():
        base = cells.get(comparison.baseline)
        body = _cell(base[0] if base else None)
        for n in names:
            value, diff = cells.get(n, (None, None))
            body += _cell(value) + _cell(diff)
        rows.append(f'<tr><td class="name"><b>{metric}</b></td>{body}</tr>')
    return (
        f'<table><tr><th class="name">metric</th><th>{_esc(comparison.baseline)} '
        f"(baseline)</th>{head}</tr>{''.join(rows)}</table>"
    )


def _figure(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{_esc(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_CAPTIONS.get(name, '')}</figcaption></figure>"
    )


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
    compare = ""
    if comparison is not None and len(runs) > 1:
        compare = (
            "<h2>Comparison</h2><p>Each run against the baseline; Δ is the run's value minus "
            f"the baseline's, with a {comparison.level:.0%} bootstrap interval: paired by "
            "episode where the runs share episode seeds (the same episodes), else each run "
            "resampled by episode on its own.</p>"
            + _comparison_table(comparison, runs)
        )
    level = runs[0].level if runs else 0.95
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    samples = "".join(transcripts_html(p, base) for p in profiled if p is not None)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>redraft report</title><style>{_CSS}</style></head><body>
<h1>redraft report</h1>
<p class="meta">{len(runs)} run(s), generated {stamp}. Intervals are {level:.0%}: bootstrap
over whole episodes for pooled metrics, Wilson for simple proportions, Greenwood for
survival.</p>
{_first_screen(headlines)}
<h2>Runs</h2>{_runs_table(runs, profiled)}
<h2>Metrics</h2>{_metrics_table(runs)}
<h2>Constant error or compounding?</h2>
<p>ê is the censored-geometric MLE of the per-step committed-error probability. The
likelihood-ratio test compares constant hazard with a logistic hazard in t; a small p with
direction <i>rising</i> supports compounding errors, <i>falling</i> supports recovery. The
power column gives the change in the hazard's odds, from the first to the last step observed,
that the test would detect with 80% power: a test that needs a huge change to notice one
cannot tell constant from compounding error.</p>
{_trend_table(runs)}
{compare}
<h2>Figures</h2>
{"".join(_figure(name, png) for name, png in figures.items())}
<h2 id="transcripts">Sample transcripts</h2>
<p>A few steps per run, revised ones first: the prompt, each round's output, what the critic
said and what the oracle judged, with the line of each record in the run's
<code>events.jsonl</code>.</p>
{samples or "<p>No transcripts (the runs were not loaded from a directory).</p>"}
<h2>Method notes</h2>
<ul>
<li>e_raw: the oracle's verdict on round 0; e_post: on the committed answer. Recovery and
harm condition on round 0 being wrong or right.</li>
<li>Critic rates count every round with feedback against the oracle's verdict on the same
output; <code>verifier_error</code> feedback is counted apart, as neither accept nor
reject.</li>
<li>Survival time is the step of the first committed error; steps are counted from 1.</li>
<li>P(global error at t) uses the logged global label, falling back to “some committed error
so far” where a task has none.</li>
<li>“Read leniently”: the oracle's reader took a liberty with the answer's form (a move picked
out of prose, a lowercase piece letter, a column sum for digit and carry) and recorded it in
its verdict evidence. The task option <code>strict=true</code> reads only well-formed
answers.</li>
<li>The repeat rule: a step stops revising (<code>repeated_error</code>) once
<code>corrector.repeat_limit</code> consecutive rounds get the same rejection (default 2).</li>
</ul>
<script>{_SCRIPT}</script>
</body></html>
"""
