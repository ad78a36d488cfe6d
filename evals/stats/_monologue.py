"""The in-generation layer: corrections a model makes inside one generation, and their cost.

A step now has three answers to judge: the **first answer** written in the proposal's
generation (round 0), the **answer** that generation ends with (what the verifier and the
oracle see: the same as the first unless the model corrected itself, "17 … wait, 19"), and
the **committed** answer after any revisions. So correction happens in two layers:

- in generation: ``ingen_recovery`` = P(round-0 answer right | first answer wrong) and
  ``ingen_harm`` = P(round-0 answer wrong | first answer right);
- by revisions: the round-level ``recovery`` and ``harm`` (from round 0's answer to the
  committed one), as before;
- and both together: ``total_recovery`` and ``total_harm``, from the first answer to the
  committed one.

Cost, for budget-matched comparisons ("think longer" against "revise more"):
generated tokens (every round and critique, reasoning included) per step and per corrected
error (a step whose first answer was wrong and whose committed answer is right), and the
reasoning tokens among them.

Unknown judgements (the oracle failed, or the answer was cut at the token limit) are left
out of every rate, as everywhere. Intervals are the stats package's: the BCa bootstrap over
whole episodes, and for shares at 0 or 1 or with few episodes the clustered Wilson
interval (:func:`~redraft.evals.stats.ratio_estimate`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from redraft.evals._events import RoundEvent
from redraft.evals.stats._intervals import (
    DEFAULT_LEVEL,
    Estimate,
    bootstrap_ratios,
    ratio_estimate,
)
from redraft.evals.stats._load import EpisodeLog, RunData
from redraft.tools import Judgement

__all__ = ["MONOLOGUE_METRICS", "monologue_metrics"]

FloatArray = NDArray[np.float64]

MONOLOGUE_METRICS: dict[str, str] = {
    "ingen_first_error": "share of proposals (round 0) whose first answer the oracle rejects",
    "ingen_answer_error": "share of proposals (round 0) whose final answer the oracle rejects "
    "(e_raw, on the answers judged here)",
    "ingen_correction_rate": "share of proposals that changed their answer inside the "
    "generation",
    "ingen_recovery": "P(proposal's answer right | its first answer wrong): recovery inside "
    "one generation",
    "ingen_harm": "P(proposal's answer wrong | its first answer right): harm inside one "
    "generation",
    "total_recovery": "P(committed right | first answer of round 0 wrong): both layers",
    "total_harm": "P(committed wrong | first answer of round 0 right): both layers",
    "no_answer_rate": "share of generations (all rounds) with reasoning but no answer",
    "truncated_rate": "share of generations (all rounds) cut at the token limit before the "
    "answer was complete",
    "generated_tokens_per_step": "completion tokens per step: every round and critique, "
    "reasoning included",
    "reasoning_tokens_per_step": "completion tokens per step spent on reasoning",
    "generated_tokens_per_corrected_error": "completion tokens per corrected error (a step "
    "whose first answer was wrong and whose committed answer is right, by either layer)",
}
"""The metrics of this layer and what each means (names in ``summary.json``)."""

def _wrong(judgement: Judgement | None) -> float:
    """1 incorrect, 0 correct, NaN unknown or unjudged."""
    if judgement is None:
        return math.nan
    return {"correct": 0.0, "incorrect": 1.0}.get(judgement.correctness, math.nan)


def _generated(record: RoundEvent) -> int:
    tokens = record.usage.completion_tokens
    if record.critique_usage is not None:
        tokens += record.critique_usage.completion_tokens
    return tokens


_Counter = dict[str, float]


def _episode_counts(episode: EpisodeLog) -> _Counter:
    counts: _Counter = defaultdict(float)
    by_step: dict[int, list[RoundEvent]] = defaultdict(list)
    for record in episode.rounds:
        by_step[record.step].append(record)
    committed_steps = {step.step for step in episode.steps}
    for step, records in by_step.items():
        if step not in committed_steps:
            continue  # a step cut off before it was committed
        records.sort(key=lambda r: r.round)
        counts["steps"] += 1
        for record in records:
            counts["generations"] += 1
            counts["no_answer"] += record.answer is None and not record.truncated
            counts["truncated"] += record.truncated
            counts["generated"] += _generated(record)
            counts["reasoning"] += record.reasoning_usage.completion_tokens
        proposal = records[0]
        last = _wrong(proposal.judgement)
        first = last if proposal.first_judgement is None else _wrong(proposal.first_judgement)
        committed = _wrong(records[-1].judgement)
        counts["proposals"] += 1
        counts["changed"] += proposal.first_answer != proposal.answer
        for name, value in (("first", first), ("last", last)):
            if not math.isnan(value):
                counts[f"{name}_known"] += 1
                counts[f"{name}_wrong"] += value
        if not (math.isnan(first) or math.isnan(last)):
            counts["first_wrong_last_known"] += first
            counts["first_right_last_known"] += 1 - first
            counts["ingen_recovered"] += first * (1 - last)
            counts["ingen_harmed"] += (1 - first) * last
        if not (math.isnan(first) or math.isnan(committed)):
            counts["first_wrong_committed_known"] += first
            counts["first_right_committed_known"] += 1 - first
            counts["total_recovered"] += first * (1 - committed)
            counts["total_harmed"] += (1 - first) * committed
    return counts


_PARTS: dict[str, tuple[str, str]] = {
    "ingen_first_error": ("first_wrong", "first_known"),
    "ingen_answer_error": ("last_wrong", "last_known"),
    "ingen_correction_rate": ("changed", "proposals"),
    "ingen_recovery": ("ingen_recovered", "first_wrong_last_known"),
    "ingen_harm": ("ingen_harmed", "first_right_last_known"),
    "total_recovery": ("total_recovered", "first_wrong_committed_known"),
    "total_harm": ("total_harmed", "first_right_committed_known"),
    "no_answer_rate": ("no_answer", "generations"),
    "truncated_rate": ("truncated", "generations"),
    "generated_tokens_per_step": ("generated", "steps"),
    "reasoning_tokens_per_step": ("reasoning", "steps"),
    "generated_tokens_per_corrected_error": ("generated", "total_recovered"),
}


_NOT_PROPORTIONS = frozenset(
    {"generated_tokens_per_step", "reasoning_tokens_per_step",
     "generated_tokens_per_corrected_error"}
)


def monologue_metrics(
    run: RunData,
    *,
    n_boot: int,
    rng: np.random.Generator,
    level: float = DEFAULT_LEVEL,
) -> dict[str, Estimate]:
    """Every metric of :data:`MONOLOGUE_METRICS`, with episode-bootstrap intervals.

    Undefined metrics (no denominator, e.g. recovery with no wrong first answer) have a
    None value, never 0.
    """
    counts = [_episode_counts(episode) for episode in run.episodes]
    column: Callable[[str], FloatArray] = lambda key: np.array(  # noqa: E731
        [c.get(key, 0.0) for c in counts], dtype=np.float64
    )
    parts = {name: (column(num), column(den)) for name, (num, den) in _PARTS.items()}
    replicates = bootstrap_ratios(parts, n_boot, rng)
    return {
        name: ratio_estimate(
            num, den, replicates[name], level, proportion=name not in _NOT_PROPORTIONS
        )
        for name, (num, den) in parts.items()
    }
