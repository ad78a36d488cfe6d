"""The vectorized runner: one backend call per node per round for the whole batch."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_counting
from langgraph.graph import END, START, StateGraph
from redraft_logcheck import ListSink, check_log, trajectory

from redraft.agent import (
    CorrectorConfig,
    CorrectorInput,
    CorrectorOutput,
    CorrectorState,
    build_corrector,
)
from redraft.agent.backends import (
    Generation,
    GenerationRequest,
    SimulatedBackend,
    SimulationParams,
)
from redraft.evals import (
    EpisodeStartEvent,
    EvalConfig,
    Event,
    RoundEvent,
    StepEvent,
    read_events,
    run_eval,
)
from redraft.evals._runner import CorrectorResultError, LockstepRunner, episode_seed
from redraft.evals.tasks import tasks

tasks.add("counting", redraft_counting.CountingTask)


class RecordingBackend(SimulatedBackend):
    """The simulated policy, remembering the purpose and size of every batch."""

    def __init__(self, params: SimulationParams) -> None:
        super().__init__(params)
        self.batches: list[tuple[str, int]] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        purposes = {r.purpose for r in requests}
        assert len(purposes) == 1, f"one node per call, got {purposes}"
        self.batches.append((purposes.pop(), len(requests)))
        return await super().generate(requests)


def _wrapped(corrector: Any, after: Any) -> Any:
    """The corrector as a subgraph of a user's graph, whose next node edits the results."""
    graph: StateGraph[CorrectorState, None, CorrectorInput, CorrectorOutput] = StateGraph(
        CorrectorState, input_schema=CorrectorInput, output_schema=CorrectorOutput
    )
    graph.add_node("correct", corrector)
    graph.add_node("after", lambda state: {"results": after(list(state["results"]))})
    graph.add_edge(START, "correct")
    graph.add_edge("correct", "after")
    graph.add_edge("after", END)
    return graph.compile()


def _run(critic: str, batch_size: int, episodes: int, *, max_revisions: int = 2,
         after: Any = None) -> tuple[RecordingBackend, LockstepRunner, list[Event]]:
    backend = RecordingBackend(SimulationParams(e=0.3, r=0.5, h=0.1, tpr=0.8, fpr=0.2))
    task = redraft_counting.CountingTask()
    corrector = build_corrector(backend, task.verifier(), critic=critic,
                                max_revisions=max_revisions)
    if after is not None:
        corrector = _wrapped(corrector, after)
    sink = ListSink()
    runner = LockstepRunner(
        task, corrector, sink, seed=7, max_steps=6, error_policy="continue", batch_size=batch_size,
        hints=backend.hints,
    )
    asyncio.run(runner.run(range(episodes)))
    return backend, runner, sink.events


def test_one_backend_call_per_node_per_round_with_joining_and_leaving() -> None:
    backend, runner, events = _run("tool", batch_size=5, episodes=23)
    check_log(events, range(23))
    assert runner.sink.syncs == runner.invocations  # type: ignore[attr-defined]
    # Each corrector invocation: one propose call for the whole batch, then one revise call
    # per revision round; nothing else (the tool critic needs no model).
    proposes = [n for purpose, n in backend.batches if purpose == "propose"]
    assert len(proposes) == runner.invocations == backend.calls - sum(
        1 for purpose, _ in backend.batches if purpose == "revise"
    )
    assert max(proposes) == 5 and min(proposes) >= 1
    # The batch stays full while episodes wait, so the first calls hold 5 items each.
    assert proposes[:3] == [5, 5, 5]
    # Requests per round: the rounds logged equal the requests made.
    rounds = sum(1 for e in events if e.kind == "round")
    assert rounds == sum(n for _, n in backend.batches)
    # Revision calls per invocation never exceed the revision budget.
    per_invocation: list[int] = []
    for purpose, _ in backend.batches:
        if purpose == "propose":
            per_invocation.append(0)
        else:
            per_invocation[-1] += 1
    assert max(per_invocation) <= 2 and max(per_invocation) == 2
    # Episodes joined while others were running: a start comes after a step of another.
    first_step = next(i for i, e in enumerate(events) if isinstance(e, StepEvent))
    late_starts = [
        e.episode for e in events[first_step:] if isinstance(e, EpisodeStartEvent)
    ]
    assert late_starts == list(range(5, 23))


class InvocationSink(ListSink):
    """Also remembers where each corrector invocation's records end (one sync each)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[int] = []

    def sync(self) -> None:
        super().sync()
        self.ends.append(len(self.events))


def test_self_critique_is_one_call_per_verify_round() -> None:
    # self+tool: per invocation, one propose call for the batch; per round one critique call
    # for exactly the items whose answer the tool accepted, and one revise call for the
    # items still going. The calls expected are rebuilt from the log's per-critic verdicts.
    backend = RecordingBackend(SimulationParams(e=0.3, r=0.5, h=0.1, tpr=0.8, fpr=0.2))
    task = redraft_counting.CountingTask()
    corrector = build_corrector(backend, task.verifier(), critic="self+tool", max_revisions=2)
    sink = InvocationSink()
    runner = LockstepRunner(task, corrector, sink, seed=7, max_steps=6,
                            error_policy="continue", batch_size=8, hints=backend.hints)
    asyncio.run(runner.run(range(16)))
    check_log(sink.events, range(16))
    expected: list[tuple[str, int]] = []
    start = 0
    for end in sink.ends:
        rounds = [e for e in sink.events[start:end] if isinstance(e, RoundEvent)]
        start = end
        for r in range(3):
            at = [e for e in rounds if e.round == r]
            if at:
                expected.append(("propose" if r == 0 else "revise", len(at)))
            critiqued = [e for e in at if e.self_verdict is not None]
            if critiqued:
                expected.append(("critique", len(critiqued)))
            # The critique is asked exactly where the tool accepted an answer.
            assert critiqued == [e for e in at if e.tool_verdict and e.tool_verdict.ok]
    assert backend.batches == expected
    assert len(sink.ends) == runner.invocations
    assert {p for p, _ in expected} == {"propose", "critique", "revise"}


def test_episodes_do_not_depend_on_batching() -> None:
    _, _, alone = _run("tool", batch_size=1, episodes=12)
    _, _, batched = _run("tool", batch_size=12, episodes=12)
    one = check_log(alone, range(12))
    many = check_log(batched, range(12))
    for ep in range(12):
        assert trajectory(one[ep]) == trajectory(many[ep])


def test_results_are_matched_to_episodes_by_item_id() -> None:
    # A wrapper that returns the corrector's results reversed changes nothing: each result
    # is judged against its own episode's truth and committed to its own episode.
    _, _, plain = _run("tool", batch_size=6, episodes=12)
    _, _, reordered = _run("tool", batch_size=6, episodes=12, after=lambda r: r[::-1])
    one, other = check_log(plain, range(12)), check_log(reordered, range(12))
    for ep in range(12):
        assert trajectory(other[ep]) == trajectory(one[ep])
    # A wrapper that loses or renames a result is refused, in one line.
    with pytest.raises(CorrectorResultError, match=r"missing: '0/0'; unknown: none") as lost:
        _run("tool", batch_size=3, episodes=3, after=lambda r: r[1:])
    assert "\n" not in str(lost.value)
    renamed = lambda r: [r[0].model_copy(update={"item_id": "x"}), *r[1:]]  # noqa: E731
    with pytest.raises(CorrectorResultError, match=r"missing: '0/0'; unknown: 'x'"):
        _run("tool", batch_size=3, episodes=3, after=renamed)
    twice = lambda r: [r[0], r[0], *r[2:]]  # noqa: E731
    with pytest.raises(CorrectorResultError, match="two results for item '0/0'"):
        _run("tool", batch_size=3, episodes=3, after=twice)


def test_step_records_carry_oracle_and_task_results() -> None:
    _, _, events = _run("none", batch_size=4, episodes=10, max_revisions=0)
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert steps and all(s.revisions == 0 and s.stop_reason == "no_critic" for s in steps)
    assert any(s.initial == "incorrect" for s in steps)
    for s in steps:
        assert s.initial == s.final != "unknown"
        assert s.global_correctness is not None
        assert s.info["value"] == int(s.action)
    starts = [e for e in events if isinstance(e, EpisodeStartEvent)]
    assert [s.seed for s in starts] == [episode_seed(7, i) for i in range(10)]


def test_episodes_are_closed() -> None:
    redraft_counting.CLOSED.clear()
    _run("tool", batch_size=3, episodes=9)
    assert sorted(redraft_counting.CLOSED) == sorted(episode_seed(7, i) for i in range(9))


def test_run_eval_writes_a_complete_run(tmp_path: Path) -> None:
    config = EvalConfig(
        task="counting", model="simulated/e=0.2,r=0.5", episodes=30, max_steps=8, batch_size=4
    )
    result = run_eval(config, tmp_path / "run")
    assert (result.episodes, result.ran, result.resumed) == (30, 30, False)
    events = read_events(tmp_path / "run")
    check_log(events, range(30))
    assert result.steps == sum(1 for e in events if e.kind == "step")
    again = run_eval(config, tmp_path / "run")
    assert (again.episodes, again.ran, again.resumed) == (30, 0, True)
    assert read_events(tmp_path / "run") == events


def test_stop_policy_ends_at_the_first_error(tmp_path: Path) -> None:
    config = EvalConfig(
        task="counting", model="simulated/e=0.4,r=0.0", episodes=20, max_steps=10,
        corrector=CorrectorConfig(critic="none", max_revisions=0),
    )
    run_eval(config, tmp_path / "run")
    groups = check_log(read_events(tmp_path / "run"), range(20))
    ends = [g[-1] for g in groups.values()]
    errors = [e for e in ends if e.end == "error"]  # type: ignore[union-attr]
    assert errors
    for end in errors:
        assert end.first_error_step == end.steps - 1  # type: ignore[union-attr]


def test_shards_split_the_episodes(tmp_path: Path) -> None:
    # Each shard runs exactly its episodes, and each episode as the whole run runs it.
    base = EvalConfig(task="counting", model="simulated/e=0.3,r=0.5", episodes=10,
                      max_steps=5, error_policy="continue", batch_size=3)
    run_eval(base, tmp_path / "whole")
    whole = check_log(read_events(tmp_path / "whole"), range(10))
    seen: list[int] = []
    for index in range(3):
        config = EvalConfig.model_validate({**base.model_dump(), "shard": f"{index}/3"})
        run_eval(config, tmp_path / f"s{index}")
        shard = check_log(read_events(tmp_path / f"s{index}"), config.episode_ids())
        assert sorted(shard) == [i for i in range(10) if i % 3 == index]
        for ep, records in shard.items():
            assert trajectory(records) == trajectory(whole[ep]), f"episode {ep} differs"
        seen.extend(shard)
    assert sorted(seen) == list(range(10))


def test_forced_step_logs_the_state_after_the_replacement(tmp_path: Path) -> None:
    # running_sum under `continue`: an unreadable answer is replaced by the right total, so
    # the agent's state after the step is right although the raw output was not.
    from redraft.agent.backends import ScriptedBackend

    config = EvalConfig(
        task="running_sum", model="scripted/inline", episodes=1, max_steps=2,
        corrector=CorrectorConfig(critic="none", max_revisions=0), error_policy="continue",
        seed=0,
    )
    run_eval(config, tmp_path / "run", backend=ScriptedBackend(["no idea", "no idea"]))
    steps = [e for e in read_events(tmp_path / "run") if isinstance(e, StepEvent)]
    assert [(s.forced, s.final, s.global_correctness) for s in steps] == [
        (True, "incorrect", "correct")
    ] * 2
