from __future__ import annotations

from typing import Any

import pytest
from task_harness import commit

from redraft.agent.backends import load_backend
from redraft.evals.tasks import Task, load_task
from redraft.tools import BadInputError
from redraft.tools.arithmetic import RunningSumTruth


def test_options() -> None:
    task = load_task("running_sum", n_keys=5, keys_per_step=3, plant_errors=[2])
    assert isinstance(task, Task) and task.representations == ("history", "last")
    with pytest.raises(BadInputError, match="plant_errors"):
        load_task("running_sum", plant_errors=1.5)
    with pytest.raises(BadInputError, match="value_min"):
        load_task("running_sum", value_min=5, value_max=1)


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
