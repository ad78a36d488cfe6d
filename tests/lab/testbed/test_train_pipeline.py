"""The training pipeline: encoding equals the tokenizer's, labels cover the answers only,
batches are reproducible, the lean loss is the model's, and training is deterministic."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch
import transformers

from redraft.evals.tasks import load_task
from redraft.lab.testbed import BACK_MARKER, TrainConfig, examples, task_spec, train
from redraft.lab.testbed._data import (
    IGNORE,
    Batches,
    CharCodec,
    Source,
    collate,
    encode_examples,
)
from redraft.lab.testbed._forward import LossFunction
from redraft.lab.testbed._tokenizer import END_TOKEN, build_tokenizer, render_chat
from redraft.lab.testbed._train import build_model


@pytest.fixture(scope="module")
def tokenizer() -> object:
    return build_tokenizer()


def _task(name: str) -> object:
    spec = task_spec(name)
    return load_task(name, **{**spec.options, "representation": spec.representation})


def test_codec_equals_the_tokenizer(tokenizer: object) -> None:
    codec = CharCodec()
    rng = random.Random(3)
    pieces = ["a", " ", "\n", "\t", "é", "€", "\x00", "\ue000", "\ue002", BACK_MARKER,
              END_TOKEN, "<pad>", "<unk>", "<", ">", "[BACK", "total: 12", "~", "\x7f"]
    texts = ["", BACK_MARKER, "".join(pieces)]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
              for _ in range(300)]
    for name in ("running_sum", "addition"):
        task = _task(name)
        for regime in ("expert", "retry", "scratchpad"):
            stream = examples(task, regime, seed=1, episode_steps=5, retry_p=0.5)
            for _ in range(20):
                e = next(stream)
                texts.append(render_chat(e.messages) + e.target + END_TOKEN)
    for text in texts:
        expected = tokenizer(text, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
        assert codec.encode(text).tolist() == expected, repr(text)


def _labelled(codec: CharCodec, mask_wrong: bool) -> tuple[list[object], list[list[int]]]:
    stream = examples(_task("running_sum"), "retry", seed=4, episode_steps=10, retry_p=0.5)
    batch = [next(stream) for _ in range(40)]
    chunk = encode_examples(codec, batch, mask_wrong)
    made = collate(chunk, np.arange(len(batch)), codec.pad)
    labelled = [[int(t) for t in row if t != IGNORE] for row in made.labels]
    # Each label is the next token: the labelled positions are one before the targets.
    for row_ids, row_labels in zip(made.ids, made.labels, strict=True):
        where = np.flatnonzero(row_labels != IGNORE)
        assert (row_ids[where + 1] == row_labels[where]).all()
    assert made.targets == sum(len(r) for r in labelled)
    return batch, labelled


def test_loss_is_taken_on_the_answer_and_end_token_only(tokenizer: object) -> None:
    codec = CharCodec()
    batch, labelled = _labelled(codec, mask_wrong=False)
    wrong_first = 0
    for example, ids in zip(batch, labelled, strict=True):
        assert ids == codec.encode(example.target + END_TOKEN).tolist()  # type: ignore[attr-defined]
        wrong_first += example.wrong_prefix > 0  # type: ignore[attr-defined]
    assert 0 < wrong_first < len(batch)


def test_mask_wrong_leaves_the_wrong_answer_out_of_the_loss_but_not_the_marker() -> None:
    codec = CharCodec()
    batch, labelled = _labelled(codec, mask_wrong=True)
    retried = 0
    for example, ids in zip(batch, labelled, strict=True):
        target: str = example.target  # type: ignore[attr-defined]
        wrong: int = example.wrong_answer  # type: ignore[attr-defined]
        assert ids == codec.encode(target[wrong:] + END_TOKEN).tolist()
        if BACK_MARKER in target:
            retried += 1
            # The loss starts right after the wrong answer: the model learns to write the
            # marker after a wrong answer, never the wrong answer itself.
            assert target[wrong:].startswith(f" {BACK_MARKER} ")
            assert target[:wrong].startswith("total: ") and BACK_MARKER not in target[:wrong]
        else:
            assert wrong == 0
    assert 0 < retried < len(batch)


def _source(seed: int = 0) -> Source:
    spec = task_spec("running_sum")
    return Source("running_sum", {**spec.options, "representation": spec.representation},
                  "retry", seed, 10, 0.3, False)


def _first(batches: Batches, n: int) -> list[np.ndarray]:
    try:
        return [next(batches).ids for _ in range(n)]
    finally:
        batches.close()


@pytest.mark.slow
def test_batches_depend_on_the_seed_not_on_the_worker_count() -> None:
    alone = _first(Batches(_source(), 48, workers=0), 12)
    again = _first(Batches(_source(), 48, workers=0), 12)
    workers = _first(Batches(_source(), 48, workers=2), 12)
    other = _first(Batches(_source(seed=1), 48, workers=0), 12)
    for a, b, c in zip(alone, again, workers, strict=True):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert not all(np.array_equal(a, d) for a, d in zip(alone, other, strict=True))


def test_bucketing_pads_less() -> None:
    def padding(bucket: bool) -> float:
        batches = Batches(_source(), 32, workers=0, bucket=bucket)
        try:
            made = [next(batches) for _ in range(16)]
        finally:
            batches.close()
        cells = sum(b.ids.size for b in made)
        return 1 - sum(b.tokens for b in made) / cells

    assert padding(True) < padding(False) / 2


@pytest.mark.slow
def test_the_lean_loss_is_the_models_loss() -> None:
    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    model = build_model(torch, transformers, tokenizer, TrainConfig(task="running_sum",
                                                                   size="small"))
    codec = CharCodec()
    stream = examples(_task("running_sum"), "retry", seed=2, episode_steps=10, retry_p=0.5)
    made = collate(encode_examples(codec, [next(stream) for _ in range(16)], False),
                   np.arange(16), codec.pad)
    ids, labels = torch.from_numpy(made.ids), torch.from_numpy(made.labels)
    hf_labels = torch.full_like(labels, IGNORE)
    hf_labels[:, 1:] = labels[:, :-1]  # transformers shifts the labels itself
    mask = (torch.arange(ids.shape[1])[None] < torch.from_numpy(
        (made.ids != codec.pad).sum(1))[:, None]).long()
    expected = model(input_ids=ids, attention_mask=mask, labels=hf_labels).loss
    want = torch.autograd.grad(expected, list(model.parameters()))
    lean = LossFunction(model)(ids, labels)
    got = torch.autograd.grad(lean, list(model.parameters()))
    assert torch.allclose(lean, expected, atol=1e-5)
    for a, b in zip(want, got, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


@pytest.mark.slow
def test_training_is_deterministic_on_cpu(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> tuple[float, dict[str, torch.Tensor], int]:
        config = TrainConfig(task="running_sum", regime="retry", size="micro", steps=40,
                             minutes=None, batch_size=16, lr=6e-3, seed=seed,
                             episode_steps=10, device="cpu", threads=1, log_every=10)
        recipe = train(config, tmp_path / name)
        return recipe.heldout_step_accuracy, _weights(tmp_path / name), recipe.tokens_seen

    first, again, other = run("a", 0), run("b", 0), run("c", 1)
    assert first[0] == again[0] and first[2] == again[2]
    assert all(torch.equal(first[1][k], again[1][k]) for k in first[1])
    assert not all(torch.equal(first[1][k], other[1][k]) for k in first[1])


@pytest.mark.slow
def test_a_token_budget_stops_training(tmp_path: Path) -> None:
    config = TrainConfig(task="running_sum", size="micro", steps=1000, tokens=3000,
                         minutes=None, batch_size=16, device="cpu", threads=1, log_every=2)
    recipe = train(config, tmp_path / "m")
    assert recipe.stopped_by == "tokens"
    assert 3000 <= recipe.tokens_seen < 3000 + 16 * 80
    assert recipe.steps_done < 10


@pytest.mark.slow
def test_a_compile_that_fails_falls_back_to_eager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fn: object, **_: object) -> object:
        def call(*args: object, **kwargs: object) -> object:
            raise RuntimeError("no C++ compiler here")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    config = TrainConfig(task="running_sum", size="micro", steps=3, minutes=None,
                         batch_size=8, device="cpu", threads=1, compile="on")
    recipe = train(config, tmp_path / "m")
    assert recipe.steps_done == 3 and not recipe.compiled
    assert len(recipe.notes) == 1 and "no C++ compiler here" in recipe.notes[0]


def test_a_width_multiple_only_adds_padding() -> None:
    codec = CharCodec()
    stream = examples(_task("running_sum"), "retry", seed=6, episode_steps=10, retry_p=0.5)
    chunk = encode_examples(codec, [next(stream) for _ in range(24)], False)
    plain = collate(chunk, np.arange(24), codec.pad)
    wide = collate(chunk, np.arange(24), codec.pad, multiple=16)
    width = plain.ids.shape[1]
    assert wide.ids.shape[1] % 16 == 0 and wide.ids.shape[1] >= width
    assert np.array_equal(wide.ids[:, :width], plain.ids)
    assert np.array_equal(wide.labels[:, :width], plain.labels)
    assert (wide.ids[:, width:] == codec.pad).all() and (wide.labels[:, width:] == IGNORE).all()
