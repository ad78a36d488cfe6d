"""``docs/findings.md`` from the committed summaries alone.

Every number on the page is read from ``OUT/summaries/GROUP.json`` (``redraft report``'s
``summary.json`` of each group) or ``OUT/meta.json`` (options, costs, trained models): the
page is a pure function of those files (:func:`render_page`), so a test can check that the
committed page is what they produce. Sentences are made from the numbers and their
intervals: a difference whose interval holds 0 is "no detectable effect".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from redraft.evals.stats import wilson
from redraft.tools import BadInputError

__all__ = [
    "Findings",
    "group_tables",
    "load_findings",
    "page_path",
    "render_page",
    "write_page",
]

Summary = dict[str, Any]
CALIBRATION = "simulated"
"""The calibration group: its contrasts check the measurement and are not findings."""


class Findings:
    """The page's inputs: each group's summary (in page order) and the meta record."""

    def __init__(self, summaries: Mapping[str, Summary], meta: Mapping[str, Any]) -> None:
        self.summaries = dict(summaries)
        self.meta = dict(meta)

    def title(self, group: str) -> str:
        """The group's title from the meta record (its name when absent)."""
        for entry in self.meta.get("groups", []):
            if entry.get("name") == group:
                return str(entry.get("title", group))
        return group


def page_path(out: Path) -> Path:
    """The page written for output folder ``out``: ``docs/findings`` → ``docs/findings.md``."""
    return out.with_name(out.name + ".md")


def load_findings(out: Path) -> Findings:
    """Read ``OUT/meta.json`` and the summaries it lists.

    Raises:
        BadInputError: the folder lacks the meta record or a summary it lists.
    """
    from redraft.evals.findings._grid import META_FILE, SUMMARIES_DIR

    meta_path = out / META_FILE
    if not meta_path.is_file():
        raise BadInputError(f"{meta_path} is missing: run 'redraft findings --out {out}'")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    summaries: dict[str, Summary] = {}
    for entry in meta.get("groups", []):
        path = out / SUMMARIES_DIR / f"{entry['name']}.json"
        if not path.is_file():
            raise BadInputError(f"{path} is missing: rerun 'redraft findings --out {out}'")
        summaries[entry["name"]] = json.loads(path.read_text(encoding="utf-8"))
    return Findings(summaries, meta)


# -- numbers -------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}"


def _est(metric: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``0.123 [0.101, 0.150]``; ``—`` when undefined."""
    if not metric or metric.get("value") is None:
        return "—"
    low, high = metric.get("ci_low"), metric.get("ci_high")
    if low is None or high is None:
        return _num(metric["value"], digits)
    return f"{_num(metric['value'], digits)} [{_num(low, digits)}, {_num(high, digits)}]"


def _metric(run: Summary, name: str) -> Mapping[str, Any] | None:
    value: Mapping[str, Any] | None = run.get("metrics", {}).get(name)
    return value


def _value(run: Summary, name: str) -> float | None:
    metric = _metric(run, name)
    return None if metric is None else metric.get("value")


def _critic(run: Summary) -> str:
    config = run.get("config", {})
    critic = str(config.get("critic", "?"))
    if (config.get("corrector") or {}).get("monologue"):
        critic += " +monologue"
    return critic


def _verdict(diff: Mapping[str, Any] | None, digits: int = 3) -> tuple[str, int]:
    """A difference in words, and its sign when its interval excludes 0 (else 0)."""
    if not diff or diff.get("value") is None:
        return "undefined (too little data)", 0
    low, high = diff.get("ci_low"), diff.get("ci_high")
    text = _est(diff, digits)
    if low is None or high is None:
        return f"{text} (no interval)", 0
    if low > 0:
        return f"higher (Δ = {text})", 1
    if high < 0:
        return f"lower (Δ = {text})", -1
    return f"no detectable effect (Δ = {text})", 0


def _rows(summary: Summary, metric: str) -> list[Mapping[str, Any]]:
    comparison = summary.get("comparison") or {}
    return [row for row in comparison.get("rows", []) if row.get("metric") == metric]


def _row(summary: Summary, metric: str, run: str) -> Mapping[str, Any] | None:
    for row in _rows(summary, metric):
        if row.get("run") == run:
            return row
    return None


def _level(summary: Summary) -> float:
    runs = summary.get("runs") or [{}]
    return float(runs[0].get("level", 0.95))


def _last_global(run: Summary, min_n: int = 10) -> tuple[int, int, int] | None:
    """``(t, wrong, n)`` of P(global error at t) at the last step with ``min_n`` running."""
    curve = run.get("curves", {}).get("global_error") or {}
    steps, values, ns = curve.get("steps", []), curve.get("value", []), curve.get("n", [])
    for t, value, n in reversed(list(zip(steps, values, ns, strict=False))):
        if value is not None and n >= min_n:
            return int(t), round(value * n), int(n)
    return None


def _newcombe(a: tuple[int, int], b: tuple[int, int], level: float) -> dict[str, float | None]:
    """Newcombe's hybrid score interval of ``p_b - p_a`` (unpaired proportions)."""
    ea, eb = wilson(a[0], a[1], level), wilson(b[0], b[1], level)
    if None in (ea.value, eb.value, ea.ci_low, ea.ci_high, eb.ci_low, eb.ci_high):
        return {"value": None, "ci_low": None, "ci_high": None}
    pa, la, ua = float(ea.value), float(ea.ci_low), float(ea.ci_high)  # type: ignore[arg-type]
    pb, lb, ub = float(eb.value), float(eb.ci_low), float(eb.ci_high)  # type: ignore[arg-type]
    d = pb - pa
    return {"value": d, "ci_low": d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2),
            "ci_high": d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)}


def _km_end(run: Summary) -> tuple[int, float | None, float | None] | None:
    """``(n, observed, predicted)`` survival at the last step of the Kaplan–Meier curve."""
    km = run.get("survival", {}).get("kaplan_meier") or {}
    steps, observed = km.get("steps", []), km.get("survival", [])
    predicted = run.get("survival", {}).get("predicted") or []
    if not steps:
        return None
    return int(steps[-1]), observed[-1], predicted[-1] if predicted else None


# -- tables --------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _trend(run: Summary) -> str:
    test = run.get("tests", {}).get("hazard_trend") or {}
    if test.get("p_value") is None:
        return "—"
    return f"{test.get('direction', '?')}, p={test['p_value']:.2g}"


def group_tables(summary: Summary) -> list[str]:
    """One group's tables, as markdown lines.

    Error before and after correction, compounding, the in-generation layer, and every
    run's difference from the group's baseline.
    """
    runs: list[Summary] = summary.get("runs", [])
    level = _level(summary)
    lines = [f"Per-step error and correction ({level:.0%} intervals; episodes / steps "
             "per run in the first column):", ""]
    lines += _table(
        ["run (episodes/steps)", "critic", "e_raw", "e_post", "recovery", "harm",
         "critic TPR", "critic FPR"],
        ([f"{r['run']} ({r.get('episodes')}/{r.get('steps')})", _critic(r),
          _est(_metric(r, "e_raw")), _est(_metric(r, "e_post")), _est(_metric(r, "recovery")),
          _est(_metric(r, "harm")), _est(_metric(r, "critic_tpr")),
          _est(_metric(r, "critic_fpr"))] for r in runs))
    lines += ["", "Compounding: ê (constant hazard of the first committed error), the horizon "
              "at which (1-ê)^n falls to one half, the share of episodes with a committed "
              "error observed against the share (1-ê)^n predicts, Kaplan–Meier survival at "
              "the last step against (1-ê)^n there, and the hazard trend test:", ""]
    compounding = []
    for r in runs:
        end = _km_end(r)
        km = "—" if end is None else (
            f"{_num(end[1])} vs {_num(end[2])} (n={end[0]})")
        compounding.append([
            r["run"], _est(_metric(r, "e_hat"), 4), _est(_metric(r, "horizon_50"), 1),
            _est(_metric(r, "error_share")), _est(_metric(r, "predicted_error_share")), km,
            _trend(r)])
    lines += _table(["run", "ê", "horizon (50%)", "episodes with an error",
                     "predicted by (1-ê)^n", "survival at n: observed vs (1-ê)^n",
                     "hazard trend"], compounding)
    lines += ["", "In-generation layer (round 0: the first answer written vs the answer "
              "committed to inside the same generation):", ""]
    lines += _table(
        ["run", "first answer wrong", "final answer wrong", "changed inside generation",
         "in-generation recovery", "in-generation harm"],
        ([r["run"], _est(_metric(r, "ingen_first_error")),
          _est(_metric(r, "ingen_answer_error")), _est(_metric(r, "ingen_correction_rate")),
          _est(_metric(r, "ingen_recovery")), _est(_metric(r, "ingen_harm"))] for r in runs))
    comparison = summary.get("comparison")
    if comparison:
        lines += ["", f"Against the baseline `{comparison.get('baseline')}` (difference run − "
                  "baseline; paired by episode seed where the runs share seeds):", ""]
        rows = []
        for r in runs[1:]:
            cells = [r["run"]]
            for metric in ("e_raw", "e_post", "e_hat"):
                row = _row(summary, metric, r["run"])
                cells.append(_verdict(row["difference"] if row else None)[0])
            rows.append(cells)
        lines += _table(["run", "Δ e_raw", "Δ e_post", "Δ ê"], rows)
    return lines


# -- sentences -----------------------------------------------------------------------------


class _Contrast:
    def __init__(self, label: str, diff: Mapping[str, Any] | None, leaky: bool = False) -> None:
        self.label = label
        self.diff = diff
        self.leaky = leaky
        self.text, self.sign = _verdict(diff)


def _contrasts(findings: Findings) -> list[_Contrast]:
    """The findings' contrasts: e_post against each baseline, and the regimes' global error.

    Leaky runs and the calibration group are left out.
    """
    found: list[_Contrast] = []
    for group, summary in findings.summaries.items():
        if group == CALIBRATION:  # planted rates: a check of the measurement, not a finding
            continue
        baseline = (summary.get("comparison") or {}).get("baseline")
        for row in _rows(summary, "e_post"):
            if row.get("run") == baseline:
                continue
            found.append(_Contrast(f"{group}: e_post of {row['run']} − {baseline}",
                                   row.get("difference"), bool(row.get("leaky"))))
    found += _global_contrasts(findings)
    return [c for c in found if not c.leaky]


def _global_contrasts(findings: Findings) -> list[_Contrast]:
    summary = findings.summaries.get("regimes")
    if not summary or len(summary.get("runs", [])) < 2:
        return []
    runs = summary["runs"]
    base = _last_global(runs[0])
    out = []
    for r in runs[1:]:
        other = _last_global(r)
        if base is None or other is None:
            continue
        t = min(base[0], other[0])
        diff = _newcombe((base[1], base[2]), (other[1], other[2]), _level(summary))
        out.append(_Contrast(
            f"regimes: P(global error) at the last step with 10+ episodes (t={t}) of "
            f"{r['run']} − {runs[0]['run']} (Newcombe)", diff))
    return out


def _group_sentence(name: str, summary: Summary, title: str) -> str | None:
    runs = summary.get("runs", [])
    if not runs:
        return None
    base = runs[0]
    e = _metric(base, "e_hat")
    end = _km_end(base)
    parts = [f"**{title}** (`{name}`): without correction the per-step error is "
             f"e_raw = {_est(_metric(base, 'e_raw'))}, ê = {_est(e, 4)}"]
    if end is not None and end[1] is not None:
        parts.append(f"; survival to step {end[0]} is {_num(end[1])} observed against "
                     f"{_num(end[2])} from (1-ê)^n, and the hazard trend is {_trend(base)}")
    for r in runs[1:]:
        row = _row(summary, "e_post", r["run"])
        if row is None:
            continue
        text, _sign = _verdict(row.get("difference"))
        parts.append(f"; with `{_critic(r)}` e_post = {_est(_metric(r, 'e_post'))}, {text}")
    return "".join(parts) + "."


def _anchor_lines(findings: Findings) -> list[str]:
    lines: list[str] = []

    def per_critic(critic: str) -> list[str]:
        said = []
        for group, summary in findings.summaries.items():
            if group == CALIBRATION:
                continue
            for r in summary.get("runs", [])[1:]:
                if _critic(r) != critic:
                    continue
                row = _row(summary, "e_post", r["run"])
                text, sign = _verdict(row.get("difference") if row else None)
                word = {1: "error up", -1: "error down", 0: "no detectable effect"}[sign]
                said.append(f"`{group}/{r['run']}`: e_post {text} → {word}")
        return said

    huang = per_critic("self")
    lines.append("- **Huang et al. 2023** (intrinsic self-correction lowers accuracy: GPT-3.5 "
                 "on GSM8K 75.9 → 74.7, Llama-2-70B 62.0 → 36.5). Their direction is error "
                 "up under `self`. Here: " + ("; ".join(huang) if huang else "no self runs")
                 + ".")
    critic = per_critic("tool")
    lines.append("- **CRITIC** (Gou et al. 2023; tool feedback helps: 72.5 → 78.2). Their "
                 "direction is error down under `tool`. Here: "
                 + ("; ".join(critic) if critic else "no tool runs") + ".")
    ye: list[str] = []
    regimes = findings.summaries.get("regimes")
    if regimes:
        for r in regimes.get("runs", [])[1:]:
            row = _row(regimes, "e_post", r["run"])
            ye.append(f"`{r['run']}` − `{regimes['runs'][0]['run']}`: e_post "
                      f"{_verdict(row.get('difference') if row else None)[0]}")
        ye += [f"{c.label}: {c.text}" for c in _global_contrasts(findings)]
    lines.append("- **Ye et al. 2024** (retry data, mistakes followed by corrections, beats "
                 "error-free data). Their direction is retry below expert. Here: "
                 + ("; ".join(ye) if ye else "no testbed models in this grid (--model)")
                 + ".")
    acher: list[str] = []
    for group, summary in findings.summaries.items():
        if not group.endswith("chess"):
            continue
        for r in summary.get("runs", []):
            acher.append(
                f"`{r['run']}`: e_raw per move {_est(_metric(r, 'e_raw'))}, committed errors "
                f"per move ê = {_est(_metric(r, 'e_hat'), 4)}; games with a committed error "
                f"{_est(_metric(r, 'error_share'))} against "
                f"{_est(_metric(r, 'predicted_error_share'))} predicted by (1-ê)^n")
    lines.append("- **Acher 2023** (illegal moves at 0.3% and 0.66% per move → 16% and 32% of "
                 "games: per-move rates compound into game-level ones). Here: "
                 + ("; ".join(acher) if acher else "no chess runs") + ".")
    return lines


def _calibration_lines(findings: Findings) -> list[str]:
    summary = findings.summaries.get("simulated")
    truth: Mapping[str, float] = findings.meta.get("simulated_truth") or {}
    if not summary:
        return []
    checks = []
    by_name = {r["run"]: r for r in summary.get("runs", [])}
    wanted = [("none-k0", "e_raw", "e_raw"), ("self-k1", "critic_tpr", "self critic TPR"),
              ("self-k2", "critic_tpr", "self critic TPR"),
              ("self-k1", "critic_fpr", "self critic FPR"),
              ("self-k2", "critic_fpr", "self critic FPR")]
    # The planted harm h acts only on revisions of right answers, which the exact tool
    # verifier never asks for: it is not a rate the grid can read back, so it is not checked.
    for run, metric, key in wanted:
        r = by_name.get(run)
        if r is None or key not in truth:
            continue
        m = _metric(r, metric) or {}
        low, high = m.get("ci_low"), m.get("ci_high")
        inside = low is not None and high is not None and low <= truth[key] <= high
        checks.append(f"{key} planted {truth[key]}, measured {_est(m)} in `{run}`: "
                      + ("recovered" if inside else "NOT recovered"))
    return ["Calibration (simulated policy, rates known): " + "; ".join(checks) + "."]


def _cost_lines(meta: Mapping[str, Any]) -> list[str]:
    costs: Mapping[str, float] = meta.get("costs") or {}
    if not costs:
        return []
    sections: dict[str, float] = {}
    for key, seconds in costs.items():
        head = key.split("/")[0]
        if head == "run":
            head = "run/" + key.split("/")[1]
        sections[head] = sections.get(head, 0.0) + float(seconds)
    total = sum(sections.values())
    rows = [[name, f"{sections[name] / 60:.1f}"] for name in sorted(sections)]
    rows.append(["**total**", f"**{total / 60:.1f}**"])
    wall: Mapping[str, float] = meta.get("wall_clock") or {}
    note = []
    if wall:
        note = ["", "Whole processes, timed with `/usr/bin/time` (start-up, model loading and "
                "the held-out check included): " + "; ".join(
                    f"{what}: {seconds / 60:.1f} min" for what, seconds in wall.items())
                + f"; together {sum(wall.values()) / 60:.1f} min."]
    return [f"Measured cost of this page's command at scale `{meta.get('scale')}` on "
            f"{meta.get('cost_machine', meta.get('machine', 'this machine'))} "
            "(wall-clock minutes, each item timed when it ran):", "",
            *_table(["phase", "minutes"], rows), *note]


def render_page(findings: Findings) -> str:
    """The whole page, as markdown."""
    meta = findings.meta
    scale = meta.get("scale", "?")
    contrasts = _contrasts(findings)
    detected = [c for c in contrasts if c.sign != 0]
    lines = [
        "# Findings: does correction bend (1-e)^n?",
        "",
        "<!-- Generated by `redraft findings` from findings/summaries/*.json and "
        "findings/meta.json; do not edit by hand: rerun the command. -->",
        "",
        f"**Scale: `{scale}`.** "
        + ("A small, fast grid (few episodes, micro models trained for minutes): its "
           "intervals are wide and its point estimates are rough. Run `--scale full` for "
           "the numbers to lean on." if scale == "quick" else
           "The full grid."),
        "",
        "## Headline",
        "",
    ]
    for name, summary in findings.summaries.items():
        if name == "regimes":
            continue
        sentence = _group_sentence(name, summary, findings.title(name))
        if sentence:
            lines += [f"- {sentence}"]
    lines += [""]
    if detected:
        lines += [f"{len(detected)} of {len(contrasts)} contrasts have an interval that "
                  "excludes zero (the calibration group's are checks, left out):", ""]
        lines += [f"- {c.label}: {c.text}" for c in detected]
    else:
        lines += [f"None of the {len(contrasts)} contrasts has an interval that excludes zero: "
                  "at this scale the runs are too small (few episodes) to tell the critic "
                  "modes and regimes apart."]
    lines += [
        "",
        "![Kaplan–Meier survival against (1-ê)^n](findings/survival.png)",
        "",
        "## The question",
        "",
        "If each step of a generation is wrong with probability e, a sequence of n steps is "
        "right with probability (1-e)^n, and errors only accumulate (LeCun). An agent that "
        "checks and revises its steps, or reasons before answering, might lower the "
        "per-step error, or undo errors so that the chance of being in a wrong state falls "
        "again (gwern); training on mistakes and their corrections might teach that "
        "(Razied). This page measures per-step error before (e_raw, the first proposal) and "
        "after correction (e_post, the committed output), with intervals, on models anyone "
        "can rerun, and asks whether the survival curve follows (1-ê)^n.",
        "",
        "## Setup",
        "",
        f"Command: `{meta.get('command')}` (seed {meta.get('seed')}). Every run is an "
        "ordinary `redraft eval` run directory and every table below comes from "
        "`redraft report`'s `summary.json` of its group, committed under "
        "`docs/findings/summaries/`.",
        "",
    ]
    sizes = meta.get("scale_sizes") or {}
    if sizes:
        lines += ["Scale sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + ".", ""]
    models = meta.get("models") or []
    if models:
        lines += ["Testbed models (running_sum, `shown` representation, trained here; held-out "
                  "episodes are twice the training length):", ""]
        lines += _table(
            ["regime", "parameters", "steps", "stopped by", "seconds", "training episode "
             "steps", "held-out step accuracy"],
            ([str(m["regime"]), f"{m['parameters']:,}", str(m["steps"]), str(m["stopped_by"]),
              _num(m["seconds"], 0), str(m["episode_steps"]),
              _num(m.get("heldout_step_accuracy"))] for m in models))
        lines += [""]
        steps = {int(m["steps"]) for m in models}
        if len(steps) > 1:
            lines += ["The regimes trained for different numbers of steps ("
                      + ", ".join(f"{m['regime']} {m['steps']}" for m in models)
                      + ": a time cap on a shared machine stopped them), so the regime "
                      "comparison below is confounded with training length.", ""]
    lines += ["Groups (each one `redraft report`; the first run of a group is its baseline):",
              ""]
    lines += [f"- `{name}`: {findings.title(name)}" for name in findings.summaries]
    lines += ["", f"Simulated policy: `{meta.get('simulated')}`.", ""]
    skipped = meta.get("skipped") or []
    if skipped:
        lines += ["Not applicable, so not run: " + "; ".join(
            f"`{s['group']}/{s['run']}` ({s['reason']})" for s in skipped) + ".", ""]
    lines += ["The testbed models were never trained to write a critique or to follow the "
              "monologue instruction, so `self` on them measures a critic that cannot read "
              "its own output, and the in-generation layer of the testbed comes from the "
              "`retry` regime's `[BACK]` corrections and the `scratchpad` regime's reasoning "
              "rather than from `--monologue on` (which runs on the simulated policy and "
              "on `--model`).", ""]
    lines += _cost_lines(meta)
    lines += ["", "## Results", ""]
    for name, summary in findings.summaries.items():
        lines += [f"### {findings.title(name)} (`{name}`)", ""]
        lines += group_tables(summary)
        lines += [""]
    lines += ["## Figures", "",
              "Kaplan–Meier survival (no committed error in the first n steps, solid) "
              "against (1-ê)^n (dashed), per group:", "",
              "![survival](findings/survival.png)", "",
              "P(global error at t): the share of running episodes whose state is wrong at "
              "step t, per regime and critic mode (it can fall only if errors are undone):",
              "", "![global error](findings/global_error.png)", "",
              "## Against the published anchors (direction only)", ""]
    lines += _anchor_lines(findings)
    lines += ["", "## What this does and does not show", ""]
    lines += _calibration_lines(findings)
    lines += [
        "",
        f"- Contrasts whose interval excludes zero: {len(detected)} of {len(contrasts)} "
        "(listed in the headline); every other difference is reported as no detectable "
        "effect, not as no effect.",
        "- The hazard trend test asks whether the hazard of the first committed error rises "
        "or falls with t (LeCun's compounding beyond (1-e)^n would be rising); p-values are "
        "per run, not corrected for the number of runs.",
        "- It does not show how large models behave: the testbed models are micro "
        "transformers on one arithmetic task and SmolLM2-135M is far weaker than the "
        "models in the anchors; the anchors are compared in direction only, never in size.",
        f"- Scale `{scale}`: "
        + ("few episodes per run and minutes of training; the same command with "
           "`--scale full` (or `--model` on a GPU) narrows every interval." if scale == "quick"
           else "see the episode counts in the tables."),
        "",
    ]
    return "\n".join(lines)


def write_page(out: Path) -> Path:
    """Draw the figures into ``out`` and write the page beside it; return its path."""
    from redraft.evals.findings._figures import write_figures

    findings = load_findings(out)
    write_figures(findings, out)
    path = page_path(out)
    path.write_text(render_page(findings), encoding="utf-8")
    return path
