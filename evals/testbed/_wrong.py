"""Wrong answers like a model's own: the empirical error distribution of a trained model.

The ``retry`` and ``recovery`` regimes need wrong answers. A fixed offset (the right total
±1..10) teaches mistakes no model makes; Ye et al. 2024 drew them from the model's own
distribution. Sampling a model for every training example would cost more than training a
CPU model, so instead a trained model (``wrong_model``, e.g. an expert of the same task) is
sampled once at temperature 1 on held-out expert states of the training task, and the offset
of each wrong total from the right one is kept: training then draws wrong answers from those
offsets (:class:`WrongAnswers`). The offsets are pooled over contexts, so a wrong answer's
*size* follows the model's, its *place* is where the regime puts it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from redraft.evals.tasks import Task
from redraft.evals.testbed._deps import require_train
from redraft.evals.testbed._tokenizer import generate_answers
from redraft.tools import BadInputError
from redraft.tools.arithmetic import RunningSumContext, read_total

__all__ = ["WrongAnswers", "sample_wrong_answers"]

_SAMPLE_SEED_OFFSET = 5_003_000_017
"""Sampled states use the training seed plus this: neither training nor eval episodes."""


class WrongAnswers(BaseModel):
    """The wrong totals a trained model wrote, as offsets from the right total."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    """The model directory sampled."""
    temperature: float
    """Sampling temperature (1: the model's own distribution)."""
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
    temperature: float = 1.0,
    device: str = "cpu",
    batch: int = 256,
) -> WrongAnswers:
    """Sample a trained model on expert states of ``task`` and keep its wrong totals.

    Args:
        model_dir: a testbed model directory trained on the same task.
        task: the task trained on now (its prompts are the states sampled).
        seed: fixes the states and the sampling.
        episode_steps: the step limit of the sampled episodes.
        samples: how many states to sample (one output each).
        temperature: the sampling temperature.
        device: the torch device.
        batch: rows per ``generate`` call.

    Raises:
        BadInputError: the directory is no testbed model of this task, the task is not
            ``running_sum``, or the model made no readable wrong answer.
    """
    # Imported here: the regimes draw from WrongAnswers, and the recipe records it.
    from redraft.evals.testbed._recipe import read_recipe
    from redraft.evals.testbed._regimes import examples

    if task.name != "running_sum":
        raise BadInputError("wrong answers from a model (wrong_source=model) are built for "
                            f"running_sum only, not {task.name!r}; use wrong_source=offset")
    recipe = read_recipe(model_dir)
    if recipe is None or recipe.task != task.name:
        raise BadInputError(f"{model_dir} is not a testbed model of {task.name} (no recipe of "
                            "that task): train one with 'redraft train running_sum ...'")
    torch = require_train("torch")
    transformers = require_train("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(model_dir)).to(device)
    model.eval()
    torch.manual_seed(seed)
    stream = examples(task, "expert", seed=seed + _SAMPLE_SEED_OFFSET, episode_steps=episode_steps)
    offsets: list[int] = []
    unreadable = 0
    done = 0
    while done < samples:
        rows = [next(stream) for _ in range(min(batch, samples - done))]
        done += len(rows)
        texts = generate_answers(model, tokenizer, torch, device, [e.messages for e in rows],
                                 max_new_tokens=32, do_sample=True, temperature=temperature,
                                 top_k=0, top_p=1.0)
        for text, example in zip(texts, rows, strict=True):
            context = _context(example.context)
            read = read_total(text)
            if read.status != "ok":
                unreadable += 1
                continue
            offset = _centred(read.values[0] - context.expected(), context.modulus)
            if offset:
                offsets.append(offset)
    if not offsets:
        raise BadInputError(f"{model_dir} made no readable wrong answer in {samples} sampled "
                            f"steps at temperature {temperature}; use wrong_source=offset")
    return WrongAnswers(model=str(model_dir), temperature=temperature, sampled=samples,
                        unreadable=unreadable, offsets=offsets)


def _context(context: Any) -> RunningSumContext:
    if not isinstance(context, RunningSumContext):
        raise TypeError(f"expected RunningSumContext, got {type(context).__name__}")
    return context
