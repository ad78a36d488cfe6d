"""Progress in steps: the expected total, and an ETA once a few steps have finished."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from redraft.agent.backends.contention import RunnableWatch
from redraft.evals import EvalConfig, run_eval
from redraft.evals._progress import ETA_AFTER_STEPS, ProgressBar, StepEstimate, machine_load


def test_the_total_starts_at_the_upper_bound_and_settles() -> None:
    est = StepEstimate(max_steps=10)
    est.start(4)
    assert est.total() == 40
    # Two episodes end after one step each (early ends): p = 2 ends / 2 steps = 1.
    for episode in (0, 1):
        est.step(episode)
        est.end(episode, 1)
    assert est.total() == 4  # two done, two more expected to take one step each
    # A run whose episodes all reach max_steps keeps the bound.
    full = StepEstimate(max_steps=3)
    full.start(2)
    for _ in range(3):
        full.step(0)
    full.end(0, 3)
    assert full.total() == 6


def test_the_estimate_follows_the_geometric_end_rate() -> None:
    est = StepEstimate(max_steps=1000)
    est.start(101)
    for _ in range(10):  # one episode of 10 steps ended early: p = 0.1
        est.step(0)
    est.end(0, 10)
    # 100 waiting episodes expect (1 - 0.9^1000) / 0.1 ≈ 10 steps each.
    assert est.total() == pytest.approx(10 + 100 * 10, rel=1e-6)


def test_no_max_steps_means_no_total_and_no_eta() -> None:
    bar = ProgressBar(io.StringIO(), enabled=False)
    bar.start(5, 0)
    for _ in range(ETA_AFTER_STEPS + 1):
        bar.estimate.step(0)
    assert bar.estimate.total() is None and bar.eta() is None


def test_eta_appears_once_a_few_steps_finished() -> None:
    bar = ProgressBar(io.StringIO(), enabled=False, max_steps=10)
    bar.start(3, 0)
    for _ in range(ETA_AFTER_STEPS - 1):
        bar.estimate.step(0)
    assert bar.eta() is None
    bar.estimate.step(0)
    eta = bar.eta()
    assert eta is not None and eta > 0
    assert "ETA" in bar.line()


def test_a_resumed_run_counts_what_is_left(tmp_path: Path) -> None:
    config = EvalConfig(task="addition", model="simulated/e=0.1,r=0.5", episodes=4,
                        max_steps=3, task_options={"digits": 3})
    run_eval(config, tmp_path / "run")
    stream = io.StringIO()
    run_eval(config, tmp_path / "run", observers=[ProgressBar(stream, max_steps=3)])
    first = stream.getvalue().splitlines()[0]
    assert first == "steps: 4 episodes, 4 finished earlier, at most 0 steps"


def test_the_progress_line_says_when_the_machine_is_busy() -> None:
    loads = iter([(0.0, 2), (1.0, 2), (3.0, 2), None])
    bar = ProgressBar(io.StringIO(), enabled=False, max_steps=4, load=lambda: next(loads))
    bar.start(2, 0)
    bar.estimate.step(0)
    assert "busy" not in bar.line()  # idle
    assert bar.line().endswith(", busy machine: 1 other runnable task on 2 CPUs")
    assert bar.line().endswith(", busy machine: 3 other runnable tasks on 2 CPUs")
    assert "busy" not in bar.line()  # no reading on this system


def test_the_load_reader_answers_the_median_of_recent_readings() -> None:
    clock = [0.0]
    readings = iter([(1, 1), (1, 1), (6, 1), (1, 1), (3, 1), (3, 1), (1, 1), (1, 1)])
    watch = RunnableWatch(keep=3, every_s=1.0, read=lambda: next(readings),
                          clock=lambda: clock[0])
    load = machine_load(watch)
    cpus = load()
    assert cpus is not None and cpus[0] == 0.0
    assert load() == cpus  # within the second: no new reading
    seen = []
    for _ in range(7):
        clock[0] += 1.0
        answer = load()
        assert answer is not None
        seen.append(answer[0])
    # A passing spike (one reading of 5 others) does not count; two readings of 2 in three
    # do; and the busy spell is forgotten two readings after it ends.
    assert seen == [0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0]
