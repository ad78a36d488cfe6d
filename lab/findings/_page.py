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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from redraft.core import BadInputError
from redraft.evals import EvalConfig
from redraft.evals.report import format_number, needed_digits
from redraft.lab.findings._analysis import DECISIVE_FILE, DecisiveResults
from redraft.lab.findings._decisive_page import (
    decisive_sections,
    headline_lines,
    predictions_lines,
    replication_lines,
)
from redraft.lab.findings._markdown import table

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
"""The calibration group: its contrasts check the measurement and are not findings."""
REPLICATE_FILE = "replicate.json"
"""A second run's ``decisive.json`` (``redraft findings --replicate DIR``), beside ours."""


class Findings:
    """The page's inputs: each group's summary (in page order) and the meta record."""

    def __init__(self, summaries: Mapping[str, Summary], meta: Mapping[str, Any],
                 decisive: DecisiveResults | None = None,
                 replicate: DecisiveResults | None = None, folder: str = "findings") -> None:
        self.summaries = dict(summaries)
        self.meta = dict(meta)
        self.decisive = decisive
        self.replicate = replicate
        """The decisive results of a second run from scratch with another seed, if given."""
        self.folder = folder
        """The name of the files' folder, beside the page (its figures' links start with it)."""

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
    return Findings(summaries, meta, decisive, twin, folder=out.name)


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


def _written_by_redraft(notice: str) -> None:
    """Old names in a summary are redraft's own: no notice."""


def _critic(run: Summary) -> str:
    # A summary written before the corrector held its critic says it at the top level.
    config = EvalConfig.migrate(run.get("config", {}), notify=_written_by_redraft)
    corrector = config.get("corrector") or {}
    critic = str(corrector.get("critic", "?"))
    if corrector.get("monologue"):
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
    lines += table(
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
    lines += table(["run", "ê", "horizon (50%)", "episodes with an error",
                     "predicted by (1-ê)^n", "survival at n: observed vs (1-ê)^n",
                     "hazard trend"], compounding)
    lines += ["", "In-generation layer (round 0: the first answer written vs the answer "
              "committed to inside the same generation):", ""]
    lines += table(
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
        lines += table(["run", "Δ e_raw", "Δ e_post", "Δ ê"], rows)
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
    for key, seconds in costs.items():
        parts = key.split("/")
        if key.startswith(MODEL_COST):
            head = f"train: {parts[1].replace('-', ' ')}"
        elif parts[0] == "grid":
            head = f"runs: {parts[1]}"
        else:
            head = parts[0]
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
    call = meta.get("this_call_seconds")
    last = "" if call is None else (
        f" The call that wrote this page took {_minutes(float(call))} min (a resumed call "
        "keeps the items an earlier call finished, so it can be shorter than the total).")
    return [f"Measured cost at scale `{meta.get('scale')}` (wall-clock minutes, each item "
            "timed when it ran; a grid's time includes loading its model):", "",
            *table(["phase", "minutes"], rows), "", (loads + last).strip()]


def _machine_lines(meta: Mapping[str, Any]) -> list[str]:
    m = meta.get("machine") or {}
    if isinstance(m, str):  # a page written before the record existed: its description
        return [f"Machine: {m}."]
    if not isinstance(m, Mapping) or not m:
        return []
    torch: Mapping[str, Any] = m.get("torch") or {}
    gpu = f", GPU {torch['gpu']}" if torch.get("gpu") else ""
    policy = f"; OpenMP waiting: {m['wait_policy']}" if m.get("wait_policy") else ""
    return [f"Machine and versions (read when the command ran): CPU {m.get('cpu')}, "
            f"{m.get('cores_visible')} cores visible, {m.get('threads_asked')} torch "
            f"threads asked, torch using {torch.get('threads')} threads{gpu}{policy}; "
            f"{m.get('platform')}; Python {m.get('python')}; torch {torch.get('version')} "
            f"({torch.get('build')} build); transformers {m.get('transformers')}; "
            f"llama-cpp-python {m.get('llama_cpp_python')}; redraft {m.get('redraft')}, "
            f"{m.get('redraft_commit') or 'commit unknown'}."]


def _models_table(meta: Mapping[str, Any]) -> list[str]:
    models = meta.get("models") or []
    if not models:
        return []
    sizes = meta.get("scale_sizes") or {}
    learn = sizes.get("learn_steps") if isinstance(sizes, Mapping) else None
    # A page from before the retry trained until learnt keeps the sentence it was written with.
    until = ("" if learn is None else
             f"; the retry: until the same stopping rule says it learnt, at most {learn} steps")
    lines = ["Testbed models (trained here). Phase 1: each seed's base, from scratch, until "
             "the stopping rule says it converged; phase 2: every arm of the seed from its "
             "base, the same steps and batch (the scratchpad: as many supervised tokens"
             f"{until}), all the models of a phase in one stack:", ""]
    lines += table(
        ["arm", "seed", "phase", "parameters", "steps × batch", "stopped by",
         "trained with", "tokens (supervised)", "held-out accuracy"],
        ([str(m.get("arm", "—")), str(m.get("seed", "—")), str(m.get("phase", "—")),
          f"{m['parameters']:,}", f"{m['steps']} × {m.get('batch_size', '—')}",
          str(m.get("stopped_by", "—")), f"{m.get('stacked_with', '—')} models",
          f"{m.get('tokens', 0):,} ({m.get('supervised_tokens', 0):,})",
          _num(m.get("heldout_step_accuracy"))]
         for m in models))
    return [*lines, ""]


def _task_calibration_lines(calibration: Any) -> list[str]:
    """How the scale's error rate was set, readable (meta.json keeps every field)."""
    if not isinstance(calibration, Mapping):
        return []
    options = calibration.get("task_options") or {}
    overrides = calibration.get("train_overrides") or {}
    lines = [
        f"How the main condition's error rate was set: by the **{calibration.get('knob')}** "
        f"(T = {calibration.get('temperature')}), on the task "
        + ", ".join(f"`{k}={v}`" for k, v in options.items())
        + (" (training: " + ", ".join(f"`{k}={v}`" for k, v in overrides.items()) + ")"
           if overrides else "") + ". " + str(calibration.get("why", ""))]
    measured = calibration.get("measured_e_tf")
    if isinstance(measured, Mapping) and measured:
        lines += ["", "Measured (exact e_TF on clean states; each cell names its models):", ""]
        lines += table(["temperature", "e_TF, mean (lowest–highest)"],
                       ([str(t), str(v)] for t, v in measured.items()))
    if calibration.get("command"):
        lines += ["", f"Command: `{calibration['command']}`."]
    if calibration.get("earlier_command"):
        lines += ["", f"The pilot before it: `{calibration['earlier_command']}`."]
    return [*lines, ""]


WITHDRAWN = (
    "Two earlier versions of this page are withdrawn: the first (\"errors compound faster "
    "than (1-e)^n\") measured length generalisation, not compounding (models trained on "
    "20-step episodes, evaluated on 40); the second compared 3 seeds stopped near their "
    "learning turn with a bootstrap that cannot hold its level, and its survival-vs-null "
    "contrast could not fail (before the first error a free-running prompt is the "
    "teacher-forced one). This version measures what happens after an error, on converged "
    "models, with paired seeds and exact tests (issue 29).")


def render_page(findings: Findings) -> str:
    """The whole page, as markdown."""
    meta = findings.meta
    scale = meta.get("scale", "?")
    sizes: Mapping[str, Any] = meta.get("scale_sizes") or {}
    command = str(meta.get("command", "redraft findings"))
    decisive = findings.decisive
    folder = findings.folder
    temperature = sizes.get("temperature", "?")
    lines = [
        "# Findings: do errors compound, and can a model undo them?",
        "",
        f"<!-- Generated by `redraft findings` from {folder}/meta.json, {folder}/decisive.json, "
        f"{folder}/scores.json and {folder}/summaries/*.json; do not edit by hand: rerun the "
        "command. -->",
        "",
        f"**Scale: `{scale}`** ({sizes.get('budget', 'sizes in meta.json')}); "
        f"{sizes.get('seeds', '?')} paired seeds; main condition: sampling at temperature "
        f"{temperature}; {sizes.get('episode_steps', '?')}-step episodes in training and "
        "evaluation.",
        "",
        WITHDRAWN,
        "",
        "## The question, and what would answer it",
        "",
        "If each step is wrong with probability e, n steps are right with probability "
        "(1-e)^n, and errors only accumulate; worse, each error pushes the model off its "
        "training distribution, so the next step errs more (LeCun). An agent that notices "
        "and revises might make error non-monotonic: a wrong state can become right again "
        "(gwern); training on mistakes and their corrections might teach that (Razied; "
        "DAgger's states that hold errors). Before the first error a free-running model "
        "sees exactly the teacher-forced prompt, so all of this happens *after* an error: "
        "the primary outcomes measure a model on states that hold its own kind of mistake, "
        "against the same states without it.",
        "",
        *predictions_lines(),
        "",
        "## Headline (primary outcomes only)",
        "",
    ]
    if decisive is not None and decisive.primary and any(
            r.estimate is not None for r in decisive.primary):
        lines += headline_lines(decisive, findings.replicate)
    else:
        lines += ["This page's files hold no primary outcome (they predate them, or `--model` "
                  "ran a model not trained here, whose logits the scores need): nothing is "
                  "claimed."]
    figures = [("etf.png", "exact e_TF(t) per arm, beside e(t) free-running"),
               ("post_error.png", "after a wrong total: fresh error and undo"),
               ("survival.png", "P(globally right at n) against survival to n"),
               ("learning.png", "learning curves")]
    lines += [""]
    for name, caption in figures:
        lines += [f"![{caption}]({folder}/{name})", ""]
    lines += ["## Setup", "", f"Command: `{command}` (seed {meta.get('seed')}).", ""]
    lines += _models_table(meta)
    lines += _task_calibration_lines(meta.get("calibration"))
    lines += [*_machine_lines(meta), ""]
    lines += _cost_lines(meta)
    if decisive is not None and decisive.arms:
        lines += ["", *decisive_sections(decisive, command)]
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
        "- Only the four primary outcomes are findings; a null is \"no detectable effect\", "
        "with the largest effect the scale could have missed beside it, not evidence of no "
        "effect.",
        "- Seeds are the unit and are paired: every arm of a seed starts from the same base "
        "model and sees the same data; the tests are exact sign-flip tests on the per-seed "
        "differences (a t-test beside), Holm-adjusted over the four.",
        "- The analysis is checked on simulated grids with planted effects "
        "([findings-power.md](findings-power.md)): zero effects rejected in 2.7-5.4% of "
        "1000 grids (Monte Carlo SE 0.7%), an effect of the stated detectable size found in "
        "78-82%.",
        "- Errors are sampled at a temperature above the one the models were trained to "
        "imitate: they are the tokens LeCun's argument is about (sampled outside the correct "
        "set), made by models that would know better at temperature 0.",
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
