"""The data regimes: their text is the eval's own prompts, and their answers read right."""

from __future__ import annotations

import itertools

import pytest

from redraft.evals._runner import episode_seed
from redraft.evals.tasks import load_task
from redraft.evals.testbed import BACK_MARKER, REGIMES, examples, training_seed
from redraft.tools import BadInputError


def _task(name: str) -> object:
    return load_task(name, representation="shown") if name == "running_sum" else load_task(
        name, digits=4
    )


@pytest.mark.parametrize("task_name", ["running_sum", "addition"])
@pytest.mark.parametrize("regime", REGIMES)
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
    with pytest.raises(BadInputError, match="cannot train on task 'tracking'"):
        next(examples(load_task("tracking"), "expert", seed=0, episode_steps=3))
