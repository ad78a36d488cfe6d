"""Train a stack of testbed models at once, record their learning curves, write each one.

:func:`train_stack` trains every :class:`~._lockstep.Member` of a stack in one process: one
:class:`~._stack.StackedLlama` (each member's weights initialised as ``redraft train``
initialises a model of its seed, so a seed's arms start equal), one batched forward and
backward per step over every member's own batch (:class:`~._lockstep.StackData`), and
:class:`~._stack.StackedAdamW` (each member its own learning-rate schedule to its own
step budget; a member whose budget is spent leaves the stack). Every ``eval_every`` steps
each member is scored on held-out clean states: its loss, its greedy accuracy (the exact
target is every position's argmax) and its error at the evaluation temperature (one minus
the probability of writing exactly the target), the learning curve that shows whether it
converged. :func:`save_member` writes a member as an ordinary Hugging Face model folder with
its recipe, so ``hf/DIR`` serves it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from redraft.lab.testbed._deps import require_train
from redraft.lab.testbed._lockstep import Member, StackBatch, StackData, heldout_batch
from redraft.lab.testbed._recipe import HeldoutPoint, LossPoint, SizeName
from redraft.lab.testbed._stack import StackedAdamW, StackedLlama
from redraft.lab.testbed._threads import choose_wait_policy

__all__ = ["HELDOUT_SEED_OFFSET", "StackOutcome", "StackPlan", "train_stack"]

HELDOUT_SEED_OFFSET = 7_919_000_001
"""Held-out episodes hash the training seed plus this (neither training nor eval episodes)."""


@dataclass(frozen=True)
class StackPlan:
    """What a stack trains: the task, the model size and every member's budget."""

    task: str
    """The task."""
    task_kwargs: dict[str, Any]
    """Its options, representation included (training's: mixed starts)."""
    size: SizeName
    """The model size every member has."""
    steps: tuple[int, ...]
    """Optimizer steps per member (stack order)."""
    batch_size: int
    """Examples per member per step."""
    episode_steps: int
    """Steps per training episode."""
    lr: float = 3e-3
    """Peak learning rate (linear warm-up over 5% of a member's steps, then per
    ``schedule``)."""
    member_lr: tuple[float, ...] | None = None
    """Per member, a peak learning rate instead of ``lr`` (None: ``lr`` for all)."""
    schedule: Literal["cosine", "constant"] = "cosine"
    """After the warm-up: ``cosine`` decay to a tenth at the member's last step (its step
    cap, under a stopping rule), or ``constant``."""
    member_stop: tuple[float | None, ...] | None = None
    """Per member, the stopping rule: it stops when its held-out greedy accuracy has been at
    least this at ``stop_patience`` scorings in a row (None, for it or for all: it trains
    all its steps)."""
    stop_patience: int = 3
    """Scorings in a row the stopping rule asks for."""
    temperature: float = 1.0
    """The evaluation temperature: of the wrong totals drawn from experts, and of the
    held-out error on the learning curves."""
    eval_every: int = 250
    """Steps between held-out scorings."""
    heldout_episodes: int = 8
    """Held-out episodes per seed (every step of each is scored)."""
    device: str = "cpu"
    """Torch device."""
    threads: int = 2
    """Torch CPU threads."""


@dataclass
class StackOutcome:
    """What training gave each member."""

    stack: StackedLlama
    """The trained models (stack order)."""
    loss_curves: list[list[LossPoint]]
    """Training loss per member."""
    heldout_curves: list[list[HeldoutPoint]]
    """Held-out scores per member."""
    steps_done: list[int]
    """Optimizer steps per member."""
    stopped_by: list[Literal["steps", "converged"]]
    """Per member: ``converged`` (the stopping rule) or ``steps`` (its budget)."""
    tokens: list[int]
    """Tokens seen per member (padding excluded)."""
    targets: list[int]
    """Tokens the loss was taken on, per member."""
    seconds: float
    """Wall-clock seconds of the training loop (the whole stack)."""
    data_seconds: float
    """Of which the loop waited for batches."""
    producer_seconds: float
    """Thread time the batch maker spent (drawing wrong totals included)."""
    wait_policy: str
    """How OpenMP's threads waited (:func:`~._threads.choose_wait_policy`)."""
    notes: list[str] = field(default_factory=list)
    """What went differently than planned."""


def _lr_scale(progress: float, schedule: str, warmup: float = 0.05) -> float:
    if progress < warmup:
        return max(progress / warmup, 0.01)
    if schedule == "constant":
        return 1.0
    frac = min((progress - warmup) / (1.0 - warmup), 1.0)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac))


def initial_stack(members: Sequence[Member], size: SizeName, device: str,
                  init: StackedLlama | None = None) -> StackedLlama:
    """Each member's starting weights.

    A copy of its ``init`` model, or fresh weights initialised as ``redraft train``
    initialises a model of its seed.
    """
    from redraft.lab.testbed._recipe import TrainConfig
    from redraft.lab.testbed._tokenizer import build_tokenizer
    from redraft.lab.testbed._train import build_model

    torch = require_train("torch")
    transformers = require_train("transformers")
    tokenizer = build_tokenizer()
    models = []
    for member in members:
        if member.init is not None:
            if init is None:
                raise ValueError(f"{member.name} starts from a trained model: give init")
            models.append(init.model(member.init))
            continue
        torch.manual_seed(member.seed)
        models.append(build_model(torch, transformers, tokenizer,
                                  TrainConfig(task="running_sum", size=size)))
    return StackedLlama.from_models(models).to(device)


def score_heldout(stack: StackedLlama, batch: StackBatch, temperature: float
                  ) -> list[tuple[float, float, float]]:
    """Per member: held-out loss, greedy exact accuracy, error at ``temperature``."""
    torch = stack.torch
    device = stack.params["embed"].device
    out: list[tuple[float, float, float]] = []
    with torch.no_grad():
        ids = torch.from_numpy(batch.ids).to(device)
        labels = torch.from_numpy(batch.labels).to(device)
        logits = stack.logits(ids).float()
        mask = labels != -100
        safe = labels.clamp(min=0)
        logp = torch.log_softmax(logits, dim=-1).gather(-1, safe[..., None])[..., 0]
        logp_t = torch.log_softmax(logits / max(temperature, 1e-6), dim=-1).gather(
            -1, safe[..., None])[..., 0]
        right = (logits.argmax(-1) == labels) | ~mask
        loss = -(logp * mask).sum((1, 2)) / mask.sum((1, 2))
        exact = right.all(-1).float().mean(-1)
        p_t = ((logp_t * mask).sum(-1)).exp().mean(-1)
        for k in range(stack.size):
            out.append((float(loss[k]), float(exact[k]), float(1 - p_t[k])))
    return out


def train_stack(members: Sequence[Member], plan: StackPlan, *,
                experts: StackedLlama | None = None, init: StackedLlama | None = None,
                say: Callable[[str], None] | None = None) -> StackOutcome:
    """Train every member at once; their learning curves; the trained stack.

    Args:
        members: the models, in stack order.
        plan: the task, size and budgets (``plan.steps[k]`` for ``members[k]``).
        experts: the seeds' experts, for members that draw wrong totals from them.
        init: trained models members start from (:attr:`Member.init`).
        say: receives a progress line now and then.
    """
    if len(plan.steps) != len(members):
        raise ValueError("one step budget per member")
    stop_at = plan.member_stop or (None,) * len(members)
    if len(stop_at) != len(members):
        raise ValueError("one stopping rule (or None) per member")
    policy = choose_wait_policy(plan.threads)
    torch = require_train("torch")
    from redraft.lab.testbed._train import set_threads

    set_threads(torch, plan.threads)
    device = plan.device
    m = len(members)
    stack = initial_stack(members, plan.size, device, init)
    optimizer = StackedAdamW(stack.trainable())
    experts = experts.to(device) if experts is not None else None
    heldout = heldout_batch(plan.task, plan.task_kwargs, members,
                            episode_steps=plan.episode_steps, episodes=plan.heldout_episodes,
                            seed_offset=HELDOUT_SEED_OFFSET, experts=experts,
                            temperature=plan.temperature)
    data = StackData(plan.task, plan.task_kwargs, members, batch_size=plan.batch_size,
                     episode_steps=plan.episode_steps, experts=experts,
                     temperature=plan.temperature)
    active = list(range(m))                 # stack rows → member indices
    finished: dict[int, StackedLlama] = {}  # member index → its one-model stack
    loss_curves: list[list[LossPoint]] = [[] for _ in members]
    heldout_curves: list[list[HeldoutPoint]] = [[] for _ in members]
    tokens = [0] * m
    targets = [0] * m
    steps_done = [0] * m
    stopped_by: list[Literal["steps", "converged"]] = ["steps"] * m
    loss_sum = torch.zeros(m, device=device)
    window = 0
    waited = 0.0
    budget = np.asarray(plan.steps, dtype=np.float64)
    started = time.perf_counter()

    def record(step: int) -> None:
        nonlocal window
        elapsed = round(time.perf_counter() - started, 2)
        if window:
            means = (loss_sum / window).tolist()
            for row, k in enumerate(active):
                loss_curves[k].append(LossPoint(step=step, seconds=elapsed,
                                                loss=round(means[row], 5)))
            loss_sum.zero_()
            window = 0
        rows = _rows(heldout, active)
        for row, (loss, accuracy, error) in enumerate(score_heldout(stack, rows,
                                                                     plan.temperature)):
            heldout_curves[active[row]].append(HeldoutPoint(
                step=step, loss=round(loss, 5), accuracy=round(accuracy, 4),
                error=round(error, 5)))

    try:
        step = 0
        record(0)
        while active:
            peaks = plan.member_lr or (plan.lr,) * m
            lrs = torch.tensor([peaks[k] * _lr_scale(step / budget[k], plan.schedule)
                                for k in active], device=device)
            before = time.perf_counter()
            batch = _rows(next(data), active)
            waited += time.perf_counter() - before
            ids = torch.from_numpy(batch.ids).to(device)
            labels = torch.from_numpy(batch.labels).to(device)
            losses = stack.losses(ids, labels)
            losses.sum().backward()
            optimizer.step(lrs)
            loss_sum += losses.detach()
            window += 1
            step += 1
            for row, k in enumerate(active):
                steps_done[k] = step
                tokens[k] += int(batch.tokens[row])
                targets[k] += int(batch.targets[row])
            ending = [k for k in active if step >= plan.steps[k]]
            if step % plan.eval_every == 0 or ending:
                record(step)
                for k in active:
                    at, recent = stop_at[k], heldout_curves[k][-plan.stop_patience:]
                    if (at is not None and k not in ending and len(recent) == plan.stop_patience
                            and all(p.accuracy >= at for p in recent)):
                        ending.append(k)
                        stopped_by[k] = "converged"
                if say is not None:
                    scores = ", ".join(f"{heldout_curves[k][-1].accuracy:.2f}" for k in active)
                    say(f"step {step}: held-out accuracy {scores} "
                        f"({time.perf_counter() - started:.0f} s)")
            if ending:
                for k in ending:
                    finished[k] = stack.select([active.index(k)])
                keep = [row for row, k in enumerate(active) if k not in ending]
                if keep:
                    params = stack.select(keep)
                    optimizer = optimizer.select(keep, params.trainable())
                    stack = params
                    loss_sum = loss_sum[keep].clone()
                active = [k for k in active if k not in ending]
        seconds = time.perf_counter() - started
    finally:
        data.close()
    ordered = [finished[k] for k in range(m)]
    final = StackedLlama({name: torch.cat([s.params[name].detach() for s in ordered])
                          for name in ordered[0].params}, ordered[0].config)
    return StackOutcome(stack=final, loss_curves=loss_curves, heldout_curves=heldout_curves,
                        steps_done=steps_done, stopped_by=stopped_by, tokens=tokens,
                        targets=targets,
                        seconds=seconds, data_seconds=waited, producer_seconds=data.seconds,
                        wait_policy=policy)


def _rows(batch: StackBatch, rows: Sequence[int]) -> StackBatch:
    """The members ``rows`` of a batch (all of them when it holds exactly those)."""
    if len(rows) == batch.ids.shape[0] and list(rows) == list(range(len(rows))):
        return batch
    index = np.asarray(rows)
    return StackBatch(batch.ids[index], batch.labels[index], batch.tokens[index],
                      batch.targets[index])


def save_folder(outcome: StackOutcome, k: int, out: Path, recipe: Any) -> None:
    """Write member ``k`` as a Hugging Face model folder with ``recipe``."""
    from redraft.lab.testbed._tokenizer import build_tokenizer
    from redraft.lab.testbed._train import write_model_dir

    write_model_dir(out, outcome.stack.model(k), build_tokenizer(), recipe)
