"""Synthetic event logs from a simulated policy with known e, r, h (test helper).

Outcomes are drawn with numpy for all episodes at once, then written out as real, validated
event records, so the statistics are exercised exactly as they are on a runner's log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from redraft.core import Cost
from redraft.evals._events import (
    SCHEMA_VERSION,
    EpisodeEndEvent,
    EpisodeStartEvent,
    Event,
    RoundEvent,
    StepEvent,
)
from redraft.evals.stats import RunData
from redraft.tools import Correctness, Judgement, Verdict

ACCEPT = Verdict.accept(source="critic")
REJECT = Verdict.reject("wrong_value", "looks wrong", source="critic")
BROKEN = Verdict.reject("verifier_error", "the verifier crashed", source="critic")
RIGHT = Judgement(local=Verdict.accept(source="oracle"))
WRONG = Judgement(local=Verdict.reject("wrong_value", "wrong", source="oracle"))
PROPOSE_COST = Cost(prompt_tokens=50, completion_tokens=5, seconds=0.01)
REVISE_COST = Cost(prompt_tokens=80, completion_tokens=5, seconds=0.02)


@dataclass(frozen=True)
class Policy:
    """A simulated agent: round 0 wrong w.p. e·(1+growth)^t; one revision when flagged."""

    e: float = 0.2
    r: float = 0.6
    """A revision of a wrong proposal is right w.p. r."""
    h: float = 0.1
    """A revision of a right proposal is wrong w.p. h."""
    tpr: float = 1.0
    """Feedback flags a wrong output w.p. tpr."""
    fpr: float = 1.0
    """Feedback flags a right output w.p. fpr."""
    growth: float = 0.0
    selfcond: float = 0.0
    """Extra round-0 error probability at steps after a committed error (as the simulated
    backend's ``selfcond``)."""
    revise: bool = True
    """False: critic ``none`` (no feedback, no revision)."""
    error_policy: Literal["stop", "continue"] = "stop"
    undo: float = 0.0
    """Per-step chance that a global error is undone (continue policy)."""
    global_labels: bool = True
    """False: leave StepEvent.global_correctness unset (statistics fall back to local errors)."""

    @property
    def recovery(self) -> float:
        """True P(committed right | round 0 wrong)."""
        return self.tpr * self.r if self.revise else 0.0

    @property
    def harm(self) -> float:
        """True P(committed wrong | round 0 right)."""
        return self.fpr * self.h if self.revise else 0.0

    @property
    def committed_error(self) -> float:
        """True per-step committed-error probability (no growth)."""
        return self.e * (1 - self.recovery) + (1 - self.e) * self.harm


@dataclass(frozen=True)
class Outcomes:
    """Per-episode, per-step draws; ``length`` steps of each row are used."""

    wrong0: np.ndarray
    flagged: np.ndarray
    wrong1: np.ndarray
    flagged1: np.ndarray
    final: np.ndarray
    global_wrong: np.ndarray
    length: np.ndarray
    max_steps: int


def simulate(policy: Policy, episodes: int, max_steps: int, rng: np.random.Generator) -> Outcomes:
    """Draw every episode's outcomes at once."""
    shape = (episodes, max_steps)
    rate = np.minimum(0.999, policy.e * (1 + policy.growth) ** np.arange(max_steps))
    wrong0 = rng.random(shape) < rate[None, :]
    if policy.selfcond > 0:
        return _simulate_selfcond(policy, episodes, max_steps, rng, rate)
    if policy.revise:
        flagged = np.where(wrong0, rng.random(shape) < policy.tpr, rng.random(shape) < policy.fpr)
        u = rng.random(shape)
        wrong1 = np.where(wrong0, u >= policy.r, u < policy.h)
        flagged1 = np.where(wrong1, rng.random(shape) < policy.tpr, rng.random(shape) < policy.fpr)
        final = np.where(flagged, wrong1, wrong0)
    else:
        flagged = flagged1 = np.zeros(shape, dtype=bool)
        wrong1 = wrong0
        final = wrong0
    if policy.error_policy == "stop":
        any_error = final.any(axis=1)
        length = np.where(any_error, final.argmax(axis=1) + 1, max_steps)
    else:
        length = np.full(episodes, max_steps)
    glob = np.zeros(shape, dtype=bool)
    undo = rng.random(shape) < policy.undo
    state = np.zeros(episodes, dtype=bool)
    for t in range(max_steps):
        state = final[:, t] | (state & ~undo[:, t])
        glob[:, t] = state
    return Outcomes(wrong0, flagged, wrong1, flagged1, final, glob, length, max_steps)


def _simulate_selfcond(
    policy: Policy, episodes: int, max_steps: int, rng: np.random.Generator, rate: np.ndarray
) -> Outcomes:
    """Step by step: round 0's error rate rises by ``selfcond`` after a committed error."""
    shape = (episodes, max_steps)
    wrong0, flagged, wrong1, flagged1, final = (np.zeros(shape, dtype=bool) for _ in range(5))
    erred = np.zeros(episodes, dtype=bool)
    for t in range(max_steps):
        p = np.minimum(0.999, rate[t] + policy.selfcond * erred)
        w0 = rng.random(episodes) < p
        if policy.revise:
            f0 = np.where(w0, rng.random(episodes) < policy.tpr,
                          rng.random(episodes) < policy.fpr)
            u = rng.random(episodes)
            w1 = np.where(w0, u >= policy.r, u < policy.h)
            f1 = np.where(w1, rng.random(episodes) < policy.tpr,
                          rng.random(episodes) < policy.fpr)
            fin = np.where(f0, w1, w0)
        else:
            f0 = f1 = np.zeros(episodes, dtype=bool)
            w1 = fin = w0
        wrong0[:, t], flagged[:, t], wrong1[:, t], flagged1[:, t], final[:, t] = (
            w0, f0, w1, f1, fin)
        erred |= fin
    if policy.error_policy == "stop":
        length = np.where(final.any(axis=1), final.argmax(axis=1) + 1, max_steps)
    else:
        length = np.full(episodes, max_steps)
    glob = np.maximum.accumulate(final, axis=1)
    return Outcomes(wrong0, flagged, wrong1, flagged1, final, glob, length, max_steps)


def _rounds(ep: int, t: int, o: Outcomes, i: int, policy: Policy) -> list[RoundEvent]:
    w0, w1 = bool(o.wrong0[i, t]), bool(o.wrong1[i, t])
    first = RoundEvent(
        episode=ep, step=t, round=0, purpose="propose", messages=(), output="B" if w0 else "A",
        usage=PROPOSE_COST,
        feedback=None if not policy.revise else (REJECT if o.flagged[i, t] else ACCEPT),
        judgement=WRONG if w0 else RIGHT,
    )
    if not o.flagged[i, t]:
        return [first]
    second = RoundEvent(
        episode=ep, step=t, round=1, purpose="revise", messages=(), output="B" if w1 else "A",
        usage=REVISE_COST, feedback=REJECT if o.flagged1[i, t] else ACCEPT,
        judgement=WRONG if w1 else RIGHT,
    )
    return [first, second]


def _label(wrong: bool) -> Correctness:
    return "incorrect" if wrong else "correct"


def to_events(o: Outcomes, policy: Policy, first_id: int = 0) -> list[Event]:
    """Write the outcomes as validated event records, episode after episode."""
    events: list[Event] = []
    for i in range(o.wrong0.shape[0]):
        ep = first_id + i
        events.append(EpisodeStartEvent(episode=ep, step=0, round=0, seed=ep))
        n = int(o.length[i])
        first_error = None
        for t in range(n):
            rounds = _rounds(ep, t, o, i, policy)
            events.extend(rounds)
            final = bool(o.final[i, t])
            if final and first_error is None:
                first_error = t
            revised = len(rounds) == 2
            usage = PROPOSE_COST + REVISE_COST if revised else PROPOSE_COST
            events.append(StepEvent(
                episode=ep, step=t, round=len(rounds) - 1, revisions=len(rounds) - 1,
                committed_round=len(rounds) - 1,
                stop_reason=(
                    "no_critic" if not policy.revise
                    else "rounds_exhausted" if revised else "accepted"
                ),
                committed_answer=rounds[-1].output, action=rounds[-1].output,
                initial=_label(bool(o.wrong0[i, t])), final=_label(final),
                global_correctness=(
                    _label(bool(o.global_wrong[i, t])) if policy.global_labels else None
                ),
                usage=usage,
            ))
        end = "error" if (policy.error_policy == "stop" and first_error is not None) else (
            "max_steps" if n == o.max_steps else "natural"
        )
        events.append(EpisodeEndEvent(
            episode=ep, step=0, round=0, steps=n, end=end, first_error_step=first_error,
        ))
    return events


def simulated_run(
    policy: Policy,
    episodes: int,
    max_steps: int,
    seed: int,
    *,
    name: str = "sim",
    critic: str = "tool",
) -> RunData:
    """A whole simulated run as RunData."""
    outcomes = simulate(policy, episodes, max_steps, np.random.default_rng(seed))
    corrector = {"critic": critic if policy.revise else "none",
                 "max_revisions": 1 if policy.revise else 0}
    config = {"model": "synthetic", "task": "synthetic", "corrector": corrector}
    return RunData.from_events(to_events(outcomes, policy), name=name, config=config)


def write_run(
    run_dir: Path, policy: Policy, episodes: int, max_steps: int, seed: int,
    *, critic: str = "tool",
) -> Path:
    """Write manifest.json and events.jsonl for a simulated run; returns the directory."""
    run_dir.mkdir(parents=True, exist_ok=True)
    outcomes = simulate(policy, episodes, max_steps, np.random.default_rng(seed))
    corrector = {"critic": critic if policy.revise else "none",
                 "max_revisions": 1 if policy.revise else 0}
    config = {"model": f"synthetic/e={policy.e},r={policy.r},h={policy.h}",
              "task": "synthetic", "max_steps": max_steps, "corrector": corrector}
    (run_dir / "manifest.json").write_text(
        json.dumps({"schema": SCHEMA_VERSION, "config": config, "seed": seed})
    )
    with (run_dir / "events.jsonl").open("w") as f:
        for event in to_events(outcomes, policy):
            f.write(event.model_dump_json(by_alias=True) + "\n")
    return run_dir


def lockstep(events: list[Event]) -> list[Event]:
    """Reorder records as the lockstep runner writes them: step ``t`` of every running
    episode, then step ``t+1``; an episode's end right after its last step (so episodes
    that stop at an early error finish first)."""
    keyed = []
    position: dict[int, int] = {}
    for seq, event in enumerate(events):
        if isinstance(event, EpisodeStartEvent):
            position[event.episode] = -1
        elif isinstance(event, RoundEvent | StepEvent):
            position[event.episode] = event.step
        keyed.append((position.get(event.episode, -1), event.episode, seq, event))
    keyed.sort(key=lambda item: item[:3])
    return [item[3] for item in keyed]
