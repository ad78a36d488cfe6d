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
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_counting
import redraft_faults
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


def _launch_and_kill(
    cmd: list[str], env: dict[str, str], out: Path, records: int,
    sig: signal.Signals = signal.SIGKILL,
) -> bool:
    """Start the command and SIGKILL it mid-episode, once it flushed ``records`` more records.

    The kill is placed by events of the run, not by a sleep: at the Nth new record the
    process is stopped (SIGSTOP: it writes nothing more while the log is read); if every
    episode in its log has ended (a batch whose episodes all ended together), it goes on to
    its next record and is looked at again. So each kill lands mid-run with an episode half
    written, on a loaded machine too. True if the run was still going when killed.
    """
    log = out / "events.jsonl"
    target = _records(log) + records
    # SIGINT handled by default in the child even when these tests run in a shell's
    # background job (which ignores it, and a child would inherit that).
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
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
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)  # a stopped process handles its SIGINT once it goes on
    _, err = proc.communicate(timeout=60)
    assert alive or proc.returncode == 0, err.decode()
    if alive and sig == signal.SIGINT:
        lines = err.decode().strip().splitlines()
        assert proc.returncode == 130 and len(lines) == 1 and "resume" in lines[0], err
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


BATCHED = 16
"""Episodes of the mid-episode kill test: all in one batch, so none ends before the rest
start (the runner finishes them together), and a kill always lands mid-episode."""


def _logged_steps(out: Path) -> set[str]:
    """Item ids (``episode/step``) of the steps the log holds."""
    return {f"{e.episode}/{e.step}" for e in scan_events(out).events if e.kind == "step"}


def _launch_stall_and_stop(
    cmd: list[str], env: dict[str, str], calls: int, sig: signal.Signals, mark: Path
) -> None:
    """Start the command; once its backend hangs at call ``calls + 1``, send ``sig``.

    The ``counted`` backend stalls there with a batch in flight (``REDRAFT_STALL_AFTER``),
    so the signal lands mid-episode however loaded the machine is: no race between the
    run and the test's polling.
    """
    mark.unlink(missing_ok=True)
    env = {**env, "REDRAFT_STALL_AFTER": str(calls), "REDRAFT_STALL_MARK": str(mark)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before its backend stalled: {proc.stderr}"
    assert mark.exists(), "the backend never stalled"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        lines = err.decode().strip().splitlines()
        assert proc.returncode == 130 and len(lines) == 1 and "resume" in lines[0], err
    else:
        assert proc.returncode == -signal.SIGKILL, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
@pytest.mark.slow
def test_a_batched_run_stopped_mid_episode_recomputes_no_logged_step(
    tmp_path: Path, sig: signal.Signals
) -> None:
    root = redraft_faults.install(tmp_path / "plugin")
    out = tmp_path / "run"
    rng = random.Random(int(sig))
    command = [sys.executable, "-m", "redraft.evals.cli", "eval", "counting",
               "--model", "counted/e=0.3,r=0.5,h=0.1", "--critic", "tool", "--revisions", "2",
               "--episodes", str(BATCHED), "--max-steps", "20", "--error-policy", "continue",
               "--seed", "5", "--out", str(out), "-q"]
    asked: list[set[str]] = []
    logged = [set[str]()]
    for attempt in range(3):
        requests = tmp_path / f"requests-{attempt}.txt"
        env = {**os.environ, "PYTHONPATH": str(root), "REDRAFT_REQUEST_LOG": str(requests)}
        if attempt < 2:
            # A backend call advances every episode by at most one round, so two stops
            # after at most 8 calls each leave the 20-step episodes unfinished.
            _launch_stall_and_stop(command, env, rng.randint(2, 8), sig,
                                   tmp_path / "stalled")
            assert _unfinished(out), "the stop left no unfinished episode"
        else:
            done = subprocess.run(command[:-1], env=env, capture_output=True, timeout=60,
                                  text=True)
            assert done.returncode == 0, done.stderr
            assert "unfinished episodes continued after their" in done.stderr, done.stderr
        asked.append({item for item, _ in redraft_faults.requested(requests)})
        logged.append(_logged_steps(out))
        # No step that an earlier process logged was asked for again; at most the steps
        # in flight when it stopped (one per unfinished episode) were asked for twice.
        assert not asked[-1] & logged[-2], sorted(asked[-1] & logged[-2])[:10]
        if attempt:
            assert len(asked[-1] & asked[-2]) <= BATCHED
            assert logged[-2] <= logged[-1]  # every logged step was kept

    config = EvalConfig(
        task="counting", model="simulated/e=0.3,r=0.5,h=0.1",
        corrector=CorrectorConfig(critic="tool", max_revisions=2),
        episodes=BATCHED, max_steps=20, error_policy="continue", seed=5,
    )
    run_eval(config, tmp_path / "clean")
    clean = check_log(read_events(tmp_path / "clean"), range(BATCHED))
    resumed = check_log(read_events(out), range(BATCHED))
    for ep in range(BATCHED):
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


# -- continuing unfinished episodes from their logged steps ---------------------------------


class _NoCalls:
    """A backend that must not be asked anything (the log holds every step)."""

    name = "simulated/e=0.3,r=0.5,h=0.1"
    constraint_kinds: frozenset[str] = frozenset()

    async def generate(self, requests: object) -> list[object]:
        raise AssertionError(f"a logged step was asked for again: {requests!r}"[:300])

    async def aclose(self) -> None:
        pass


CUT_CONFIG = EvalConfig(
    task="counting", model="simulated/e=0.3,r=0.5,h=0.1",
    corrector=CorrectorConfig(critic="tool", max_revisions=2),
    episodes=6, max_steps=8, error_policy="continue", seed=11, batch_size=4,
)


WORDS = Path(__file__).resolve().parents[2] / "examples" / "word_problems.jsonl"
DATASET_CONFIG = EvalConfig(
    task="dataset", task_options={"path": str(WORDS)}, model="simulated/e=0.3,r=0.5,h=0.1",
    corrector=CorrectorConfig(critic="tool", max_revisions=2), episodes=30, max_steps=8,
    error_policy="continue", seed=11, batch_size=4,
)
"""A dataset (an indexed task: episode i is record i), some of whose records have several
steps."""


@pytest.mark.parametrize("config", [CUT_CONFIG, DATASET_CONFIG], ids=["counting", "dataset"])
@pytest.mark.slow
def test_a_log_cut_at_any_line_resumes_to_the_uninterrupted_run(
    tmp_path: Path, config: EvalConfig
) -> None:
    episodes = range(config.episodes)
    clean = tmp_path / "clean"
    run_eval(config, clean)
    whole = (clean / "events.jsonl").read_bytes()
    expected = check_log(read_events(clean), episodes)
    lines = whole.splitlines(keepends=True)
    rng = random.Random(3)
    cuts = sorted(rng.sample(range(1, len(lines)), 40))
    continued = 0
    for cut in cuts:
        out = tmp_path / f"cut{cut}"
        out.mkdir()
        (out / "manifest.json").write_bytes((clean / "manifest.json").read_bytes())
        torn = lines[cut][: len(lines[cut]) // 2]  # and half of the next line
        (out / "events.jsonl").write_bytes(b"".join(lines[:cut]) + torn)
        kept = {f"{e.episode}/{e.step}" for e in read_events_lenient(out) if e.kind == "step"}
        result = run_eval(config, out)
        continued += result.continued
        assert result.steps == sum(e.kind == "step" for e in read_events(clean)) - len(kept)
        resumed = check_log(read_events(out), episodes)
        for ep in episodes:
            assert trajectory(resumed[ep]) == trajectory(expected[ep]), (cut, ep)
    assert continued, "no cut left an episode to continue from its logged steps"


def read_events_lenient(out: Path) -> list[object]:
    return list(scan_events(out).events)


def test_a_run_whose_last_step_was_logged_without_its_end_asks_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_eval(CUT_CONFIG, out)
    log = out / "events.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    ends = [i for i, line in enumerate(lines) if b'"episode_end"' in line]
    for i in reversed(ends[-2:]):  # stopped between a last step and its episode_end
        del lines[i]
    log.write_bytes(b"".join(lines))
    result = run_eval(CUT_CONFIG, out, backend=_NoCalls())  # type: ignore[arg-type]
    assert (result.resumed, result.continued, result.steps, result.ran) == (True, 2, 0, 2)
    check_log(read_events(out), range(6))


class _Drifting(redraft_counting.CountingTask):
    """Counting whose episodes draw from a process-wide stream, not only their seed."""

    name = "drifting"
    stream = random.Random()

    def new_episode(self, seed: int, *, max_steps: int, error_policy: str) -> Any:
        episode = super().new_episode(seed, max_steps=max_steps,
                                      error_policy=error_policy)  # type: ignore[arg-type]
        episode.agent = episode.truth = self.stream.randint(0, 10**9)
        return episode


tasks.add("drifting", _Drifting)


def test_an_episode_that_does_not_replay_is_rerun_from_scratch(tmp_path: Path) -> None:
    config = CUT_CONFIG.model_copy(update={"task": "drifting"})
    out = tmp_path / "run"
    run_eval(config, out)
    log = out / "events.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    last_end = max(i for i, line in enumerate(lines) if b'"episode_end"' in line)
    log.write_bytes(b"".join(lines[:last_end - 3]))  # mid-way through the last episode
    unfinished = _unfinished(out)
    assert unfinished
    result = run_eval(config, out)
    assert result.continued == 0 and result.ran == len(unfinished)  # none could go on
    events = check_log(read_events(out), range(6))
    for ep in unfinished:  # rerun whole: its records are all this process's
        assert [e.kind for e in events[ep]][:2] == ["episode_start", "round"]
