from __future__ import annotations

import math
from typing import Any

import pytest

from redraft.agent.backends import ScriptedBackend, load_backend
from redraft.core import BadInputError
from redraft.evals.tasks import Task, load_task


def test_options() -> None:
    task = load_task("tracking", n_objects=5, representation="history")
    assert isinstance(task, Task) and task.representations == ("state", "history")
    with pytest.raises(BadInputError, match="n_objects"):
        load_task("tracking", n_objects=9)


@pytest.mark.parametrize(("n", "constrained"), [(3, True), (5, True), (7, False)])
def test_prompt(n: int, constrained: bool) -> None:
    task = load_task("tracking", n_objects=n)
    episode = task.new_episode(0, max_steps=4, error_policy="continue")
    prompt = episode.prompt()
    text = prompt.messages[-1].content
    assert text.startswith("At the start: Alice: ") and "Swap 1: " in text
    if constrained:
        assert prompt.constraint is not None
        assert len(prompt.constraint.choices) == math.factorial(n)
        assert prompt.hint.correct in prompt.constraint.choices
    else:
        assert prompt.constraint is None
    verifier = task.verifier()
    assert verifier.check(prompt.context, prompt.hint.correct).ok
    assert not any(verifier.check(prompt.context, w).ok for w in prompt.hint.wrong)


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_simulated_episodes(drive: Any, check: Any, policy: str) -> None:
    task = load_task("tracking", n_objects=5, steps=6, representation="history")
    backend = load_backend("simulated/e=0.2,r=0.5,h=0.1")
    records = drive(task, backend, range(10), max_steps=10, error_policy=policy, rounds=1)
    check(records, max_steps=10, policy=policy, has_global=True)
    if policy == "continue":
        assert all(steps[-1].result.end == "natural" for steps in records.values())


def test_transcript(drive: Any) -> None:
    task = load_task("tracking", representation="history")
    episode = task.new_episode(1, max_steps=3, error_policy="continue")
    first = episode.prompt()
    # Scripted: the right answer, then the state unchanged (forgot the swap), then garbage.
    backend = ScriptedBackend([first.hint.correct, first.hint.correct, "I give up"])
    records = drive(task, backend, [1], max_steps=3, error_policy="continue")
    backend.assert_done()
    steps = records[1]
    assert [s.local_ok for s in steps] == [True, False, False]
    assert [s.judgements[0].local.code for s in steps] == ["ok", "wrong_value", "unparseable"]
    assert steps[2].result.forced and steps[2].result.end == "max_steps"
    assert steps[1].global_ok is False
    assert "Swap 1: " in steps[1].prompt.messages[-1].content
    assert first.hint.correct in steps[1].prompt.messages[-1].content
