"""Every model scored exactly on the shared constructed states (``scores.json``).

One stacked forward scores every trained model (arms × seeds) on the same states
(:mod:`._states`) at the evaluation temperature, greedy, 1 and 2, from the logits: no
sampling noise. Per model:

- ``e_tf``: the error on clean states, ``1 - P(right total)`` (digits given the canonical
  ``total: ``), and ``e_tf(t)`` per step;
- on post-error states (the wrong total ``T + δ`` in view, ``δ`` the seed's expert's own
  kind of mistake), against the same step of the same episode without it:
  ``P(local)`` (continues from the wrong total), ``P(truth)`` (back to the true total) and
  the *fresh* error ``1 - P(local) - P(truth)``; on the clean twin, the right total and
  ``P(right - δ)``: the chance that the model's own error at that step is exactly the one
  that would have undone ``δ``. From them the declared statistics (:mod:`._design`):
  compounding (fresh error after an error minus before it), undo (back to the truth minus
  chance) and the post-error error judged against the truth;
- ``committed``: on a subset of clean states, the probability of committing a wrong total
  when the model may take its first one back (``[BACK]``), with the retry's precision,
  recall and harm (:func:`~redraft.lab.testbed.committed_right`);
- ``matched`` (the arms a regime contrast compares with the expert): the same post-error
  and committed scores at the model's *matched* temperature, where its error on the clean
  states equals its seed's expert's at the evaluation temperature
  (:func:`~redraft.lab.testbed.matched_temperature`, on the logits already computed). Two
  models that are not equally sharp differ at one temperature on every sampled outcome by
  that alone; at matched clean error they differ by what each does after an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from redraft.evals.tasks import Task
from redraft.lab.findings._states import CleanStates, PostStates, clean_states, post_states
from redraft.lab.testbed import (
    AnswerCodec,
    StackedLlama,
    Temperature,
    TotalLogits,
    committed_right,
    draw_wrong_totals,
    matched_temperature,
    total_logits,
)

__all__ = [
    "MATCH_RANGE", "SCORES_FILE", "BackStats", "Matched", "ModelScores", "PostScores",
    "Scores", "clean_right", "score_models",
]

SCORES_FILE = "scores.json"
"""The exact scores of every model, beside ``meta.json``."""
FloatArray = NDArray[np.float64]


class PostScores(BaseModel):
    """A model's means over post-error states (or those ``after`` steps after the error)."""

    model_config = ConfigDict(frozen=True)

    states: int
    """Post-error states averaged."""
    local: float
    """P(the locally right total: continuing from the wrong one)."""
    truth: float
    """P(the true total: the error undone)."""
    fresh: float
    """P(neither): a new error on top of the old."""
    clean_right: float
    """On the clean twins: P(right)."""
    clean_chance: float
    """On the clean twins: P(right - δ), the model's own error that would undo δ."""
    clean_fresh: float
    """On the clean twins: ``1 - P(right) - P(right - δ)``."""

    @property
    def compounding(self) -> float:
        """Fresh error after an error minus on its clean twin (LeCun: above 0)."""
        return self.fresh - self.clean_fresh

    @property
    def undo(self) -> float:
        """Back to the truth minus chance (gwern: above 0)."""
        return self.truth - self.clean_chance

    @property
    def error_vs_truth(self) -> float:
        """The post-error error judged against the true total: ``1 - P(truth)``."""
        return 1.0 - self.truth


class BackStats(BaseModel):
    """Committing with a possible retry (``total: x [BACK] total: y``), per model."""

    model_config = ConfigDict(frozen=True)

    states: int
    """Clean states scored."""
    committed_error: float
    """P(the committed total is wrong)."""
    first_error: float
    """P(the first total is wrong)."""
    back: float
    """P(a first total is taken back)."""
    precision: float | None
    """P(the first total was wrong | taken back)."""
    recall: float | None
    """P(taken back | the first total wrong)."""
    harm: float | None
    """P(a wrong total committed | the first was right)."""
    residual: float
    """First-total mass outside the enumeration (counted as committed wrong)."""


MATCH_RANGE = (0.05, 20.0)
"""The temperatures searched for a matched one."""


class Matched(BaseModel):
    """A model's scores at the temperature where its clean error equals its expert's."""

    model_config = ConfigDict(frozen=True)

    temperature: float | None
    """The matched temperature (None: none in :data:`MATCH_RANGE` reaches the target)."""
    target: float
    """Its seed's expert's error on the clean states at the evaluation temperature."""
    e_tf: float
    """Its own error on the clean states there (or at the nearer end of the range)."""
    post: PostScores | None = None
    """Over every post-error state, at the matched temperature."""
    committed: BackStats | None = None
    """Committed error with retries, at the matched temperature."""
    why: str | None = None
    """Why there is no matched temperature."""


class ModelScores(BaseModel):
    """One model's exact scores."""

    model_config = ConfigDict(frozen=True)

    arm: str
    """The arm."""
    seed: int
    """The training seed."""
    e_tf: dict[str, float]
    """Error on clean states by temperature (``"0"`` greedy)."""
    e_tf_curve: list[float]
    """``e_tf(t)`` at the evaluation temperature, per step."""
    prefix: float
    """Mean P(``total: ``) at the evaluation temperature (format slips)."""
    post: PostScores
    """Over every post-error state."""
    post_by_after: dict[str, PostScores]
    """By steps since the error (``"1"``, ``"2"``)."""
    committed: BackStats | None = None
    """Committed error with retries (on a subset of clean states)."""
    matched: Matched | None = None
    """At matched clean error (None: an arm no regime contrast compares with the expert)."""


class Scores(BaseModel):
    """Every model's scores and the state set they were computed on."""

    model_config = ConfigDict(frozen=True)

    temperature: float
    """The evaluation temperature."""
    temperatures: list[float]
    """Every temperature scored."""
    episodes: int
    """Evaluation episodes."""
    steps: int
    """Steps per episode."""
    sites: list[int]
    """The 1-based steps committed wrong in the post-error states."""
    committed_states: int
    """Clean states of the committed-error scoring."""
    models: list[ModelScores]
    """Per model."""

    def get(self, arm: str, seed: int) -> ModelScores | None:
        """The scores of one model."""
        return next((m for m in self.models if m.arm == arm and m.seed == seed), None)


def _post(local: FloatArray, truth: FloatArray, right: FloatArray, chance: FloatArray,
          keep: NDArray[np.bool_]) -> PostScores:
    def mean(x: FloatArray) -> float:
        return float(x[keep].mean()) if keep.any() else math.nan

    return PostScores(states=int(keep.sum()), local=mean(local), truth=mean(truth),
                      fresh=mean(1 - local - truth), clean_right=mean(right),
                      clean_chance=mean(chance), clean_fresh=mean(1 - right - chance))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def score_models(
    stack: StackedLlama, models: Sequence[tuple[str, int]], *, task: Task, run_seed: int,
    episodes: int, steps: int, sites: Sequence[int], temperature: float,
    committed_states: int, expert_rows: dict[int, int], rows: int = 256,
    matched_arms: Sequence[str] = (),
) -> Scores:
    """Score every model of ``stack`` on the shared states.

    Args:
        stack: every model to score, in the order of ``models``.
        models: ``(arm, seed)`` of each stack row.
        task: the decisive task with its evaluation options.
        run_seed: the run's seed (the evaluation episodes and the draws of δ).
        episodes: evaluation episodes.
        steps: steps per episode.
        sites: the 1-based error steps.
        temperature: the evaluation temperature.
        committed_states: clean states (from the first episodes, every step with a full
            window) scored for the committed error with retries; 0: none.
        expert_rows: seed → the stack row of that seed's expert (whose mistakes are δ).
        rows: rows per forward pass.
        matched_arms: arms also scored at matched clean error, each model against the
            ``expert`` arm's model of its seed.
    """
    answers = AnswerCodec()
    temps = sorted({0.0, 1.0, float(temperature), 2.0})
    clean = clean_states(task, seed=run_seed, episodes=episodes, steps=steps)
    clean_logits = _clean_logits(stack, answers, clean, rows=rows)
    p_clean, prefixes = _by_temperature(clean_logits, temps)
    prefix = prefixes[temperature]
    post, chance_l, local_l, truth_l = _post_error(stack, answers, task, clean, models,
                                                   run_seed, steps, sites, temperature,
                                                   expert_rows, rows)
    chance, local, truth = (x.probabilities(temperature)[0] for x in (chance_l, local_l,
                                                                      truth_l))
    twin_right = p_clean[temperature][:, post.episode, post.step - 1]
    committed = _committed(stack, answers, clean, committed_states, temperature, rows,
                           window=_window(task))
    matched = _matched(stack, answers, clean, models, matched_arms, clean_logits,
                       (chance_l, local_l, truth_l), post, p_clean[temperature],
                       committed_states, rows, window=_window(task))
    out = []
    every = np.ones(len(post.step), dtype=bool)
    for k, (arm, seed) in enumerate(models):
        out.append(ModelScores(
            arm=arm, seed=seed,
            e_tf={f"{t:g}": float(1 - p_clean[t][k].mean()) for t in temps},
            e_tf_curve=[float(x) for x in 1 - p_clean[temperature][k].mean(axis=0)],
            prefix=float(prefix[k].mean()),
            post=_post(local[k], truth[k], twin_right[k], chance[k], every),
            post_by_after={str(a): _post(local[k], truth[k], twin_right[k], chance[k],
                                         post.after == a) for a in (1, 2)},
            committed=committed[k] if committed is not None else None,
            matched=matched.get(k)))
    return Scores(temperature=temperature, temperatures=temps, episodes=episodes, steps=steps,
                  sites=list(sites), committed_states=committed_states if committed else 0,
                  models=out)


def _matched(stack: StackedLlama, answers: AnswerCodec, clean: CleanStates,
             models: Sequence[tuple[str, int]], arms: Sequence[str],
             clean_logits: Sequence[TotalLogits],
             post_logits: tuple[TotalLogits, TotalLogits, TotalLogits], post: PostStates,
             p_clean: FloatArray, committed_states: int, rows: int, *,
             window: int) -> dict[int, Matched]:
    """Each model of ``arms`` at its matched temperature (by stack row).

    ``post_logits``: chance, local and truth on the post-error states; ``p_clean``: every
    model's P(right) on the clean states at the evaluation temperature.
    """
    row_of = {(arm, seed): k for k, (arm, seed) in enumerate(models)}
    digits = TotalLogits.join([c.digits() for c in clean_logits])  # every clean state
    matched: dict[int, Matched] = {}
    for k, (arm, seed) in enumerate(models):
        expert = row_of.get(("expert", seed))
        if arm not in arms or expert is None:
            continue
        target = float(1 - p_clean[expert].mean())
        t, error = matched_temperature(digits.rows([k]), target, low=MATCH_RANGE[0],
                                       high=MATCH_RANGE[1])
        matched[k] = Matched(temperature=t, target=target, e_tf=error, why=None if t else (
            f"no temperature in {MATCH_RANGE[0]:g}-{MATCH_RANGE[1]:g} brings its clean error "
            f"to its expert's {target:.4f} (it is {error:.4f} at the nearer end)"))
    found = [k for k, m in matched.items() if m.temperature is not None]
    if not found:
        return matched
    at = np.asarray([matched[k].temperature for k in found], dtype=np.float64)
    chance, local, truth = (x.rows(found).probabilities(at)[0] for x in post_logits)
    twin = np.stack([c.rows(found).probabilities(at)[0] for c in clean_logits],
                    axis=-1)[:, post.episode, post.step - 1]
    committed = _committed(stack.select(found), answers, clean, committed_states, at, rows,
                           window=window)
    every = np.ones(len(post.step), dtype=bool)
    for i, k in enumerate(found):
        matched[k] = matched[k].model_copy(update={
            "post": _post(local[i], truth[i], twin[i], chance[i], every),
            "committed": committed[i] if committed is not None else None})
    return matched


def _clean_logits(stack: StackedLlama, answers: AnswerCodec, clean: CleanStates, *,
                  rows: int) -> list[TotalLogits]:
    """Every model's logits for the right total on the clean states, one entry per step."""
    return [total_logits(stack, answers, clean.prompts[t], clean.right[:, t], rows=rows)
            for t in range(clean.right.shape[1])]


def _by_temperature(logits: Sequence[TotalLogits], temps: Sequence[float]
                    ) -> tuple[dict[float, FloatArray], dict[float, FloatArray]]:
    """``(right, prefix)`` per temperature, each ``(models, episodes, steps)``."""
    right: dict[float, FloatArray] = {}
    prefix: dict[float, FloatArray] = {}
    for t in temps:
        pairs = [step.probabilities(t) for step in logits]
        right[t] = np.stack([p for p, _ in pairs], axis=-1)
        prefix[t] = np.stack([q for _, q in pairs], axis=-1)
    return right, prefix


def clean_right(stack: StackedLlama, answers: AnswerCodec, clean: CleanStates,
                temps: Sequence[float], *, rows: int = 256
                ) -> tuple[dict[float, FloatArray], dict[float, FloatArray]]:
    """Per temperature, each model's probability of the right total on every clean state.

    Returns:
        ``(right, prefix)``: ``right[t]`` of shape (models, episodes, steps), and the
        probability of the canonical ``total: `` before it, ``prefix[t]``, alike.
    """
    return _by_temperature(_clean_logits(stack, answers, clean, rows=rows), temps)


def _window(task: Task) -> int:
    config: Any = getattr(task, "config", None)
    return int(getattr(config, "window", 1))


def _post_error(stack: StackedLlama, answers: AnswerCodec, task: Task, clean: CleanStates,
                models: Sequence[tuple[str, int]], run_seed: int, steps: int,
                sites: Sequence[int], temperature: float, expert_rows: dict[int, int],
                rows: int) -> tuple[PostStates, TotalLogits, TotalLogits, TotalLogits]:
    """The post-error states and the logits of P(chance), P(local) and P(truth) on them.

    δ is each seed's expert's own mistake, drawn at the evaluation temperature.
    """
    episodes = clean.right.shape[0]
    seeds = sorted(expert_rows)
    experts = stack.select([expert_rows[s] for s in seeds])
    prompts = np.concatenate([clean.prompts[s - 1] for s in sites])          # (sites·E, Lp)
    right = np.concatenate([clean.right[:, s - 1] for s in sites])
    # Each seed's draws from its own numbers: a seed's states do not depend on the others.
    uniforms = np.stack([np.random.default_rng([run_seed, 29, s]).random((len(right), 3))
                         for s in seeds])
    drawn = draw_wrong_totals(experts, answers, prompts, right, temperature, uniforms,
                              rows=rows)
    per_seed = {s: drawn[i].reshape(len(sites), episodes).T for i, s in enumerate(seeds)}
    wrong = np.stack([per_seed[seed] for _, seed in models])                # (M, E, sites)
    post = post_states(task, seed=run_seed, sites=sites, steps=steps, clean=clean, wrong=wrong)
    local = total_logits(stack, answers, post.prompts, post.local, rows=rows)
    truth = total_logits(stack, answers, post.prompts, post.truth, rows=rows)
    twins = np.stack([clean.prompts[t - 1][e] for e, t in zip(post.episode, post.step,
                                                               strict=True)])
    chance = total_logits(stack, answers, twins, (post.truth[None] - post.delta) % 100,
                          rows=rows)
    return post, chance, local, truth


def _committed(stack: StackedLlama, answers: AnswerCodec, clean: CleanStates, count: int,
               temperature: Temperature, rows: int, *, window: int) -> list[BackStats] | None:
    """Committed error with retries on the first ``count`` full-window clean states."""
    if count <= 0:
        return None
    full = [t for t in range(clean.right.shape[1]) if t >= window]
    prompts: list[NDArray[np.int64]] = []
    right: list[int] = []
    for t in full:
        for e in range(clean.right.shape[0]):
            if len(right) < count:
                prompts.append(clean.prompts[t][e])
                right.append(int(clean.right[e, t]))
    got = committed_right(stack, answers, np.stack(prompts), np.asarray(right), temperature,
                          rows=max(1, rows // 4))
    out = []
    for k in range(stack.size):
        back_wrong, first_wrong = float(got.back_wrong[k].sum()), float(got.first_wrong[k].sum())
        first_right = float(got.first_right[k].sum())
        out.append(BackStats(
            states=len(right), committed_error=float(1 - got.right[k].mean()),
            first_error=float(1 - got.first_right[k].mean()), back=float(got.back[k].mean()),
            precision=_ratio(back_wrong, float(got.back[k].sum())),
            recall=_ratio(back_wrong, first_wrong),
            harm=_ratio(float(got.harm[k].sum()), first_right),
            residual=float(got.residual[k].mean())))
    return out
