"""A run's episodes as padded numeric arrays: one row per episode, one column per step.

Steps are counted by position from 1 (the ``n`` of ``(1-e)^n``), whatever base the log's
step indices use. Oracle judgements ``unknown`` (the oracle failed, or the output was cut
off), missing labels and padding are NaN: unknowns are left out of every rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from redraft.evals._events import RoundEvent, StepEvent
from redraft.evals.stats._load import EpisodeLog, RunData
from redraft.tools import Correctness

__all__ = ["EpisodeArrays", "episode_arrays"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

VERIFIER_ERROR = "verifier_error"
NO_VERDICT_CODES = frozenset({VERIFIER_ERROR, "critique_unreadable"})
"""Feedback codes that neither accept nor reject: the critic gave no verdict."""


@dataclass(frozen=True)
class EpisodeArrays:
    """Per-episode, per-step quantities of one run (``n`` episodes, ``L`` = longest)."""

    length: IntArray
    """``(n,)`` committed steps per episode."""
    initial_wrong: FloatArray
    """``(n, L)`` 1 where the oracle rejected round 0, 0 where it accepted, NaN unknown."""
    final_wrong: FloatArray
    """``(n, L)`` the same for the committed output."""
    global_wrong: FloatArray
    """``(n, L)`` 1 where the agent's state is globally wrong after the step."""
    revised: FloatArray
    """``(n, L)`` revisions made at the step."""
    forced: FloatArray
    """``(n, L)`` 1 where the task replaced the committed answer (``continue`` policy)."""
    tokens: FloatArray
    """``(n, L)`` tokens (prompt + completion) the step cost, all rounds and critiques."""
    seconds: FloatArray
    """``(n, L)`` seconds the step cost."""
    overhead_tokens: FloatArray
    """``(n, L)`` tokens beyond the first proposal: critiques, feedback and revisions."""
    overhead_seconds: FloatArray
    """``(n, L)`` seconds beyond the first proposal."""
    time: IntArray
    """``(n,)`` step of the first committed error, or the censoring time (steps taken)."""
    event: NDArray[np.bool_]
    """``(n,)`` True when a committed error was observed (else censored)."""
    tp: FloatArray
    """``(n,)`` rounds where feedback and oracle both rejected."""
    fp: FloatArray
    """``(n,)`` rounds where feedback rejected an output the oracle accepted."""
    fn: FloatArray
    """``(n,)`` rounds where feedback accepted an output the oracle rejected."""
    tn: FloatArray
    """``(n,)`` rounds where both accepted."""
    verifier_errors: FloatArray
    """``(n,)`` rounds whose feedback gave no verdict (``verifier_error``,
    ``critique_unreadable``): neither accept nor reject."""
    feedback_rounds: FloatArray
    """``(n,)`` rounds with any feedback."""

    @property
    def n_episodes(self) -> int:
        """Number of episodes."""
        return int(self.length.size)

    @property
    def mask(self) -> NDArray[np.bool_]:
        """``(n, L)`` True at steps an episode took."""
        return np.arange(self.initial_wrong.shape[1])[None, :] < self.length[:, None]


def _flag(correctness: Correctness | None) -> float:
    """1 for incorrect, 0 for correct, NaN for unknown or unlabelled."""
    if correctness == "incorrect":
        return 1.0
    if correctness == "correct":
        return 0.0
    return np.nan


def _first_error(episode: EpisodeLog, final: list[float]) -> int | None:
    """1-based position of the first committed error, from step records or episode_end."""
    for position, wrong in enumerate(final, start=1):
        if wrong == 1.0:
            return position
    if episode.end is None or episode.end.first_error_step is None:
        return None
    if any(wrong == 0.0 for wrong in final):  # labelled steps, and none was wrong
        return None
    target = episode.end.first_error_step
    for position, step in enumerate(episode.steps, start=1):
        if step.step == target:
            return position
    base = episode.steps[0].step if episode.steps else 0
    return target - base + 1


def _feedback_counts(rounds: tuple[RoundEvent, ...]) -> tuple[int, int, int, int, int, int]:
    tp = fp = fn = tn = errors = total = 0
    for record in rounds:
        if record.feedback is None:
            continue
        total += 1
        if record.feedback.code in NO_VERDICT_CODES:
            errors += 1
            continue
        if record.judgement is None or record.judgement.correctness == "unknown":
            continue
        rejects = not record.feedback.ok
        wrong = record.judgement.correctness == "incorrect"
        if rejects and wrong:
            tp += 1
        elif rejects:
            fp += 1
        elif wrong:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn, errors, total


def _round_zero(rounds: tuple[RoundEvent, ...]) -> dict[int, RoundEvent]:
    return {r.step: r for r in rounds if r.round == 0}


def _step_cost(step: StepEvent, first: RoundEvent | None) -> tuple[float, float, float, float]:
    tokens = float(step.usage.prompt_tokens + step.usage.completion_tokens)
    seconds = float(step.usage.seconds)
    if first is None:
        return tokens, seconds, np.nan, np.nan
    base = first.usage
    return (
        tokens,
        seconds,
        tokens - float(base.prompt_tokens + base.completion_tokens),
        seconds - float(base.seconds),
    )


def episode_arrays(run: RunData) -> EpisodeArrays:
    """Tabulate a run's finished episodes."""
    n = len(run.episodes)
    width = max((len(ep.steps) for ep in run.episodes), default=0)
    width = max(width, 1)

    def grid() -> FloatArray:
        return np.full((n, width), np.nan)

    initial, final, glob, revised, forced = grid(), grid(), grid(), grid(), grid()
    tokens, seconds, over_tokens, over_seconds = grid(), grid(), grid(), grid()
    length = np.zeros(n, dtype=np.int64)
    time = np.zeros(n, dtype=np.int64)
    event = np.zeros(n, dtype=bool)
    counts = np.zeros((6, n))
    for i, episode in enumerate(run.episodes):
        length[i] = len(episode.steps)
        firsts = _round_zero(episode.rounds)
        finals: list[float] = []
        wrong_so_far = False
        for j, step in enumerate(episode.steps):
            initial[i, j] = _flag(step.initial)
            final[i, j] = _flag(step.final)
            finals.append(final[i, j])
            wrong_so_far = wrong_so_far or step.final == "incorrect"
            if step.global_state is not None:
                glob[i, j] = _flag(step.global_state)
            elif step.final != "unknown" or wrong_so_far:
                # No global label: an error stays until the end (no undoing assumed).
                glob[i, j] = 1.0 if wrong_so_far else 0.0
            revised[i, j] = step.revisions
            forced[i, j] = 1.0 if step.forced else 0.0
            tokens[i, j], seconds[i, j], over_tokens[i, j], over_seconds[i, j] = _step_cost(
                step, firsts.get(step.step)
            )
        first = _first_error(episode, finals)
        event[i] = first is not None
        time[i] = first if first is not None else length[i]
        counts[:, i] = _feedback_counts(episode.rounds)
    tp, fp, fn, tn, errors, total = counts
    return EpisodeArrays(
        length=length,
        initial_wrong=initial,
        final_wrong=final,
        global_wrong=glob,
        revised=revised,
        forced=forced,
        tokens=tokens,
        seconds=seconds,
        overhead_tokens=over_tokens,
        overhead_seconds=over_seconds,
        time=time,
        event=event,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        verifier_errors=errors,
        feedback_rounds=total,
    )
