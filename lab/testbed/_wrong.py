"""Wrong answers like a model's own: the empirical error distribution of a trained model.

The ``retry`` and ``recovery`` regimes need wrong answers. A fixed offset (the right total
±1..10) teaches mistakes no model makes; Ye et al. 2024 drew them from the model's own
distribution. Sampling a model for every training example would cost more than training a
CPU model, so instead a trained model (``wrong_model``, e.g. an expert of the same task) is
sampled once at temperature 1 on held-out expert states of the training task (through the
framework's ``hf`` backend, as an eval samples it), and the offset
of each wrong total from the right one is kept: training then draws wrong answers from those
offsets (:class:`WrongAnswers`). The offsets are pooled over contexts, so a wrong answer's
*size* follows the model's, its *place* is where the regime puts it.

A well-trained model may write too few wrong totals at temperature 1 to draw from (an
expert of the quick scale made none in 2048 steps): then the same states are sampled again
at a higher temperature (:data:`TEMPERATURES`), which flattens the model's distribution but
keeps the order of its likeliest mistakes, until :data:`MIN_WRONG` wrong totals are found.
The temperature used is recorded with the offsets (and so in the recipe).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from redraft.agent.backends import GenerationRequest, SamplingParams, load_backend
from redraft.core import BadInputError
from redraft.evals.tasks import Task
from redraft.tools.arithmetic import RunningSumContext, read_total

__all__ = ["MIN_WRONG", "TEMPERATURES", "WrongAnswers", "sample_wrong_answers", "weights_digest"]

TEMPERATURES = (1.0, 1.5, 2.0)
"""Sampling temperatures tried in turn: the model's own distribution first."""
MIN_WRONG = 8
"""Wrong totals wanted before a temperature is accepted (the last one takes any): a few to
draw from (the quick scale's seed-0 expert wrote 15 in 2048 steps at temperature 1, four
distinct offsets; its seed-7 expert none)."""

_SAMPLE_SEED_OFFSET = 5_003_000_017
"""Sampled states use the training seed plus this: neither training nor eval episodes."""


class WrongAnswers(BaseModel):
    """The wrong totals a trained model wrote, as offsets from the right total."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    """The model directory sampled."""
    weights: str | None = None
    """SHA-256 of that model's weights file when sampled (None in recipes written before it
    was recorded): a model retrained since has other weights, and these offsets are not
    its mistakes."""
    temperature: float
    """Sampling temperature of these offsets (1: the model's own distribution; higher when
    it made fewer than :data:`MIN_WRONG` wrong totals at the lower ones)."""
    sampled: int = Field(ge=1)
    """Expert states sampled (one output each)."""
    unreadable: int = Field(ge=0)
    """Outputs with no readable total (not used as wrong answers)."""
    offsets: list[int] = Field(min_length=1)
    """The offset of each readable wrong total from the right one (reduced modulo the
    task's modulus into ``(-m/2, m/2]``): the wrong answers are drawn from these."""

    def draw(self, context: object, rng: random.Random) -> str:
        """A wrong answer for ``context``: the right total plus a drawn offset."""
        if not isinstance(context, RunningSumContext):
            raise TypeError(f"expected RunningSumContext, got {type(context).__name__}")
        return context.answer(context.expected() + rng.choice(self.offsets))


_WEIGHTS_FILE = "model.safetensors"


def weights_digest(model_dir: Path) -> str | None:
    """SHA-256 of a model directory's weights file; None when it has none."""
    from redraft.evals import file_sha256

    path = Path(model_dir) / _WEIGHTS_FILE
    return file_sha256(path) if path.is_file() else None


def _centred(offset: int, modulus: int | None) -> int:
    if modulus is None:
        return offset
    offset %= modulus
    return offset - modulus if offset > modulus // 2 else offset


def sample_wrong_answers(
    model_dir: Path,
    task: Task,
    *,
    seed: int,
    episode_steps: int,
    samples: int = 2048,
    temperatures: tuple[float, ...] = TEMPERATURES,
    min_wrong: int = MIN_WRONG,
    device: str = "cpu",
    batch: int = 256,
) -> WrongAnswers:
    """Sample a trained model on expert states of ``task`` and keep its wrong totals.

    Args:
        model_dir: a testbed model directory trained on the same task.
        task: the task trained on now (its prompts are the states sampled).
        seed: fixes the states and the sampling.
        episode_steps: the step limit of the sampled episodes.
        samples: how many states to sample (one output each) per temperature.
        temperatures: tried in turn until one gives ``min_wrong`` wrong totals.
        min_wrong: the wrong totals that make a temperature enough (the last takes any).
        device: the torch device.
        batch: rows per decoding call of the ``hf`` backend.

    Raises:
        BadInputError: the directory is no testbed model of this task, the task is not
            ``running_sum``, or the model made no readable wrong answer at any temperature.
    """
    # Imported here: the regimes draw from WrongAnswers, and the recipe records it.
    from redraft.lab.testbed._recipe import read_recipe

    if task.name != "running_sum":
        raise BadInputError("wrong answers from a model (wrong_source=model) are built for "
                            f"running_sum only, not {task.name!r}; use wrong_source=offset")
    if not temperatures:
        raise ValueError("no sampling temperature to try")
    recipe = read_recipe(model_dir)
    if recipe is None or recipe.task != task.name:
        raise BadInputError(f"{model_dir} is not a testbed model of {task.name} (no recipe of "
                            "that task): train one with 'redraft train running_sum ...'")
    backend = load_backend(f"hf/{model_dir}", device=device, max_batch_size=batch)
    weights = weights_digest(model_dir)
    found: WrongAnswers | None = None
    try:
        for temperature in temperatures:
            offsets, unreadable = _sample_offsets(backend, task, seed=seed,
                                                  episode_steps=episode_steps,
                                                  samples=samples, temperature=temperature)
            if not offsets:
                continue
            found = WrongAnswers(model=str(model_dir), weights=weights, temperature=temperature,
                                 sampled=samples, unreadable=unreadable, offsets=offsets)
            if len(offsets) >= min_wrong:
                return found
    finally:
        asyncio.run(backend.aclose())
    if found is None:
        tried = ", ".join(f"{t:g}" for t in temperatures)
        raise BadInputError(f"{model_dir} made no readable wrong answer in {samples} sampled "
                            f"steps at temperature {tried}; use wrong_source=offset")
    return found


def _sample_offsets(
    backend: Any, task: Task, *, seed: int, episode_steps: int, samples: int,
    temperature: float,
) -> tuple[list[int], int]:
    """The nonzero offsets of readable totals, and the unreadable count, at one temperature.

    Each state is one request with its own seed, so the same states are drawn the same way
    at every temperature and in any batch.
    """
    from redraft.lab.testbed._regimes import examples

    stream = examples(task, "expert", seed=seed + _SAMPLE_SEED_OFFSET, episode_steps=episode_steps)
    rows = [next(stream) for _ in range(samples)]
    requests = [GenerationRequest(messages=e.messages, params=SamplingParams(
        temperature=temperature, max_tokens=32, seed=seed * 1_000_003 + i))
        for i, e in enumerate(rows)]
    generations = asyncio.run(backend.generate(requests))
    offsets: list[int] = []
    unreadable = 0
    for generation, example in zip(generations, rows, strict=True):
        context = _context(example.context)
        read = read_total(generation.text)
        if read.status != "ok":
            unreadable += 1
            continue
        offset = _centred(read.values[0] - context.expected(), context.modulus)
        if offset:
            offsets.append(offset)
    return offsets, unreadable


def _context(context: Any) -> RunningSumContext:
    if not isinstance(context, RunningSumContext):
        raise TypeError(f"expected RunningSumContext, got {type(context).__name__}")
    return context
