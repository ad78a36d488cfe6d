from __future__ import annotations

from typing import Any

import pytest

from redraft.agent.backends import ScriptedBackend, load_backend
from redraft.core import BadInputError
from redraft.evals.tasks import Episode, Task, load_task
from redraft.tools.arithmetic import AdditionVerifier


def test_is_a_task_with_its_options() -> None:
    task = load_task("addition", digits=3, representation="columns")
    assert isinstance(task, Task) and task.name == "addition"
    assert task.representations[0] == "plain" and set(task.error_policies) == {"stop", "continue"}
    assert isinstance(task.verifier(), AdditionVerifier)
    assert isinstance(task.new_episode(0, max_steps=3, error_policy="stop"), Episode)
    with pytest.raises(BadInputError, match="digits"):
        load_task("addition", digits=0)
    with pytest.raises(BadInputError, match="opponent"):
        load_task("addition", opponent="stockfish")
    with pytest.raises(BadInputError, match="error policy"):
        task.new_episode(0, max_steps=3, error_policy="retry")  # type: ignore[arg-type]


@pytest.mark.parametrize("representation", ["plain", "columns"])
def test_prompt(representation: str) -> None:
    task = load_task("addition", digits=4, representation=representation)
    episode = task.new_episode(5, max_steps=10, error_policy="continue")
    prompt = episode.prompt()
    text = prompt.messages[-1].content
    assert prompt.messages[0].role == "system" and "digit D, carry C" in prompt.messages[0].content
    assert episode.a in text and episode.b in text and "Carry from the previous column: 0" in text
    assert prompt.constraint is not None and prompt.hint.correct in prompt.constraint.choices
    assert len(prompt.constraint.choices) == 20
    verifier = task.verifier()
    assert verifier.check(prompt.context, prompt.hint.correct).ok
    assert not any(verifier.check(prompt.context, w).ok for w in prompt.hint.wrong)
    assert episode.prompt() == prompt  # prompting twice changes nothing


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_simulated_episodes(drive: Any, check: Any, policy: str) -> None:
    task = load_task("addition", digits=6)
    backend = load_backend("simulated/e=0.2,r=0.5,h=0.1")
    records = drive(task, backend, range(12), max_steps=20, error_policy=policy, rounds=1)
    check(records, max_steps=20, policy=policy, has_global=True)
    ends = [steps[-1].result.end for steps in records.values()]
    if policy == "continue":
        assert ends == ["natural"] * 12 and all(len(s) == 6 for s in records.values())
    else:
        assert "error" in ends
    revised = [s for steps in records.values() for s in steps if len(s.outputs) > 1]
    assert revised and all(not s.feedback[0].ok for s in revised)
    # Same seeds, same backend settings: the same episodes.
    again = drive(task, load_backend("simulated/e=0.2,r=0.5,h=0.1"), range(12), max_steps=20,
                  error_policy=policy, rounds=1)
    assert [[s.outputs for s in steps] for steps in again.values()] == [
        [s.outputs for s in steps] for steps in records.values()
    ]


def test_error_free_agent_writes_the_true_sum(drive: Any) -> None:
    task = load_task("addition", digits=5)
    records = drive(task, load_backend("simulated/e=0"), [3], max_steps=10, error_policy="stop")
    steps = records[3]
    assert steps[-1].result.end == "natural"
    assert all(s.local_ok and s.global_ok for s in steps)
    assert steps[-1].result.info["written"] == steps[-1].result.info["true_sum"].zfill(6)


def test_transcript_wrong_carry_propagates_and_garbage_is_forced(drive: Any) -> None:
    task = load_task("addition", digits=3)
    episode = task.new_episode(0, max_steps=5, error_policy="continue")
    a, b = int(episode.a), int(episode.b)
    units = a % 10 + b % 10
    tens = a // 10 % 10 + b // 10 % 10
    wrong_carry = 1 - units // 10
    script = [
        f"digit {units % 10}, carry {wrong_carry}",  # a local error: the carry
        f"{(tens + wrong_carry) % 10} carry {(tens + wrong_carry) // 10}",  # locally right
        "no idea",  # unreadable: replaced, forced
    ]
    backend = ScriptedBackend(script)
    records = drive(task, backend, [0], max_steps=5, error_policy="continue")
    backend.assert_done()
    steps = records[0]
    assert [s.local_ok for s in steps] == [False, True, False]
    assert [s.global_ok for s in steps] == [True, False, False]
    assert steps[0].judgements[0].local.code == "wrong_value"
    assert steps[2].judgements[0].local.code == "unparseable"
    assert steps[2].result.forced and steps[2].result.end == "natural"
    assert steps[1].prompt.hint.prior_errors == 1
    assert f"Carry from the previous column: {wrong_carry}" in steps[1].prompt.messages[-1].content
