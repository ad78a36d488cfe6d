"""Exact answer probabilities, read from the logits, agree with what sampling gives.

The probability of a total is the product of its digits' probabilities given ``total: ``;
the wrong totals drawn for training are the model's own distribution conditioned on being
wrong; and the framework's ``hf`` backend, sampling the saved model at the same
temperature, writes each total about as often as the exact probability says.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from redraft.agent.backends import GenerationRequest, Message, SamplingParams, load_backend  # noqa: E402
from redraft.lab.testbed import (  # noqa: E402
    AnswerCodec,
    StackedLlama,
    TotalLogits,
    TrainConfig,
    committed_right,
    draw_wrong_totals,
    matched_temperature,
    render_chat,
    total_logits,
    total_probabilities,
)
from redraft.lab.testbed._tokenizer import build_tokenizer  # noqa: E402
from redraft.lab.testbed._train import build_model  # noqa: E402

PROMPT = "Start: 12\nA=3 -> 15\nB=4 -> 19\nAdd C=2.\n"


def _peaky_stack(seeds: tuple[int, ...] = (0, 1), scale: float = 12.0) -> StackedLlama:
    """Random models with a sharp answer distribution (a spread-out one is all noise)."""
    tokenizer = build_tokenizer()
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build_model(torch, transformers, tokenizer,
                                  TrainConfig(task="running_sum", size="micro")))
    stack = StackedLlama.from_models(models)
    with torch.no_grad():
        stack.params["embed"].mul_(scale)
    return stack


def _prompt(codec: AnswerCodec, rows: int = 1) -> np.ndarray:
    ids = codec.codec.encode(render_chat([Message(role="user", content=PROMPT.strip())]))
    return np.stack([ids.astype(np.int64)] * rows)


def _all_totals(stack: StackedLlama, codec: AnswerCodec, temperature: float) -> np.ndarray:
    probs, _ = total_probabilities(stack, codec, _prompt(codec, 100), np.arange(100),
                                   [temperature])
    return probs[temperature]


def test_a_totals_probability_is_the_product_of_its_digits_given_the_prefix() -> None:
    stack = _peaky_stack()
    codec = AnswerCodec()
    prompt = _prompt(codec)
    probs, prefix = total_probabilities(stack, codec, prompt, np.array([21]), [1.0, 2.0, 0.0])
    ids = torch.from_numpy(np.concatenate([prompt[0], codec.prefix, codec.total(21)]))[None]
    with torch.no_grad():
        logits = stack.logits(ids)
    for k in range(2):
        for temperature in (1.0, 2.0):
            logp = torch.log_softmax(logits[k, 0] / temperature, -1)
            n = len(ids[0])
            digits = logp[n - 3, ids[0, n - 2]] + logp[n - 2, ids[0, n - 1]]
            assert probs[temperature][k, 0] == pytest.approx(float(digits.exp()), rel=1e-4)
            head = sum(float(logp[j - 1, ids[0, j]]) for j in range(n - 9, n - 2))
            assert prefix[temperature][k, 0] == pytest.approx(np.exp(head), rel=1e-4)
        greedy = logits[k, 0].argmax(-1)
        path = bool(greedy[n - 3] == ids[0, n - 2]) and bool(greedy[n - 2] == ids[0, n - 1])
        assert probs[0.0][k, 0] == float(path)
    every = _all_totals(stack, codec, 1.0)
    assert (every.sum(axis=1) <= 1 + 1e-6).all()


def test_wrong_totals_are_the_models_own_conditioned_on_being_wrong() -> None:
    stack = _peaky_stack()
    codec = AnswerCodec()
    exact = _all_totals(stack, codec, 1.5)
    n = 6000
    rng = np.random.default_rng(0)
    drawn = draw_wrong_totals(stack, codec, _prompt(codec, n), np.full(n, 21), 1.5,
                              rng.random((2, n, 3)))
    assert (drawn != 21).all()
    for k in range(2):
        digits = exact[k].copy()
        digits[21] = 0.0
        digits /= digits.sum()
        seen = np.bincount(drawn[k], minlength=100) / n
        assert np.abs(seen - digits).max() < 0.03
        top = int(np.argmax(digits))
        assert abs(seen[top] - digits[top]) < 4 * np.sqrt(digits[top] / n) + 0.005


def test_a_model_that_never_retries_commits_its_first_total() -> None:
    stack = _peaky_stack()
    codec = AnswerCodec()
    with torch.no_grad():  # [BACK] (id 3) can never be written
        stack.params["embed"][:, 3] = 0.0
        stack.params["embed"][:, 3, 0] = -1e4
    got = committed_right(stack, codec, _prompt(codec, 2), np.array([21, 21]), 1.0)
    first, _ = total_probabilities(stack, codec, _prompt(codec, 2), np.array([21, 21]), [1.0])
    assert np.allclose(got.first_right, first[1.0], rtol=1e-4)
    assert np.allclose(got.right, got.first_right, rtol=1e-3, atol=1e-9)
    assert np.allclose(got.back, 0.0, atol=1e-9)


def test_one_temperature_per_model_scores_each_as_if_alone() -> None:
    stack = _peaky_stack(seeds=(0, 1, 2))
    codec = AnswerCodec()
    prompts, right = _prompt(codec, 3), np.array([21, 40, 7])
    per = np.array([0.7, 1.3, 2.2])
    logits = total_logits(stack, codec, prompts, right)
    together, prefix = logits.probabilities(per)
    committed = committed_right(stack, codec, prompts, right, per)
    for k, t in enumerate(per):
        alone, alone_prefix = total_probabilities(stack.select([k]), codec, prompts, right,
                                                  [float(t)])
        assert np.allclose(together[k], alone[float(t)][0], rtol=1e-5)
        assert np.allclose(prefix[k], alone_prefix[float(t)][0], rtol=1e-5)
        one = committed_right(stack.select([k]), codec, prompts, right, float(t))
        assert np.allclose(committed.right[k], one.right[0], rtol=1e-5)
    with pytest.raises(ValueError, match="one temperature above 0 per model"):
        logits.probabilities(np.array([1.0, 0.0, 1.0]))


def test_the_matched_temperature_gives_the_target_error_or_says_none_does() -> None:
    # Four states whose right digits lead by margins 3-6 logits over 9 others: the error
    # rises with the temperature from 0 (greedy right) towards 0.99 (uniform digits).
    scored = torch.zeros(1, 4, 2, 10)
    scored[0, :, :, 0] = torch.tensor([3.0, 4.0, 5.0, 6.0])[:, None]
    logits = TotalLogits(scored, np.zeros((1, 4, 2), dtype=np.int64), 0)

    def error(t: float) -> float:
        return float(1 - logits.probabilities(t)[0].mean())

    target = error(1.7)
    t, got = matched_temperature(logits, target)
    assert t is not None and t == pytest.approx(1.7, rel=1e-4)
    assert got == pytest.approx(target, abs=1e-6)
    # No temperature makes it err more than uniform digits.
    assert matched_temperature(logits, 0.995) == (None, pytest.approx(error(20.0)))
    # A model greedy-wrong on one state in four errs on a quarter of them at least.
    scored[0, 0, 0, 1] = 4.0
    wrong = TotalLogits(scored, np.zeros((1, 4, 2), dtype=np.int64), 0)
    t, at_low = matched_temperature(wrong, 0.1)
    assert t is None and at_low == pytest.approx(0.25, abs=1e-3)


@pytest.mark.slow
def test_the_hf_backend_samples_totals_as_often_as_the_exact_probability(
    tmp_path: Path,
) -> None:
    from redraft.lab.testbed import Member, Recipe, StackPlan, save_folder, train_stack

    # A few hundred steps: the answer's format is learnt, its digits are still uncertain.
    task = {"representation": "recent", "modulus": 100, "start": "mixed", "step_label": False,
            "window": 3, "n_keys": 10, "keys_per_step": 1, "value_min": 0, "value_max": 9}
    plan = StackPlan(task="running_sum", task_kwargs=task, size="micro", steps=(300,),
                     batch_size=16, episode_steps=6, eval_every=300, heldout_episodes=1,
                     threads=1)
    outcome = train_stack([Member(name="e", regime="expert", seed=0)], plan)
    recipe = Recipe(task="running_sum", task_options=task, regime="expert",
                    config=TrainConfig(task="running_sum"),
                    size={"hidden": 64, "layers": 2, "heads": 2, "ffn": 256}, parameters=1,
                    steps_done=300, stopped_by="steps", examples_seen=0, tokens_seen=0,
                    target_tokens_seen=0, seconds=0.0, device="cpu", threads=1,
                    loss_curve=[], heldout_step_accuracy=0.0, heldout_steps=0, versions={})
    save_folder(outcome, 0, tmp_path / "m", recipe)
    codec = AnswerCodec()
    exact = _all_totals(outcome.stack, codec, 1.0)[0]
    backend = load_backend(f"hf/{tmp_path / 'm'}", max_batch_size=500)
    n = 1500
    prompt = (Message(role="user", content=PROMPT.strip()),)
    requests = [GenerationRequest(messages=prompt, params=SamplingParams(
        temperature=1.0, max_tokens=10, seed=i)) for i in range(n)]
    texts = [g.text for g in asyncio.run(backend.generate(requests))]
    asyncio.run(backend.aclose())
    # The exact probability conditions on the prefix; count the samples that wrote it.
    prefixed = [t[7:9] for t in texts if t.startswith("total: ") and t[7:9].isdigit()]
    assert len(prefixed) > n // 2
    seen = np.bincount([int(x) for x in prefixed], minlength=100) / len(prefixed)
    digits = exact / exact.sum()
    for x in np.argsort(-digits)[:4]:
        assert abs(seen[x] - digits[x]) < 4 * np.sqrt(digits[x] * (1 - digits[x])
                                                      / len(prefixed)) + 0.01
