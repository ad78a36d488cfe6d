"""A stack of testbed models: one batched computation, each model still its own.

The stacked forward equals each ``LlamaForCausalLM``'s own; a member saved as a Hugging Face
folder gives the stack's logits when loaded back; the stacked optimizer is torch's AdamW
per model (its own learning rate, its own gradient clipping); a model's training does not
depend on the stack around it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from redraft.lab.testbed import (  # noqa: E402
    DECISIVE_TASK_OPTIONS,
    DECISIVE_TRAIN_OVERRIDES,
    Member,
    Recipe,
    StackedAdamW,
    StackedLlama,
    StackPlan,
    TrainConfig,
    read_recipe,
    save_folder,
    train_stack,
)
from redraft.lab.testbed._stack_train import StackOutcome, initial_stack  # noqa: E402
from redraft.lab.testbed._tokenizer import build_tokenizer  # noqa: E402
from redraft.lab.testbed._train import build_model  # noqa: E402

TASK = {**DECISIVE_TASK_OPTIONS["quick"], **DECISIVE_TRAIN_OVERRIDES}
"""The decisive experiment's task as its models train on it."""


def _models(seeds: tuple[int, ...]) -> list[object]:
    tokenizer = build_tokenizer()
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        out.append(build_model(torch, transformers, tokenizer,
                               TrainConfig(task="running_sum", size="micro")))
    return out


def test_the_stacked_forward_is_each_models_own() -> None:
    models = _models((0, 1, 2))
    stack = StackedLlama.from_models(models)
    ids = torch.randint(4, 100, (2, 17))
    with torch.no_grad():
        logits = stack.logits(ids)
        per_model = stack.logits(ids.expand(3, -1, -1).clone())
        for k, model in enumerate(models):
            assert torch.allclose(model(ids).logits, logits[k], atol=1e-5)
            assert torch.allclose(per_model[k], logits[k], atol=1e-5)
        assert torch.allclose(stack.logits(ids, last=3), logits[:, :, -3:], atol=1e-6)


def test_a_saved_member_gives_the_stacks_logits(tmp_path: Path) -> None:
    stack = StackedLlama.from_models(_models((3, 4)))
    with torch.no_grad():
        stack.params["embed"].mul_(5)  # not the initialisation: the saved weights are these
    outcome = StackOutcome(stack=stack, loss_curves=[[], []], heldout_curves=[[], []],
                           steps_done=[0, 0], stopped_by=["steps", "steps"], tokens=[0, 0],
                           targets=[0, 0], seconds=0.0, data_seconds=0.0,
                           producer_seconds=0.0, wait_policy="test")
    recipe = Recipe(task="running_sum", task_options={}, regime="expert",
                    config=TrainConfig(task="running_sum"), size={"hidden": 64, "layers": 2,
                                                                  "heads": 2, "ffn": 256},
                    parameters=1, steps_done=0, stopped_by="steps", examples_seen=0,
                    tokens_seen=0, target_tokens_seen=0, seconds=0.0, device="cpu",
                    threads=1, loss_curve=[], heldout_step_accuracy=0.0, heldout_steps=0,
                    versions={})
    save_folder(outcome, 1, tmp_path / "m", recipe)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "m"))
    ids = torch.randint(4, 100, (3, 11))
    with torch.no_grad():
        assert torch.allclose(loaded(ids).logits, stack.logits(ids)[1], atol=1e-5)
    assert read_recipe(tmp_path / "m") is not None
    assert StackedLlama.load([tmp_path / "m"]).params["embed"].shape[0] == 1


def test_the_stacked_optimizer_is_adamw_per_model_with_its_own_rate_and_clipping() -> None:
    models = _models((0, 1))
    references = _models((0, 1))
    stack = StackedLlama.from_models(models)
    optimizer = StackedAdamW(stack.trainable(), max_norm=1.0)
    torch_opts = [torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01,  # type: ignore[attr-defined]
                                    betas=(0.9, 0.98), foreach=False)
                  for m, lr in zip(references, (1e-2, 3e-3), strict=True)]
    ids = torch.randint(4, 100, (4, 9))
    labels = ids.roll(-1, 1)
    labels[:, -1] = -100
    for _ in range(3):
        losses = stack.losses(ids.expand(2, -1, -1).clone(), labels.expand(2, -1, -1).clone())
        (losses * torch.tensor([1.0, 50.0])).sum().backward()  # model 1's gradients clip
        optimizer.step(torch.tensor([1e-2, 3e-3]))
        for scale, model, opt in zip((1.0, 50.0), references, torch_opts, strict=True):
            loss = _loss(model, ids, labels)
            (loss * scale).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # type: ignore[attr-defined]
            opt.step()
            opt.zero_grad()
    for k, model in enumerate(references):
        with torch.no_grad():
            assert torch.allclose(model(ids).logits, stack.logits(ids)[k], atol=2e-4)


def _loss(model: object, ids: object, labels: object) -> object:
    logits = model(ids).logits  # type: ignore[operator]
    return torch.nn.functional.cross_entropy(  # type: ignore[attr-defined]
        logits.view(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)  # type: ignore[attr-defined]


def test_initial_weights_come_from_the_seed_or_from_a_trained_model() -> None:
    members = [Member(name="a", regime="expert", seed=5), Member(name="b", regime="retry",
                                                                 seed=5, init=0, expert=0)]
    base = StackedLlama.from_models(_models((9,)))
    stack = initial_stack(members, "micro", "cpu", base)
    fresh = StackedLlama.from_models(_models((5,)))
    assert torch.equal(stack.params["embed"][0], fresh.params["embed"][0])
    assert torch.equal(stack.params["embed"][1], base.params["embed"][0])


@pytest.mark.slow
def test_a_member_trains_the_same_alone_or_beside_others() -> None:
    plan1 = StackPlan(task="running_sum", task_kwargs=TASK, size="micro", steps=(6,),
                      batch_size=8, episode_steps=6, eval_every=3, heldout_episodes=1,
                      threads=1)
    alone = train_stack([Member(name="e0", regime="expert", seed=0)], plan1)
    plan2 = StackPlan(task="running_sum", task_kwargs=TASK, size="micro", steps=(6, 4, 6),
                      batch_size=8, episode_steps=6, eval_every=3, heldout_episodes=1,
                      threads=1)
    beside = train_stack([Member(name="e0", regime="expert", seed=0),
                          Member(name="e1", regime="expert", seed=1),
                          Member(name="s0", regime="scratchpad", seed=0)], plan2)
    assert beside.steps_done == [6, 4, 6]
    for name in alone.stack.params:
        assert torch.allclose(alone.stack.params[name][0], beside.stack.params[name][0],
                              atol=1e-5), name
    assert [p.step for p in beside.heldout_curves[1]] == [0, 3, 4]
    assert alone.tokens[0] == beside.tokens[0]


@pytest.mark.slow
def test_each_member_stops_by_its_own_rule() -> None:
    # Accuracy 0 is met at every scoring: that member stops at its third (steps 0, 1, 2).
    # Accuracy above 1 is never met: that member trains its whole budget.
    plan = StackPlan(task="running_sum", task_kwargs=TASK, size="micro", steps=(6, 5),
                     batch_size=8, episode_steps=6, eval_every=1, heldout_episodes=1,
                     threads=1, member_stop=(0.0, 1.01))
    out = train_stack([Member(name="e0", regime="expert", seed=0),
                       Member(name="e1", regime="expert", seed=1)], plan)
    assert out.steps_done == [2, 5]
    assert out.stopped_by == ["converged", "steps"]
    with pytest.raises(ValueError, match="one stopping rule"):
        train_stack([Member(name="e0", regime="expert", seed=0)],
                    dataclasses.replace(plan, steps=(6,)))
