"""A finished run grows to more episodes by rerunning it with a larger ``--episodes``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

from redraft_logcheck import check_log, trajectory

from redraft.core import BadInputError
from redraft.evals import EvalConfig, read_events, read_manifest, run_eval
from redraft.evals._events import EpisodeEndEvent, EpisodeStartEvent

CONFIG = EvalConfig(task="addition", model="simulated/e=0.2,r=0.5", episodes=5, max_steps=4,
                    task_options={"digits": 4}, seed=11)


def _starts(run: Path) -> dict[int, int]:
    return {e.episode: e.seed for e in read_events(run / "events.jsonl")
            if isinstance(e, EpisodeStartEvent)}


def test_more_episodes_extend_a_finished_run_with_the_same_episodes(tmp_path: Path) -> None:
    run_eval(CONFIG, tmp_path / "small")
    first = (tmp_path / "small" / "events.jsonl").read_bytes()
    result = run_eval(CONFIG.model_copy(update={"episodes": 9}), tmp_path / "small")
    assert result.ran == 4
    grown = (tmp_path / "small" / "events.jsonl").read_bytes()
    assert grown.startswith(first)  # nothing rewritten, only appended
    ends = [e for e in read_events(tmp_path / "small" / "events.jsonl")
            if isinstance(e, EpisodeEndEvent)]
    assert sorted(e.episode for e in ends) == list(range(9))
    manifest = read_manifest(tmp_path / "small")
    assert manifest["config"]["episodes"] == 9
    assert manifest["extended"][0]["episodes"] == [5, 9]
    # The same episodes as a run started with 9, step by step: episode seeds depend on
    # (seed, id) only, and the simulated policy's draws on the episode.
    run_eval(CONFIG.model_copy(update={"episodes": 9}), tmp_path / "big")
    grown_eps = check_log(read_events(tmp_path / "small"), range(9))
    fresh_eps = check_log(read_events(tmp_path / "big"), range(9))
    assert _starts(tmp_path / "small") == _starts(tmp_path / "big")
    for ep in range(9):
        assert trajectory(grown_eps[ep]) == trajectory(fresh_eps[ep]), f"episode {ep} differs"


def test_a_run_cannot_shrink(tmp_path: Path) -> None:
    run_eval(CONFIG, tmp_path / "run")
    with pytest.raises(BadInputError, match="cannot shrink to 3: pass --episodes 5"):
        run_eval(CONFIG.model_copy(update={"episodes": 3}), tmp_path / "run")
    with pytest.raises(BadInputError, match="only --episodes may grow"):
        run_eval(CONFIG.model_copy(update={"max_steps": 5}), tmp_path / "run")
