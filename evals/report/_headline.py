"""The report's first screen: what each run and each comparison says, in plain words.

One sentence per run (its error per step before and after correction, and whether errors
compound, with intervals) and one per comparison ("tool feedback changed the error after
correction by −0.008 [−0.047, 0.031]: no detectable effect"), and a warning wherever a
number is degenerate or undefined: no data, every episode over at step 1, a compounding
test that cannot tell, runs that differ in more than the setting compared, a leaky oracle
run, answers the oracle could only read leniently, steps cut short by the repeat rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from redraft.evals.report._power import TrendPower, trend_power
from redraft.evals.report._profile import RunProfile
from redraft.evals.report._settings import (
    CRITIC_WORDS,
    describe_change,
    setting,
    setting_differences,
    setting_value,
)
from redraft.evals.stats import Comparison, ComparisonRow, Estimate, RunStats

__all__ = [
    "Caveat",
    "CaveatKind",
    "Headline",
    "comparison_headline",
    "format_number",
    "headlines",
    "judged_steps",
    "needed_digits",
    "p_clause",
    "p_text",
    "run_headline",
]

CaveatKind = Literal[
    "leaky", "no_data", "one_step", "untestable", "no_errors", "low_power", "unfinished",
    "unknown", "repeat_rule", "lenient", "not_comparable", "undefined", "all_same",
]

class Caveat(BaseModel):
    """A warning attached to a run or a comparison."""

    model_config = ConfigDict(frozen=True)

    kind: CaveatKind
    """What is wrong, as a machine-readable kind."""
    subject: str
    """The run (or ``A vs B``) it concerns."""
    text: str
    """The warning in words."""


class Headline(BaseModel):
    """What one run or one comparison says."""

    model_config = ConfigDict(frozen=True)

    subject: str
    """The run's label, or ``RUN vs BASELINE``."""
    kind: Literal["run", "comparison"]
    """A run's headline or a comparison's."""
    text: str
    """The sentence(s)."""
    caveats: list[Caveat]
    """Warnings about the numbers in the sentence."""

    def summary(self) -> dict[str, JsonValue]:
        """The shape written to ``summary.json``."""
        return {
            "subject": self.subject, "kind": self.kind, "text": self.text,
            "warnings": [{"kind": c.kind, "text": c.text} for c in self.caveats],
        }


MAX_DIGITS = 6
"""Decimals an estimate may need to show that it is not zero; below that it is called "no
change at this precision"."""


def _digits(*values: float | None) -> int:
    """Decimals (3 at least) that show every nonzero one of ``values`` as nonzero.

    ``Δ = −0.0004 [−0.0009, −0.0001]`` rather than ``−0.000 [−0.001, −0.000]``, which reads
    as no change though the interval excludes zero.
    """
    digits = 3
    for value in values:
        while (value and digits < MAX_DIGITS
               and float(f"{abs(value):.{digits}f}") == 0.0):
            digits += 1
    return digits


def _num(value: float | None, digits: int = 3) -> str:
    """A number, with a true minus sign; never ``−0.000`` (a negative that rounds to 0)."""
    if value is None:
        return "undefined"
    text = f"{value:.{digits}f}"
    if float(text) == 0.0:
        return f"{0.0:.{digits}f}"
    return text.replace("-", "−") if value < 0 else text


needed_digits = _digits
"""Public name of :func:`_digits`, for other pages that print estimates (findings)."""
format_number = _num
"""Public name of :func:`_num`, for other pages that print estimates (findings)."""


def p_text(value: float, draws: int = 0) -> str:
    """A p-value as the table shows it: ``0.042``, or ``< 0.001`` at a simulated floor."""
    return p_clause(value, draws).removeprefix("= ")


def p_clause(value: float, draws: int = 0) -> str:
    """``= 0.042``; at the floor of a simulated p-value (1/(B+1)), ``< 1/(B+1)``.

    A p-value from B simulated data sets (or permutations) is at least 1/(B+1): there, no
    draw reached the observed statistic, and the true p is below that floor.
    """
    if draws > 0 and value <= 1.0 / (draws + 1) + 1e-12:
        floor = 1.0 / (draws + 1)
        return f"< {floor:.{_digits(floor)}g}" if floor < 1e-3 else f"< {floor:.3g}"
    return "< 0.001" if value < 0.001 else f"= {value:.3f}"


def _interval(estimate: Estimate | None) -> str:
    if estimate is None or estimate.value is None:
        return "undefined"
    if estimate.ci_low is None or estimate.ci_high is None:
        return _num(estimate.value, _digits(estimate.value))
    digits = _digits(estimate.value, estimate.ci_low, estimate.ci_high)
    return (f"{_num(estimate.value, digits)} [{_num(estimate.ci_low, digits)}, "
            f"{_num(estimate.ci_high, digits)}]")


def _size(estimate: Estimate) -> str:
    """A change's size for "raised/lowered by": the absolute value and interval, low first.

    "lowered the error by 0.950 [0.900, 0.990]", never "by −0.950".
    """
    value = abs(estimate.value or 0.0)
    ends = sorted(abs(e) for e in (estimate.ci_low, estimate.ci_high) if e is not None)
    digits = _digits(value, *ends)
    if len(ends) < 2:
        return _num(value, digits)
    return f"{_num(value, digits)} [{_num(ends[0], digits)}, {_num(ends[1], digits)}]"


def _degenerate(estimate: Estimate | None) -> bool:
    return estimate is not None and estimate.value in (0.0, 1.0) and estimate.n > 0


def _describe(stats: RunStats) -> str:
    cfg = stats.config
    critic = setting(cfg, "critic")
    parts = [str(cfg.get("model", "?")), "on", str(cfg.get("task", "?"))]
    detail = [CRITIC_WORDS.get(str(critic), str(critic))] if critic is not None else []
    if critic not in (None, "none") and setting(cfg, "max_revisions") is not None:
        detail.append(f"k={setting(cfg, 'max_revisions')}")
    return " ".join(parts) + (f" ({', '.join(detail)})" if detail else "")


def _compounding(stats: RunStats, power: TrendPower) -> tuple[str, list[tuple[CaveatKind, str]]]:
    """The compounding sentence and its caveats."""
    name = stats.name
    e_hat = stats.metrics.get("e_hat")
    trend = stats.trend
    if stats.steps == 0:
        return "Nothing can be said about compounding: no step was logged.", []
    if power.first_errors == 0:
        text = (f"No committed error in {stats.steps} steps, so there is nothing to compound; "
                f"the per-step error ê is {_interval(e_hat)}.")
        return text, [("no_errors", f"{name} committed no error: ê = 0 and the horizon is "
                       "unbounded; only the interval's upper end says how large the error "
                       "could still be.")]
    if power.at_risk_after_first == 0 and power.first_errors < stats.episodes:
        # Some episodes ended at step 1 without an error (a dataset of single questions):
        # there was no step 2 to be at risk in, which is not a wall of first errors.
        text = (f"Whether errors compound cannot be told: no episode went past step 1 "
                f"({power.first_errors} of the {stats.episodes} erred there, the rest ended "
                f"there), so there is no later step to compound into; ê = {_interval(e_hat)} "
                "is that one step's error.")
        return text, []
    if power.at_risk_after_first == 0:
        why = (f"every one of the {stats.episodes} episodes had its first committed error at "
               "step 1, so none was still error-free at step 2 and the hazard was observed at "
               "one step only")
        text = (f"Whether errors compound cannot be told: {why}. The test's p "
                f"{p_clause(trend.p_value, trend.simulations)} and ê = {_interval(e_hat)} "
                "describe a wall at step 1, not a finding about later steps.")
        return text, [("untestable", (
            f"The compounding test of {name} is uninformative: every first error came at "
            f"step 1, so its p {p_clause(trend.p_value, trend.simulations)} and its horizon are "
            "artefacts of that "
            "wall, not evidence of a constant error."))]
    if not power.testable:
        text = ("Whether errors compound cannot be told: the hazard was observed at only "
                f"{power.steps_observed} step(s) with a usable mix of errors and survivors.")
        return text, [("untestable", f"The compounding test of {name} is uninformative: "
                       "no trend can be fitted to its hazard.")]
    caveats: list[tuple[CaveatKind, str]] = []
    fold = power.detectable_fold or math.inf
    if power.low and not trend.rejects():
        # Only a test that did not reject lacks the power to matter: one that did saw a trend.
        caveats.append(("low_power", (
            f"The compounding test of {name} has little power: with {power.first_errors} "
            f"first errors over {power.steps_observed} steps it would miss a trend that "
            f"changes the hazard's odds {fold:.3g}-fold over those steps. A large p here "
            "means 'not enough data', not 'constant error'.")))
    p = f"p {p_clause(trend.p_value, trend.simulations)}"
    if trend.rejects() and trend.direction == "rising":
        text = (f"Errors compound: the hazard of a first committed error rises with the step "
                f"({p}), faster than a constant per-step error (ê = {_interval(e_hat)}) "
                "predicts.")
    elif trend.rejects() and trend.direction == "falling":
        text = (f"Errors do not compound here: the hazard of a first committed error falls "
                f"with the step ({p}); later steps go wrong less often than a constant "
                f"per-step error (ê = {_interval(e_hat)}) predicts.")
    elif power.low:
        text = (f"No trend in the hazard was detected ({p}), but the test could only have "
                f"seen a steep one; the constant-error fit gives ê = {_interval(e_hat)}.")
    else:
        text = (f"No detectable trend in the hazard ({p}): consistent with a constant "
                f"per-step error ê = {_interval(e_hat)}, i.e. survival (1-ê)^n.")
    return text, caveats


def _after_errors(stats: RunStats) -> str:
    """What the ``continue`` policy's tests say (episodes that go on after an error)."""
    parts = []
    trend = stats.e_raw_trend
    if trend is not None:
        if trend.p_value is None:
            parts.append("the first proposals' error e_raw(t) could not be tested for a trend "
                         "over steps")
        elif trend.rejects():
            p = p_clause(trend.p_value, trend.permutations)
            moves = "rises" if trend.direction == "rising" else "falls"
            parts.append(f"the first proposals' error e_raw(t) {moves} with the step "
                         f"(permutation p {p}, {trend.n} steps)")
        else:
            p = p_clause(trend.p_value, trend.permutations)
            parts.append(f"the first proposals' error e_raw(t) shows no trend over steps "
                         f"(permutation p {p}, {trend.n} steps)")
    cond = stats.self_conditioning
    if cond is not None:
        if cond.p_value is None or cond.before is None or cond.after is None:
            parts.append("whether an error makes the next ones likelier could not be tested "
                         "(no step both before and after a committed error)")
        else:
            verdict = ("errors beget errors" if cond.rejects() and cond.after > cond.before
                       else "later proposals are better after an error" if cond.rejects()
                       else "no detectable self-conditioning")
            parts.append(f"after a committed error the first proposals were wrong "
                         f"{_num(cond.after)} of the time against {_num(cond.before)} before "
                         f"(p {p_clause(cond.p_value, cond.permutations)}): {verdict}")
    if not parts:
        return ""
    return " Episodes went on after errors: " + "; ".join(parts) + "."


def run_headline(stats: RunStats, profile: RunProfile | None = None) -> Headline:
    """The sentence and warnings for one run."""
    name = stats.name
    caveats: list[tuple[CaveatKind, str]] = []
    if stats.leaky:
        caveats.append(("leaky", f"{name} used critic=oracle: ground truth fed the correction "
                        "loop, so its numbers bound what a perfect critic could do; they are "
                        "not a result of self-correction."))
    if stats.episodes == 0 or stats.steps == 0:
        caveats.append(("no_data", f"{name} has no finished episode with a step: nothing was "
                        "measured."))
        text = f"{_describe(stats)}: no finished episodes, so nothing was measured."
        return _headline(name, "run", text, caveats)
    m = stats.metrics
    post = m.get("e_post")
    if post is not None and post.n == 0:
        # Not "no committed error": nothing was judged, so nothing can be said of errors.
        raw = m.get("e_raw")
        first = ("" if raw is None or not raw.n else
                 f" (the first proposals' error was {_interval(raw)} over the {raw.n} that "
                 "could)")
        caveats.append(("no_data", f"None of the {stats.steps} committed answers of {name} "
                        "could be judged: it has no error rate after correction, no survival "
                        "and no compounding test."))
        text = (f"{_describe(stats)}, {stats.episodes} episodes, {stats.steps} steps: none of "
                f"its committed answers could be judged{first}, so nothing can be said about "
                "its errors after correction or whether they compound.")
        if profile is not None:
            caveats.extend(_profile_caveats(name, profile))
        return _headline(name, "run", text, caveats)
    text = (
        f"{_describe(stats)}, {stats.episodes} episodes, {stats.steps} steps: the error per "
        f"step was {_interval(m.get('e_raw'))} before correction and "
        f"{_interval(m.get('e_post'))} after{judged_steps(stats)}."
    )
    if _degenerate(m.get("e_post")) and _degenerate(m.get("e_raw")):
        value = m["e_post"].value
        caveats.append(("all_same", (
            f"Every judged answer of {name} was {'wrong' if value else 'right'}, before and "
            "after correction: the intervals collapse to a point and say nothing about "
            "variation; the run measures a floor (or a ceiling), not a rate.")))
    if stats.horizon_steps == 1:
        caveats.append(("one_step", f"Every episode of {name} ended at step 1: per-step "
                        "curves, survival and the compounding test rest on a single step."))
    power = trend_power(stats)
    compounding, more = _compounding(stats, power)
    text += " " + compounding + _after_errors(stats)
    caveats.extend(more)
    if stats.unfinished:
        caveats.append(("unfinished", f"{stats.unfinished} episode(s) of {name} never "
                        "finished (a run still going, or killed: rerun it to resume); they are "
                        "censored at their last step."))
    if profile is not None:
        caveats.extend(_profile_caveats(name, profile))
    return _headline(name, "run", text, caveats)


def judged_steps(stats: RunStats) -> str:
    """Where e_raw, e_post and net_effect rest on different steps, which and why.

    Each leaves out the steps whose answer the oracle could not judge (cut at the token
    limit, an oracle failure): e_raw those with an unjudged first proposal, e_post those
    with an unjudged committed answer, net_effect both. The clause is empty when all three
    count the same steps.
    """
    counts = [stats.metrics[name].n if name in stats.metrics else None
              for name in ("e_raw", "e_post", "net_effect")]
    if None in counts or len(set(counts)) == 1:
        return ""
    raw, post, both = counts
    return (f" (over different steps: e_raw over the {raw} with a judged first proposal, "
            f"e_post over the {post} with a judged committed answer, and net_effect over the "
            f"{both} with both, of {stats.steps}; unjudged answers are left out, so net_effect "
            "need not equal their difference)")


def _profile_caveats(name: str, profile: RunProfile) -> list[tuple[CaveatKind, str]]:
    caveats: list[tuple[CaveatKind, str]] = []
    if profile.unknown_final:
        reasons = ", ".join(f"{code}: {count}" for code, count in profile.unknown_reasons.items())
        advice = (" Answers cut at the token limit (truncated) get a chance with a larger "
                  "--max-tokens." if "truncated" in profile.unknown_reasons else "")
        caveats.append(("unknown", f"{profile.unknown_final} of {profile.steps} committed "
                        f"answers of {name} could not be judged ({reasons}) and are left out "
                        f"of its rates.{advice}"))
    k = profile.settings.get("max_revisions", "?")
    if profile.steps and profile.stopped_early / profile.steps >= 0.25:
        limit = profile.settings.get("repeat_limit", "2")
        caveats.append(("repeat_rule", (
            f"{profile.stopped_early} of {profile.steps} steps of {name} stopped at "
            f"repeated_error before using their k={k} revisions: the repeat rule "
            f"(repeat_limit={limit}) ends a step once {limit} consecutive rounds get the same "
            "rejection. Set corrector.repeat_limit in a --config file (null: never stop "
            "early) to spend every revision.")))
    lenient = profile.lenient
    if lenient.correct and lenient.correct_lenient / lenient.correct >= 0.5:
        recovered = ""
        if lenient.recovered:
            recovered = (f"; so {'was' if lenient.recovered_lenient == 1 else 'were'} "
                         f"{_count(lenient.recovered_lenient, lenient.recovered, 'recovery')}")
        example = next(iter(lenient.notes), "")
        example = f" (most often: {example})" if example else ""
        caveats.append(("lenient", (
            f"{_count(lenient.correct_lenient, lenient.correct, 'answer').capitalize()} of "
            f"{name} judged correct {'was' if lenient.correct_lenient == 1 else 'were'} read "
            "leniently"
            f"{example}{recovered}. Its correct counts depend on the lenient reader; rerun "
            "with --task-option strict=true to count well-formed answers only.")))
    return caveats


def _count(part: int, whole: int, noun: str) -> str:
    """``3 of the 5 answers`` / ``1 of the 1 answer`` / ``the only answer``."""
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    if whole == 1:
        return f"the only {noun}" if part == 1 else f"none of the 1 {noun}"
    return f"{part} of the {whole} {plural}"


def _headline(
    subject: str, kind: Literal["run", "comparison"], text: str,
    caveats: Sequence[tuple[CaveatKind, str]],
) -> Headline:
    return Headline(subject=subject, kind=kind, text=text,
                    caveats=[Caveat(kind=k, subject=subject, text=t) for k, t in caveats])


def _row(comparison: Comparison, run: str, metric: str) -> ComparisonRow | None:
    return next((r for r in comparison.rows if r.run == run and r.metric == metric), None)


def _difference(comparison: Comparison, run: str, metric: str) -> Estimate | None:
    row = _row(comparison, run, metric)
    return None if row is None else row.difference


def _effect(diff: Estimate | None, what: str) -> str:
    if diff is None or diff.value is None:
        return f"left {what} undefined (no steps to compare)"
    if diff.ci_low is None or diff.ci_high is None:
        if _digits(diff.value) >= MAX_DIGITS and abs(diff.value) < 10 ** -MAX_DIGITS:
            return f"did not change {what} at this precision (no interval)"
        moved = "raised" if diff.value > 0 else "lowered" if diff.value < 0 else "did not change"
        size = "" if diff.value == 0 else f" by {_size(diff)}"
        return f"{moved} {what}{size} (no interval)"
    if diff.ci_low > 0:
        return f"raised {what} by {_size(diff)}: a detectable increase"
    if diff.ci_high < 0:
        return f"lowered {what} by {_size(diff)}: a detectable decrease"
    return f"did not detectably change {what} (Δ = {_interval(diff)}): no detectable effect"


def comparison_headline(
    base: RunStats, other: RunStats, comparison: Comparison
) -> Headline:
    """The sentence and warnings for ``other`` against the baseline ``base``."""
    subject = f"{other.name} vs {base.name}"
    diffs = setting_differences(base.config, other.config)
    change = describe_change(base.config, other.config, diffs)
    post = _difference(comparison, other.name, "e_post")
    effect = _effect(post, "the error after correction")
    text = f"{change[0].upper()}{change[1:]} {effect}."
    row = _row(comparison, other.name, "e_post")
    if row is not None and row.paired:
        text += f" Paired over the {row.pairs} episodes both runs played (the same seeds)."
    if not diffs:
        verdict = effect.rsplit(": ", 1)[-1] if ": " in effect else effect
        text = (f"A replicate of {base.name} (the same settings): the difference in the error "
                f"after correction is {_interval(post)}: "
                f"{verdict.replace('effect', 'difference')}.")
    raw = _difference(comparison, other.name, "e_raw")
    if raw is not None and raw.value is not None and raw.ci_low is not None and (
        raw.ci_low > 0 or (raw.ci_high is not None and raw.ci_high < 0)
    ):
        text += (f" Its first proposals already differ (Δ e_raw = {_interval(raw)}), so not "
                 "all of this is correction.")
    caveats: list[tuple[CaveatKind, str]] = []
    substantive = [d for d in diffs if d not in ("critic", "max_revisions")]
    if len(diffs) > 1 and substantive:
        caveats.append(("not_comparable", (
            f"{other.name} and {base.name} differ in more than the setting compared ("
            + ", ".join(f"{d}: {setting_value(base.config, d)} vs {setting_value(other.config, d)}"
                        for d in diffs)
            + "): the difference cannot be put down to one of them.")))
    if other.leaky or base.leaky:
        leaky = other.name if other.leaky else base.name
        caveats.append(("leaky", f"{leaky} is a leaky upper bound (critic=oracle): this "
                        "comparison shows what a perfect critic could do."))
    if other.steps == 0 or base.steps == 0:
        caveats.append(("undefined", f"{subject}: one side has no steps; the difference is "
                        "undefined."))
    return _headline(subject, "comparison", text, caveats)


def headlines(
    runs: Sequence[RunStats],
    comparison: Comparison | None,
    profiles: Sequence[RunProfile | None] = (),
) -> list[Headline]:
    """Every run's headline, then every comparison's (each run against the baseline)."""
    profiled = list(profiles) + [None] * (len(runs) - len(profiles))
    out = [run_headline(s, p) for s, p in zip(runs, profiled, strict=True)]
    if comparison is not None and len(runs) > 1:
        base = next((s for s in runs if s.name == comparison.baseline), runs[0])
        out.extend(comparison_headline(base, s, comparison) for s in runs if s is not base)
    return out
