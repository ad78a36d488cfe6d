"""The training loop as it was at commit 3ba0ec9 (before issue 20), kept for the bench only.

Copied unchanged from ``evals/testbed/_train.py`` (now in lab/testbed) at 3ba0ec9, except
for :data:`DATA_SECONDS`, which times the data part of each step (examples and encoding) for
``bench/train_throughput.py``. Not part of the package; nothing else imports it.

Train a testbed model from scratch and write it as a Hugging Face model directory.

The model is a small Llama-architecture decoder (transformers' ``LlamaForCausalLM``) over
the character-level tokenizer of :mod:`._tokenizer`. Each optimizer step takes a batch of
steps from fresh training episodes (:func:`~._regimes.examples`), shuffled through a buffer,
and takes the cross-entropy on the answer tokens only. The directory written holds the
config, ``model.safetensors``, the tokenizer with its chat template, and the recipe, so
``hf/MODEL_DIR`` runs it.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from redraft.core import BadInputError
from redraft.evals.tasks import Task, load_task
from redraft.lab.testbed import (
    END_TOKEN,
    RECIPE_FILE,
    SIZES,
    Example,
    LossPoint,
    Recipe,
    TrainConfig,
    build_tokenizer,
    examples,
    render_chat,
    task_spec,
)

__all__ = ["train"]

DATA_SECONDS = [0.0]
"""Seconds the last :func:`train` spent making batches (bench instrumentation)."""
_SHUFFLE_BATCHES = 16
"""The shuffle buffer holds this many batches: steps of one episode are alike."""
_HELDOUT_SEED_OFFSET = 7_919_000_001
"""Held-out check episodes use the training seed plus this (another hash namespace entry)."""


def _versions() -> dict[str, str]:
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


class _Batcher:
    """Encodes examples into padded tensors with the loss mask."""

    def __init__(self, tokenizer: Any, torch: Any, device: str, mask_wrong: bool) -> None:
        self.tokenizer = tokenizer
        self.torch = torch
        self.device = device
        self.mask_wrong = mask_wrong
        self.pad = int(tokenizer.pad_token_id)

    def prompt_text(self, example: Example) -> str:
        return render_chat(example.messages)

    def encode(self, batch: Sequence[Example]) -> tuple[Any, Any, Any, int, int]:
        """Input ids, attention mask, labels; tokens and target tokens in the batch."""
        prompts = [self.prompt_text(e) for e in batch]
        heads = [p + e.target[: e.wrong_prefix] if self.mask_wrong else p
                 for p, e in zip(prompts, batch, strict=True)]
        fulls = [p + e.target + END_TOKEN for p, e in zip(prompts, batch, strict=True)]
        encode = self.tokenizer
        full_ids = encode(fulls, add_special_tokens=False)["input_ids"]
        head_lens = [len(ids) for ids in encode(heads, add_special_tokens=False)["input_ids"]]
        width = max(len(ids) for ids in full_ids)
        ids = [row + [self.pad] * (width - len(row)) for row in full_ids]
        mask = [[1] * len(row) + [0] * (width - len(row)) for row in full_ids]
        labels = [
            [-100] * head + row[head:] + [-100] * (width - len(row))
            for row, head in zip(full_ids, head_lens, strict=True)
        ]
        torch = self.torch
        tokens = sum(len(row) for row in full_ids)
        targets = sum(len(row) - head for row, head in zip(full_ids, head_lens, strict=True))
        return (
            torch.tensor(ids, device=self.device),
            torch.tensor(mask, device=self.device),
            torch.tensor(labels, device=self.device),
            tokens,
            targets,
        )


def _shuffled(stream: Iterator[Example], size: int, rng: random.Random) -> Iterator[Example]:
    buffer: list[Example] = []
    for example in stream:
        buffer.append(example)
        if len(buffer) >= size:
            i = rng.randrange(len(buffer))
            buffer[i], buffer[-1] = buffer[-1], buffer[i]
            yield buffer.pop()


def _lr_scale(progress: float, warmup: float = 0.05) -> float:
    if progress < warmup:
        return max(progress / warmup, 0.01)
    frac = min((progress - warmup) / (1.0 - warmup), 1.0)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac))


def _heldout_accuracy(
    model: Any, batcher: _Batcher, task: Task, config: TrainConfig, n: int
) -> float:
    """Greedy outputs on expert states of held-out episodes that end with the right answer."""
    torch = batcher.torch
    tokenizer = batcher.tokenizer
    stream = examples(task, "expert", seed=config.seed + _HELDOUT_SEED_OFFSET,
                      episode_steps=config.episode_steps)
    batch = [next(stream) for _ in range(n)]
    tokenizer.padding_side = "left"
    inputs = tokenizer([batcher.prompt_text(e) for e in batch], return_tensors="pt",
                       padding=True, add_special_tokens=False).to(batcher.device)
    model.eval()
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=64, do_sample=False,
                                pad_token_id=tokenizer.pad_token_id,
                                eos_token_id=tokenizer.eos_token_id)
    model.train()
    tokenizer.padding_side = "right"
    texts = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1]:],
                                   skip_special_tokens=True)
    right = sum(t.strip().endswith(e.target) for t, e in zip(texts, batch, strict=True))
    return float(right) / n


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
    task = load_task(config.task, **config.task_kwargs(spec.representation, spec.options))
    torch = importlib.import_module("torch")
    transformers = importlib.import_module("transformers")
    importlib.import_module("safetensors")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    size = SIZES[config.size]
    tokenizer = build_tokenizer()
    tokenizer.padding_side = "right"
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
    model = transformers.LlamaForCausalLM(model_config).to(device)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01,
                                  betas=(0.9, 0.98))
    batcher = _Batcher(tokenizer, torch, device, config.mask_wrong)
    rng = random.Random(f"testbed-shuffle:{config.seed}")
    stream = _shuffled(
        examples(task, config.regime, seed=config.seed, episode_steps=config.episode_steps,
                 retry_p=config.retry_p),
        _SHUFFLE_BATCHES * config.batch_size, rng,
    )
    budget = config.minutes * 60.0 if config.minutes is not None else math.inf
    curve: list[LossPoint] = []
    tokens = targets = seen = step = 0
    window: list[float] = []
    stopped_by = "steps"
    started = time.perf_counter()
    DATA_SECONDS[0] = 0.0
    model.train()
    while step < config.steps:
        elapsed = time.perf_counter() - started
        if elapsed >= budget:
            stopped_by = "time"
            break
        progress = max(step / config.steps, elapsed / budget)
        for group in optimizer.param_groups:
            group["lr"] = config.lr * _lr_scale(progress)
        data_started = time.perf_counter()
        batch = [next(stream) for _ in range(config.batch_size)]
        ids, mask, labels, n_tokens, n_targets = batcher.encode(batch)
        DATA_SECONDS[0] += time.perf_counter() - data_started
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        seen += len(batch)
        tokens += n_tokens
        targets += n_targets
        window.append(float(loss.item()))
        if step % config.log_every == 0 or step == config.steps:
            point = LossPoint(step=step, seconds=round(time.perf_counter() - started, 2),
                              loss=round(sum(window) / len(window), 5))
            curve.append(point)
            window = []
            if say is not None:
                say(f"step {point.step}: loss {point.loss:.4f} ({point.seconds:.0f} s)")
    seconds = time.perf_counter() - started
    if window:
        curve.append(LossPoint(step=step, seconds=round(seconds, 2),
                               loss=round(sum(window) / len(window), 5)))
    heldout_n = 128
    accuracy = _heldout_accuracy(model, batcher, task, config, heldout_n)
    recipe = Recipe(
        task=config.task,
        task_options=dict(config.task_kwargs(spec.representation, spec.options)),
        regime=config.regime,
        config=config,
        size=size,
        parameters=parameters,
        steps_done=step,
        stopped_by="time" if stopped_by == "time" else "steps",
        examples_seen=seen,
        tokens_seen=tokens,
        target_tokens_seen=targets,
        seconds=round(seconds, 2),
        device=device,
        threads=config.threads,
        loss_curve=curve,
        heldout_step_accuracy=accuracy,
        heldout_steps=heldout_n,
        versions=_versions(),
    )
    _write_model_dir(out, model, tokenizer, recipe)
    close = getattr(task, "close", None)
    if callable(close):
        close()
    return recipe


def _write_model_dir(out: Path, model: Any, tokenizer: Any, recipe: Recipe) -> None:
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
