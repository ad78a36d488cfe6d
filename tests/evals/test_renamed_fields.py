"""Old field names and places read as today's on every path, each with one notice.

The revision budget was ``max_rounds`` (and ``rounds``), ``corrector.retry_context`` is
``corrector.revision_context``, and ``critic``, ``max_revisions`` and ``commit_policy`` moved
from the top level into ``corrector``, their one home. Old run directories are real ones:
``tests/data/legacy/schema3-max-rounds`` was written by the commit before the rename
(4804096), ``tests/data/findings/runs/tool-k1`` by a schema 2 redraft. Each is resumed with
the command a user would retype, extended, and reported.
"""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_counting
from redraft_logcheck import check_log

from redraft.agent import CorrectorConfig
from redraft.evals import EvalConfig, read_events, read_manifest
from redraft.evals.cli import main
from redraft.evals.report._settings import setting_differences
from redraft.evals.stats import load_run
from redraft.evals.tasks import tasks

tasks.add("counting", redraft_counting.CountingTask)

DATA = Path(__file__).resolve().parents[1] / "data"
SCHEMA_3 = DATA / "legacy" / "schema3-max-rounds"
SCHEMA_2 = DATA / "findings" / "runs" / "tool-k1"
# The options each old run was written with, as a user would retype them to resume it.
SCHEMA_3_ARGS = ["running_sum", "--model", "simulated/e=0.3,r=0.6,h=0.05", "--critic", "tool",
                 "--max-steps", "3", "--seed", "3", "-q"]
SCHEMA_2_ARGS = ["running_sum", "--model", "simulated/e=0.3,r=0.6,h=0.05", "--critic", "tool",
                 "--max-steps", "4", "--seed", "3", "--error-policy", "continue",
                 "--representation", "shown", "--commit-policy", "last", "-q"]


def test_the_fixtures_are_written_with_the_old_name() -> None:
    # Guards the tests below: they prove nothing if a fixture is rewritten in today's names.
    for run in (SCHEMA_3, SCHEMA_2):
        config = json.loads((run / "manifest.json").read_text())["config"]
        assert config["max_rounds"] == 1 and "max_revisions" not in config
        assert config["corrector"]["retry_context"] == "full"


def test_python_callers_and_configs_say_either_name() -> None:
    new = EvalConfig(task="addition", corrector=CorrectorConfig(max_revisions=1))
    for old in ({"max_rounds": 1}, {"rounds": 1}, {"max_revisions": 1}):
        with pytest.warns(DeprecationWarning, match="corrector.max_revisions") as caught:
            config = EvalConfig.model_validate({"task": "addition", **old})
        assert len(caught) == 1  # one notice, not one per layer
        assert config.corrector.max_revisions == 1 and config.identity() == new.identity()
    dumped = new.model_dump()
    assert "max_rounds" not in dumped and "max_revisions" not in dumped
    assert dumped["corrector"]["max_revisions"] == 1
    # An old name inside the corrector is the corrector's own old name.
    with pytest.warns(DeprecationWarning, match=r"corrector\.max_rounds -> corrector\."):
        config = EvalConfig.model_validate({"task": "addition", "corrector": {"max_rounds": 3}})
    assert config.corrector.max_revisions == 3
    # The old place and the new one both given: which is meant is not clear.
    for given in ({"max_rounds": 1, "max_revisions": 1},
                  {"critic": "tool", "corrector": {"critic": "self"}}):
        with pytest.raises(ValueError, match="give corrector"):
            EvalConfig.model_validate({"task": "addition", **given})
    with pytest.warns(DeprecationWarning, match="critic -> corrector.critic"):
        flat = EvalConfig(task="addition", critic="self", commit_policy="last",  # type: ignore[call-arg]
                          corrector=CorrectorConfig(max_revisions=3))
    assert (flat.corrector.critic, flat.corrector.commit_policy) == ("self", "last")
    assert flat.corrector.max_revisions == 3


def test_the_corrector_and_its_callers_say_either_name() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        config = CorrectorConfig(max_rounds=3, retry_context="last")  # type: ignore[call-arg]
    assert len(caught) == 1 and "max_rounds -> max_revisions" in str(caught[0].message)
    assert (config.max_revisions, config.revision_context) == (3, "last")
    assert caught[0].filename == __file__  # the warning points at the caller's line
    with pytest.warns(DeprecationWarning):
        assert CorrectorConfig().merged(max_rounds=0).max_revisions == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert CorrectorConfig().merged(max_revisions=1).max_revisions == 1


def test_run_data_of_an_old_run_is_in_todays_names() -> None:
    run = load_run(SCHEMA_3)
    assert run.config["corrector"]["max_revisions"] == 1  # type: ignore[index, call-overload]
    assert "max_rounds" not in run.config and "critic" not in run.config
    assert run.critic == "tool"


@pytest.mark.parametrize("suffix, text", [
    (".toml", 'task = "counting"\nmax_rounds = 1\n[corrector]\nretry_context = "last"\n'),
    (".yaml", "task: counting\nrounds: 1\n"),
])
def test_an_old_config_file_is_read_with_one_line_and_the_flag_still_wins(
    tmp_path: Path, suffix: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / f"old{suffix}"
    config.write_text(text)
    common = ["--model", "simulated/e=0.5,r=0.5", "--critic", "tool", "--episodes", "3",
              "--max-steps", "3", "--error-policy", "continue", "-q"]
    assert main(["eval", "--config", str(config), *common, "--out", str(tmp_path / "a")]) == 0
    notices = capsys.readouterr().err.strip().splitlines()
    assert len(notices) == 1, notices
    assert str(config) in notices[0] and "-> corrector.max_revisions" in notices[0]
    recorded = read_manifest(tmp_path / "a")["config"]
    assert recorded["corrector"]["max_revisions"] == 1 and "max_rounds" not in recorded
    assert "retry_context" not in recorded["corrector"]
    assert recorded["corrector"]["revision_context"] == ("last" if suffix == ".toml" else "full")
    assert max(e.round for e in read_events(tmp_path / "a")) == 1
    assert main(["eval", "--config", str(config), *common, "--revisions", "0",
                 "--out", str(tmp_path / "b")]) == 0
    assert read_manifest(tmp_path / "b")["config"]["corrector"]["max_revisions"] == 0
    assert max(e.round for e in read_events(tmp_path / "b")) == 0
    # A grid without --revisions takes the file's budget, under either name.
    assert main(["grid", "--config", str(config), *common, "--out", str(tmp_path / "g")]) == 0
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["report", "tool-k1"]


def test_a_flat_config_file_still_runs_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "flat.yaml"
    config.write_text("task: counting\ncritic: tool\nmax_revisions: 2\ncommit_policy: last\n")
    assert main(["eval", "--config", str(config), "--model", "simulated/e=0.5,r=0.5",
                 "--episodes", "2", "--max-steps", "2", "-q", "--out", str(tmp_path / "r")]) == 0
    notices = capsys.readouterr().err.strip().splitlines()
    assert len(notices) == 1 and "critic -> corrector.critic" in notices[0], notices
    corrector = read_manifest(tmp_path / "r")["config"]["corrector"]
    assert (corrector["critic"], corrector["max_revisions"], corrector["commit_policy"]) == (
        "tool", 2, "last")


def test_rounds_is_the_old_spelling_of_revisions_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["counting", "--model", "simulated/e=0.5,r=0.5", "--episodes", "2",
            "--max-steps", "2", "-q"]
    assert main(["eval", *args, "--rounds", "1", "--out", str(tmp_path / "r")]) == 0
    notices = capsys.readouterr().err.strip().splitlines()
    assert len(notices) == 1 and "--rounds is the old spelling of --revisions" in notices[0]
    assert read_manifest(tmp_path / "r")["config"]["corrector"]["max_revisions"] == 1
    # An invalid value is named by the spelling the user typed.
    assert main(["eval", *args, "--rounds", "-1", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "--rounds -1:" in err and "max_revisions" not in err


def test_a_config_file_with_both_names_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "both.toml"
    config.write_text('task = "counting"\nmax_rounds = 1\n[corrector]\nmax_revisions = 2\n')
    assert main(["eval", "--config", str(config), "--out", str(tmp_path / "r"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "max_rounds is an old name of corrector.max_revisions" in err
    assert str(config) in err


@pytest.mark.parametrize("fixture, args, episodes", [
    (SCHEMA_3, SCHEMA_3_ARGS, 3), (SCHEMA_2, SCHEMA_2_ARGS, 5),
], ids=["schema3", "schema2"])
def test_a_run_written_with_max_rounds_resumes_extends_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fixture: Path, args: list[str],
    episodes: int,
) -> None:
    pytest.importorskip("redraft.evals.report")
    run = tmp_path / "run"
    shutil.copytree(fixture, run)
    before = (run / "events.jsonl").read_bytes()
    recorded = read_manifest(run)["config"]
    assert recorded["corrector"]["max_revisions"] == 1 and "max_rounds" not in recorded
    assert recorded["corrector"]["revision_context"] == "full"
    assert "retry_context" not in recorded["corrector"]
    # The same run: resuming with today's option name is accepted, runs nothing and says
    # nothing of old names (redraft wrote them, the user did not).
    capsys.readouterr()
    assert main(["eval", *args, "--revisions", "1", "--episodes", str(episodes),
                 "--out", str(run)]) == 0
    assert capsys.readouterr().err == ""
    assert (run / "events.jsonl").read_bytes() == before
    manifest = read_manifest(run)
    assert len(manifest["resumed_at"]) == 1
    assert manifest["config"]["corrector"]["max_revisions"] == 1
    # Another budget is another run, named by today's field name.
    capsys.readouterr()
    assert main(["eval", *args, "--revisions", "2", "--episodes", str(episodes),
                 "--out", str(run)]) == 2
    assert "max_revisions" in capsys.readouterr().err
    # More episodes extend it: the old episodes are kept, one new one is run.
    assert main(["eval", *args, "--revisions", "1", "--episodes", str(episodes + 1),
                 "--out", str(run)]) == 0
    events = read_events(run)
    check_log(events, range(episodes + 1))
    assert (run / "events.jsonl").read_bytes().startswith(before)
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    config = summary["runs"][0]["config"]
    assert config["corrector"]["max_revisions"] == 1 and "max_rounds" not in config
    # Beside a run of today's names the old one differs in its budget, not in a renamed field.
    today = EvalConfig.model_validate(recorded).model_dump(mode="json")
    today["corrector"]["max_revisions"] = 2
    diffs = setting_differences(config, today)
    assert "max_revisions" in diffs and not [d for d in diffs if "context" in d], diffs
    page = (tmp_path / "report" / "report.html").read_text()
    assert '<td class="name">revisions (k)</td><td>1</td>' in page
