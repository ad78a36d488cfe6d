"""A stack's training data: a seed's arms see the same states; each regime changes one thing.

Expert, retry and scratchpad members of a seed get the same prompts in the same batches;
retry writes one of its expert's own wrong totals first, then the marker and the right
total; recovery commits its expert's wrong totals at most once per window and always
targets the true total; a member's data does not depend on the other members of its stack.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from redraft.core import BadInputError  # noqa: E402
from redraft.evals.tasks import load_task  # noqa: E402
from redraft.lab.testbed import (  # noqa: E402
    BACK_MARKER,
    DECISIVE_TASK_OPTIONS,
    DECISIVE_TRAIN_OVERRIDES,
    CharCodec,
    Member,
    StackData,
    StackedLlama,
    TrainConfig,
)
from redraft.lab.testbed._lockstep import _Lockstep  # noqa: E402
from redraft.lab.testbed._tokenizer import build_tokenizer  # noqa: E402
from redraft.lab.testbed._train import build_model  # noqa: E402

TASK = {**DECISIVE_TASK_OPTIONS["quick"], **DECISIVE_TRAIN_OVERRIDES}
"""The decisive experiment's task as its models train on it."""


def _experts() -> StackedLlama:
    torch.manual_seed(0)
    model = build_model(torch, transformers, build_tokenizer(),
                        TrainConfig(task="running_sum", size="micro"))
    return StackedLlama.from_models([model])


def _text(codec: CharCodec, ids: np.ndarray) -> str:
    inverse = {}
    from redraft.lab.testbed._tokenizer import vocabulary

    for token, i in vocabulary().items():
        inverse[i] = token
    return "".join(inverse[int(i)] for i in ids if int(i) != codec.pad)


def _split(text: str) -> tuple[str, str]:
    """A training text's prompt and answer (the answer follows the last ``\\n>``)."""
    cut = text.rindex("\n>")
    return text[:cut], text[cut + 2:].removesuffix("<end>")


def _lockstep(members: list[Member], experts: StackedLlama | None = None) -> _Lockstep:
    return _Lockstep(load_task("running_sum", **TASK), members, episode_steps=8,
                     experts=experts, temperature=1.5, episodes=6)


def _steps(lockstep: _Lockstep, count: int) -> list[list[list[str]]]:
    codec = CharCodec()
    steps = lockstep.step_examples()
    return [[[_text(codec, ids) for ids, _ in member] for member in next(steps)]
            for _ in range(count)]


def test_a_seeds_arms_see_the_same_states() -> None:
    members = [Member(name="e", regime="expert", seed=3),
               Member(name="s", regime="scratchpad", seed=3),
               Member(name="r", regime="retry", seed=3, retry_p=0.5, expert=0),
               Member(name="other", regime="expert", seed=4)]
    rows = _steps(_lockstep(members, _experts()), 8)
    for step in rows:
        prompts = [[_split(t)[0] for t in member] for member in step]
        assert prompts[0] == prompts[1] == prompts[2]
        assert prompts[0] != prompts[3]
        for expert, scratch in zip(step[0], step[1], strict=True):
            assert _split(scratch)[1].endswith(_split(expert)[1])  # the same total, reasoned


def test_retry_writes_its_experts_wrong_total_first_then_the_right_one() -> None:
    members = [Member(name="e", regime="expert", seed=1),
               Member(name="r", regime="retry", seed=1, retry_p=0.5, expert=0, mask_wrong=True)]
    rows = _steps(_lockstep(members, _experts()), 16)
    retried = 0
    for expert, retry in ((e, r) for step in rows for e, r in zip(*step, strict=True)):
        answer = _split(expert)[1]
        target = _split(retry)[1]
        if BACK_MARKER in target:
            retried += 1
            wrong, right = target.split(f" {BACK_MARKER} ")
            assert right == answer and wrong != answer and wrong.startswith("total: ")
        else:
            assert target == answer
    assert 0.3 < retried / (16 * 6) < 0.7


def test_recovery_errs_once_per_window_and_always_targets_the_truth() -> None:
    from redraft.tools.arithmetic import RunningSumTruth

    lockstep = _lockstep([Member(name="rec", regime="recovery", seed=2, error_p=0.5,
                                 expert=0)], _experts())
    world = next(iter(lockstep.worlds.values()))
    steps = lockstep.step_examples()
    next(steps)  # the first step makes the episodes
    last_error = [0 if e == 0 else -10 for e in world.since_error]
    wrong_states = 0
    for t in range(1, 8):
        prompts = [ep.prompt() for ep in world.episodes]
        (examples,) = next(steps)
        for i, (prompt, (ids, start)) in enumerate(zip(prompts, examples, strict=True)):
            truth = prompt.oracle_context
            assert isinstance(truth, RunningSumTruth)
            target = _text(CharCodec(), ids[start:]).removesuffix("<end>")
            assert target == truth.answer(truth.truth())
            wrong_states += truth.previous != truth.true_previous
            erred = world.since_error[i] == 0
            if erred:
                assert t - last_error[i] >= 3
                last_error[i] = t
    assert wrong_states > 0


def test_a_members_data_does_not_depend_on_its_stack() -> None:
    alone = [Member(name="r", regime="retry", seed=1, retry_p=0.5, expert=0)]
    beside = [Member(name="x", regime="recovery", seed=5, error_p=0.3, expert=0), *alone]
    a = _steps(_lockstep(alone, _experts()), 6)
    b = _steps(_lockstep(beside, _experts()), 6)
    assert [step[0] for step in a] == [step[1] for step in b]


def test_batches_pad_every_member_to_one_width_with_the_loss_on_the_answer() -> None:
    members = [Member(name="e", regime="expert", seed=0),
               Member(name="s", regime="scratchpad", seed=0)]
    data = StackData("running_sum", TASK, members, batch_size=4, episode_steps=6,
                     pool_batches=2)
    try:
        batch = next(data)
    finally:
        data.close()
    assert batch.ids.shape[0] == 2 and batch.ids.shape[1] == 4
    assert (batch.targets[1] > batch.targets[0])  # the scratchpad supervises more tokens
    labelled = batch.labels[0] != -100
    assert labelled.sum() == batch.targets[0]


def test_a_task_with_checkpoints_or_a_retry_without_an_expert_is_refused() -> None:
    with pytest.raises(BadInputError, match="checkpoints"):
        _Lockstep(load_task("running_sum", **{**TASK, "checkpoint_every": 2}),
                  [Member(name="e", regime="expert", seed=0)], episode_steps=4, experts=None,
                  temperature=1.0, episodes=2)
    with pytest.raises(BadInputError, match="needs the seed's expert"):
        _lockstep([Member(name="r", regime="retry", seed=0, retry_p=0.5)])
