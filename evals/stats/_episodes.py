"""A run's episodes as padded numeric arrays: one row per episode, one column per step.

Steps are counted by position from 1 (the ``n`` of ``(1-e)^n``), whatever base the log's
step indices use. An oracle label is 1 (incorrect), 0 (correct) or NaN: **unknown** (the
oracle failed or timed out, or the answer was cut off) and padding alike. Unknown is never
counted as wrong; every rate leaves it out of its denominator, and the unknown rate is
reported beside the rates.

Unfinished episodes (a run still going, or killed) are kept and censored at their last
committed step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from redraft.agent import EXTRACTOR_SOURCE
from redraft.evals._events import RoundEvent, StepEvent
from redraft.evals.stats._load import EpisodeLog, RunData
from redraft.tools import Correctness, Judgement

__all__ = ["EpisodeArrays", "episode_arrays", "judged_wrong"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

VERIFIER_ERROR = "verifier_error"
NO_VERDICT_CODES = frozenset({VERIFIER_ERROR, "oracle_error", "critique_unreadable"})
"""Feedback codes that neither accept nor reject: the critic gave no verdict."""


@dataclass(frozen=True)
class EpisodeArrays:
    """Per-episode, per-step quantities of one run (``n`` episodes, ``L`` = longest)."""

    length: IntArray
    """``(n,)`` committed steps per episode."""
    initial_wrong: FloatArray
    """``(n, L)`` 1 where the oracle rejected round 0, 0 where it accepted, NaN unknown."""
    final_wrong: FloatArray
    """``(n, L)`` the same for the committed answer."""
    global_wrong: FloatArray
    """``(n, L)`` 1 where the agent's state is globally wrong after the step (falls back to
    "some committed error so far" where the task logs no global label)."""
    global_labelled: FloatArray
    """``(n, L)`` 1 where the global label came from the oracle, 0 where it was inferred."""
    revised: FloatArray
    """``(n, L)`` revisions made at the step."""
    forced: FloatArray
    """``(n, L)`` 1 where the task replaced the committed answer (``continue`` policy)."""
    attempted: FloatArray
    """``(n, L)`` 1 where the correction loop ran (feedback on round 0, or a revision)."""
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
    finished: NDArray[np.bool_]
    """``(n,)`` True when the episode logged its end (else censored at its last step)."""
    seed: IntArray
    """``(n,)`` each episode's seed (``episode_start.seed``); see :attr:`has_seed`."""
    has_seed: NDArray[np.bool_]
    """``(n,)`` True where the seed was logged."""
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
    """``(n,)`` rounds with a critic's feedback (the extractor's ``no_answer`` and
    ``truncated``, given without asking a critic, are left out)."""
    feedback_unjudged: FloatArray
    """``(n,)`` rounds with feedback but an unknown oracle label (out of TPR/FPR)."""
    rounds: FloatArray
    """``(n,)`` rounds of every step (proposals and revisions)."""
    rounds_unknown: FloatArray
    """``(n,)`` rounds whose oracle label is unknown."""
    repair_trials: FloatArray
    """``(n,)`` flagged wrong outputs followed by a judged revision."""
    repair_hits: FloatArray
    """``(n,)`` of those, revisions the oracle accepts."""
    damage_trials: FloatArray
    """``(n,)`` flagged right outputs followed by a judged revision."""
    damage_hits: FloatArray
    """``(n,)`` of those, revisions the oracle rejects."""

    @property
    def n_episodes(self) -> int:
        """Number of episodes."""
        return int(self.length.size)

    @property
    def mask(self) -> NDArray[np.bool_]:
        """``(n, L)`` True at steps an episode took."""
        return np.arange(self.initial_wrong.shape[1])[None, :] < self.length[:, None]

    @property
    def has_global_state(self) -> bool:
        """True when the task logged global labels (it has a global state of its own)."""
        return bool(np.nansum(self.global_labelled) > 0)

    @property
    def corrects(self) -> bool:
        """True when the correction loop ran at any step (recovery and harm are defined)."""
        return bool(np.nansum(self.attempted) > 0)


def _flag(correctness: Correctness | None) -> float:
    """1 for incorrect, 0 for correct, NaN for unknown or unlabelled."""
    if correctness == "incorrect":
        return 1.0
    if correctness == "correct":
        return 0.0
    return np.nan


def judged_wrong(judgement: Judgement | None) -> bool | None:
    """The oracle's local label of one output: True wrong, False right, None unknown."""
    if judgement is None or judgement.correctness == "unknown":
        return None
    return judgement.correctness == "incorrect"


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


def _feedback_counts(rounds: tuple[RoundEvent, ...]) -> tuple[int, ...]:
    tp = fp = fn = tn = errors = total = unjudged = 0
    for record in rounds:
        # The extractor's verdict on an output without an answer was given unasked, by no
        # critic: counting it would make "no answer" a detection.
        if record.feedback is None or record.feedback.source == EXTRACTOR_SOURCE:
            continue
        total += 1
        if record.feedback.code in NO_VERDICT_CODES:
            errors += 1
            continue
        wrong = judged_wrong(record.judgement)
        if wrong is None:
            unjudged += 1
            continue
        rejects = not record.feedback.ok
        if rejects and wrong:
            tp += 1
        elif rejects:
            fp += 1
        elif wrong:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn, errors, total, unjudged


def _revision_counts(rounds: tuple[RoundEvent, ...]) -> tuple[int, int, int, int, int, int]:
    """Rounds, unknown labels, and what a revision did after flagged wrong / right outputs."""
    by_step: dict[int, dict[int, RoundEvent]] = {}
    for record in rounds:
        by_step.setdefault(record.step, {})[record.round] = record
    total = unknown = repair_n = repair_k = damage_n = damage_k = 0
    for records in by_step.values():
        for index, record in records.items():
            total += 1
            wrong = judged_wrong(record.judgement)
            unknown += wrong is None
            feedback = record.feedback
            after = records.get(index + 1)
            if wrong is None or feedback is None or feedback.ok or after is None:
                continue
            if feedback.code in NO_VERDICT_CODES:
                continue
            revised_wrong = judged_wrong(after.judgement)
            if revised_wrong is None:
                continue
            if wrong:
                repair_n += 1
                repair_k += not revised_wrong
            else:
                damage_n += 1
                damage_k += revised_wrong
    return total, unknown, repair_n, repair_k, damage_n, damage_k


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
    """Tabulate a run's episodes (unfinished ones censored at their last step)."""
    n = len(run.episodes)
    width = max((len(ep.steps) for ep in run.episodes), default=0)
    width = max(width, 1)

    def grid() -> FloatArray:
        return np.full((n, width), np.nan)

    initial, final, glob, labelled, revised, forced = (grid() for _ in range(6))
    attempted = grid()
    tokens, seconds, over_tokens, over_seconds = grid(), grid(), grid(), grid()
    length = np.zeros(n, dtype=np.int64)
    time = np.zeros(n, dtype=np.int64)
    event = np.zeros(n, dtype=bool)
    finished = np.zeros(n, dtype=bool)
    seed = np.zeros(n, dtype=np.int64)
    has_seed = np.zeros(n, dtype=bool)
    counts = np.zeros((13, n))
    for i, episode in enumerate(run.episodes):
        length[i] = len(episode.steps)
        finished[i] = episode.finished
        if episode.seed is not None:
            seed[i], has_seed[i] = episode.seed, True
        firsts = _round_zero(episode.rounds)
        finals: list[float] = []
        wrong_so_far = False
        for j, step in enumerate(episode.steps):
            initial[i, j] = _flag(step.initial)
            final[i, j] = _flag(step.final)
            finals.append(final[i, j])
            wrong_so_far = wrong_so_far or step.final == "incorrect"
            labelled[i, j] = 0.0
            if step.global_correctness is not None:
                glob[i, j] = _flag(step.global_correctness)
                labelled[i, j] = 1.0
            elif step.final != "unknown" or wrong_so_far:
                # No global label: an error stays until the end (no undoing assumed).
                glob[i, j] = 1.0 if wrong_so_far else 0.0
            revised[i, j] = step.revisions
            forced[i, j] = 1.0 if step.forced else 0.0
            first = firsts.get(step.step)
            attempted[i, j] = float(step.revisions > 0 or (first is not None
                                                          and first.feedback is not None))
            tokens[i, j], seconds[i, j], over_tokens[i, j], over_seconds[i, j] = _step_cost(
                step, first
            )
        first_error = _first_error(episode, finals)
        event[i] = first_error is not None
        time[i] = first_error if first_error is not None else length[i]
        counts[:7, i] = _feedback_counts(episode.rounds)
        counts[7:, i] = _revision_counts(episode.rounds)
    (tp, fp, fn, tn, errors, total, unjudged,
     rounds, rounds_unknown, repair_n, repair_k, damage_n, damage_k) = counts
    return EpisodeArrays(
        length=length,
        initial_wrong=initial,
        final_wrong=final,
        global_wrong=glob,
        global_labelled=labelled,
        revised=revised,
        forced=forced,
        attempted=attempted,
        tokens=tokens,
        seconds=seconds,
        overhead_tokens=over_tokens,
        overhead_seconds=over_seconds,
        time=time,
        event=event,
        finished=finished,
        seed=seed,
        has_seed=has_seed,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        verifier_errors=errors,
        feedback_rounds=total,
        feedback_unjudged=unjudged,
        rounds=rounds,
        rounds_unknown=rounds_unknown,
        repair_trials=repair_n,
        repair_hits=repair_k,
        damage_trials=damage_n,
        damage_hits=damage_k,
    )
