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
- ``recovery`` (DAgger-like; Razied's "mistakes and their corrections"): states that already
  hold earlier errors, with targets that restore the *true* total. Only where the prompt
  lets the truth be recomputed (``history``, or ``recent`` with checkpoints).

Earlier errors (``recovery_p``, any regime): at that rate a step of a training episode is
committed with a wrong answer instead of the right one, as if the model had erred, so later
states show it. The wrong answers of ``retry`` and of these errors come from a fixed offset
(``wrong_source="offset"``) or from a trained model's own mistakes (:class:`WrongAnswers`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from pydantic import JsonValue

from redraft.agent.backends import Message
from redraft.core import BadInputError
from redraft.evals.tasks import StepPrompt, Task
from redraft.lab.testbed._markers import BACK_MARKER
from redraft.lab.testbed._wrong import WrongAnswers
from redraft.tools import Judgement, Verdict
from redraft.tools.arithmetic import (
    AdditionContext,
    RunningSumContext,
    RunningSumTruth,
    addition_answer,
    format_total,
)

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

Regime = Literal["expert", "retry", "scratchpad", "recovery"]
"""The data regimes."""
REGIMES: tuple[str, ...] = get_args(Regime)

_RETRY_SEPARATOR = f" {BACK_MARKER} "
"""What ``retry`` writes between a wrong answer and the right one."""


@dataclass(frozen=True)
class Example:
    """One training example: a step's prompt and the answer to learn."""

    messages: tuple[Message, ...]
    """The step's prompt, as the eval renders it."""
    target: str
    """The assistant's answer."""
    wrong_prefix: int = 0
    """Characters at the start of ``target`` that are a wrong answer and its marker (retry)."""
    context: Any = None
    """The step's verifier context (what the prompt shows), for checks and sampling."""
    truth: Any = None
    """The step's oracle context (the true state), for checks."""
    erred_before: bool = False
    """An earlier step of this episode was committed wrong (``recovery_p``)."""

    @property
    def wrong_answer(self) -> int:
        """Characters at the start of ``target`` that are the wrong answer alone.

        What ``mask_wrong`` leaves out of the loss: the marker after it stays in, or the
        model never learns to take an answer back.
        """
        return max(self.wrong_prefix - len(_RETRY_SEPARATOR), 0)


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
    true_answer: Callable[[Any], str] | None = None
    """The answer that restores the true state, from a step's oracle context (None: the
    task has no recovery regime)."""
    recovery_problem: Callable[[Task], str | None] = field(default=lambda task: _no_errors(task))
    """Why ``task`` (with its options) cannot hold training errors, or None if it can."""
    recoverable: Callable[[Task], bool] = field(default=lambda task: False)
    """Whether the prompts of ``task`` let the true state be recomputed."""


def _no_errors(task: Task) -> str:
    return f"earlier errors and the recovery regime are built for running_sum, not {task.name!r}"


C = TypeVar("C")


def _expect(context: object, kind: type[C]) -> C:
    """``context`` as the task's own context type (a recipe for another task is a bug)."""
    if not isinstance(context, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(context).__name__}")
    return context


def _running_sum_wrong(context: object, rng: random.Random) -> str:
    ctx = _expect(context, RunningSumContext)
    offsets = [d for d in range(-10, 11) if ctx.reduce(d) != 0]
    return ctx.answer(ctx.expected() + rng.choice(offsets))


def _running_sum_scratch(context: object) -> str:
    ctx = _expect(context, RunningSumContext)
    looked_up = ", ".join(f"{k}={v}" for k, v in zip(ctx.keys, ctx.values, strict=True))
    terms = "".join(f"{v:+d}" for v in ctx.values)
    # The unreduced sum: modulo a modulus the answer then writes it reduced.
    previous = format_total(ctx.previous, ctx.modulus)
    return f"{looked_up}; {previous}{terms}={ctx.previous + sum(ctx.values)}; "


def _running_sum_truth(context: object) -> str:
    ctx = _expect(context, RunningSumTruth)
    return ctx.answer(ctx.truth())


def _running_sum_config(task: Task) -> Any:
    config = getattr(task, "config", None)
    if config is None or not hasattr(config, "recoverable"):
        raise TypeError(f"expected the running_sum task, got {type(task).__name__}")
    return config


def _running_sum_problem(task: Task) -> str | None:
    if _running_sum_config(task).teacher_force:
        return ("teacher_force erases the training errors (episodes go on from the truth): "
                "train without it; it is an eval option")
    return None


def _running_sum_recoverable(task: Task) -> bool:
    return bool(_running_sum_config(task).recoverable())


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
                            {"keys_per_step": 1, "value_min": 0},
                            true_answer=_running_sum_truth,
                            recovery_problem=_running_sum_problem,
                            recoverable=_running_sum_recoverable),
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
    regime: Regime,
    spec: TaskSpec,
    prompt: StepPrompt,
    right: str,
    wrong: Callable[[Any, random.Random], str],
    rng: random.Random,
    retry_p: float,
) -> tuple[str, int]:
    if regime == "scratchpad":
        return spec.scratch(prompt.context) + right, 0
    if regime == "retry" and rng.random() < retry_p:
        first = wrong(prompt.context, rng) + _RETRY_SEPARATOR
        return first + right, len(first)
    return right, 0


def _check(
    task: Task, regime: Regime, spec: TaskSpec, retry_p: float, recovery_p: float,
) -> None:
    if regime not in REGIMES:
        raise BadInputError(f"unknown regime {regime!r}; choose one of {', '.join(REGIMES)}")
    if not 0.0 <= retry_p <= 0.5:
        raise BadInputError(f"retry_p must lie in [0, 0.5], not {retry_p}")
    if not 0.0 <= recovery_p <= 0.5:
        raise BadInputError(f"recovery_p must lie in [0, 0.5], not {recovery_p}")
    if regime == "recovery" and recovery_p == 0.0:
        raise BadInputError("the recovery regime needs earlier errors: set recovery_p above 0 "
                            "(e.g. --recovery-p 0.2)")
    if recovery_p > 0.0:
        problem = spec.recovery_problem(task)
        if problem is not None:
            raise BadInputError(problem)
    if regime == "recovery" and not spec.recoverable(task):
        raise BadInputError(
            "the recovery regime needs prompts from which the true total can be recomputed: "
            "representation history, or recent with checkpoint_every <= window"
        )


def examples(
    task: Task,
    regime: Regime,
    *,
    seed: int,
    episode_steps: int,
    retry_p: float = 0.2,
    recovery_p: float = 0.0,
    wrong_answers: WrongAnswers | None = None,
) -> Iterator[Example]:
    """Training examples without end, episode after episode, every step of each.

    Args:
        task: the task, with the options (representation, sizes) to train on.
        regime: what the answers look like.
        seed: fixes the episodes and the regime's random draws.
        episode_steps: the step limit of each training episode (tasks with a natural end,
            like addition, may end sooner).
        retry_p: the share of ``retry`` steps that show a wrong answer first, in [0, 0.5].
        recovery_p: the share of steps committed with a wrong answer instead of the right
            one, so that later states hold earlier errors, in [0, 0.5]; needed by
            ``recovery``.
        wrong_answers: draw wrong answers (retry's and the earlier errors) from a model's
            own mistakes; None: the task's fixed offsets.

    Raises:
        BadInputError: an unknown regime or task, a rate out of range, or a ``recovery``
            (or ``recovery_p``) the task's prompts cannot support.
    """
    spec = task_spec(task.name)
    _check(task, regime, spec, retry_p, recovery_p)  # now, not at the first example
    wrong = spec.wrong if wrong_answers is None else wrong_answers.draw
    return _stream(task, regime, spec, seed=seed, episode_steps=episode_steps, retry_p=retry_p,
                   recovery_p=recovery_p, wrong=wrong)


def _stream(
    task: Task,
    regime: Regime,
    spec: TaskSpec,
    *,
    seed: int,
    episode_steps: int,
    retry_p: float,
    recovery_p: float,
    wrong: Callable[[Any, random.Random], str],
) -> Iterator[Example]:
    rng = random.Random(f"testbed-regime:{seed}")
    errors = random.Random(f"testbed-errors:{seed}")  # its own stream: recovery_p=0 changes nothing
    # The expert's answer is right by construction (the tests check it against the oracle).
    right_judgement = Judgement(local=Verdict.accept("the expert's answer", source="testbed"))
    wrong_judgement = Judgement(local=Verdict.reject("wrong_value", "a training error",
                                                     source="testbed"))
    index = 0
    while True:
        episode = task.new_episode(
            training_seed(seed, index), max_steps=episode_steps, error_policy="continue"
        )
        index += 1
        erred = False
        while not episode.done:
            prompt = episode.prompt()
            if prompt.hint is None:  # the training target is the hint's right answer
                raise BadInputError(f"task {task.name!r} gives no right answer to train on "
                                    "(its steps carry no simulation hint)")
            right = prompt.hint.correct
            if regime == "recovery" and spec.true_answer is not None:
                right = spec.true_answer(prompt.oracle_context)
            target, wrong_prefix = _target(regime, spec, prompt, right, wrong, rng, retry_p)
            yield Example(prompt.messages, target, wrong_prefix, prompt.context,
                          prompt.oracle_context, erred)
            if recovery_p > 0.0 and errors.random() < recovery_p:
                episode.commit(wrong(prompt.context, errors), wrong_judgement)
                erred = True
            else:
                episode.commit(right, right_judgement)
