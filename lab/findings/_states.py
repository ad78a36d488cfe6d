"""The shared constructed states every model is scored on, exactly.

From ``episodes`` evaluation episodes of the decisive task (their own hash namespace, the
run's seed), built with the task's own episode code:

- **clean states**: every step ``t`` of every episode, advanced with the true total (the
  expert's states: the model's error there is ``e_TF(t)``);
- **error sites** ``s``: at those steps a wrong total ``T_s + δ`` is committed (``δ`` the
  model's own kind of mistake: drawn, per seed, from its expert's answer distribution at
  the clean state ``s``), and the episode goes on *locally right* from it; the states at
  ``s + 1`` and ``s + 2`` (the wrong row in view) are the **post-error states**, each the
  twin of the clean state at the same step of the same episode: the same keys, values and
  rows except the wrong total and what follows from it. There, the locally right total is
  ``T + δ`` and the true one ``T``.

Every prompt of the decisive task at a given step has the same length (fixed-width rows),
so states group by step into unpadded batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from redraft.evals.tasks import Task
from redraft.lab.testbed import CharCodec, render_chat, training_seed
from redraft.tools import Judgement, Verdict
from redraft.tools.arithmetic import RunningSumContext

__all__ = ["EVAL_SEED_OFFSET", "CleanStates", "PostStates", "clean_states", "post_states"]

EVAL_SEED_OFFSET = 2_718_281_828
"""Evaluation episodes hash the run seed plus this (neither training nor held-out ones)."""
_JUDGED = Judgement(local=Verdict.accept("constructed", source="findings"))
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class CleanStates:
    """Every step of the evaluation episodes, advanced with the true total."""

    prompts: list[IntArray]
    """Per step ``t`` (index ``t - 1``): the ``(episodes, Lp)`` prompt ids."""
    right: IntArray
    """``(episodes, steps)`` the right (true) total at each step."""


@dataclass(frozen=True)
class PostStates:
    """The states after one wrong total, per error site and offset (1 or 2 steps after)."""

    prompts: IntArray
    """``(models, sites × offsets, Lp)`` prompt ids (each model's seed's δ)."""
    episode: IntArray
    """``(sites × offsets,)`` the episode of each state."""
    step: IntArray
    """``(sites × offsets,)`` its 1-based step (``s + 1`` or ``s + 2``)."""
    after: IntArray
    """``(sites × offsets,)`` 1 or 2: steps since the wrong total."""
    local: IntArray
    """``(models, sites × offsets)`` the locally right total (the true one plus δ)."""
    truth: IntArray
    """``(sites × offsets,)`` the true total."""
    delta: IntArray
    """``(models, sites × offsets)`` the offset of the wrong total (0..99, modulo 100)."""


def _episode(task: Task, seed: int, index: int, steps: int) -> Any:
    return task.new_episode(training_seed(seed + EVAL_SEED_OFFSET, index), max_steps=steps,
                            error_policy="continue")


def _context(prompt: Any) -> RunningSumContext:
    context = prompt.context
    if not isinstance(context, RunningSumContext):
        raise TypeError(f"expected RunningSumContext, got {type(context).__name__}")
    return context


def clean_states(task: Task, *, seed: int, episodes: int, steps: int) -> CleanStates:
    """The clean states of ``episodes`` evaluation episodes of ``steps`` steps."""
    codec = CharCodec()
    per_step: list[list[IntArray]] = [[] for _ in range(steps)]
    right = np.zeros((episodes, steps), dtype=np.int64)
    for e in range(episodes):
        episode = _episode(task, seed, e, steps)
        for t in range(steps):
            prompt = episode.prompt()
            context = _context(prompt)
            per_step[t].append(codec.encode(render_chat(prompt.messages)).astype(np.int64))
            right[e, t] = context.expected()
            episode.commit(context.answer(context.expected()), _JUDGED)
    return CleanStates(prompts=[np.stack(p) for p in per_step], right=right)


def post_states(task: Task, *, seed: int, sites: Sequence[int], steps: int,
                clean: CleanStates, wrong: IntArray) -> PostStates:
    """The post-error states of every site of every episode, for each model's δ.

    Args:
        task: the decisive task (evaluation options).
        seed: the run seed (the episodes of :func:`clean_states`).
        sites: the 1-based steps ``s`` committed wrong (``s + 2 <= steps``).
        steps: steps per episode.
        clean: the clean states (their right totals).
        wrong: ``(models, episodes, len(sites))`` the wrong total each model's seed's expert
            drew at each site.
    """
    codec = CharCodec()
    models, episodes = wrong.shape[0], clean.right.shape[0]
    rows: list[list[IntArray]] = [[] for _ in range(models)]
    local: list[list[int]] = [[] for _ in range(models)]
    delta: list[list[int]] = [[] for _ in range(models)]
    episode_of, step_of, after_of, truth = [], [], [], []
    cache: dict[tuple[int, int, int], tuple[list[IntArray], list[int]]] = {}
    for e in range(episodes):
        for j, s in enumerate(sites):
            if not 1 <= s <= steps - 2:
                raise ValueError(f"error site {s} leaves no two steps after it in {steps}")
            for offset in (1, 2):
                episode_of.append(e)
                step_of.append(s + offset)
                after_of.append(offset)
                truth.append(int(clean.right[e, s + offset - 1]))
            for k in range(models):
                w = int(wrong[k, e, j])
                key = (e, s, w)
                if key not in cache:
                    cache[key] = _after_error(task, seed, e, s, w, steps, codec)
                prompts, locals_ = cache[key]
                rows[k] += prompts
                local[k] += locals_
                d = (w - int(clean.right[e, s - 1])) % 100
                delta[k] += [d, d]
    return PostStates(
        prompts=np.stack([np.stack(r) for r in rows]),
        episode=np.asarray(episode_of), step=np.asarray(step_of), after=np.asarray(after_of),
        local=np.asarray(local, dtype=np.int64), truth=np.asarray(truth, dtype=np.int64),
        delta=np.asarray(delta, dtype=np.int64))


def _after_error(task: Task, seed: int, e: int, s: int, wrong: int, steps: int,
                 codec: CharCodec) -> tuple[list[IntArray], list[int]]:
    """Prompts and locally right totals at ``s + 1`` and ``s + 2`` after ``wrong`` at ``s``."""
    episode = _episode(task, seed, e, steps)
    prompts: list[IntArray] = []
    locals_: list[int] = []
    for t in range(1, s + 3):
        prompt = episode.prompt()
        context = _context(prompt)
        if t > s:
            prompts.append(codec.encode(render_chat(prompt.messages)).astype(np.int64))
            locals_.append(context.expected())
        total = wrong if t == s else context.expected()
        episode.commit(context.answer(total), _JUDGED)
    return prompts, locals_
