"""The page's decisive sections, from ``decisive.json`` alone.

What each outcome would support is stated before any result; the headline names only the
declared contrasts, each with its seed-level interval, between-seed spread and Holm-adjusted
p-value; an interval that holds 0 reads "no detectable effect".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from redraft.lab.findings._analysis import ArmResult, ContrastResult, DecisiveResults
from redraft.lab.findings._design import ARMS, CONDITIONS, DECLARED_CONTRASTS, Side
from redraft.lab.stats import SeedEstimate

__all__ = [
    "decisive_sections",
    "headline_lines",
    "predictions_lines",
    "replicated",
    "replication_lines",
    "seed_text",
]


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _p(p: float | None, draws: int) -> str:
    if p is None:
        return "—"
    floor = 2 / (draws + 1)
    return f"p < {floor:.2g}" if p <= floor + 1e-12 else f"p = {p:.2g}"


def seed_text(e: SeedEstimate | None, digits: int = 3) -> str:
    """``0.012 [0.004, 0.020] (3 models, between-seed SD 0.004)``."""
    if e is None:
        return "not estimated (the runs it needs are not in this grid)"
    if e.value is None:
        return "undefined (no judged steps it could count)"
    spread = "" if e.between_sd is None else f", between-seed SD {_num(e.between_sd, digits)}"
    return (f"{_num(e.value, digits)} [{_num(e.ci_low, digits)}, {_num(e.ci_high, digits)}] "
            f"({e.models} model{'' if e.models == 1 else 's'}{spread})")


def _words(result: ContrastResult, draws: int) -> str:
    e = result.estimate
    if e is None or e.value is None:
        return seed_text(e)
    text = f"{seed_text(e)}, Holm-adjusted {_p(result.p_holm, draws)}"
    if not e.excludes_zero:
        return f"no detectable effect: {text}"
    side: Side = "negative" if (e.ci_high or 0) < 0 else "positive"
    if result.p_holm is None or result.p_holm >= 0.05:
        return (f"{side} by its own interval ({text}), but not significant after Holm's "
                "correction: not established")
    return f"{side} ({text}): supports {result.contrast.supports.get(side, '')}"


def predictions_lines() -> list[str]:
    """What each outcome would support, declared with the contrasts (before the results)."""
    lines = ["Declared before the results (in code: `DECLARED_CONTRASTS` in "
             "`lab/findings/_design.py`); Holm's correction runs over exactly these, and "
             "every other number on this page is exploratory:", ""]
    rows = []
    for c in DECLARED_CONTRASTS:
        rows.append([f"`{c.key}`", c.label, c.supports.get("negative", "—"),
                     c.supports.get("positive", "—")])
    lines += _table(["contrast", "estimate", "if detectably negative", "if detectably positive"],
                    rows)
    lines += ["", "In words: **LeCun** is supported if survival falls below the "
              "prod(1 − e_TF(t)) null or a planted error raises the error on the next steps "
              "(errors feed on errors; the hazard rises); **gwern** if the state returns to "
              "the true total more often than compensating errors do by chance (error is "
              "non-monotonic) or reasoning lowers the error; **Razied** if retry or recovery "
              "data lowers the error or raises the return to the truth. An interval that "
              "holds 0 supports no one: it is reported as no detectable effect."]
    return lines


def _detected(result: ContrastResult) -> int:
    """+1 / -1 for a contrast detected (interval excludes 0, Holm p < 0.05), else 0."""
    e = result.estimate
    if e is None or not e.excludes_zero or result.p_holm is None or result.p_holm >= 0.05:
        return 0
    return -1 if (e.ci_high or 0) < 0 else 1


def replicated(a: ContrastResult, b: ContrastResult) -> bool | None:
    """Did a contrast detected in ``a`` replicate in ``b`` (same direction, intervals overlap)?

    None when ``a`` detected nothing (there is nothing to replicate).
    """
    sign = _detected(a)
    if sign == 0:
        return None
    ea, eb = a.estimate, b.estimate
    if ea is None or eb is None or eb.value is None or eb.ci_low is None or eb.ci_high is None:
        return False
    same = eb.value > 0 if sign > 0 else eb.value < 0  # an estimate of 0 has no direction
    overlap = (ea.ci_low or 0) <= eb.ci_high and eb.ci_low <= (ea.ci_high or 0)
    return same and overlap


def headline_lines(results: DecisiveResults, replicate: DecisiveResults | None = None
                   ) -> list[str]:
    """One line per declared contrast (marked when a second run does not replicate it)."""
    other = {r.contrast.key: r for r in replicate.contrasts} if replicate else {}
    lines = []
    for r in results.contrasts:
        text = f"- **{r.contrast.key}** — {r.contrast.label}: {_words(r, results.draws)}"
        twin = other.get(r.contrast.key)
        if twin is not None and replicated(r, twin) is False:
            text += (" — **not established**: the replication run (another seed) flips it "
                     "or its interval does not overlap")
        lines.append(text + ".")
    return lines


def replication_lines(results: DecisiveResults, replicate: DecisiveResults,
                      command: str) -> list[str]:
    """Both runs' declared contrasts side by side."""
    other = {r.contrast.key: r for r in replicate.contrasts}
    rows = []
    for r in results.contrasts:
        twin = other.get(r.contrast.key)
        verdict = {None: "nothing detected to replicate", True: "replicated",
                   False: "not established"}[replicated(r, twin) if twin else None]
        rows.append([f"`{r.contrast.key}`", seed_text(r.estimate),
                     seed_text(twin.estimate if twin else None), verdict])
    return ["## Replication", "",
            f"The same grid from scratch with another seed (`{command}`): a contrast this page "
            "detects counts as established only if the second run gives the same direction "
            "with an overlapping interval.", "",
            *_table(["contrast", "this run", "replication run", "verdict"], rows)]


def _cond_rows(arm: str, result: ArmResult) -> list[list[str]]:
    rows = []
    for name, c in result.conditions.items():
        rec = [x for x in c.ingen_recovery if x is not None]
        rows.append([
            arm, name, seed_text(c.e_raw),
            ", ".join(_num(v) for v in c.e_raw.per_model),
            f"{c.unknown_share:.3f} / {c.truncated_share:.3f}",
            _num(c.changed_share),
            ", ".join(_num(v) for v in rec) if rec else "—"])
    return rows


def _curve_text(values: Sequence[float | None], every: int) -> str:
    picked = [(t + 1, v) for t, v in enumerate(values) if t % every == 0 or t == len(values) - 1]
    return ", ".join(f"t{t}: {_num(v)}" for t, v in picked)


def decisive_sections(results: DecisiveResults, command: str) -> list[str]:
    """The decisive results: conditions, e_TF(t), survival, planted errors, undo."""
    every = max(1, results.episode_steps // 6)
    lines = ["## The decisive grid", "",
             f"Rebuilt by `{command}` (every number below; `--page-only` redraws the page "
             "from the committed files). Task: running_sum, representation "
             f"`{results.representation}`, options `{results.task_options}`; training and "
             f"evaluation episodes both {results.episode_steps} steps (every step in "
             "distribution); critic `none`, `continue` policy. Intervals: two-stage "
             f"bootstrap ({results.draws} draws: models, then episodes within each model), "
             "95%.", "",
             "Conditions: " + "; ".join(f"`{c.name}` {c.description}"
                                        for c in CONDITIONS.values()) + ".", "",
             "### Per-step error by arm and condition", "",
             "e_raw is the first answer's error (round 0; with critic `none` it is the "
             "committed one). Unknown judgements are left out of every rate; their share, and "
             "the share of outputs cut at the token limit, stand beside it.", ""]
    rows: list[list[str]] = []
    for design in ARMS:
        if design.name in results.arms:
            rows += _cond_rows(design.name, results.arms[design.name])
    lines += _table(["arm", "condition", "e_raw (seed-level)", "per model",
                     "unknown / truncated", "changed inside generation",
                     "in-generation recovery per model"], rows)
    lines += ["", "### e_TF(t): is every step equally hard?", ""]
    for name, arm in results.arms.items():
        tf = arm.conditions.get("tf-t1")
        if tf is None:
            continue
        test = arm.flatness
        flat = ("—" if test is None or test.p_value is None else
                f"slope {test.statistic:+.4f} per step, {test.direction}, p = "
                f"{test.p_value:.2g} ({test.n} steps)")
        lines.append(f"- `{name}`: e_TF(t) at temperature 1 {_curve_text(tf.e_raw_curve, every)}"
                     f"; flatness (within-episode trend test): {flat}.")
    lines += ["", "A small p means e_TF(t) changes with t: the null below then still holds "
              "(it uses e_TF at each t), but (1-e)^n with one e does not.", "",
              "### Survival against prod(1 − e_TF(t))", ""]
    for name, arm in results.arms.items():
        if arm.survival_gap is None:
            continue
        obs, null = arm.survival_observed, arm.survival_null
        lines.append(f"- `{name}`: survival to step {results.episode_steps} observed "
                     f"{_num(obs[-1] if obs else None)} against {_num(null[-1] if null else None)}"
                     f" from the teacher-forced null; difference {seed_text(arm.survival_gap)}.")
    first, last = results.plant_window
    lines += ["", f"### A planted wrong total at step {results.plant_step} (self-conditioning)",
              "", f"Fresh errors (locally wrong and not a return to the true total) at steps "
              f"{first}–{last}, planted minus unplanted runs of the same models:", ""]
    for name, arm in results.arms.items():
        if arm.planted is not None:
            lines.append(f"- `{name}`: {seed_text(arm.planted)}.")
    lines += ["", "### P(global error at t), undo and the chance rate", "",
              f"Undo: P(state right at t | wrong at t−1), judged against the true total, "
              f"from step {results.undo_from} (past the window's start row). Without "
              "checkpoints the prompt cannot show the truth, so returns to it there are "
              "compensating errors: the chance rate.", ""]
    for name, arm in results.arms.items():
        free = arm.conditions.get("free-t1")
        if free is None:
            continue
        nocheck = arm.conditions.get("nocheck-t1")
        text = (f"- `{name}`: P(global error at t) {_curve_text(free.global_curve, every)}; "
                f"undo {seed_text(free.undo)}")
        if nocheck is not None:
            text += f"; chance {seed_text(nocheck.undo)}; difference {seed_text(arm.undo_chance)}"
        lines.append(text + ".")
    expert = results.arms.get("expert")
    if expert is not None:
        sweep = [(CONDITIONS[c].temperature, expert.conditions[c]) for c in
                 ("free-t0", "free-t0.5", "free-t1") if c in expert.conditions]
        if sweep:
            lines += ["", "### Temperature sweep (expert, exploratory)", ""]
            lines += _table(["temperature", "e_raw", "P(global error) at the last step"],
                            ([f"{t:g}", seed_text(c.e_raw),
                              _num(c.global_curve[-1] if c.global_curve else None)]
                             for t, c in sweep))
    return lines
