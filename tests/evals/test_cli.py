"""The ``redraft`` command line: exit statuses, one-line messages, plug-ins, config files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_counting
from redraft_logcheck import check_log

from redraft.evals import read_events, read_manifest
from redraft.evals.cli import main
from redraft.evals.tasks import tasks

tasks.add("counting", redraft_counting.CountingTask)

MODEL = "simulated/e=0.2,r=0.5"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = redraft_counting.install(
        tmp_path_factory.mktemp("plugin"), verifier="plugged_in_verifier"
    )
    return {**os.environ, "PYTHONPATH": str(root)}


def _redraft(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redraft.evals.cli", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )


def _eval_args(out: Path, *extra: str) -> list[str]:
    return ["eval", "counting", "--model", MODEL, "--episodes", "3", "--max-steps", "4",
            "--out", str(out), "-q", *extra]


def _assert_bad_input(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0, f"not one line: {message!r}"
    assert message.startswith("redraft: ")
    for word in words:
        assert word in message, message


@pytest.mark.slow
def test_malformed_config_file_exits_2(tmp_path: Path, plugin_env: dict[str, str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('task = "counting"\nepisodes = [unclosed\n')
    result = _redraft(plugin_env, *_eval_args(tmp_path / "run", "--config", str(config)))
    _assert_bad_input(result, "bad.toml", "malformed")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_invalid_config_values_exit_2(tmp_path: Path, plugin_env: dict[str, str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("task: counting\nepisodes: 0\ncorrector: {critic: telepathy}\nbogus: 1\n")
    result = _redraft(plugin_env, "eval", "--config", str(config), "--out", str(tmp_path / "r"))
    # Each field is named with the file it came from.
    _assert_bad_input(result, f"{config}: episodes", f"{config}: corrector.critic",
                      f"{config}: bogus")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (["eval", "no_such_task"], ["unknown task 'no_such_task'", "counting"]),
        (["--model", "nosuch/x"], ["unknown backend 'nosuch'", "simulated"]),
        (["--verifier", "no_such_verifier"], ["unknown verifier", "plugged_in_verifier"]),
    ],
)
@pytest.mark.slow
def test_unknown_names_exit_2(
    tmp_path: Path, plugin_env: dict[str, str], change: list[str], words: list[str]
) -> None:
    args = _eval_args(tmp_path / "run")
    if change[0] == "eval":
        args[:2] = change
    else:
        args += change
    _assert_bad_input(_redraft(plugin_env, *args), *words)


@pytest.mark.slow
def test_unwritable_output_dir_exits_2(tmp_path: Path, plugin_env: dict[str, str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = _redraft(plugin_env, *_eval_args(blocker / "run"))
    _assert_bad_input(result, "output directory", "--out")


@pytest.mark.slow
def test_list_shows_plugins_from_entry_points(plugin_env: dict[str, str]) -> None:
    result = _redraft(plugin_env, "list")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "verifiers:" in out and "tasks:" in out and "backends:" in out
    verifiers = out.split("verifiers:")[1].split("backends:")[0]
    assert "plugged_in_verifier" in verifiers
    assert "redraft_counting:CountingVerifier" in verifiers
    assert "counting" in out.split("tasks:")[1].split("verifiers:")[0]
    assert "simulated" in out.split("backends:")[1]


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        'task = "counting"\nmodel = "simulated/e=0.3"\nepisodes = 7\nmax_steps = 3\n'
        '[corrector]\ncritic = "self"\nrevision_context = "last"\n'
    )
    out = tmp_path / "run"
    assert main(["eval", "--config", str(config), "--episodes", "4", "--out", str(out), "-q"]) == 0
    recorded = read_manifest(out)["config"]
    assert (recorded["episodes"], recorded["max_steps"]) == (4, 3)
    assert recorded["corrector"]["critic"] == "self"
    assert recorded["corrector"]["revision_context"] == "last"
    check_log(read_events(out), range(4))
    # The same command resumes; another config is refused with status 2 (more episodes
    # would extend the run, see test_extend.py).
    assert main(["eval", "--config", str(config), "--episodes", "4", "--out", str(out), "-q"]) == 0
    assert main(["eval", "--config", str(config), "--episodes", "4", "--max-steps", "4",
                 "--out", str(out), "-q"]) == 2


def test_the_commit_policy_is_a_flag_recorded_in_the_manifest_and_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("redraft.evals.report")
    out = tmp_path / "run"
    args = _eval_args(out, "--critic", "self+tool", "--commit-policy", "last")
    assert main(args) == 0
    recorded = read_manifest(out)["config"]
    assert recorded["corrector"]["commit_policy"] == "last" and "commit_policy" not in recorded
    steps = [e for e in read_events(out) if e.kind == "step"]
    assert all(s.committed_round == s.round for s in steps)  # type: ignore[union-attr]
    # It is part of the run's identity: resuming with the default policy is refused.
    capsys.readouterr()
    assert main(_eval_args(out, "--critic", "self+tool")) == 2
    assert "corrector.commit_policy: 'last' -> 'last_accepted'" in capsys.readouterr().err
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert '<td class="name">commit policy</td><td>last</td>' in page
    with pytest.raises(SystemExit) as refused:
        main(_eval_args(tmp_path / "bad", "--commit-policy", "first"))
    assert refused.value.code == 2


def test_revisions_is_the_rounds_option_under_its_own_name(tmp_path: Path) -> None:
    # --rounds K counts revisions: K=1 gives steps of up to 2 rounds; --revisions is the same.
    assert main(_eval_args(tmp_path / "a", "--rounds", "1", "--error-policy", "continue")) == 0
    assert main(_eval_args(tmp_path / "b", "--revisions", "1", "--error-policy", "continue")) == 0
    for run in ("a", "b"):
        assert read_manifest(tmp_path / run)["config"]["corrector"]["max_revisions"] == 1
    rounds = [e.round for e in read_events(tmp_path / "a") if e.kind == "round"]
    assert max(rounds) == 1
    assert read_events(tmp_path / "a") != [] and [
        (e.kind, e.episode, e.step, e.round) for e in read_events(tmp_path / "a")
    ] == [(e.kind, e.episode, e.step, e.round) for e in read_events(tmp_path / "b")]


def test_task_options_reach_the_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _eval_args(tmp_path / "run", "--representation", "braille")
    assert main(args) == 2
    assert "braille" in capsys.readouterr().err
    args = _eval_args(tmp_path / "run2", "--task-option", "colour=4", "--shard", "1/2")
    assert main(args) == 0
    recorded = read_manifest(tmp_path / "run2")["config"]
    assert recorded["task_options"] == {"colour": 4}
    assert recorded["shard"] == {"index": 1, "count": 2}
    check_log(read_events(tmp_path / "run2"), [1])


def test_bad_shard_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_eval_args(tmp_path / "run", "--shard", "3/3")) == 2
    assert "shard" in capsys.readouterr().err


def test_shards_merge_from_the_command_line(tmp_path: Path) -> None:
    for index in range(2):
        args = _eval_args(tmp_path / f"s{index}", "--shard", f"{index}/2")
        assert main(args) == 0
    assert main(["merge", str(tmp_path / "s0"), "--out", str(tmp_path / "bad")]) == 2
    assert main(["merge", str(tmp_path / "s0"), str(tmp_path / "s1"),
                 "--out", str(tmp_path / "all")]) == 0
    check_log(read_events(tmp_path / "all"), range(3))
    assert read_manifest(tmp_path / "all")["config"]["shard"] is None


def test_grid_runs_every_combination_then_reports(tmp_path: Path) -> None:
    pytest.importorskip("redraft.evals.report")
    out = tmp_path / "grid"
    args = ["grid", "counting", "--model", MODEL, "--critic", "none,tool", "--revisions", "0,2",
            "--episodes", "4", "--max-steps", "4", "--out", str(out), "-q"]
    assert main(args) == 0
    runs = sorted(p.name for p in out.iterdir() if p.name != "report")
    # Without a critic the revision budget is unused, so none-k2 collapses into none-k0.
    assert runs == ["none-k0", "tool-k0", "tool-k2"]
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert sorted(r["run"] for r in summary["runs"]) == runs
    # Rerunning the grid resumes every run and rewrites the report.
    assert main(args) == 0


def test_report_of_a_missing_run_exits_2(tmp_path: Path) -> None:
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "rep")]) == 2


def test_progress_bar_shows_steps_and_error_rates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: nothing is cut short

    from redraft.evals import EvalConfig, run_eval
    from redraft.evals._progress import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(stream, enabled=True, max_steps=4, title="run 1/1 x")
    config = EvalConfig(task="counting", model=MODEL, episodes=6, max_steps=4)
    run_eval(config, tmp_path / "run", observers=[bar])
    shown = stream.getvalue()
    assert "run 1/1 x" in shown and "steps" in shown and "e_raw" in shown
    assert "6/6 episodes" in shown and "steps/s" in shown
    # Not a terminal: plain lines with the same information.
    plain = io.StringIO()
    run_eval(config.model_copy(update={"episodes": 12}), tmp_path / "run2",
             observers=[ProgressBar(plain, max_steps=4, title="run 2/2 y")])
    lines = plain.getvalue().splitlines()
    assert lines[0] == "run 2/2 y: 12 episodes, at most 48 steps"
    assert all(line.startswith("run 2/2 y: ") for line in lines)
    assert "12/12 episodes" in lines[-1] and "took" in lines[-1] and "e_post" in lines[-1]
    assert "\x1b" not in plain.getvalue()  # no terminal escapes in a log file
    quiet = io.StringIO()
    run_eval(config, tmp_path / "run", observers=[ProgressBar(quiet, enabled=False)])
    assert quiet.getvalue() == ""


@pytest.mark.slow
def test_sigint_exits_130_and_a_rerun_resumes(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) ends a run with 130, as shells report it; the README says so."""
    import signal
    import time

    out = tmp_path / "run"
    args = ["eval", "addition", "--model", MODEL, "--episodes", "1000000", "--max-steps", "4",
            "--out", str(out), "-q"]
    # SIGINT as a shell leaves it for a foreground job: handled by default. A test run
    # started as a background job of a non-interactive shell inherits it ignored, and an
    # ignored SIGINT stays ignored in redraft (as in any program), so set it here.
    process = subprocess.Popen([sys.executable, "-m", "redraft.evals.cli", *args],
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    events = out / "events.jsonl"
    deadline = time.monotonic() + 120
    while not (events.is_file() and events.stat().st_size > 0):  # inside the run loop
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        "redraft: interrupted; rerun the same command to resume")
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "130 interrupted" in readme
