from __future__ import annotations

from typing import Any

import pytest
from task_harness import commit

from redraft.agent.backends import load_backend
from redraft.core import BadInputError
from redraft.evals.tasks import Task, load_task
from redraft.tools.arithmetic import RunningSumTruth


def test_options() -> None:
    task = load_task("running_sum", n_keys=5, keys_per_step=3, plant_errors=[2])
    assert isinstance(task, Task) and task.representations == (
        "history", "last", "shown", "lookup", "recent"
    )
    with pytest.raises(BadInputError, match="plant_errors"):
        load_task("running_sum", plant_errors=1.5)
    with pytest.raises(BadInputError, match="value_min"):
        load_task("running_sum", value_min=5, value_max=1)


def test_short_representations_show_the_values_or_the_table() -> None:
    for representation in ("shown", "lookup"):
        task = load_task("running_sum", representation=representation)
        episode = task.new_episode(1, max_steps=5, error_policy="continue")
        first = episode.prompt()
        commit(task, episode, "total: 1000")  # the agent's own total is what it is shown
        second = episode.prompt()
        lines = second.messages[-1].content.splitlines()
        keys = second.context.keys
        if representation == "shown":
            values = ", ".join(f"{k}={v}" for k, v in zip(keys, second.context.values, strict=True))
            assert lines == ["Total so far: 1000", f"Step 2: add {values}."]
        else:
            assert lines[0].startswith("Table: A=") and lines[1:] == [
                "Total so far: 1000", f"Step 2: add {', '.join(keys)}."]
        assert first.messages[-1].content.splitlines()[-2] == "Total so far: 0"


@pytest.mark.parametrize("representation", ["history", "last"])
def test_prompt(representation: str) -> None:
    task = load_task("running_sum", representation=representation)
    episode = task.new_episode(1, max_steps=5, error_policy="continue")
    first = episode.prompt()
    assert "Table: A=" in first.messages[-1].content and "Step 1: add" in first.messages[-1].content
    assert first.constraint is not None and first.constraint.kind == "regex"
    verifier = task.verifier()
    assert verifier.check(first.context, first.hint.correct).ok
    assert not any(verifier.check(first.context, w).ok for w in first.hint.wrong)
    commit(task, episode, first.hint.correct)
    commit(task, episode, "total: 1000")
    text = episode.prompt().messages[-1].content
    if representation == "history":
        assert f"Step 1: add {', '.join(first.context.keys)} -> {first.hint.correct}" in text
    assert "total: 1000" in text and "Step 3: add" in text


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_simulated_episodes(drive: Any, check: Any, policy: str) -> None:
    task = load_task("running_sum", steps=8)
    backend = load_backend("simulated/e=0.2,r=0.5,h=0.1")
    records = drive(task, backend, range(10), max_steps=6, error_policy=policy, rounds=1)
    check(records, max_steps=6, policy=policy, has_global=True)
    if policy == "continue":
        assert all(steps[-1].result.end == "max_steps" for steps in records.values())


def test_natural_end() -> None:
    task = load_task("running_sum", steps=2)
    episode = task.new_episode(0, max_steps=10, error_policy="stop")
    assert commit(task, episode, episode.prompt().hint.correct).end is None
    assert commit(task, episode, episode.prompt().hint.correct).end == "natural"
    assert episode.done


def test_global_error_undone_by_recomputing(drive: Any) -> None:
    task = load_task("running_sum")

    def truth_of(context: RunningSumTruth) -> str:
        return f"total: {context.truth()}"

    episode = task.new_episode(4, max_steps=3, error_policy="continue")
    p0 = episode.prompt()
    commit(task, episode, "total: " + str(p0.context.expected() + 5))  # wrong: local and global
    p1 = episode.prompt()
    assert not hasattr(p1.context, "true_previous")  # the verifier's context holds no truth
    r1 = commit(task, episode, truth_of(p1.oracle_context))  # recomputed from the table
    assert not r1.local_ok and r1.global_ok
    backend = load_backend("simulated/e=0")  # always the right answer
    records = drive(task, backend, [9], max_steps=2, error_policy="continue")
    assert all(s.local_ok and s.global_ok for s in records[9])


def test_planted_errors_show_in_the_history_and_count(drive: Any) -> None:
    task = load_task("running_sum", plant_errors=[0])
    backend = load_backend("simulated/e=0")
    records = drive(task, backend, [2], max_steps=3, error_policy="stop")
    steps = records[2]
    assert steps[0].result.info["planted"] is True
    shown = steps[0].result.info["shown"]
    assert shown != steps[0].result.info["stated"]
    assert f"-> total: {shown}" in steps[1].prompt.messages[-1].content
    assert steps[1].prompt.context.previous == shown
    assert steps[1].prompt.hint.prior_errors == 1
    # The agent builds on the planted total: locally right, globally wrong.
    assert steps[1].local_ok and steps[1].global_ok is False
    everywhere = load_task("running_sum", plant_errors=1.0).new_episode(0, max_steps=3,
                                                                       error_policy="stop")
    assert commit(task, everywhere, everywhere.prompt().hint.correct).info["planted"] is True


def _judge(task: Any, prompt: Any, answer: str) -> Any:
    return task.oracle().judge_sync(prompt.oracle_context, answer)


def test_modulus_writes_fixed_width_totals_and_wraps() -> None:
    task = load_task("running_sum", representation="shown", modulus=100, keys_per_step=1,
                     value_min=9, value_max=9)
    episode = task.new_episode(0, max_steps=40, error_policy="continue")
    seen = []
    for _ in range(15):  # 0, 9, ..., 99, then 108 -> 08: the total wraps at step 12
        prompt = episode.prompt()
        seen.append(prompt.messages[-1].content.splitlines()[0])
        assert _judge(task, prompt, prompt.hint.correct).correctness == "correct"
        commit(task, episode, prompt.hint.correct)
    assert seen[:3] == ["Total so far: 00", "Total so far: 09", "Total so far: 18"]
    assert seen[12] == "Total so far: 08" and seen[11] == "Total so far: 99"
    assert all(len(line.removeprefix("Total so far: ")) == 2 for line in seen)
    step = RunningSumTruth(keys=("A",), values=(9,), previous=95, true_previous=95, modulus=100)
    assert step.expected() == 4 and step.answer(step.expected()) == "total: 04"
    oracle = task.oracle()
    for same in ("total: 04", "total: 4", "total: 104"):  # compared modulo 100
        assert oracle.judge_sync(step, same).correctness == "correct", same
    assert oracle.judge_sync(step, "total: 05").correctness == "incorrect"
    first = task.new_episode(1, max_steps=3, error_policy="continue").prompt()
    assert first.constraint is not None and first.constraint.pattern == "total: [0-9]{2}"


def test_random_start_draws_the_first_total_modulo() -> None:
    task = load_task("running_sum", representation="shown", modulus=50, start="random")
    starts = {task.new_episode(s, max_steps=2, error_policy="continue").prompt().context.previous
              for s in range(40)}
    assert len(starts) > 10 and all(0 <= s < 50 for s in starts)
    zero = load_task("running_sum", representation="shown", modulus=50)
    assert {zero.new_episode(s, max_steps=2, error_policy="continue").prompt().context.previous
            for s in range(5)} == {0}
    episode = task.new_episode(3, max_steps=2, error_policy="continue")
    first = episode.prompt()
    assert first.oracle_context.true_previous == first.context.previous  # the truth starts there
    with pytest.raises(BadInputError, match="start=random needs a modulus"):
        load_task("running_sum", start="random")


def test_mixed_start_is_zero_in_about_half_the_episodes_and_random_in_the_rest() -> None:
    task = load_task("running_sum", representation="shown", modulus=100, start="mixed")
    starts = [task.new_episode(s, max_steps=2, error_policy="continue").prompt().context.previous
              for s in range(400)]
    zeros = starts.count(0)
    assert 160 <= zeros <= 240  # a fair coin per episode (plus 1/100 of the drawn ones)
    assert len(set(starts)) > 50 and all(0 <= s < 100 for s in starts)
    same = [task.new_episode(s, max_steps=2, error_policy="continue").prompt().context.previous
            for s in range(400)]
    assert same == starts  # the coin and the draw come from the episode's seed
    with pytest.raises(BadInputError, match="start=mixed needs a modulus"):
        load_task("running_sum", start="mixed")


@pytest.mark.parametrize("representation", ["shown", "recent"])
def test_without_step_label_the_prompt_is_the_state_alone(representation: str) -> None:
    # One key of value 3, modulo 10: the state repeats every 10 steps.
    def prompts(label: bool) -> list[str]:
        options: dict[str, Any] = {"representation": representation, "n_keys": 1,
                                   "value_min": 3, "value_max": 3, "modulus": 10,
                                   "step_label": label}
        if representation == "recent":
            options.update(window=3, checkpoint_every=5)
        task = load_task("running_sum", **options)
        episode = task.new_episode(0, max_steps=30, error_policy="continue")
        texts = []
        while not episode.done:
            prompt = episode.prompt()
            texts.append(prompt.messages[-1].content)
            commit(task, episode, prompt.hint.correct)
        return texts

    unlabelled, labelled = prompts(False), prompts(True)
    assert unlabelled[12] == unlabelled[22] and "Step" not in unlabelled[12]
    assert labelled[12] != labelled[22] and "Step 13: add" in labelled[12]


def test_recent_shows_the_window_and_true_checkpoints() -> None:
    task = load_task("running_sum", representation="recent", modulus=100, keys_per_step=1,
                     n_keys=1, value_min=7, value_max=7, window=3, checkpoint_every=2)
    episode = task.new_episode(0, max_steps=10, error_policy="continue")
    assert episode.prompt().messages[-1].content == "Start: 00\nStep 1: add A=7."
    commit(task, episode, "total: 07")
    commit(task, episode, "total: 50")  # wrong: the checkpoint row shows the truth beside it
    text = episode.prompt().messages[-1].content
    assert text.splitlines() == ["Start: 00", "A=7 -> 07", "(true 14) A=7 -> 50",
                                 "Step 3: add A=7."]
    commit(task, episode, "total: 57")
    commit(task, episode, "total: 28")  # back to the truth (14 + 7 + 7)
    assert episode.prompt().messages[-1].content.splitlines() == [
        "(true 14) A=7 -> 50", "A=7 -> 57", "(true 28) A=7 -> 28", "Step 5: add A=7."]
    assert task.config.recoverable()
    assert not load_task("running_sum", representation="recent", window=2,
                         checkpoint_every=3).config.recoverable()
    with pytest.raises(BadInputError, match="checkpoint_every applies to the recent"):
        load_task("running_sum", representation="shown", checkpoint_every=2)


def test_teacher_force_advances_with_the_truth(drive: Any) -> None:
    task = load_task("running_sum", representation="shown", modulus=100, start="random",
                     teacher_force=True)
    episode = task.new_episode(5, max_steps=6, error_policy="continue")
    p0 = episode.prompt()
    wrong = p0.context.answer(p0.context.expected() + 3)
    r0 = commit(task, episode, wrong)
    assert _judge(task, p0, wrong).correctness == "incorrect"  # still judged and logged
    assert r0.info["stated"] != r0.info["true_total"] == r0.info["shown"]
    p1 = episode.prompt()
    assert p1.context.previous == p1.oracle_context.true_previous == r0.info["true_total"]
    # Through the driving loop: every prompt holds the true total, whatever was committed.
    backend = load_backend("simulated/e=0.5")
    records = drive(task, backend, range(6), max_steps=8, error_policy="continue")
    steps = [s for episode_steps in records.values() for s in episode_steps]
    assert any(not s.local_ok for s in steps)
    assert all(s.prompt.context.previous == s.prompt.oracle_context.true_previous for s in steps)
    free = load_task("running_sum", representation="shown", modulus=100, start="random")
    loose = drive(free, load_backend("simulated/e=0.5"), range(6), max_steps=8,
                  error_policy="continue")
    assert any(s.prompt.context.previous != s.prompt.oracle_context.true_previous
               for episode_steps in loose.values() for s in episode_steps)


def test_planted_errors_under_teacher_force_last_one_step() -> None:
    task = load_task("running_sum", representation="recent", modulus=100, plant_errors=[1],
                     teacher_force=True, window=4)
    episode = task.new_episode(2, max_steps=6, error_policy="continue")
    prompts, results = [], []
    for _ in range(4):
        prompt = episode.prompt()
        prompts.append(prompt)
        results.append(commit(task, episode, prompt.hint.correct))
    assert results[1].info["planted"] and results[1].info["shown"] != results[1].info["true_total"]
    # The step after the plant sees it (judged locally against it), then the truth returns.
    assert prompts[2].context.previous == results[1].info["shown"]
    assert prompts[2].context.previous != prompts[2].oracle_context.true_previous
    assert f"-> {results[1].info['shown']:02d}" in prompts[2].messages[-1].content
    assert prompts[3].context.previous == prompts[3].oracle_context.true_previous
    assert prompts[2].hint.prior_errors == 1
