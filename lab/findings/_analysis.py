"""The decisive experiment's analysis (``decisive.json``).

It is made from the exact scores, the model recipes and the run logs alone.

- **Convergence** (:func:`converged`, declared with the design): a model whose held-out
  greedy accuracy is below :data:`LEARNT` at the end, or whose held-out error at the
  evaluation temperature still moved over the last quarter of training, is reported and
  left out of every contrast (with its seed's pair).
- **Primary outcomes** (:data:`~redraft.lab.findings._design.PRIMARY`): one value per seed
  from the exact scores; the mean with a t interval, the exact sign-flip p and the t p,
  Holm over exactly these four, and the smallest effect each detects with 80% power at
  its scale (:mod:`redraft.lab.stats`).
- **Exploratory**: per arm, the exact scores by temperature and by steps since an error,
  the committed error with retries and the retry's precision and recall, the free-running
  curves (P(globally right at n) against survival to n), the sampled teacher-forced error
  beside the exact one, and the scratchpad against the expert (paired, no correction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.evals.stats import episode_arrays, load_run
from redraft.lab.findings._design import ARMS, PRIMARY, Contrast, ContrastKind, arm_named
from redraft.lab.findings._scores import ModelScores, Scores
from redraft.lab.stats import (
    PairedEstimate,
    global_error_curve,
    holm,
    paired_estimate,
    step_rates,
    survival_observed,
)

if TYPE_CHECKING:
    from redraft.lab.findings._grid import FindingsOptions, Plan
    from redraft.lab.testbed import Recipe

__all__ = [
    "DECISIVE_FILE",
    "LEARNT",
    "ArmSummary",
    "DecisiveResults",
    "ModelStatus",
    "PrimaryResult",
    "ReadWith",
    "RunCurves",
    "analyze",
    "analyze_decisive",
    "converged",
    "learning_curve",
    "model_converged",
    "past_turn",
    "primary_values",
    "read_with",
    "regime_value",
    "terms",
    "unmatched",
]

DECISIVE_FILE = "decisive.json"
"""The decisive grid's analysis, beside ``meta.json``."""
LEARNT = 0.98
"""Held-out greedy accuracy a converged model reaches."""
PLATEAU = 0.25
"""The last share of training over which a converged model's held-out accuracy is flat."""
TREND = 0.02
"""The most a converged arm's held-out accuracy may rise or fall along its trend over the
last :data:`PLATEAU` of training (4 of the 192 held-out states at ``quick``)."""
FloatArray = NDArray[np.float64]


class ModelStatus(BaseModel):
    """Whether a trained model converged, from its learning curve."""

    model_config = ConfigDict(frozen=True)

    arm: str
    """Its arm."""
    seed: int
    """Its seed."""
    converged: bool
    """Past its learning turn: contrasted as trained."""
    why: str
    """The reading behind it."""
    accuracy: float | None
    """Final held-out greedy accuracy."""
    error: float | None
    """Final held-out error at the evaluation temperature (exact target)."""
    until_learnt: bool = False
    """Trained until learnt (a base, the retry): read by :func:`past_turn`."""


def learning_curve(recipe: Recipe) -> list[list[float]]:
    """A trained model's held-out learning curve, as :func:`converged` reads it.

    One ``[step, accuracy, error, loss]`` point per scoring.
    """
    return [[p.step, p.accuracy, p.error, p.loss] for p in recipe.heldout_curve]


def converged(curve: Sequence[Sequence[float]], *, accuracy: float | None = None
              ) -> tuple[bool, str]:
    """Has a learning curve converged? ``curve``: ``[step, accuracy, error, loss]`` points.

    Converged: over the last :data:`PLATEAU` of training the held-out greedy accuracy's
    trend (a least-squares line through those scorings, its rise across them) is at most
    :data:`TREND` either way, so the behaviour was no longer changing when training stopped,
    and, if ``accuracy`` is given, the final accuracy is at least that. An arm starts from a
    converged base, so its rule is the plateau: a regime whose new behaviour is not learnt
    plateaus below the base's accuracy on its own examples, and is contrasted as what it
    learnt.

    The held-out loss is on the learning curves but not in the rule (it was, before the
    quick runs of 2026-12-07 showed no cooling run could meet it): under a cosine schedule a
    deterministic target's loss falls towards 0 until the last step, however settled the
    answers, and the recovery arm's sits on a floor that the 192 held-out states measure to
    about 10%. A trend, not the range, because one scoring of 192 states moves by a few.
    """
    if len(curve) < 2:
        return False, "no learning curve"
    last = curve[-1]
    if accuracy is not None and last[1] < accuracy:
        return False, f"held-out accuracy {last[1]:.3f} < {accuracy}"
    cut = last[0] * (1 - PLATEAU)
    late = [p for p in curve if p[0] >= cut]
    if len(late) < 3:
        return False, f"{len(late)} scoring(s) over the last quarter: too few for a trend"
    steps = np.array([p[0] for p in late], dtype=np.float64)
    slope = float(np.polyfit(steps, np.array([p[1] for p in late], dtype=np.float64), 1)[0])
    rise = slope * float(steps[-1] - steps[0])
    if abs(rise) > TREND:
        return False, (f"still learning over the last quarter: held-out accuracy trend "
                       f"{rise:+.3f} (final {last[1]:.3f})")
    return True, f"accuracy {last[1]:.3f}, trend {rise:+.3f} over the last quarter"


def past_turn(curve: Sequence[Sequence[float]], stopped: bool) -> tuple[bool, str]:
    """Has a base (or an arm trained until learnt) passed its learning turn?

    ``stopped``: the stopping rule ended it.

    Past it: the stopping rule fired (held-out accuracy at least :data:`LEARNT` at three
    scorings in a row), or, at the step cap, the last four scorings all at least 0.9 and
    one at least :data:`LEARNT` (a base trains at a constant learning rate, so its greedy
    accuracy wanders by a few states out of 192 once learnt; its arms cool down from it).
    """
    if not curve:
        return False, "no learning curve"
    step = int(curve[-1][0])
    if stopped:
        return True, f"stopping rule at step {step}"
    last = [p[1] for p in curve[-4:]]
    if len(last) == 4 and min(last) >= 0.9 and max(last) >= LEARNT:
        return True, (f"step cap {step}; last four held-out accuracies "
                      + ", ".join(f"{a:.3f}" for a in last))
    return False, (f"not past its learning turn in {step} steps (last held-out accuracies "
                   + ", ".join(f"{a:.3f}" for a in last) + ")")


def model_converged(curve: Sequence[Sequence[float]], *, until_learnt: bool, stopped: bool,
                    accuracy: float | None = None) -> tuple[bool, str]:
    """Whether a trained model of the grid converged, and the reading behind it.

    A model trained until learnt (a base, the retry arm) by :func:`past_turn`: the stopping
    rule ended it, or at its step cap its last four scorings say it learnt; one that
    reached its cap short of that has not learnt, and is left out of every contrast,
    however flat its curve (a retry stuck at half its decisions is flat). Any other arm by
    its plateau (:func:`converged`), at least ``accuracy`` if given.
    """
    if until_learnt:
        return past_turn(curve, stopped)
    return converged(curve, accuracy=accuracy)


class PrimaryResult(BaseModel):
    """A primary outcome's paired estimate and its Holm-adjusted p."""

    model_config = ConfigDict(frozen=True)

    contrast: Contrast
    """What was declared."""
    estimate: PairedEstimate | None
    """None: the scores it needs are not in this grid."""
    p_holm: float | None
    """Holm-adjusted over the primary outcomes that could be estimated (sign-flip p's)."""
    left_out: list[str]
    """Seeds left out, and why (a model that had not converged)."""


class RunCurves(BaseModel):
    """Free-running curves of one arm at one condition, mean over its models."""

    model_config = ConfigDict(frozen=True)

    error: list[float | None]
    """e(t): round-0 error per step."""
    survival: list[float | None]
    """P(no error through n)."""
    globally_right: list[float | None]
    """P(the state is right at n)."""
    undone: list[float | None]
    """P(globally right at n) − P(no error through n): erred and back at n."""
    e_raw: float | None
    """Mean round-0 error over every step."""
    per_model_e_raw: list[float | None]
    """Each model's round-0 error."""
    models: int
    """Models with this run."""


class ArmSummary(BaseModel):
    """One arm's exact scores and runs, over its models (exploratory beside the primary)."""

    model_config = ConfigDict(frozen=True)

    seeds: list[int]
    """Its models' seeds."""
    e_tf: dict[str, list[float]]
    """Per temperature: each model's exact error on clean states."""
    e_tf_curve: list[float]
    """e_TF(t) at the evaluation temperature, mean over models."""
    prefix: float | None
    """Mean P(``total: ``) at the evaluation temperature (None: no scores)."""
    post: dict[str, dict[str, list[float]]]
    """By steps since the error (``"all"``, ``"1"``, ``"2"``): each statistic per model
    (``local``, ``truth``, ``fresh``, ``clean_fresh``, ``clean_chance``, ``compounding``,
    ``undo``, ``error_vs_truth``)."""
    committed: dict[str, list[float | None]]
    """Committed error with retries and the retry's stats, per model."""
    matched: dict[str, list[float | None]] = Field(default_factory=dict)
    """At matched clean error (an arm a regime contrast compares), per model:
    ``temperature``, ``target``, ``e_tf``, the post-error ``truth``, ``clean_chance``,
    ``undo`` and ``error_vs_truth``, and the committed ``committed_error`` and
    ``first_error`` (None where the model has no matched temperature)."""
    runs: dict[str, RunCurves]
    """Free-running (and teacher-forced sampled) curves by condition."""


class DecisiveResults(BaseModel):
    """Everything the page's decisive sections show."""

    model_config = ConfigDict(frozen=True)

    task_options: dict[str, JsonValue]
    """The running_sum options of every evaluation."""
    representation: str
    """The task representation."""
    episode_steps: int
    """Steps per episode (training and evaluation alike)."""
    temperature: float
    """The evaluation temperature (the main condition)."""
    sites: list[int]
    """The 1-based error steps of the post-error states."""
    eval_episodes: int
    """Evaluation episodes of the constructed states."""
    committed_states: int
    """Clean states of the committed-error scoring."""
    models: list[ModelStatus]
    """Every trained model's convergence."""
    primary: list[PrimaryResult]
    """The primary outcomes, in the declared order."""
    arms: dict[str, ArmSummary]
    """By arm name, in the design's order."""
    expert_sd: float | None
    """Between-seed SD of the converged experts' exact e_TF at the evaluation temperature."""
    scratchpad: PairedEstimate | None = None
    """Exploratory: sampled teacher-forced error, scratchpad minus expert, per seed."""


def _post_values(scores: ModelScores, which: str) -> dict[str, float]:
    post = scores.post if which == "all" else scores.post_by_after[which]
    return {"local": post.local, "truth": post.truth, "fresh": post.fresh,
            "clean_fresh": post.clean_fresh, "clean_chance": post.clean_chance,
            "compounding": post.compounding, "undo": post.undo,
            "error_vs_truth": post.error_vs_truth}


def primary_values(contrast: Contrast, scores: Scores, seeds: Sequence[int]
                   ) -> list[float | None]:
    """Each seed's value of a primary outcome (None where a score it needs is missing)."""
    out: list[float | None] = []
    for seed in seeds:
        expert = scores.get("expert", seed)
        arm = scores.get(contrast.arm, seed)
        value: float | None = None
        if contrast.kind == "compounding" and expert is not None:
            value = expert.post.compounding
        elif contrast.kind == "undo" and expert is not None:
            value = expert.post.undo
        elif contrast.kind in ("retry", "recovery") and expert is not None and arm is not None:
            value = regime_value(contrast.kind, arm, expert)
        out.append(value if value is None or math.isfinite(value) else None)
    return out


def regime_value(kind: ContrastKind, arm: ModelScores, expert: ModelScores) -> float | None:
    """A regime contrast's value for one seed (None: the arm has no matched temperature).

    The arm at its matched temperature minus its expert at the evaluation temperature. The
    same contrast at the evaluation temperature for both is read beside it from the
    arms' summaries (:func:`read_with`).
    """
    found = arm.matched
    if found is None or found.temperature is None:
        return None
    if kind == "retry":
        if found.committed is None or expert.committed is None:
            return None
        return found.committed.committed_error - expert.committed.committed_error
    if found.post is None:
        return None
    return found.post.error_vs_truth - expert.post.error_vs_truth


def unmatched(contrast: Contrast, scores: Scores, seed: int) -> str | None:
    """Why a regime contrast has no value for ``seed``'s arm at matched clean error."""
    arm = scores.get(contrast.arm, seed)
    if contrast.kind not in ("retry", "recovery") or arm is None or arm.matched is None:
        return None
    return arm.matched.why


class ReadWith(BaseModel):
    """What a regime contrast is read with (exploratory, on the seeds it kept).

    At one temperature two arms that are not equally sharp differ on every sampled outcome
    by that alone: a flatter model errs more on clean states, and puts more mass on any one
    total, the truth after an error included. The declared outcome therefore samples the
    arm at its matched temperature; beside it stand the temperatures that took, the outcome
    at the evaluation temperature with the clean-error gap that moves it there (the
    definition before matching), and the part of the outcome that is the arm's own doing.
    """

    model_config = ConfigDict(frozen=True)

    temperatures: tuple[float, float] | None
    """The lowest and highest matched temperature of the arm's models."""
    clean_gap: PairedEstimate | None
    """The arm's exact error on clean states at the evaluation temperature minus its seed's
    expert's."""
    at_main: PairedEstimate | None
    """The outcome with the arm sampled at the evaluation temperature too, arm minus expert
    (the declared definition before 2026-12-07's full run showed the arms flatter)."""
    own: PairedEstimate | None
    """At matched clean error, the outcome without what a fresh error's landing gives,
    arm minus expert: for ``recovery`` P(back to the truth) beyond the chance that a fresh
    error lands on it (``undo``); for ``retry`` the committed error minus the first total's
    error (what taking totals back changes)."""


def _kept(e: PairedEstimate) -> set[int]:
    """The seeds an estimate has a value for (the ones its contrast kept)."""
    return {s for s, v in zip(e.seeds, e.per_seed, strict=True) if v is not None}


def _by_seed(seeds: Sequence[int], values: Sequence[float | None]) -> dict[int, float]:
    if not values:  # a statistic the arm has no scores of
        return {}
    return {s: float(v) for s, v in zip(seeds, values, strict=True)
            if v is not None and math.isfinite(v)}


def read_with(results: DecisiveResults, result: PrimaryResult) -> ReadWith | None:
    """What a regime contrast is read with (:class:`ReadWith`; None: not a regime contrast).

    Computed from ``results`` alone (the page reads it from ``decisive.json``), on the seeds
    the contrast kept; exploratory, unadjusted.
    """
    kind, e = result.contrast.kind, result.estimate
    arm, expert = results.arms.get(result.contrast.arm), results.arms.get("expert")
    if kind not in ("retry", "recovery") or e is None or arm is None or expert is None:
        return None
    kept = _kept(e)
    key = f"{results.temperature:g}"

    def gap(a: dict[int, float], b: dict[int, float]) -> PairedEstimate | None:
        diffs = [a[s] - b[s] if s in kept and s in a and s in b else None for s in e.seeds]
        if not any(d is not None for d in diffs):
            return None
        return paired_estimate(diffs, e.seeds, alpha=0.05)

    def own(summary: ArmSummary, at: dict[str, list[float | None]]) -> dict[int, float]:
        if kind == "recovery":
            return _by_seed(summary.seeds, at.get("undo", []))
        committed, first = at.get("committed_error", []), at.get("first_error", [])
        return _by_seed(summary.seeds, [None if c is None or f is None else c - f
                                        for c, f in zip(committed, first, strict=True)])

    def main(summary: ArmSummary) -> dict[str, list[float | None]]:
        post = summary.post.get("all", {})
        return {"undo": list(post.get("undo", [])),
                "error_vs_truth": list(post.get("error_vs_truth", [])),
                "committed_error": summary.committed.get("committed_error", []),
                "first_error": summary.committed.get("first_error", [])}

    outcome = "committed_error" if kind == "retry" else "error_vs_truth"
    clean = gap(_by_seed(arm.seeds, arm.e_tf.get(key, [])),
                _by_seed(expert.seeds, expert.e_tf.get(key, [])))
    at_main = gap(_by_seed(arm.seeds, main(arm)[outcome]),
                  _by_seed(expert.seeds, main(expert)[outcome]))
    found = [t for s, t in _by_seed(arm.seeds, arm.matched.get("temperature", [])).items()
             if s in kept]
    return ReadWith(temperatures=(min(found), max(found)) if found else None,
                    clean_gap=clean, at_main=at_main,
                    own=gap(own(arm, arm.matched), own(expert, main(expert))))


def terms(results: DecisiveResults, result: PrimaryResult) -> tuple[float, float] | None:
    """The two terms an expert contrast subtracts, each the mean over the seeds it kept.

    ``compounding``: the fresh error after a wrong total and on its clean twin; ``undo``:
    P(back to the truth) and the chance of it. None for a regime contrast or without scores.
    A difference reads differently against terms of 0.002 than of 0.2.
    """
    kind, e = result.contrast.kind, result.estimate
    expert = results.arms.get("expert")
    if kind not in ("compounding", "undo") or e is None or expert is None:
        return None
    kept = _kept(e)
    post = expert.post.get("all", {})
    first, second = ("fresh", "clean_fresh") if kind == "compounding" else ("truth",
                                                                             "clean_chance")
    a, b = _by_seed(expert.seeds, post.get(first, [])), _by_seed(expert.seeds,
                                                               post.get(second, []))
    both = [s for s in sorted(kept) if s in a and s in b]
    if not both:
        return None
    return float(np.mean([a[s] for s in both])), float(np.mean([b[s] for s in both]))


def _involved(contrast: Contrast) -> tuple[str, ...]:
    """The models a contrast's seed value rests on (every arm starts from the base)."""
    return ("base", "expert") if contrast.arm == "expert" else ("base", "expert", contrast.arm)


def _mean_curve(curves: Sequence[Sequence[float | None]]) -> list[float | None]:
    if not curves:
        return []
    width = max(len(c) for c in curves)
    stacked = np.full((len(curves), width), np.nan)
    for i, c in enumerate(curves):
        stacked[i, : len(c)] = [np.nan if v is None else v for v in c]
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(stacked).sum(axis=0)
        mean = np.where(counts > 0, np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan)
    return [float(x) if math.isfinite(x) else None for x in mean]


class RunMatrices(BaseModel):
    """One run's label matrices ``(episodes, steps)`` (1 wrong, 0 right, NaN unknown)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    initial: FloatArray
    """Round-0 local labels."""
    final: FloatArray
    """Committed local labels."""
    global_: FloatArray
    """Global labels (against the true state)."""


def load_matrices(run_dir: Path, width: int) -> RunMatrices:
    """A run log's label matrices, cut or padded to ``width`` steps."""
    arrays = episode_arrays(load_run(run_dir))

    def pad(x: FloatArray) -> FloatArray:
        x = np.where(arrays.mask, x, np.nan)[:, :width]
        if x.shape[1] < width:
            x = np.pad(x, ((0, 0), (0, width - x.shape[1])), constant_values=np.nan)
        return np.asarray(x, dtype=np.float64)

    return RunMatrices(initial=pad(arrays.initial_wrong), final=pad(arrays.final_wrong),
                       global_=pad(arrays.global_wrong))


def _run_curves(runs: Sequence[RunMatrices], width: int) -> RunCurves:
    survival = [survival_observed(r.final, width) for r in runs]
    right = [1.0 - global_error_curve(r.global_, width) for r in runs]
    undone = [g - s for g, s in zip(right, survival, strict=True)]

    def rate(r: RunMatrices) -> float | None:
        known = np.isfinite(r.initial)
        return float(np.nanmean(r.initial)) if known.any() else None

    per_model = [rate(r) for r in runs]
    defined = [v for v in per_model if v is not None]
    return RunCurves(
        error=_mean_curve([step_rates(r.initial, width).tolist() for r in runs]),
        survival=_mean_curve([s.tolist() for s in survival]),
        globally_right=_mean_curve([g.tolist() for g in right]),
        undone=_mean_curve([u.tolist() for u in undone]),
        e_raw=float(np.mean(defined)) if defined else None, per_model_e_raw=per_model,
        models=len(runs))


MATCHED_KEYS = ("temperature", "target", "e_tf", "truth", "clean_chance", "undo",
                "error_vs_truth", "committed_error", "first_error")
"""What :attr:`ArmSummary.matched` holds per model."""


def _matched_value(m: ModelScores, key: str) -> float | None:
    found = m.matched
    if found is None or found.temperature is None:
        return None
    if key in ("temperature", "target", "e_tf"):
        return float(getattr(found, key))
    if key in ("committed_error", "first_error"):
        return None if found.committed is None else float(getattr(found.committed, key))
    return None if found.post is None else float(getattr(found.post, key))


def _arm_summary(arm: str, scores: Scores | None, seeds: Sequence[int],
                 runs: dict[str, list[RunMatrices]], width: int) -> ArmSummary:
    models = [m for m in (scores.get(arm, s) for s in seeds) if m is not None] if scores else []
    temps = sorted({t for m in models for t in m.e_tf}, key=float)
    post: dict[str, dict[str, list[float]]] = {}
    for which in ("all", "1", "2"):
        rows = [_post_values(m, which) for m in models]
        post[which] = {k: [r[k] for r in rows] for k in (rows[0] if rows else {})}
    committed: dict[str, list[float | None]] = {}
    for key in ("committed_error", "first_error", "back", "precision", "recall", "harm",
                "residual"):
        committed[key] = [getattr(m.committed, key) if m.committed is not None else None
                          for m in models]
    matched: dict[str, list[float | None]] = {}
    if any(m.matched is not None for m in models):
        matched = {k: [_matched_value(m, k) for m in models] for k in MATCHED_KEYS}
    return ArmSummary(
        seeds=[m.seed for m in models], e_tf={t: [m.e_tf[t] for m in models] for t in temps},
        e_tf_curve=[v for v in _mean_curve([m.e_tf_curve for m in models]) if v is not None],
        prefix=float(np.mean([m.prefix for m in models])) if models else None,
        post=post, committed=committed, matched=matched,
        runs={c: _run_curves(ms, width) for c, ms in runs.items() if ms})


def analyze(
    *, scores: Scores | None, statuses: Sequence[ModelStatus], seeds: Sequence[int],
    runs: dict[str, dict[str, list[RunMatrices]]], task_options: dict[str, JsonValue],
    representation: str, episode_steps: int, temperature: float, sites: Sequence[int],
    eval_episodes: int, committed_states: int, tf_sampled: dict[str, dict[int, float]],
    alpha: float = 0.05,
) -> DecisiveResults:
    """The analysis of a grid given its parts (the tests give planted ones).

    Args:
        scores: every model's exact scores (None: no testbed models).
        statuses: every model's convergence.
        seeds: the paired seeds.
        runs: ``runs[arm][condition]``: the run matrices of its models.
        task_options: the evaluation options (recorded).
        representation: the representation (recorded).
        episode_steps: steps per episode.
        temperature: the evaluation temperature.
        sites: the error steps of the post-error states.
        eval_episodes: evaluation episodes of the constructed states.
        committed_states: clean states of the committed-error scoring.
        tf_sampled: ``[arm][seed]`` the sampled teacher-forced error (scratchpad contrast).
        alpha: the family-wise level (Holm over the primary outcomes).
    """
    unconverged = {(s.arm, s.seed): s.why for s in statuses if not s.converged}
    results: list[tuple[Contrast, PairedEstimate | None, list[str]]] = []
    for contrast in PRIMARY:
        if scores is None:
            results.append((contrast, None, []))
            continue
        values = primary_values(contrast, scores, seeds)
        left: list[str] = []
        kept: list[float | None] = []
        for seed, value in zip(seeds, values, strict=True):
            why = [f"{a} {unconverged[(a, seed)]}" for a in _involved(contrast)
                   if (a, seed) in unconverged]
            no_match = unmatched(contrast, scores, seed)
            if no_match is not None:
                why.append(f"{contrast.arm}: {no_match}")
            if why:
                left.append(f"seed {seed}: " + "; ".join(why))
                kept.append(None)
            else:
                kept.append(value)
        if all(v is None for v in kept):
            results.append((contrast, None, left))
            continue
        results.append((contrast, paired_estimate(kept, seeds, alpha=alpha / len(PRIMARY)),
                        left))
    adjusted = holm([e.p_sign_flip if e is not None else None for _, e, _ in results])
    primary = [PrimaryResult(contrast=c, estimate=e, p_holm=p, left_out=left)
               for (c, e, left), p in zip(results, adjusted, strict=True)]
    arms = {a.name: _arm_summary(a.name, scores, seeds, runs.get(a.name, {}), episode_steps)
            for a in ARMS if (scores is not None and any(scores.get(a.name, s) for s in seeds))
            or a.name in runs}
    experts = [scores.get("expert", s) for s in seeds] if scores is not None else []
    key = f"{temperature:g}"
    etf = [m.e_tf[key] for m in experts
           if m is not None and ("expert", m.seed) not in unconverged]
    scratch = None
    if "scratchpad" in tf_sampled and "expert" in tf_sampled:
        diffs = [tf_sampled["scratchpad"][s] - tf_sampled["expert"][s]
                 if s in tf_sampled["scratchpad"] and s in tf_sampled["expert"] else None
                 for s in seeds]
        if any(d is not None for d in diffs):
            scratch = paired_estimate(diffs, seeds, alpha=alpha)
    return DecisiveResults(
        task_options=task_options, representation=representation, episode_steps=episode_steps,
        temperature=temperature, sites=list(sites), eval_episodes=eval_episodes,
        committed_states=committed_states, models=list(statuses), primary=primary, arms=arms,
        expert_sd=float(np.std(etf, ddof=1)) if len(etf) >= 2 else None, scratchpad=scratch)


def _statuses(grid: Plan) -> list[ModelStatus]:
    from redraft.lab.testbed import read_recipe

    out = []
    for spec in grid.trains:
        recipe = read_recipe(spec.out)
        if recipe is None:
            continue
        curve = learning_curve(recipe)
        until_learnt = arm_named(spec.arm).until_learnt
        ok, why = model_converged(curve, until_learnt=until_learnt,
                                  stopped=recipe.stopped_by == "converged",
                                  accuracy=LEARNT if spec.regime == "expert" else None)
        last = recipe.heldout_curve[-1] if recipe.heldout_curve else None
        out.append(ModelStatus(arm=spec.arm, seed=spec.seed, converged=ok, why=why,
                               accuracy=last.accuracy if last else None,
                               error=last.error if last else None, until_learnt=until_learnt))
    return out


def analyze_decisive(grid: Plan, options: FindingsOptions, work: Path,
                     scores: Scores | None) -> DecisiveResults:
    """Read the grid's recipes and run logs and analyse them with ``scores``."""
    from redraft.lab.findings._grid import SCALES, decisive_dir, task_options

    scale = SCALES[options.scale]
    width = scale.episode_steps
    runs: dict[str, dict[str, list[RunMatrices]]] = {}
    tf_sampled: dict[str, dict[int, float]] = {}
    for run in grid.decisive:
        path = decisive_dir(work, run)
        if not (path / "events.jsonl").is_file():
            continue
        matrices = load_matrices(path, width)
        runs.setdefault(run.arm, {}).setdefault(run.condition, []).append(matrices)
        if run.condition == "tf" and np.isfinite(matrices.initial).any():
            tf_sampled.setdefault(run.arm, {})[run.seed] = float(np.nanmean(matrices.initial))
    representation, opts = task_options(options.scale)
    seeds = sorted({s.seed for s in grid.trains}) or sorted(
        {r.seed for r in grid.decisive})
    return analyze(
        scores=scores, statuses=_statuses(grid), seeds=seeds, runs=runs, task_options=opts,
        representation=representation, episode_steps=width, temperature=scale.temperature,
        sites=scale.error_sites, eval_episodes=scale.eval_episodes,
        committed_states=scale.committed_states, tf_sampled=tf_sampled)
