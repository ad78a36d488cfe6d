"""The decisive grid's analysis, from its run logs alone: ``decisive.json``.

Every number is seed-level: a mean over an arm's trained models with a two-stage bootstrap
interval (:func:`~redraft.evals.stats.seed_estimate`) and the per-model values beside it.
The declared contrasts (:data:`~redraft.lab.findings._design.DECLARED_CONTRASTS`) get
two-sided bootstrap p-values, Holm-adjusted over exactly that list. Rates leave unknown
judgements out; the unknown and truncated shares are kept beside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.evals.stats import (
    EpisodeArrays,
    PermutationTest,
    episode_arrays,
    load_run,
    monologue_metrics,
)
from redraft.lab.findings._design import (
    ARMS,
    DECLARED_CONTRASTS,
    Contrast,
)
from redraft.lab.stats import (
    DEFAULT_DRAWS,
    SeedEstimate,
    error_rate,
    flatness_test,
    global_error_curve,
    holm,
    planted_effect,
    seed_difference,
    seed_estimate,
    step_rates,
    survival_gap,
    survival_null,
    survival_observed,
    undo_rate,
    undo_vs_chance,
    with_global,
)

if TYPE_CHECKING:
    from redraft.lab.findings._grid import FindingsOptions, Plan

__all__ = [
    "DECISIVE_FILE",
    "ArmResult",
    "ConditionResult",
    "ContrastResult",
    "DecisiveResults",
    "analyze_arrays",
    "analyze_decisive",
]

DECISIVE_FILE = "decisive.json"
"""The decisive grid's analysis, beside ``meta.json``."""

FloatArray = NDArray[np.float64]


class ConditionResult(BaseModel):
    """One condition of one arm, over its models."""

    model_config = ConfigDict(frozen=True)

    e_raw: SeedEstimate
    """Round-0 error (with critic none: the committed error)."""
    e_raw_curve: list[float | None]
    """e(t) per step, mean over models (teacher-forced runs: e_TF(t))."""
    global_curve: list[float | None]
    """P(global error at t), mean over models."""
    undo: SeedEstimate | None
    """P(back to the true state at t | wrong at t-1)."""
    unknown_share: float
    """Share of steps whose round-0 judgement is unknown (left out of the rates)."""
    truncated_share: float
    """Share of round-0 outputs cut at the token limit."""
    changed_share: float | None
    """Share of round-0 outputs that changed their answer inside the generation."""
    ingen_recovery: list[float | None]
    """Per model: P(final answer right | first answer wrong) inside one generation."""
    steps: int
    """Judged and unjudged steps, all models."""


class ArmResult(BaseModel):
    """One arm: its models and conditions."""

    model_config = ConfigDict(frozen=True)

    seeds: list[int]
    """Training seeds of its models."""
    conditions: dict[str, ConditionResult]
    """By condition name."""
    flatness: PermutationTest | None
    """Trend test of e_TF(t) at temperature 1 (all models' teacher-forced episodes)."""
    survival_observed: list[float | None]
    """Free-running survival at temperature 1, mean over models."""
    survival_null: list[float | None]
    """prod(1 - e_TF(t)) at temperature 1, mean over models."""
    survival_gap: SeedEstimate | None
    """Observed minus null at the last step."""
    planted: SeedEstimate | None
    """Fresh-error rate after the plant minus unplanted, matched steps."""
    undo_chance: SeedEstimate | None
    """Undo rate with checkpoints minus without (chance)."""


class ContrastResult(BaseModel):
    """A declared contrast's estimate and its Holm-adjusted p-value."""

    model_config = ConfigDict(frozen=True)

    contrast: Contrast
    """What was declared."""
    estimate: SeedEstimate | None
    """None: the runs it needs are not in this grid."""
    p_holm: float | None
    """Holm-adjusted over the declared contrasts that could be estimated."""


class DecisiveResults(BaseModel):
    """Everything the page's decisive sections show."""

    model_config = ConfigDict(frozen=True)

    task_options: dict[str, JsonValue]
    """The running_sum options every decisive run used (before each condition's change)."""
    representation: str
    """The task representation."""
    episode_steps: int
    """Steps per episode (training and evaluation alike)."""
    plant_step: int
    """The 1-based step whose shown total is planted."""
    plant_window: tuple[int, int]
    """Steps (1-based, inclusive) over which the planted-error effect is measured."""
    undo_from: int
    """First step counted in the undo rates (past the window's start row)."""
    draws: int
    """Bootstrap draws."""
    arms: dict[str, ArmResult]
    """By arm name, in the design's order."""
    contrasts: list[ContrastResult]
    """The declared contrasts, in the declared order."""


def _opt(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _curve(curves: Sequence[FloatArray]) -> list[float | None]:
    if not curves:
        return []
    stacked = np.vstack(curves)
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(stacked).sum(axis=0)
        mean = np.where(counts > 0, np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan)
    return [_opt(float(x)) for x in mean]


class RunMatrices(BaseModel):
    """One run's matrices and shares (what the analysis needs of a log)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    initial: FloatArray
    """Round-0 local labels ``(episodes, steps)``."""
    final: FloatArray
    """Committed local labels."""
    global_: FloatArray = Field(alias="global")
    """Global labels (against the true state)."""
    taken: FloatArray | None = None
    """1 at the steps each episode took (None: every finite or unknown cell of ``initial``
    up to its width was taken)."""
    truncated: float = 0.0
    """Round-0 outputs cut at the token limit."""
    changed: float | None = None
    """Round-0 outputs that changed their answer inside the generation."""
    ingen_recovery: float | None = None
    """P(answer right | first answer wrong) inside the generation."""


def _pad(matrix: FloatArray, width: int) -> FloatArray:
    if matrix.shape[1] >= width:
        return matrix[:, :width]
    padded: FloatArray = np.pad(matrix, ((0, 0), (0, width - matrix.shape[1])),
                                constant_values=np.nan)
    return padded


def matrices_from_arrays(arrays: EpisodeArrays, width: int) -> RunMatrices:
    """The matrices of :class:`EpisodeArrays`, cut or padded to ``width`` steps."""
    return RunMatrices.model_validate({
        "initial": _pad(np.where(arrays.mask, arrays.initial_wrong, np.nan), width),
        "final": _pad(np.where(arrays.mask, arrays.final_wrong, np.nan), width),
        "global": _pad(np.where(arrays.mask, arrays.global_wrong, np.nan), width),
        "taken": _pad(arrays.mask.astype(np.float64), width)})


def _load(run_dir: Path, width: int) -> RunMatrices:
    run = load_run(run_dir)
    base = matrices_from_arrays(episode_arrays(run), width)
    firsts = [r for e in run.episodes for r in e.rounds if r.round == 0]
    truncated = sum(r.truncated for r in firsts) / len(firsts) if firsts else 0.0
    changed = [r.first_answer is not None and r.answer is not None
               and r.first_answer != r.answer for r in firsts]
    ingen = monologue_metrics(run, n_boot=20, rng=np.random.default_rng(0))["ingen_recovery"]
    return base.model_copy(update={
        "truncated": truncated,
        "changed": sum(changed) / len(changed) if changed else None,
        "ingen_recovery": ingen.value})


def _unknown_share(runs: Sequence[RunMatrices]) -> tuple[float, int]:
    """Share of the steps taken whose round-0 label is unknown, and the steps taken."""
    taken = total = 0
    for r in runs:
        mask = (np.nan_to_num(r.taken, nan=0.0) > 0) if r.taken is not None else (
            np.ones(r.initial.shape, dtype=bool))
        total += int(mask.sum())
        taken += int((mask & np.isfinite(r.initial)).sum())
    return (1 - taken / total if total else 0.0), total


def _condition(runs: Sequence[RunMatrices], width: int, undo_from: int,
               draws: int) -> ConditionResult:
    unknown, total = _unknown_share(runs)
    changed = [r.changed for r in runs if r.changed is not None]
    return ConditionResult(
        e_raw=seed_estimate([[r.initial] for r in runs], error_rate, draws=draws),
        e_raw_curve=_curve([step_rates(r.initial, width) for r in runs]),
        global_curve=_curve([global_error_curve(r.global_, width) for r in runs]),
        undo=seed_estimate([[r.global_] for r in runs], undo_rate(undo_from), draws=draws),
        unknown_share=unknown, truncated_share=float(np.mean([r.truncated for r in runs])),
        changed_share=float(np.mean(changed)) if changed else None,
        ingen_recovery=[r.ingen_recovery for r in runs], steps=total)


def analyze_arrays(
    runs: dict[str, dict[int, dict[str, RunMatrices]]],
    *,
    width: int,
    plant_step: int,
    plant_window: int,
    undo_from: int,
    task_options: dict[str, JsonValue],
    representation: str,
    draws: int = DEFAULT_DRAWS,
) -> DecisiveResults:
    """The analysis of runs given as matrices: ``runs[arm][seed][condition]``.

    Args:
        runs: every decisive run's matrices.
        width: steps per episode.
        plant_step: the 1-based step whose shown total was planted.
        plant_window: steps after it over which its effect is measured.
        undo_from: first step counted in undo rates.
        task_options: the decisive task's options (recorded).
        representation: the task representation (recorded).
        draws: bootstrap draws.
    """
    first, last = plant_step + 1, min(width, plant_step + plant_window)
    arms: dict[str, ArmResult] = {}
    for arm in ARMS:
        seeds = sorted(runs.get(arm.name, {}))
        if not seeds:
            continue
        by_cond = {c: [runs[arm.name][s][c] for s in seeds if c in runs[arm.name][s]]
                   for c in arm.conditions}
        conditions = {c: _condition(ms, width, undo_from, draws)
                      for c, ms in by_cond.items() if ms}
        pairs = [(runs[arm.name][s].get("free-t1"), runs[arm.name][s].get("tf-t1"))
                 for s in seeds]
        surv = [(f, t) for f, t in pairs if f is not None and t is not None]
        planted = [(runs[arm.name][s].get("plant-t1"), runs[arm.name][s].get("free-t1"))
                   for s in seeds]
        plant = [(p, f) for p, f in planted if p is not None and f is not None]
        chance = [(runs[arm.name][s].get("free-t1"), runs[arm.name][s].get("nocheck-t1"))
                  for s in seeds]
        undo = [(f, n) for f, n in chance if f is not None and n is not None]
        arms[arm.name] = ArmResult(
            seeds=seeds, conditions=conditions,
            flatness=flatness_test([t.initial for _, t in surv]) if surv else None,
            survival_observed=_curve([survival_observed(f.final, width) for f, _ in surv]),
            survival_null=_curve([survival_null(t.initial, width) for _, t in surv]),
            survival_gap=seed_estimate([[f.final, t.initial] for f, t in surv],
                                       survival_gap(width), test_zero=True, draws=draws)
            if surv else None,
            planted=seed_estimate([[with_global(p.final, p.global_),
                                    with_global(f.final, f.global_)] for p, f in plant],
                                  planted_effect(first, last), test_zero=True, draws=draws)
            if plant and last >= first else None,
            undo_chance=seed_estimate([[f.global_, n.global_] for f, n in undo],
                                      undo_vs_chance(undo_from), test_zero=True, draws=draws)
            if undo else None)
    contrasts = _contrasts(runs, arms, undo_from, draws)
    return DecisiveResults(
        task_options=task_options, representation=representation, episode_steps=width,
        plant_step=plant_step, plant_window=(first, last), undo_from=undo_from, draws=draws,
        arms=arms, contrasts=contrasts)


def _regime(runs: dict[str, dict[int, dict[str, RunMatrices]]], arm: str, use_global: bool
            ) -> list[list[FloatArray]]:
    return [[(r["free-t1"].global_ if use_global else r["free-t1"].initial)]
            for r in (runs.get(arm) or {}).values() if "free-t1" in r]


def _contrasts(runs: dict[str, dict[int, dict[str, RunMatrices]]], arms: dict[str, ArmResult],
               undo_from: int, draws: int) -> list[ContrastResult]:
    estimates: list[SeedEstimate | None] = []
    for contrast in DECLARED_CONTRASTS:
        arm = arms.get(contrast.arm)
        estimate: SeedEstimate | None = None
        if contrast.kind == "survival_gap" and arm is not None:
            estimate = arm.survival_gap
        elif contrast.kind == "planted" and arm is not None:
            estimate = arm.planted
        elif contrast.kind == "undo_chance" and arm is not None:
            estimate = arm.undo_chance
        elif contrast.kind in ("regime_error", "regime_undo"):
            glob = contrast.kind == "regime_undo"
            a, b = _regime(runs, "expert", glob), _regime(runs, contrast.arm, glob)
            if a and b:
                stat = undo_rate(undo_from) if glob else error_rate
                estimate = seed_difference(a, b, stat, draws=draws)
        estimates.append(estimate)
    adjusted = holm([e.p_value if e is not None else None for e in estimates])
    return [ContrastResult(contrast=c, estimate=e, p_holm=p)
            for c, e, p in zip(DECLARED_CONTRASTS, estimates, adjusted, strict=True)]


def analyze_decisive(grid: Plan, options: FindingsOptions, work: Path, *,
                     draws: int = DEFAULT_DRAWS) -> DecisiveResults:
    """Read every decisive run's log and analyse the grid."""
    from redraft.lab.findings._grid import SCALES, decisive_dir, task_options

    scale = SCALES[options.scale]
    width = scale.episode_steps
    runs: dict[str, dict[int, dict[str, RunMatrices]]] = {}
    for run in grid.decisive:
        path = decisive_dir(work, run)
        if not (path / "events.jsonl").is_file():
            continue
        runs.setdefault(run.arm, {}).setdefault(run.seed, {})[run.condition] = _load(path, width)
    representation, opts = task_options(options.scale)
    window = opts.get("window")
    undo_from = int(window) + 2 if isinstance(window, int) else 2
    return analyze_arrays(
        runs, width=width, plant_step=scale.plant_step, plant_window=scale.plant_window,
        undo_from=min(undo_from, width), task_options=opts, representation=representation,
        draws=draws)

