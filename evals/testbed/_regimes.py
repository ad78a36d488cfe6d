"""Data regimes: what a testbed model is trained to write at each step of an episode.

Training text comes from the task's own episodes: each example is one step's prompt, exactly
as :meth:`Episode.prompt` renders it for an eval, and a target answer. Every episode is
advanced with the right answer, so the prompts are the states an expert visits.

- ``expert``: the right answer (behaviour cloning; LeCun's compounding case).
- ``retry``: with probability ``retry_p`` a wrong answer, :data:`BACK_MARKER`, then the right
  answer (Ye et al. 2024's retry data; Razied's "mistakes and their corrections"). The task
  readers take the last answer, so the committed answer is the corrected one.
- ``scratchpad``: the intermediate computation, then the answer (inner monologue): the
  values looked up and the sum written out before it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from pydantic import JsonValue

from redraft.agent.backends import Message
from redraft.evals.tasks import StepPrompt, Task
from redraft.evals.testbed._markers import BACK_MARKER
from redraft.tools import BadInputError, Judgement, Verdict
from redraft.tools.arithmetic import AdditionContext, RunningSumContext, addition_answer

__all__ = [
    "REGIMES",
    "TASK_SPECS",
    "Example",
    "Regime",
    "TaskSpec",
    "examples",
    "task_spec",
    "training_seed",
]

Regime = Literal["expert", "retry", "scratchpad"]
"""The data regimes (``dagger`` is not built yet)."""
REGIMES: tuple[str, ...] = get_args(Regime)


@dataclass(frozen=True)
class Example:
    """One training example: a step's prompt and the answer to learn."""

    messages: tuple[Message, ...]
    """The step's prompt, as the eval renders it."""
    target: str
    """The assistant's answer."""
    wrong_prefix: int = 0
    """Characters at the start of ``target`` that are a wrong answer and its marker (retry)."""


@dataclass(frozen=True)
class TaskSpec:
    """How the testbed trains on one task."""

    representation: str
    """The representation trained on by default: one where each step's computation is local."""
    wrong: Callable[[Any, random.Random], str]
    """A plausible wrong answer for a step's context."""
    scratch: Callable[[Any], str]
    """The intermediate computation for a step's context, written before the answer."""
    options: dict[str, JsonValue] = field(default_factory=dict)
    """Task options trained on unless given otherwise."""


C = TypeVar("C")


def _expect(context: object, kind: type[C]) -> C:
    """``context`` as the task's own context type (a recipe for another task is a bug)."""
    if not isinstance(context, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(context).__name__}")
    return context


def _running_sum_wrong(context: object, rng: random.Random) -> str:
    ctx = _expect(context, RunningSumContext)
    offset = rng.choice([d for d in range(-10, 11) if d])
    return f"total: {ctx.expected() + offset}"


def _running_sum_scratch(context: object) -> str:
    ctx = _expect(context, RunningSumContext)
    looked_up = ", ".join(f"{k}={v}" for k, v in zip(ctx.keys, ctx.values, strict=True))
    terms = "".join(f"{v:+d}" for v in ctx.values)
    return f"{looked_up}; {ctx.previous}{terms}={ctx.expected()}; "


def _addition_wrong(context: object, rng: random.Random) -> str:
    ctx = _expect(context, AdditionContext)
    x, y = ctx.digits()
    total = x + y + ctx.carry_in
    digit, carry = total % 10, total // 10
    choice = rng.randrange(3)
    if choice == 0:
        return addition_answer((digit + rng.choice([1, 9])) % 10, carry)
    if choice == 1:
        return addition_answer(digit, 1 - carry)
    return addition_answer((digit + rng.choice([1, 9])) % 10, 1 - carry)


def _addition_scratch(context: object) -> str:
    ctx = _expect(context, AdditionContext)
    x, y = ctx.digits()
    return f"{x}+{y}+{ctx.carry_in}={x + y + ctx.carry_in}; "


TASK_SPECS: dict[str, TaskSpec] = {
    # One addend of 0..9 per step: "total, value -> new total", which a 0.8M model learns to
    # ~85% in 2 CPU minutes; totals grow with the step, so longer episodes reach totals
    # (three digits) rarely seen in training.
    "running_sum": TaskSpec("shown", _running_sum_wrong, _running_sum_scratch,
                            {"keys_per_step": 1, "value_min": 0}),
    "addition": TaskSpec("plain", _addition_wrong, _addition_scratch),
}
"""The tasks the testbed can train on."""


def task_spec(task: str) -> TaskSpec:
    """The spec of a trainable task.

    Raises:
        BadInputError: the testbed cannot train on ``task``.
    """
    try:
        return TASK_SPECS[task]
    except KeyError:
        raise BadInputError(
            f"the testbed cannot train on task {task!r}; choose one of "
            f"{', '.join(sorted(TASK_SPECS))}"
        ) from None


def training_seed(seed: int, index: int) -> int:
    """The seed of training episode ``index``: a hash in its own namespace.

    Eval episode seeds hash ``"{run_seed}:{episode}"``; these hash ``"testbed-train:..."``,
    so training and eval episodes coincide only by a 64-bit hash collision.
    """
    digest = hashlib.blake2b(f"testbed-train:{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _target(
    regime: Regime, spec: TaskSpec, prompt: StepPrompt, rng: random.Random, retry_p: float
) -> tuple[str, int]:
    correct = prompt.hint.correct
    if regime == "scratchpad":
        return spec.scratch(prompt.context) + correct, 0
    if regime == "retry" and rng.random() < retry_p:
        wrong = f"{spec.wrong(prompt.context, rng)} {BACK_MARKER} "
        return wrong + correct, len(wrong)
    return correct, 0


def examples(
    task: Task,
    regime: Regime,
    *,
    seed: int,
    episode_steps: int,
    retry_p: float = 0.2,
) -> Iterator[Example]:
    """Training examples without end, episode after episode, every step of each.

    Args:
        task: the task, with the options (representation, sizes) to train on.
        regime: what the answers look like.
        seed: fixes the episodes and the regime's random draws.
        episode_steps: the step limit of each training episode (tasks with a natural end,
            like addition, may end sooner).
        retry_p: the share of ``retry`` steps that show a wrong answer first.

    Raises:
        BadInputError: an unknown regime or task, or ``retry_p`` outside [0, 1].
    """
    if regime not in REGIMES:
        raise BadInputError(f"unknown regime {regime!r}; choose one of {', '.join(REGIMES)}")
    if not 0.0 <= retry_p <= 1.0:
        raise BadInputError(f"retry_p must lie in [0, 1], not {retry_p}")
    spec = task_spec(task.name)
    rng = random.Random(f"testbed-regime:{seed}")
    # The expert's answer is right by construction (the tests check it against the oracle).
    right = Judgement(local=Verdict.accept("the expert's answer", source="testbed"))
    index = 0
    while True:
        episode = task.new_episode(
            training_seed(seed, index), max_steps=episode_steps, error_policy="continue"
        )
        index += 1
        while not episode.done:
            prompt = episode.prompt()
            target, wrong_prefix = _target(regime, spec, prompt, rng, retry_p)
            yield Example(prompt.messages, target, wrong_prefix)
            episode.commit(prompt.hint.correct, right)
