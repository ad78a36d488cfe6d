"""The data regimes: their text is the eval's own prompts, and their answers read right."""

from __future__ import annotations

import itertools

import pytest

from redraft.core import BadInputError
from redraft.evals._runner import episode_seed
from redraft.evals.tasks import load_task
from redraft.lab.testbed import (
    BACK_MARKER,
    REGIMES,
    TrainConfig,
    WrongAnswers,
    examples,
    training_seed,
)


def _task(name: str) -> object:
    return load_task(name, representation="shown") if name == "running_sum" else load_task(
        name, digits=4
    )


@pytest.mark.parametrize("task_name", ["running_sum", "addition"])
@pytest.mark.parametrize("regime", [r for r in REGIMES if r != "recovery"])
def test_every_target_commits_the_right_answer(task_name: str, regime: str) -> None:
    task = _task(task_name)
    oracle = task.oracle()  # type: ignore[attr-defined]
    stream = examples(task, regime, seed=3, episode_steps=6)  # type: ignore[arg-type]
    prompts = _expert_prompts(task, seed=3, episode_steps=6)
    for example, prompt in zip(itertools.islice(stream, 60), prompts, strict=False):
        assert example.messages == prompt.messages  # the eval's own prompt, to the character
        judgement = oracle.judge_sync(prompt.oracle_context, example.target)
        assert judgement.correctness == "correct", (example.target, judgement.local.message)


def _expert_prompts(task: object, *, seed: int, episode_steps: int) -> object:
    index = 0
    while True:
        episode = task.new_episode(  # type: ignore[attr-defined]
            training_seed(seed, index), max_steps=episode_steps, error_policy="continue"
        )
        index += 1
        while not episode.done:
            prompt = episode.prompt()
            yield prompt
            episode.commit(
                prompt.hint.correct, oracle_judgement(task, prompt, prompt.hint.correct)
            )


def oracle_judgement(task: object, prompt: object, answer: str) -> object:
    return task.oracle().judge_sync(prompt.oracle_context, answer)  # type: ignore[attr-defined]


def test_retry_shows_wrong_answers_at_the_stated_rate() -> None:
    task = _task("running_sum")
    oracle = task.oracle()  # type: ignore[attr-defined]
    stream = examples(task, "retry", seed=0, episode_steps=20, retry_p=0.3)  # type: ignore[arg-type]
    batch = list(itertools.islice(stream, 2000))
    retried = [e for e in batch if BACK_MARKER in e.target]
    assert 0.26 < len(retried) / len(batch) < 0.34
    for e in retried[:50]:
        wrong = e.target[: e.wrong_prefix].removesuffix(f" {BACK_MARKER} ")
        # The first answer is wrong, and the prefix ends just after the marker.
        assert e.target[: e.wrong_prefix].endswith(f"{BACK_MARKER} ")
        assert wrong.startswith("total: ")
        assert e.target[e.wrong_prefix :].startswith("total: ")
    assert all(e.wrong_prefix == 0 for e in batch if BACK_MARKER not in e.target)
    del oracle


def test_scratchpad_writes_the_lookups_and_the_sum_first() -> None:
    task = load_task("running_sum", representation="lookup")
    example = next(examples(task, "scratchpad", seed=1, episode_steps=5))  # type: ignore[arg-type]
    looked_up, arithmetic, answer = example.target.split("; ")
    assert looked_up.count("=") == 2  # two keys per step by default
    assert arithmetic.startswith("0")  # the previous total, then the signed values
    assert answer.startswith("total: ")
    assert arithmetic.split("=")[-1] == answer.removeprefix("total: ")


def test_training_episodes_are_not_eval_episodes() -> None:
    train = {training_seed(s, i) for s in range(3) for i in range(2000)}
    evals = {episode_seed(s, i) for s in range(3) for i in range(2000)}
    assert not train & evals


def test_bad_regime_task_and_rate_are_bad_input() -> None:
    task = _task("running_sum")
    with pytest.raises(BadInputError, match="unknown regime"):
        next(examples(task, "dagger", seed=0, episode_steps=3))  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="retry_p"):
        next(examples(task, "retry", seed=0, episode_steps=3, retry_p=1.5))  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match=r"retry_p must lie in \[0, 0.5\]"):
        next(examples(task, "retry", seed=0, episode_steps=3, retry_p=0.6))  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="cannot train on task 'tracking'"):
        next(examples(load_task("tracking"), "expert", seed=0, episode_steps=3))


DECISIVE_LIKE = {"representation": "recent", "modulus": 100, "start": "random",
                 "step_label": False, "window": 4, "checkpoint_every": 4, "keys_per_step": 1}


def test_retry_with_a_masked_prefix_of_exactly_the_wrong_answer_and_marker() -> None:
    task = load_task("running_sum", **DECISIVE_LIKE)
    batch = list(itertools.islice(
        examples(task, "retry", seed=4, episode_steps=40, retry_p=0.5), 400))  # type: ignore[arg-type]
    retried = [e for e in batch if e.wrong_prefix]
    assert 0.4 < len(retried) / len(batch) < 0.6  # retry_p 0.5 is allowed
    for e in retried:
        wrong, right = e.target.split(f" {BACK_MARKER} ")
        assert e.wrong_prefix == len(wrong) + len(f" {BACK_MARKER} ")
        assert len(wrong) == len("total: 00")  # fixed width modulo 100
        oracle = task.oracle()  # type: ignore[attr-defined]
        assert oracle.judge_sync(e.truth, wrong).correctness == "incorrect"
        assert oracle.judge_sync(e.truth, right).correctness == "correct"


def test_wrong_answers_from_a_model_profile_are_its_offsets_and_wrong() -> None:
    task = load_task("running_sum", **DECISIVE_LIKE)
    profile = WrongAnswers(model="m", temperature=1.0, sampled=100, unreadable=0,
                           offsets=[10, -1, 50])
    stream = examples(task, "retry", seed=0, episode_steps=40, retry_p=0.5,  # type: ignore[arg-type]
                      wrong_answers=profile)
    offsets = set()
    for e in itertools.islice(stream, 300):
        if not e.wrong_prefix:
            continue
        wrong = int(e.target[: e.wrong_prefix].split()[1])
        offsets.add((wrong - e.context.expected()) % 100)
        assert task.oracle().judge_sync(  # type: ignore[attr-defined]
            e.truth, e.target[: e.wrong_prefix]).correctness == "incorrect"
    assert offsets == {10, 99, 50}


def test_recovery_targets_restore_the_true_total_from_states_with_errors() -> None:
    task = load_task("running_sum", **DECISIVE_LIKE)
    oracle = task.oracle()  # type: ignore[attr-defined]
    batch = list(itertools.islice(examples(task, "recovery", seed=2, episode_steps=40,  # type: ignore[arg-type]
                                           recovery_p=0.2), 800))
    diverged = [e for e in batch if e.context.previous != e.truth.true_previous]
    assert len(diverged) > 50  # the states hold earlier errors...
    assert any("(true " in e.messages[-1].content for e in diverged)
    for e in batch:  # ...and every target is the true total
        assert e.target == e.truth.answer(e.truth.truth())
        assert oracle.judge_sync(e.truth, e.target).global_correctness == "correct"
    # Where the shown total is wrong the target is not the locally right one.
    assert all(e.target != e.context.answer(e.context.expected()) for e in diverged)
    assert all(e.erred_before for e in diverged)


def test_errors_before_retry_keep_the_locally_right_target() -> None:
    task = load_task("running_sum", representation="shown", modulus=100)
    batch = list(itertools.islice(examples(task, "retry", seed=2, episode_steps=20,  # type: ignore[arg-type]
                                           retry_p=0.3, recovery_p=0.2), 400))
    assert any(e.context.previous != e.truth.true_previous for e in batch)
    for e in batch:
        right = e.target[e.wrong_prefix:]
        assert right == e.context.answer(e.context.expected())


def test_recovery_bad_input_is_one_line() -> None:
    def first(task: object, regime: str, **kw: object) -> object:
        return next(examples(task, regime, seed=0, episode_steps=3, **kw))  # type: ignore[arg-type]

    shown = load_task("running_sum", representation="shown")
    with pytest.raises(BadInputError, match="true total can be recomputed") as caught:
        first(shown, "recovery", recovery_p=0.2)
    assert "\n" not in str(caught.value)
    no_checkpoint = load_task("running_sum", representation="recent")
    with pytest.raises(BadInputError, match="true total can be recomputed"):
        first(no_checkpoint, "recovery", recovery_p=0.2)
    history = load_task("running_sum", representation="history")
    assert first(history, "recovery", recovery_p=0.2) is not None
    with pytest.raises(BadInputError, match="recovery_p above 0"):
        first(history, "recovery")
    with pytest.raises(BadInputError, match=r"recovery_p must lie in \[0, 0.5\]"):
        first(history, "recovery", recovery_p=0.7)
    forced = load_task("running_sum", representation="history", teacher_force=True)
    with pytest.raises(BadInputError, match="teacher_force erases"):
        first(forced, "expert", recovery_p=0.1)
    with pytest.raises(BadInputError, match="built for running_sum"):
        first(load_task("addition", digits=3), "retry", recovery_p=0.1)
    with pytest.raises(ValueError, match="wrong_model go together"):
        TrainConfig(task="running_sum", wrong_source="model")
    with pytest.raises(ValueError, match="wrong_model go together"):
        TrainConfig(task="running_sum", wrong_model="models/x")
    with pytest.raises(ValueError, match=r"less than or equal to 0\.5"):
        TrainConfig(task="running_sum", retry_p=0.6)
    with pytest.raises(BadInputError, match="teacher_force is an eval option"):
        TrainConfig(task="running_sum", task_options={"teacher_force": True}).task_kwargs(
            "shown", {})
