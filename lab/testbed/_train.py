"""Train a testbed model from scratch and write it as a Hugging Face model directory.

The model is a small Llama-architecture decoder (transformers' ``LlamaForCausalLM``) over
the character-level tokenizer of :mod:`._tokenizer`. Each optimizer step takes a batch of
steps from fresh training episodes (:func:`~._regimes.examples`), made ahead by a background
thread (:mod:`._data`), and takes the cross-entropy on the answer tokens only
(:mod:`._forward`). The loop never waits on the device except to log the loss every
``log_every`` steps. On CUDA it trains in bfloat16 autocast with fused AdamW and a compiled
loss. The directory written holds the config, ``model.safetensors``, the tokenizer with
its chat template, and the recipe, so ``hf/MODEL_DIR`` runs it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from redraft.core import BadInputError
from redraft.evals.tasks import Task, load_task
from redraft.lab.testbed._data import Batch, Batches, Source
from redraft.lab.testbed._deps import require_train
from redraft.lab.testbed._forward import LossFunction
from redraft.lab.testbed._recipe import (
    RECIPE_FILE,
    SIZES,
    LossPoint,
    Recipe,
    TrainConfig,
)
from redraft.lab.testbed._regimes import examples, task_spec
from redraft.lab.testbed._threads import choose_wait_policy
from redraft.lab.testbed._tokenizer import build_tokenizer
from redraft.lab.testbed._wrong import sample_wrong_answers, weights_digest

__all__ = ["build_model", "set_threads", "train", "versions", "write_model_dir"]

_HELDOUT_SEED_OFFSET = 7_919_000_001
"""Held-out check episodes use the training seed plus this (another hash namespace entry)."""
_CUDA_WORKERS = 6
"""Example processes on CUDA: one makes ~16k examples/s, the device takes ~50k/s."""


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("redraft", "torch", "transformers", "tokenizers", "safetensors"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "missing"
    return found


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInputError(f"{out} exists and is not an empty directory; choose a new --out "
                            "(a trained model is never overwritten)")


def _lr_scale(progress: float, warmup: float = 0.05) -> float:
    if progress < warmup:
        return max(progress / warmup, 0.01)
    frac = min((progress - warmup) / (1.0 - warmup), 1.0)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac))


def set_threads(torch: Any, threads: int) -> None:
    """Torch's intra-op threads, and one inter-op thread (the loop has no parallel ops).

    The inter-op count can be set once per process, before any parallel work; later calls
    keep the first setting.
    """
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)


def _heldout_accuracy(
    model: Any, tokenizer: Any, torch: Any, device: str, task: Task, config: TrainConfig,
    n: int,
) -> float:
    """Share of held-out expert states whose answer greedy decoding writes exactly.

    Read from one teacher-forced pass: greedy decoding writes the target (and its end
    token) exactly when every target token is the argmax after the ones before it.
    """
    from redraft.lab.testbed._data import CharCodec, encode_examples

    del tokenizer
    stream = examples(task, "expert", seed=config.seed + _HELDOUT_SEED_OFFSET,
                      episode_steps=config.episode_steps)
    chunk = encode_examples(CharCodec(), [next(stream) for _ in range(n)], mask_wrong=False)
    right = 0
    model.eval()
    with torch.inference_mode():
        start = 0
        for length, head in zip(chunk.lengths.tolist(), chunk.heads.tolist(), strict=True):
            ids = torch.from_numpy(chunk.tokens[start:start + length].astype("int64"))
            start += length
            logits = model(ids[None].to(device)).logits[0]
            predicted = logits[head - 1:length - 1].argmax(-1).cpu()
            right += bool((predicted == ids[head:length]).all())
    model.train()
    return float(right) / n


def build_model(torch: Any, transformers: Any, tokenizer: Any, config: TrainConfig) -> Any:
    """A freshly initialised ``LlamaForCausalLM`` of the config's size (seeded by the caller)."""
    size = SIZES[config.size]
    model_config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden,
        intermediate_size=size.ffn,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return transformers.LlamaForCausalLM(model_config)


class _Step:
    """One optimizer step on a batch already on the device; compiled where asked."""

    def __init__(self, torch: Any, model: Any, optimizer: Any, device: str,
                 compile_mode: str) -> None:
        self.torch = torch
        self.model = model
        self.optimizer = optimizer
        self.cuda = device.startswith("cuda")
        self.precision = "bfloat16" if self.cuda else "float32"
        self.compiled = compile_mode == "on" or (compile_mode == "auto" and self.cuda)
        self.eager = LossFunction(model)
        self.loss_fn: Any = LossFunction(model, compile=True) if self.compiled else self.eager
        self.notes: list[str] = []

    def _loss(self, ids: Any, labels: Any) -> Any:
        torch = self.torch
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
            return self.loss_fn(ids, labels)

    def __call__(self, ids: Any, labels: Any) -> Any:
        if self.compiled:
            try:
                loss = self._loss(ids, labels)
                loss.backward()
            except Exception as exc:  # a compiler failure (first step or a recompile)
                self.notes.append(f"torch.compile failed, trained eager: "
                                  f"{' '.join(str(exc).split())[:300]}")
                self.compiled = False
                self.loss_fn = self.eager
                self.optimizer.zero_grad(set_to_none=True)
                loss = self._loss(ids, labels)
                loss.backward()
        else:
            loss = self._loss(ids, labels)
            loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0, foreach=True)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()


def train(config: TrainConfig, out: Path, *, say: Callable[[str], None] | None = None) -> Recipe:
    """Train a testbed model as ``config`` says and write its model directory to ``out``.

    Args:
        config: the task, regime, size and budget.
        out: the model directory to create (must not exist, or be empty).
        say: receives a progress line now and then.

    Raises:
        BadInputError: a missing training dependency, an unknown task, regime or option,
            or an ``out`` that holds something.
    """
    out = Path(out)
    _check_out(out)
    spec = task_spec(config.task)
    task_kwargs = config.task_kwargs(spec.representation, spec.options)
    task = load_task(config.task, **task_kwargs)
    if config.wrong_source == "expert":
        raise BadInputError("wrong totals drawn from an expert at each state "
                            "(wrong_source=expert) are made by the findings' stacked "
                            "training only; use wrong_source=model or offset")
    # OpenMP reads this when torch first loads: on a busy machine its workers must sleep
    # instead of spinning (a loaded 2-core machine ran 34x slower spinning); on idle cores
    # spinning is faster.
    policy = choose_wait_policy(config.threads)
    torch = require_train("torch")
    transformers = require_train("transformers")
    require_train("safetensors")
    set_threads(torch, config.threads)
    torch.manual_seed(config.seed)
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    tokenizer = build_tokenizer()
    model = build_model(torch, transformers, tokenizer, config)
    if config.init_model is not None:
        _load_init(model, transformers, Path(config.init_model))
    model = model.to(device)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01,
                                  betas=(0.9, 0.98), **({"fused": True} if cuda else
                                                        {"foreach": True}))
    step_fn = _Step(torch, model, optimizer, device, config.compile)
    workers = config.data_workers
    if workers is None:
        workers = min(_CUDA_WORKERS, max((os.cpu_count() or 1) - 2, 0)) if cuda else 0

    def to_tensors(batch: Batch) -> tuple[Any, Any, int, int]:
        ids, labels = torch.from_numpy(batch.ids), torch.from_numpy(batch.labels)
        if cuda:  # pinned, so the copy to the device runs asynchronously
            ids, labels = ids.pin_memory(), labels.pin_memory()
        return ids, labels, batch.tokens, batch.targets

    wrong_answers = None
    if config.wrong_model is not None:
        wrong_answers = sample_wrong_answers(Path(config.wrong_model), task, seed=config.seed,
                                             episode_steps=config.episode_steps, device=device)
    source = Source(config.task, task_kwargs, config.regime, config.seed,
                    config.episode_steps, config.retry_p, config.mask_wrong,
                    config.recovery_p, wrong_answers)
    # A compiled step specialises on shapes: widths in steps of 16 keep them few.
    data = Batches(source, config.batch_size, workers=workers, bucket=config.bucket,
                   prepare=to_tensors, multiple=16 if step_fn.compiled else 1)
    budget = config.minutes * 60.0 if config.minutes is not None else math.inf
    token_budget = config.tokens if config.tokens is not None else math.inf
    curve: list[LossPoint] = []
    tokens = targets = seen = step = 0
    loss_sum = torch.zeros((), device=device)
    window = 0
    stopped_by = "steps"
    waited = 0.0
    started = time.perf_counter()
    model.train()
    try:
        while step < config.steps:
            elapsed = time.perf_counter() - started
            if elapsed >= budget:
                stopped_by = "time"
                break
            if tokens >= token_budget:
                stopped_by = "tokens"
                break
            progress = max(step / config.steps, elapsed / budget, tokens / token_budget)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _lr_scale(progress)
            before = time.perf_counter()
            ids, labels, n_tokens, n_targets = next(data)
            waited += time.perf_counter() - before
            ids = ids.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            loss_sum += step_fn(ids, labels)
            window += 1
            step += 1
            seen += config.batch_size
            tokens += n_tokens
            targets += n_targets
            if step % config.log_every == 0 or step == config.steps:
                curve.append(_point(step, started, loss_sum, window))
                loss_sum.zero_()
                window = 0
                if say is not None:
                    point = curve[-1]
                    say(f"step {point.step}: loss {point.loss:.4f} ({point.seconds:.0f} s)")
        if window:
            curve.append(_point(step, started, loss_sum, window))
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    finally:
        data.close()
    if stopped_by == "time" and say is not None:
        say(f"the {config.minutes} minute cap ended training at step {step} of {config.steps}")
    heldout_n = 128
    accuracy = _heldout_accuracy(model, tokenizer, torch, device, task, config, heldout_n)
    recipe = Recipe(
        task=config.task,
        task_options=dict(task_kwargs),
        regime=config.regime,
        config=config,
        size=SIZES[config.size],
        parameters=parameters,
        steps_done=step,
        stopped_by="time" if stopped_by == "time" else
        "tokens" if stopped_by == "tokens" else "steps",
        examples_seen=seen,
        tokens_seen=tokens,
        target_tokens_seen=targets,
        seconds=round(seconds, 2),
        device=device,
        threads=config.threads,
        loss_curve=curve,
        heldout_step_accuracy=accuracy,
        heldout_steps=heldout_n,
        versions=versions(),
        precision=step_fn.precision,
        compiled=step_fn.compiled,
        data_wait_seconds=round(waited, 3),
        producer_cpu_seconds=round(data.producer_seconds, 3),
        notes=step_fn.notes,
        wrong_answers=wrong_answers,
        wait_policy=policy,
        init_weights=(weights_digest(Path(config.init_model))
                      if config.init_model is not None else None),
    )
    write_model_dir(out, model, tokenizer, recipe)
    close = getattr(task, "close", None)
    if callable(close):
        close()
    return recipe


def _load_init(model: Any, transformers: Any, folder: Path) -> None:
    """Copy a trained model's weights into ``model`` (the same size).

    Raises:
        BadInputError: no model there, or one of another size.
    """
    if not (folder / "model.safetensors").is_file():
        raise BadInputError(f"init_model {folder}: no trained model there")
    trained = transformers.AutoModelForCausalLM.from_pretrained(str(folder))
    try:
        model.load_state_dict(trained.state_dict())
    except RuntimeError as exc:
        raise BadInputError(f"init_model {folder} is another size than --size asks") from exc


def _point(step: int, started: float, loss_sum: Any, window: int) -> LossPoint:
    """The mean loss of the last window (this reads the device: a synchronisation)."""
    return LossPoint(step=step, seconds=round(time.perf_counter() - started, 2),
                     loss=round(float(loss_sum.item()) / window, 5))


def write_model_dir(out: Path, model: Any, tokenizer: Any, recipe: Recipe) -> None:
    """Write into a sibling temporary folder, then rename: never a half-written model."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.padding_side = "left"
        tokenizer.save_pretrained(partial)
        (partial / RECIPE_FILE).write_text(
            json.dumps(recipe.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8"
        )
        if out.exists():
            out.rmdir()  # checked empty before training
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
