"""The page's decisive sections, from ``decisive.json`` alone.

What each outcome would support, and why it can fail, is stated before any result; the
headline names only the four primary outcomes, each with its mean over paired seeds, t
interval, between-seed SD, exact sign-flip and t p-values, Holm-adjusted p and the
smallest effect it detects with 80% power. A null reads "no detectable effect; at most ±X
at this scale"; a detected effect names whom it supports.
"""

from __future__ import annotations

from collections.abc import Sequence

from redraft.evals.report import format_number, needed_digits
from redraft.lab.findings._analysis import (
    DecisiveResults,
    PrimaryResult,
    RunCurves,
    read_with,
    terms,
)
from redraft.lab.findings._design import ARMS, BASE, CONDITIONS, PRIMARY, Side
from redraft.lab.findings._markdown import table
from redraft.lab.stats import PairedEstimate

__all__ = [
    "ALPHA",
    "decisive_sections",
    "detected",
    "headline_lines",
    "paired_text",
    "predictions_lines",
    "replicated",
    "replication_lines",
]

ALPHA = 0.05
"""The family-wise level of the primary outcomes."""


def _num(value: float | None, digits: int | None = None) -> str:
    """A number with the digits it needs (3 at least; more where it would read as 0)."""
    if value is None:
        return "—"
    return format_number(value, digits if digits is not None else needed_digits(value))


def _p(p: float | None) -> str:
    return "—" if p is None else (f"{p:.2g}" if p >= 0.001 else f"{p:.1e}")


def paired_text(e: PairedEstimate | None) -> str:
    """``0.012 [0.004, 0.020] (8 seeds, between-seed SD 0.004)``."""
    if e is None:
        return "not estimated (no seed with the scores it needs)"
    if e.value is None:
        return "undefined (no seed with a value)"
    digits = needed_digits(e.value, e.ci_low, e.ci_high, e.sd)
    sd = "" if e.sd is None else f", between-seed SD {_num(e.sd, digits)}"
    return (f"{_num(e.value, digits)} [{_num(e.ci_low, digits)}, {_num(e.ci_high, digits)}] "
            f"({e.n} seed{'' if e.n == 1 else 's'}{sd})")


BAND = (0.01, 0.10)
"""The expert's per-step error the main condition is meant to give (the design's band)."""


def detected(result: PrimaryResult) -> int:
    """+1 / −1 for a primary outcome detected (Holm-adjusted p < :data:`ALPHA`), else 0."""
    e = result.estimate
    if e is None or e.value is None or result.p_holm is None or result.p_holm >= ALPHA:
        return 0
    return 1 if e.value > 0 else -1 if e.value < 0 else 0


def untestable(result: PrimaryResult) -> bool:
    """Estimated, not detected, and too few seeds for Holm's first level: not a null.

    With so few converged seeds no exact p (2/2^n at the least) reaches the first level.

    An outcome detected at a later Holm step (a looser level) is reported as detected.
    """
    e = result.estimate
    return (e is not None and e.value is not None and e.detectable is None
            and detected(result) == 0)


def _detectable(e: PairedEstimate) -> str:
    if e.detectable is None:
        return (f"none: {e.n} seeds cannot reach level {e.alpha:.3g} (the smallest exact p "
                "is 2/2^n)")
    return f"{_num(e.detectable)} (80% power, level {e.alpha:.3g})"


def _words(result: PrimaryResult) -> str:
    e = result.estimate
    if e is None or e.value is None:
        return paired_text(e)
    if untestable(result):  # not a null: no test could have rejected it
        return (f"**not testable at this scale**: {e.n} converged seed"
                f"{'' if e.n == 1 else 's'}, and no exact p can reach level {e.alpha:.3g} "
                f"with so few (the smallest is 2/2^n); exploratory: {paired_text(e)}; "
                f"sign-flip p = {_p(e.p_sign_flip)}, t p = {_p(e.p_t)}")
    tests = (f"sign-flip p = {_p(e.p_sign_flip)}, t p = {_p(e.p_t)}, Holm-adjusted p = "
             f"{_p(result.p_holm)}; smallest detectable effect {_detectable(e)}")
    sign = detected(result)
    if sign == 0:
        return (f"no detectable effect; at most ±{_num(e.detectable)} at this scale: "
                f"{paired_text(e)}; {tests}")
    side: Side = "positive" if sign > 0 else "negative"
    return (f"**{side}**: {paired_text(e)}; {tests}: supports "
            f"{result.contrast.supports.get(side, '')}")


def predictions_lines() -> list[str]:
    """The primary outcomes and what each would support, declared before the results."""
    lines = ["Declared before the results (in code: `PRIMARY` in `lab/findings/_design.py`); "
             "each is one number per seed, scored exactly from the models' logits on one "
             "shared set of constructed states; Holm's correction runs over exactly these "
             "four, and every other number on this page is exploratory. A regime contrast "
             "(retry, recovery) samples the arm at *matched clean error*, the temperature "
             "where it errs on clean states as often as its seed's expert at the main "
             "condition: at one temperature a flatter arm puts more mass on every total, the "
             "truth after an error included, and the runs showed the arms far flatter (this "
             "matching was declared on 2026-12-07 after the full run, before any score at a "
             "matched temperature; the outcome at the main temperature stays beside each):",
             ""]
    rows = [[f"`{c.key}`", c.label, c.supports.get("negative", "—"),
             c.supports.get("positive", "—"), c.fails_if] for c in PRIMARY]
    lines += table(["outcome", "per seed", "if detectably negative", "if detectably positive",
                    "0 if"], rows)
    return lines


def headline_lines(results: DecisiveResults, replicate: DecisiveResults | None = None
                   ) -> list[str]:
    """One line per primary outcome (marked when a second run does not agree with it)."""
    other = {r.contrast.key: r for r in replicate.primary} if replicate else {}
    lines = []
    for r in results.primary:
        text = f"- **{r.contrast.key}** — {r.contrast.label}: {_words(r)}"
        twin = other.get(r.contrast.key)
        if detected(r) != 0:
            if replicate is None:
                text += " — **not replicated**: no second run on this page"
            elif replicated(r, twin):
                text += " — the second run agrees in direction"
            else:
                text += " — **not replicated**: the second run does not agree in direction"
        if r.left_out:
            text += " (left out: " + "; ".join(r.left_out) + ")"
        lines.append(text + ".")
        lines += _read_with_lines(results, r)
    return lines


def _sharp(e: PairedEstimate) -> str:
    if e.ci_low is None or e.ci_high is None:
        return "too few seeds for an interval"
    if e.ci_low > 0 or e.ci_high < 0:
        which = "flatter" if e.value is not None and e.value > 0 else "sharper"
        return (f"the arm is {which} than its expert at that temperature, and flatness alone "
                "moves the outcome there, so it does not isolate what the arm does")
    return "the two are equally sharp within the interval"


def _read_with_lines(results: DecisiveResults, result: PrimaryResult) -> list[str]:
    """A contrast's companions, exploratory.

    An expert contrast's two terms; a regime contrast's clean-error gap and the arm's own part.
    """
    pair = terms(results, result)
    if pair is not None:
        first, second = pair
        names = (("fresh error after a wrong total", "on the clean twin")
                 if result.contrast.kind == "compounding"
                 else ("P(back to the truth)", "the chance of it"))
        digits = needed_digits(first, second)
        pct = (first / second - 1) * 100 if second > 0 else None
        share = ("" if pct is None else
                 f": the first {abs(pct):.1f}% {'above' if pct >= 0 else 'below'} the second")
        return [f"  - the two terms, mean over these seeds: {names[0]} "
                f"{_num(first, max(digits, 5))}, {names[1]} {_num(second, max(digits, 5))}"
                f"{share}."]
    extra = read_with(results, result)
    if extra is None:
        return []
    parts = []
    if extra.temperatures is not None:
        low, high = extra.temperatures
        span = f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"
        parts.append(f"the {result.contrast.arm} models sampled at T={span}, "
                     f"where each errs on its clean states as often as its expert at "
                     f"T={results.temperature:g}")
    if extra.own is not None:
        label = ("P(back to the truth) beyond chance (`undo`)"
                 if result.contrast.kind == "recovery" else
                 "committed error minus the first total's (what taking totals back changes)")
        parts.append(f"its own part there, {label}, {result.contrast.arm} minus expert: "
                     f"{paired_text(extra.own)}, sign-flip p = {_p(extra.own.p_sign_flip)}, "
                     f"t p = {_p(extra.own.p_t)}")
    if extra.at_main is not None and extra.clean_gap is not None:
        gap = extra.clean_gap
        parts.append(f"sampled at T={results.temperature:g} instead (the definition before "
                     f"matching), {paired_text(extra.at_main)}, sign-flip p = "
                     f"{_p(extra.at_main.p_sign_flip)}, where the arm's clean error minus its "
                     f"expert's is {paired_text(gap)}: {_sharp(gap)}")
    if not parts:
        return []
    return ["  - read with (exploratory, unadjusted): " + "; ".join(parts) + "."]


def replicated(a: PrimaryResult, b: PrimaryResult | None) -> bool | None:
    """Does ``b`` agree in direction with an outcome ``a`` detected? None: nothing detected."""
    sign = detected(a)
    if sign == 0:
        return None
    if b is None or b.estimate is None or b.estimate.value is None:
        return False
    return b.estimate.value > 0 if sign > 0 else b.estimate.value < 0


def replication_lines(results: DecisiveResults, replicate: DecisiveResults,
                      command: str) -> list[str]:
    """Both runs' primary outcomes side by side."""
    other = {r.contrast.key: r for r in replicate.primary}
    rows = []
    for r in results.primary:
        twin = other.get(r.contrast.key)
        verdict = {None: "nothing detected to replicate", True: "agrees in direction",
                   False: "**not replicated**"}[replicated(r, twin)]
        if untestable(r):
            verdict = "not testable in this run (too few converged seeds)"
        rows.append([f"`{r.contrast.key}`", paired_text(r.estimate),
                     _p(r.p_holm), paired_text(twin.estimate if twin else None),
                     _p(twin.p_holm if twin else None), verdict])
    return ["## Replication", "",
            f"A second run with other seeds (`{command}`; its scale in the command): every "
            "model, every state and every run drawn anew. An outcome this page detects counts "
            "as established only if the second run agrees in direction.", "",
            *table(["outcome", "this run", "Holm p", "second run", "Holm p", "verdict"], rows)]


def _curve_text(values: Sequence[float | None], every: int) -> str:
    picked = [(t + 1, v) for t, v in enumerate(values) if t % every == 0 or t == len(values) - 1]
    return ", ".join(f"t{t}: {_num(v)}" for t, v in picked)


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _spread(values: Sequence[float | None]) -> str:
    kept = [v for v in values if v is not None]
    if not kept:
        return "—"
    return f"{_num(_mean(kept))} ({_num(min(kept))}–{_num(max(kept))})"


def convergence_lines(results: DecisiveResults) -> list[str]:
    """Which models converged (the rule, and every model's reading)."""
    by_arm: dict[str, list[bool]] = {}
    for m in results.models:
        by_arm.setdefault(m.arm, []).append(m.converged)
    counts = "; ".join(f"{arm} {sum(v)} of {len(v)}" for arm, v in by_arm.items())
    learning = sorted({m.arm for m in results.models if m.until_learnt and m.arm != "base"})
    until = ("" if not learning else
             f" An arm trained until learnt ({', '.join(learning)}) is read as a base is: one "
             "that reached its step cap short of that has not learnt, however flat its curve.")
    lines = [f"Converged models: {counts}. A base has passed its learning turn when the "
             "stopping rule fired (held-out greedy accuracy at least 0.98 at three scorings "
             "in a row) or, at the step cap, its last four scorings were all at least 0.9 "
             "and one at least 0.98 (at a constant learning rate a learnt model's greedy "
             "accuracy wanders by a few states out of 192). An arm, which starts from its "
             "base and cools down, has converged when its held-out greedy accuracy on examples "
             "of its own training distribution is flat over the last quarter of training (a "
             f"least-squares trend within ±0.02; and, for the expert, at least 0.98).{until} "
             "A seed whose base or arm had not is left out of every outcome that involves it, "
             "and said so above.", ""]
    rows = [[m.arm, str(m.seed), "yes" if m.converged else "**no**", _num(m.accuracy),
             _num(m.error), m.why] for m in results.models]
    lines += table(["arm", "seed", "converged", "held-out accuracy",
                    f"held-out error at T={results.temperature:g}", "reading"], rows)
    return lines


def _run_rows(name: str, runs: dict[str, RunCurves], every: int) -> list[list[str]]:
    rows = []
    for condition, curves in runs.items():
        rows.append([name, condition, _num(curves.e_raw),
                     _curve_text(curves.survival, every),
                     _curve_text(curves.globally_right, every),
                     _curve_text(curves.undone, every)])
    return rows


def decisive_sections(results: DecisiveResults, command: str) -> list[str]:
    """The exploratory detail behind the primary outcomes."""
    temp = f"{results.temperature:g}"
    every = max(1, results.episode_steps // 6)
    lines = ["## The decisive grid", "",
             f"Rebuilt by `{command}` (every number below; `--page-only` redraws the page from "
             "the committed files). Task: running_sum, representation "
             f"`{results.representation}`, options `{results.task_options}`; training and "
             f"evaluation episodes both {results.episode_steps} steps (every step in "
             f"distribution). The main condition samples at temperature {temp}. Exact scores: "
             f"{results.eval_episodes} evaluation episodes (every step a clean state), error "
             f"sites at steps {results.sites} (each seed's base drew the wrong total there: its "
             "own kind of mistake; the post-error states are the next two steps), and "
             f"{results.committed_states} clean states for the committed error with retries. "
             "Runs (`redraft eval`, critic `none`, `continue` policy): "
             + "; ".join(f"`{c.name}` {c.description}" for c in CONDITIONS.values()) + ".",
             "", "### Convergence", "", *convergence_lines(results), ""]
    lines += ["### Exact error on clean states (e_TF) by temperature", "",
              "One minus the probability of writing the right total (its digits, given "
              "`total: `), mean over the arm's models (lowest–highest):", ""]
    arms = [a for a in (BASE, *ARMS) if a.name in results.arms]
    temps = sorted({t for a in arms for t in results.arms[a.name].e_tf}, key=float)
    lines += table(["arm", *[f"T={t}" if t != "0" else "greedy" for t in temps],
                    f"P(`total: `) at T={temp}"],
                   ([a.name, *[_spread(list(results.arms[a.name].e_tf.get(t, [])))
                               for t in temps], _num(results.arms[a.name].prefix)]
                    for a in arms))
    if results.expert_sd is not None:
        smallest = min((r.estimate.detectable for r in results.primary
                        if r.estimate is not None and r.estimate.detectable is not None),
                       default=None)
        verdict = ("" if smallest is None else
                   f"; the smallest detectable primary effect is {_num(smallest)}, so the "
                   "target (SD at most a third of it) is "
                   + ("met" if results.expert_sd <= smallest / 3 else "**not met**"))
        lines += ["", f"Between-seed SD of the converged experts' e_TF at T={temp}: "
                  f"{_num(results.expert_sd, 4)}{verdict}."]
    expert = results.arms.get("expert")
    main = [v for t, vs in (expert.e_tf.items() if expert else []) if float(t) == float(temp)
            for v in vs]
    if main:
        mean = sum(main) / len(main)
        inside = BAND[0] <= mean <= BAND[1]
        lines += ["", f"The experts' mean e_TF at the main condition (T={temp}) is "
                  f"{_num(mean)}: the design asks for {BAND[0]:.0%}-{BAND[1]:.0%}, so it is "
                  + ("inside" if inside else "**outside** (the temperature was set from a "
                     "pilot's experts, under Setup)") + "."]
    lines += ["", f"e_TF(t) at T={temp} (is every step equally hard?):", ""]
    for a in arms:
        lines.append(f"- `{a.name}`: {_curve_text(results.arms[a.name].e_tf_curve, every)}")
    lines += ["", "### After a wrong total", "",
              "On post-error states against their clean twins (the same step of the same "
              "episode without the error), mean over models: P(continue from the wrong total), "
              "P(back to the truth), the fresh error (neither) and on the twin the fresh error "
              "and the chance P(right − δ):", ""]
    rows = []
    for a in arms:
        post = results.arms[a.name].post
        for which, label in (("all", "both"), ("1", "1 step after"), ("2", "2 steps after")):
            values = post.get(which) or {}
            rows.append([a.name, label, *[_spread(list(values.get(k, []))) for k in (
                "local", "truth", "fresh", "clean_fresh", "clean_chance", "compounding",
                "undo", "error_vs_truth")]])
    lines += table(["arm", "when", "P(local)", "P(truth)", "fresh error", "twin: fresh error",
                    "twin: chance", "compounding", "undo", "error vs truth"], rows)
    lines += ["", "### Committing with a retry", "",
              "On clean states: the committed error when the model may write `total: x [BACK] "
              "total: y` (the last total commits), the first total's error, how often a first "
              "total is taken back, and the retry's precision (the first total was wrong), "
              "recall (of wrong first totals) and harm (a right first total replaced by a "
              "wrong one), mean over models (lowest–highest):", ""]
    rows = []
    for a in arms:
        c = results.arms[a.name].committed
        if not c or all(v is None for v in c.get("committed_error", [])):
            continue
        rows.append([a.name, *[_spread(list(c.get(k, []))) for k in (
            "committed_error", "first_error", "back", "precision", "recall", "harm",
            "residual")]])
    lines += table(["arm", "committed error", "first error", "taken back", "precision",
                    "recall", "harm", "not enumerated"], rows)
    matched_rows = [[a.name, *[_spread(list(results.arms[a.name].matched.get(k, []))) for k in (
        "temperature", "target", "e_tf", "truth", "undo", "error_vs_truth", "committed_error",
        "first_error")]] for a in arms if results.arms[a.name].matched]
    if matched_rows:
        lines += ["", "### At matched clean error", "",
                  "What the regime contrasts compare: each arm's model sampled at the "
                  "temperature where its exact error on the clean states equals its seed's "
                  f"expert's at T={temp} (found by bisection on the logits), and its "
                  "post-error and committed scores there, mean over models (lowest–highest; "
                  "the expert's own at T=" + temp + " are in the tables above):", ""]
        lines += table(["arm", "temperature", "expert's e_TF", "its e_TF there", "P(truth)",
                        "undo", "error vs truth", "committed error", "first error"],
                       matched_rows)
    lines += ["", "### Trajectories: P(globally right at n) against survival to n", "",
              "From the runs: survival = no local error through n; globally right = the state "
              "equals the true total at n; their difference is the share that erred and is "
              "back at the truth: undone, by compensating errors, or after an answer that could "
              "not be read (counted as an error; the `continue` policy then states the true "
              "total, so it is not the model's doing). The exact `undo` above is the model's "
              "own.", ""]
    rows = []
    for a in arms:
        rows += _run_rows(a.name, results.arms[a.name].runs, every)
    lines += table(["arm", "run", "e_raw", "survival", "globally right", "difference"], rows)
    tf_rows = []
    for a in arms:
        summary = results.arms[a.name]
        tf = summary.runs.get("tf")
        if tf is None:
            continue
        exact = summary.e_tf.get(temp, [])
        tf_rows.append([a.name, _spread(list(tf.per_model_e_raw)), _spread(list(exact))])
    if tf_rows:
        lines += ["", f"Sampled against exact: e_TF at T={temp} from the teacher-forced runs "
                  "(the framework's oracle on sampled answers) beside the exact score:", ""]
        lines += table(["arm", "sampled", "exact"], tf_rows)
    if results.scratchpad is not None:
        lines += ["", "### Chain of thought (exploratory)", "",
                  f"The scratchpad's sampled teacher-forced error at T={temp} minus the "
                  f"expert's, per seed, trained to the same supervised tokens: "
                  f"{paired_text(results.scratchpad)}, sign-flip p = "
                  f"{_p(results.scratchpad.p_sign_flip)} (not corrected: exploratory). It "
                  "lowers or raises e; it never revises, so it says nothing about undo."]
    return lines
