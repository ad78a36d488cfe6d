"""Resume: a real ``redraft eval`` killed with SIGKILL mid-run (at its Nth record), then rerun.

The task is a plug-in found through real entry-point discovery: a module plus a
``*.dist-info/entry_points.txt`` in a directory on the subprocess's ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_counting
from redraft_logcheck import check_log, trajectory

from redraft.agent import CorrectorConfig
from redraft.core import BadInputError
from redraft.evals import EvalConfig, merge_runs, read_events, run_eval
from redraft.evals._log import scan_events
from redraft.evals.tasks import tasks

tasks.add("counting", redraft_counting.CountingTask)

EPISODES = 200
MODEL = "simulated/e=0.2,r=0.5,h=0.05"
ARGS = ["--model", MODEL, "--critic", "tool", "--rounds", "2", "--episodes", str(EPISODES),
        "--max-steps", "12", "--batch-size", "8", "--error-policy", "continue", "-q"]


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = redraft_counting.install(tmp_path_factory.mktemp("plugin"))
    return {**os.environ, "PYTHONPATH": str(root)}


def _command(task: str, out: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "redraft.evals.cli", "eval", task, *ARGS,
            "--seed", str(seed), "--out", str(out)]


def _records(path: Path) -> int:
    """Complete (newline-ended) records in the log so far."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _unfinished(out: Path) -> set[int]:
    scan = scan_events(out)
    return {e.episode for e in scan.events} - scan.finished()


def _launch_and_kill(cmd: list[str], env: dict[str, str], out: Path, records: int) -> bool:
    """Start the command and SIGKILL it mid-episode, once it flushed ``records`` more records.

    The kill is placed by events of the run, not by a sleep: at the Nth new record the
    process is stopped (SIGSTOP: it writes nothing more while the log is read); if every
    episode in its log has ended (a batch whose episodes all ended together), it goes on to
    its next record and is looked at again. So each kill lands mid-run with an episode half
    written, on a loaded machine too. True if the run was still going when killed.
    """
    log = out / "events.jsonl"
    target = _records(log) + records
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # A resumed run first rewrites the log without its unfinished episodes: counting from
    # the old size, the kill falls among records this process wrote.
    while proc.poll() is None:
        if _records(log) >= target:
            proc.send_signal(signal.SIGSTOP)
            if _unfinished(out):
                break
            proc.send_signal(signal.SIGCONT)
            target = _records(log) + 1
        time.sleep(0.005)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert alive or proc.returncode == 0, err.decode()
    return alive


@pytest.mark.parametrize(("task", "seed"), [("counting", 1), ("counting", 2), ("addition", 3)])
@pytest.mark.slow
def test_sigkill_mid_run_then_resume(
    tmp_path: Path, plugin_env: dict[str, str], task: str, seed: int
) -> None:
    out = tmp_path / "run"
    rng = random.Random(seed)
    command = _command(task, out, seed)
    for _ in range(2):
        assert _launch_and_kill(command, plugin_env, out, rng.randint(30, 400)), (
            "the run ended before its kill"
        )
        assert _unfinished(out), "the kill left no half-written episode"
    done = subprocess.run(command, env=plugin_env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()

    resumed = check_log(read_events(out), range(EPISODES))
    # The resumed run holds the very episodes an uninterrupted run produces.
    config = EvalConfig(
        task=task, model=MODEL, corrector=CorrectorConfig(critic="tool", max_revisions=2),
        episodes=EPISODES, max_steps=12, error_policy="continue", seed=seed, batch_size=64,
    )
    run_eval(config, tmp_path / "clean")
    clean = check_log(read_events(tmp_path / "clean"), range(EPISODES))
    for ep in range(EPISODES):
        assert trajectory(resumed[ep]) == trajectory(clean[ep]), f"episode {ep} differs"


def test_resume_refuses_another_config(tmp_path: Path) -> None:
    config = EvalConfig(task="counting", model=MODEL, episodes=5, max_steps=4)
    run_eval(config, tmp_path / "run")
    other = config.merged(corrector=config.corrector.merged(critic="none", max_revisions=0))
    with pytest.raises(BadInputError, match=r"corrector\.critic: 'tool' -> 'none'"):
        run_eval(other, tmp_path / "run")
    # The batch size is an execution setting: resuming with another one is fine.
    faster = EvalConfig.model_validate({**config.model_dump(), "batch_size": 2})
    assert run_eval(faster, tmp_path / "run").resumed


def test_merge_joins_shards_and_refuses_gaps_and_duplicates(tmp_path: Path) -> None:
    base = {"task": "counting", "model": MODEL, "episodes": 12, "max_steps": 5, "seed": 4}
    shards = []
    for index in range(3):
        config = EvalConfig.model_validate({**base, "shard": f"{index}/3"})
        run_eval(config, tmp_path / f"s{index}")
        shards.append(tmp_path / f"s{index}")
    with pytest.raises(BadInputError, match="episodes 2, 5, 8, 11 are in no shard"):
        merge_runs(shards[:2], tmp_path / "partial")
    with pytest.raises(BadInputError, match="same shard directory"):
        merge_runs([shards[0], shards[0]], tmp_path / "dup")
    run_eval(EvalConfig.model_validate({**base, "shard": "0/2"}), tmp_path / "other")
    with pytest.raises(BadInputError, match="in both"):
        merge_runs([*shards, tmp_path / "other"], tmp_path / "dup2")
    different = EvalConfig.model_validate({**base, "seed": 5, "shard": "2/3"})
    run_eval(different, tmp_path / "s2b")
    with pytest.raises(BadInputError, match=r"configs differ.*seed"):
        merge_runs([shards[0], shards[1], tmp_path / "s2b"], tmp_path / "bad")

    assert merge_runs(shards, tmp_path / "all") == 12
    merged = check_log(read_events(tmp_path / "all"), range(12))
    run_eval(EvalConfig.model_validate(base), tmp_path / "whole")
    whole = check_log(read_events(tmp_path / "whole"), range(12))
    assert all(trajectory(merged[i]) == trajectory(whole[i]) for i in range(12))
    # The merged run is a run like any other: resuming it has nothing left to do.
    again = run_eval(EvalConfig.model_validate(base), tmp_path / "all")
    assert (again.resumed, again.ran) == (True, 0)
    with pytest.raises(BadInputError, match="already holds a run"):
        merge_runs(shards, tmp_path / "all")


def test_merge_refuses_unfinished_shards(tmp_path: Path) -> None:
    config = EvalConfig(task="counting", model=MODEL, episodes=4, max_steps=4, shard="0/1")
    run_eval(config, tmp_path / "s0")
    log = tmp_path / "s0" / "events.jsonl"
    lines = log.read_bytes().splitlines()
    log.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # drop the last episode_end
    with pytest.raises(BadInputError, match="unfinished"):
        merge_runs([tmp_path / "s0"], tmp_path / "all")


def test_a_run_directory_has_one_writer(tmp_path: Path) -> None:
    import fcntl

    config = EvalConfig(task="counting", model=MODEL, episodes=3, max_steps=3)
    run_eval(config, tmp_path / "run")
    with open(tmp_path / "run" / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(BadInputError, match="another redraft process"):
            run_eval(config, tmp_path / "run")
    assert run_eval(config, tmp_path / "run").resumed
