"""Reading run directories: torn last lines, corrupt lines, lenient manifests, restarts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_logs import Policy, simulate, to_events, write_run

from redraft.evals.stats import RunData, load_run
from redraft.evals.stats._load import EventLogError


def test_load_run_reads_manifest_config(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "r1", Policy(), 10, 5, 0))
    assert run.name == "r1" and run.critic == "tool"
    assert len(run.episodes) == 10 and run.unfinished == 0


def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    d = write_run(tmp_path / "r", Policy(), 5, 5, 0)
    with (d / "events.jsonl").open("a") as f:
        f.write('{"schema": 1, "kind": "round", "epis')
    with pytest.warns(UserWarning, match="torn last line"):
        run = load_run(d)
    assert len(run.episodes) == 5


def test_bad_line_in_the_middle_names_its_line_number(tmp_path: Path) -> None:
    d = write_run(tmp_path / "r", Policy(), 5, 5, 0)
    lines = (d / "events.jsonl").read_text().splitlines()
    lines[2] = '{"kind": "nonsense"}'
    (d / "events.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(EventLogError, match="line 3"):
        load_run(d)


def test_missing_manifest_is_lenient_and_missing_log_is_an_error(tmp_path: Path) -> None:
    d = write_run(tmp_path / "r", Policy(), 3, 5, 0)
    (d / "manifest.json").unlink()
    assert load_run(d).config == {}
    with pytest.raises(EventLogError, match="cannot read event log"):
        load_run(tmp_path / "r" / "..")
    with pytest.raises(EventLogError, match="does not exist"):
        load_run(tmp_path / "missing")


def test_unfinished_and_restarted_episodes() -> None:
    policy = Policy()
    events = to_events(simulate(policy, 3, 5, np.random.default_rng(0)), policy)
    # Episode 0 restarted: its first attempt's records come again, then a second attempt.
    first_attempt = [e for e in events if e.episode == 0]
    unfinished = [e for e in to_events(simulate(policy, 1, 5, np.random.default_rng(1)), policy,
                                       first_id=9) if e.kind != "episode_end"]
    run = RunData.from_events(first_attempt[:-1] + events + unfinished)
    # The unfinished episode is kept (the statistics censor it at its last step).
    assert [ep.episode for ep in run.episodes] == [0, 1, 2, 9]
    assert [ep.finished for ep in run.episodes] == [True, True, True, False]
    assert run.unfinished == 1
    assert len(run.episodes[0].steps) == len([e for e in first_attempt if e.kind == "step"])
