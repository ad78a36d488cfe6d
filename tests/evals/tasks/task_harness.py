"""A small driving loop for task tests: propose, verify, revise once, judge, commit.

The fixtures are re-exported by ``conftest.py``; tests import :func:`commit` from here.

Not a runner: it exercises the task protocol exactly as the runner would, one batch per round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from redraft.agent.backends import Backend, GenerationRequest, HintReceiver, SamplingParams
from redraft.evals.tasks import Episode, ErrorPolicy, StepPrompt, StepResult, Task
from redraft.tools import Judgement, Verdict


@dataclass
class Step:
    """One step of one episode, as a record."""

    prompt: StepPrompt
    outputs: list[str]
    feedback: list[Verdict]
    judgements: list[Judgement]
    result: StepResult

    @property
    def local_ok(self) -> bool:
        """The oracle judged the committed answer correct."""
        return self.judgements[-1].correctness == "correct"

    @property
    def global_ok(self) -> bool | None:
        """The agent's state after the step is the true one (None: no global state)."""
        state = self.result.global_correctness or self.judgements[-1].global_correctness
        return None if state is None else state == "correct"

    @property
    def end(self) -> Any:
        return self.result.end

    @property
    def info(self) -> Any:
        return self.result.info

    @property
    def action(self) -> str:
        return self.result.action

    @property
    def forced(self) -> bool:
        return self.result.forced


def commit(task: Task, episode: Episode, proposal: str) -> Step:
    """Judge ``proposal`` with the task's oracle and commit it, as the runner does."""
    prompt = episode.prompt()
    judgement = asyncio.run(task.oracle().judge(prompt.oracle_context, proposal))
    result = episode.commit(proposal, judgement)
    return Step(prompt, [proposal], [], [judgement], result)


def _request(backend: Backend, key: str, prompt: StepPrompt, **fields: Any) -> GenerationRequest:
    # The hint travels out of band, to a backend that reads hints only.
    if isinstance(backend, HintReceiver):
        backend.hints.post({key: prompt.hint})
    return GenerationRequest(messages=prompt.messages, item_id=key, **fields)


async def _drive(
    task: Task,
    backend: Backend,
    seeds: Sequence[int],
    *,
    max_steps: int,
    error_policy: ErrorPolicy,
    rounds: int = 0,
) -> dict[int, list[Step]]:
    episodes = {seed: task.new_episode(seed, max_steps=max_steps, error_policy=error_policy)
                for seed in seeds}
    verifier, oracle = task.verifier(), task.oracle()
    records: dict[int, list[Step]] = {seed: [] for seed in seeds}
    while running := [seed for seed, episode in episodes.items() if not episode.done]:
        prompts = [episodes[seed].prompt() for seed in running]
        keys = [f"{seed}/{episodes[seed].step}" for seed in running]
        generations = await backend.generate(
            [_request(backend, k, p) for k, p in zip(keys, prompts, strict=True)]
        )
        outputs = [[g.text] for g in generations]
        feedback = [[await verifier.verify(p.context, o[0])]
                    for p, o in zip(prompts, outputs, strict=True)]
        for round_ in range(rounds):
            todo = [i for i, f in enumerate(feedback) if not f[-1].ok]
            if not todo:
                break
            revised = await backend.generate([
                _request(backend, keys[i], prompts[i], purpose="revise",
                         previous=outputs[i][-1], params=SamplingParams(seed=round_))
                for i in todo
            ])
            for i, g in zip(todo, revised, strict=True):
                outputs[i].append(g.text)
                feedback[i].append(await verifier.verify(prompts[i].context, g.text))
        for seed, prompt, outs, fb in zip(running, prompts, outputs, feedback, strict=True):
            judgements = [await oracle.judge(prompt.oracle_context, o) for o in outs]
            result = episodes[seed].commit(outs[-1], judgements[-1])
            records[seed].append(Step(prompt, outs, fb, judgements, result))
    for episode in episodes.values():
        close = getattr(episode, "close", None)
        if close is not None:
            close()
    return records


@pytest.fixture
def drive() -> Callable[..., dict[int, list[Step]]]:
    """Run episodes to the end: ``drive(task, backend, seeds, max_steps=, error_policy=)``."""

    def run(*args: Any, **kwargs: Any) -> dict[int, list[Step]]:
        return asyncio.run(_drive(*args, **kwargs))

    return run


@pytest.fixture
def check() -> Callable[..., None]:
    """The checks every task's records must pass: ``check(records, max_steps=, policy=, ...)``."""
    return check_records


def check_records(records: dict[int, list[Step]], *, max_steps: int, policy: ErrorPolicy,
                  has_global: bool) -> None:
    """What every task's records must satisfy."""
    for steps in records.values():
        assert steps, "an episode made no step"
        assert 1 <= len(steps) <= max_steps
        assert all(s.result.end is None for s in steps[:-1])
        assert steps[-1].result.end in ("error", "natural", "max_steps")
        for index, step in enumerate(steps):
            assert step.prompt.hint.step == index
            for judgement in step.judgements:
                assert judgement.local.code in ("ok", "unparseable", "invalid_syntax", "illegal",
                                                "ambiguous", "wrong_value", "blunder")
                assert (judgement.global_state is not None) == has_global
        if policy == "stop":
            assert all(s.local_ok for s in steps[:-1])
            if not steps[-1].local_ok:
                assert steps[-1].result.end == "error"
        else:
            assert all(s.result.end != "error" for s in steps)
