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

from redraft.evals.report import format_number, needed_digits
from redraft.lab.findings._analysis import DECISIVE_FILE, DecisiveResults
from redraft.lab.findings._decisive_page import (
    decisive_sections,
    headline_lines,
    predictions_lines,
    replication_lines,
)
from redraft.tools import BadInputError

__all__ = [
    "REPLICATE_FILE",
    "Findings",
    "add_replicate",
    "group_tables",
    "load_findings",
    "page_path",
    "render_page",
    "write_page",
]

Summary = dict[str, Any]
CALIBRATION = "simulated"
REPLICATE_FILE = "replicate.json"
"""A second run's ``decisive.json`` (``redraft findings --replicate DIR``), beside ours."""
"""The calibration group: its contrasts check the measurement and are not findings."""


class Findings:
    """The page's inputs: each group's summary (in page order) and the meta record."""

    def __init__(self, summaries: Mapping[str, Summary], meta: Mapping[str, Any],
                 decisive: DecisiveResults | None = None,
                 replicate: DecisiveResults | None = None) -> None:
        self.summaries = dict(summaries)
        self.meta = dict(meta)
        self.decisive = decisive
        self.replicate = replicate
        """The decisive results of a second run from scratch with another seed, if given."""

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
    from redraft.lab.findings._grid import META_FILE, SUMMARIES_DIR

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
    decisive_path = out / DECISIVE_FILE
    decisive = (DecisiveResults.model_validate_json(decisive_path.read_text(encoding="utf-8"))
                if decisive_path.is_file() else None)
    twin_path = out / REPLICATE_FILE
    twin = (DecisiveResults.model_validate_json(twin_path.read_text(encoding="utf-8"))
            if twin_path.is_file() else None)
    return Findings(summaries, meta, decisive, twin)


# -- numbers -------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 3) -> str:
    """The report's number format: a true minus sign, never ``−0.000``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format_number(value, digits)


def _digits(asked: int, *values: float) -> int:
    """``asked``, or more where a nonzero value would print as zero (the report's rule)."""
    needed = needed_digits(*values)
    return needed if needed > 3 else asked


def _est(metric: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``0.123 [0.101, 0.150]``; ``—`` when undefined.

    More decimals where an end of the interval would otherwise read as 0
    (``−0.0004 [−0.0009, −0.0001]``, not ``−0.000``).
    """
    if not metric or metric.get("value") is None:
        return "—"
    low, high = metric.get("ci_low"), metric.get("ci_high")
    if low is None or high is None:
        return _num(metric["value"], _digits(digits, metric["value"]))
    digits = _digits(digits, metric["value"], low, high)
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
        return f"higher by {_est(diff, digits)}", 1
    if high < 0:
        size = {"value": -diff["value"], "ci_low": -high, "ci_high": -low}
        return f"lower by {_est(size, digits)}", -1
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
        ["run (episodes/steps)", "critic", "e_raw", "e_post", "unknown (round 0 / committed)",
         "recovery", "harm", "critic TPR", "critic FPR"],
        ([f"{r['run']} ({r.get('episodes')}/{r.get('steps')})", _critic(r),
          _est(_metric(r, "e_raw")), _est(_metric(r, "e_post")),
          f"{_num(_value(r, 'unknown_rate_initial'))} / {_num(_value(r, 'unknown_rate'))}",
          _est(_metric(r, "recovery")),
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


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _cost_lines(meta: Mapping[str, Any]) -> list[str]:
    """The cost table and prose, from this run's own timings (nothing kept by hand)."""
    from redraft.lab.findings._grid import MODEL_COST

    costs: Mapping[str, float] = meta.get("costs") or {}
    if not costs:
        return []
    sections: dict[str, float] = {}
    per_model = sorted(float(v) for k, v in costs.items() if k.startswith(MODEL_COST))
    for key, seconds in costs.items():
        if key.startswith(MODEL_COST):  # overlapping when models trained at once
            continue
        parts = key.split("/")
        head = parts[0] if parts[0] not in ("grid",) else f"runs: {parts[1]}"
        sections[head] = sections.get(head, 0.0) + float(seconds)
    total = sum(sections.values())
    rows = [[name, _minutes(sections[name])] for name in sorted(sections)]
    rows.append(["**total of the items**", f"**{_minutes(total)}**"])
    machine = meta.get("machine") or {}
    load = ((machine.get("load_average_before"), machine.get("load_average_after"))
            if isinstance(machine, Mapping) else (None, None))
    loads = ("" if not any(load) else
             f" The 1/5/15-minute load averages were {load[0]} when the command began and "
             f"{load[1]} when it ended (load above the cores used means the machine was "
             "shared and the times are longer than on an idle one).")
    jobs = machine.get("training_jobs") if isinstance(machine, Mapping) else None
    models = "" if not per_model else (
        f" The {len(per_model)} models took {_minutes(per_model[0])}-"
        f"{_minutes(per_model[-1])} min each (median {_minutes(per_model[len(per_model) // 2])})"
        + (f", {jobs} at once: `train` is the wall-clock time of the whole phase."
           if isinstance(jobs, int) and jobs > 1 else "."))
    call = meta.get("this_call_seconds")
    last = "" if call is None else (
        f" The call that wrote this page took {_minutes(float(call))} min (a resumed call "
        "keeps the items an earlier call finished, so it can be shorter than the total).")
    return [f"Measured cost at scale `{meta.get('scale')}` (wall-clock minutes, each item "
            "timed when it ran; a grid's time includes loading its model):", "",
            *_table(["phase", "minutes"], rows), "", (models + loads + last).strip()]


def _machine_lines(meta: Mapping[str, Any]) -> list[str]:
    m = meta.get("machine") or {}
    if isinstance(m, str):  # a page written before the record existed: its description
        return [f"Machine: {m}."]
    if not isinstance(m, Mapping) or not m:
        return []
    torch: Mapping[str, Any] = m.get("torch") or {}
    gpu = f", GPU {torch['gpu']}" if torch.get("gpu") else ""
    jobs = (f"{m['training_jobs']} models trained at once with "
            if isinstance(m.get("training_jobs"), int) else "")
    return [f"Machine and versions (read when the command ran): CPU {m.get('cpu')}, "
            f"{m.get('cores_visible')} cores visible, {jobs}{m.get('threads_asked')} "
            f"training threads asked, torch using {torch.get('threads')} threads{gpu}; "
            f"{m.get('platform')}; Python {m.get('python')}; torch {torch.get('version')} "
            f"({torch.get('build')} build); transformers {m.get('transformers')}; "
            f"llama-cpp-python {m.get('llama_cpp_python')}; redraft {m.get('redraft')} at "
            f"commit {m.get('redraft_commit') or 'unknown (not a git checkout)'}."]


def _wrong_cell(wrong: Any) -> str:
    if not isinstance(wrong, Mapping):
        return "—"
    temperature = wrong.get("temperature")
    hot = f"{temperature:g}" if isinstance(temperature, int | float) else "?"
    return f"{hot}, {wrong.get('wrong', '?')} / {wrong.get('sampled', '?')}"


def _models_table(meta: Mapping[str, Any]) -> list[str]:
    models = meta.get("models") or []
    if not models:
        return []
    lines = ["Testbed models (trained here; every arm the same steps and batch). Wrong "
             "answers (retry, recovery): the wrong totals the same seed's expert wrote when "
             "sampled on held-out states, at temperature 1, or hotter where it wrote too few "
             "there (`lab/testbed/_wrong.py`):", ""]
    lines += _table(
        ["arm", "regime", "seed", "parameters", "steps × batch", "seconds",
         "episode steps", "held-out step accuracy", "wrong answers: temperature, found / sampled"],
        ([str(m.get("arm", "—")), str(m.get("regime", "—")), str(m.get("seed", "—")),
          f"{m['parameters']:,}", f"{m['steps']} × {m.get('batch_size', '—')}",
          _num(m["seconds"], 0), str(m["episode_steps"]), _num(m.get("heldout_step_accuracy")),
          _wrong_cell(m.get("wrong_answers"))]
         for m in models))
    steps = {(int(m["steps"]), m.get("batch_size")) for m in models}
    if len(steps) > 1:
        lines += ["", "The arms trained for different numbers of steps, so the regime "
                  "comparison is confounded with training length."]
    return [*lines, ""]


LEARNT = 0.9
"""Held-out step accuracy below which a model is said not to have learnt the task yet."""


def _learnt_lines(meta: Mapping[str, Any]) -> list[str]:
    """Which arms' models had learnt the task at the scale's budget (held-out accuracy).

    A regime compared at an equal training budget with models still before their learning
    turn measures how fast its data teaches, not what a trained model of it does.
    """
    by_arm: dict[str, list[float]] = {}
    for m in meta.get("models") or []:
        accuracy = m.get("heldout_step_accuracy")
        if isinstance(accuracy, int | float) and m.get("arm"):
            by_arm.setdefault(str(m["arm"]), []).append(float(accuracy))
    if not by_arm:
        return []
    ranges = "; ".join(f"{arm} {_num(min(v))}–{_num(max(v))}" if len(v) > 1
                       else f"{arm} {_num(v[0])}" for arm, v in by_arm.items())
    behind = [arm for arm, v in by_arm.items() if min(v) < LEARNT]
    text = (f"Held-out step accuracy of each arm's models (greedy, expert states; lowest–"
            f"highest over seeds): {ranges}.")
    if behind:
        names = ", ".join(f"`{a}`" for a in behind)
        text += (f" Some models of {names} were below {LEARNT:g} at this budget: they had "
                 "not (fully) learnt the task, so a contrast that involves them compares what "
                 "each regime's data teaches in the same number of steps, not trained models; "
                 "a larger budget may change it.")
    return ["", text]


def _task_calibration_lines(calibration: Any) -> list[str]:
    """How the scale's task difficulty was chosen, readable (meta.json keeps every field)."""
    if not isinstance(calibration, Mapping):
        return []
    options = calibration.get("task_options") or {}
    train = calibration.get("training") or {}
    overrides = calibration.get("train_overrides") or {}
    parts = [
        "How this scale's task difficulty was chosen (the expert's e_TF at temperature 1 "
        "aimed between 1% and 10%; every field in meta.json's `calibration`): task "
        + ", ".join(f"`{k}={v}`" for k, v in options.items())
        + (" (training: " + ", ".join(f"`{k}={v}`" for k, v in overrides.items()) + ")"
           if overrides else "")
        + f"; a `{calibration.get('size', '?')}` expert trained {train.get('steps', '?')} "
        f"steps of {train.get('batch_size', '?')} (seed {train.get('seed', '?')})"]
    for key, label in (("e_tf_t1", "at temperature 1"), ("e_tf_t0", "greedy")):
        est = calibration.get(key)
        if isinstance(est, Mapping):
            parts.append(f"e_TF {label} {_num(est.get('value'))} "
                         f"[{_num(est.get('ci_low'))}, {_num(est.get('ci_high'))}]")
    measured = calibration.get("measured")
    verdict = ("not measured" if not measured else "in range" if calibration.get("in_range")
               else "not in range for every seed")
    lines = ["; ".join(parts) + f" — {verdict}."]
    if calibration.get("note"):
        lines += ["", str(calibration["note"])]
    candidates = calibration.get("candidates") or []
    if candidates:
        lines += ["", "Settings tried (commands in meta.json):", ""]
        lines += _table(["candidate", "outcome"],
                        ([f"`{c.get('name', '?')}`", str(c.get("outcome", ""))]
                         for c in candidates if isinstance(c, Mapping)))
    return [*lines, ""]


WITHDRAWN = (
    "The previous headline of this page (\"errors compound faster than (1-e)^n\": a rising "
    "hazard) measured length generalisation, not compounding: its models were trained on "
    "20-step episodes and evaluated on 40, so every step past 20 was out of distribution. "
    "It is withdrawn; the grid below evaluates in distribution only.")


def render_page(findings: Findings) -> str:
    """The whole page, as markdown."""
    meta = findings.meta
    scale = meta.get("scale", "?")
    sizes: Mapping[str, Any] = meta.get("scale_sizes") or {}
    command = str(meta.get("command", "redraft findings"))
    decisive = findings.decisive
    lines = [
        "# Findings: does correction bend (1-e)^n?",
        "",
        "<!-- Generated by `redraft findings` from findings/meta.json, findings/decisive.json "
        "and findings/summaries/*.json; do not edit by hand: rerun the command. -->",
        "",
        f"**Scale: `{scale}`** ({sizes.get('budget', 'sizes in meta.json')}); "
        f"{sizes.get('seeds', '?')} trained models (seeds) per arm, "
        f"{sizes.get('episodes', '?')} episodes of {sizes.get('episode_steps', '?')} steps "
        "per model and condition.",
        "",
        WITHDRAWN,
        "",
        "## The question, and what would answer it",
        "",
        "If each step is wrong with probability e, n steps are right with probability "
        "(1-e)^n, and errors only accumulate (LeCun). An agent that can notice and revise "
        "might make error non-monotonic (gwern); training on mistakes and their corrections "
        "might teach that (Razied). The test: train small models on a task whose every step "
        "is equally hard, evaluate them in distribution at temperature 1, and compare their "
        "survival with the product of their own teacher-forced per-step errors.",
        "",
        *predictions_lines(),
        "",
        "## Headline (declared contrasts only)",
        "",
    ]
    if decisive is not None and decisive.contrasts:
        lines += headline_lines(decisive, findings.replicate)
        lines += _learnt_lines(meta)
    else:
        lines += ["This page's files hold no decisive grid (they predate it, or `--model` "
                  "ran a model without the testbed's arms): nothing is claimed."]
    lines += ["", "![e_TF(t) per arm](findings/etf.png)", "",
              "![survival against the teacher-forced null](findings/survival.png)", "",
              "## Setup", "", f"Command: `{command}` (seed {meta.get('seed')}).", ""]
    lines += _models_table(meta)
    lines += _task_calibration_lines(meta.get("calibration"))
    lines += [*_machine_lines(meta), ""]
    lines += _cost_lines(meta)
    if decisive is not None:
        lines += ["", *decisive_sections(decisive, command), "",
                  "![P(global error at t)](findings/global_error.png)"]
    if decisive is not None and findings.replicate is not None:
        lines += ["", *replication_lines(decisive, findings.replicate,
                                         str(meta.get("replicate_command", "?")))]
    lines += ["", "## Exploratory: critic modes, embedded models, calibration", "",
              "Not part of the headline. `self` on testbed models is a **negative control** "
              "(they were never trained to write a critique); `resample` with an exact "
              "verifier is **best-of-n**, not self-correction; `constrained` decoding is "
              "prevention and holds by construction; the SmolLM2 groups have "
              f"{sizes.get('embedded_episodes', '?')} episodes each. Differences against each "
              "group's first run are per-run intervals, not corrected for multiplicity.", ""]
    skipped = meta.get("skipped") or []
    if skipped:
        lines += ["Not applicable, so not run: " + "; ".join(
            f"`{s['group']}/{s['run']}` ({s['reason']})" for s in skipped) + ".", ""]
    for name, summary in findings.summaries.items():
        lines += [f"### {findings.title(name)} (`{name}`)", ""]
        lines += group_tables(summary)
        lines += [""]
    lines += _calibration_lines(findings)
    lines += [
        "",
        "## What this does and does not show",
        "",
        "- Only the declared contrasts are findings; an interval that holds 0 is no "
        "detectable effect, not evidence of no effect.",
        "- Seeds are the unit: each arm's value is the mean of its models' values, and its "
        "interval carries the between-seed spread. With 3 seeds the interval is rough.",
        "- The testbed models are small transformers on one arithmetic task: the direction "
        "of an effect here says nothing about its size in large models.",
        "",
    ]
    return "\n".join(lines)


def add_replicate(out: Path, other: Path) -> None:
    """Keep a second run's decisive results (folder ``other``) beside ``out``'s, for the page.

    Raises:
        BadInputError: either folder lacks its ``decisive.json`` or ``meta.json``.
    """
    from redraft.lab.findings._grid import META_FILE

    for folder in (out, other):
        for name in (DECISIVE_FILE, META_FILE):
            if not (folder / name).is_file():
                raise BadInputError(f"{folder / name} is missing: run 'redraft findings --out "
                                    f"{folder}' first")
    (out / REPLICATE_FILE).write_bytes((other / DECISIVE_FILE).read_bytes())
    meta_path = out / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    theirs = json.loads((other / META_FILE).read_text(encoding="utf-8"))
    meta["replicate_command"] = theirs.get("command")
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def write_page(out: Path) -> Path:
    """Draw the figures into ``out`` and write the page beside it; return its path."""
    from redraft.lab.findings._figures import write_figures

    findings = load_findings(out)
    write_figures(findings, out)
    path = page_path(out)
    path.write_text(render_page(findings), encoding="utf-8")
    return path
