"""``redraft report`` labels, ``redraft eval --label``, and the sentences the report prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redraft.evals import read_manifest
from redraft.evals.cli import main

MODEL = "simulated/e=0.2,r=0.5"


def _eval(out: Path, *extra: str) -> int:
    return main(["eval", "addition", "--model", MODEL, "--episodes", "8", "--max-steps", "4",
                 "--task-option", "digits=4", "--out", str(out), "-q", *extra])


def _names(report: Path) -> list[str]:
    return [r["run"] for r in json.loads((report / "summary.json").read_text())["runs"]]


def test_runs_whose_directories_share_a_name_are_told_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a" / "run", tmp_path / "b" / "run"
    assert _eval(a, "--critic", "none") == 0
    assert _eval(b, "--critic", "tool") == 0
    # Without labels the parent directories tell them apart.
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "r1")]) == 0
    assert _names(tmp_path / "r1") == ["a/run", "b/run"]
    # With labels, the labels name them.
    assert main(["report", f"{a}=no critic", f"{b}=tool", "--out", str(tmp_path / "r2")]) == 0
    assert _names(tmp_path / "r2") == ["no critic", "tool"]
    err = capsys.readouterr().err
    assert "tool vs no critic: Tool feedback (critic=tool, k=2 instead of none)" in err


def test_eval_label_names_the_run_in_reports(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _eval(run, "--label", "tool, k=2") == 0
    assert read_manifest(run)["label"] == "tool, k=2"
    assert _eval(run) == 0  # resuming keeps the label; a label is not part of the config
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 0
    assert _names(tmp_path / "rep") == ["tool, k=2"]


def test_bad_labels_and_the_same_run_twice_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert _eval(run) == 0
    capsys.readouterr()
    assert main(["report", f"{run}=", "--out", str(tmp_path / "rep")]) == 2
    assert "label after '=' is empty" in capsys.readouterr().err
    assert main(["report", str(run), str(run), "--out", str(tmp_path / "rep")]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["report", f"{run}=x", f"{run}=y", "--out", str(tmp_path / "rep")]) == 2
    assert _eval(tmp_path / "other", "--label", "  ") == 2


def test_report_of_a_grid_folder_reports_its_runs_in_the_grid_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = tmp_path / "grid"
    assert main(["grid", "addition", "--model", MODEL, "--critic", "tool,none", "--rounds", "1",
                 "--episodes", "4", "--max-steps", "3", "--task-option", "digits=3",
                 "--out", str(grid), "-q"]) == 0
    capsys.readouterr()
    # The grid's parent folder, not a run: its runs are reported, baseline (tool) first.
    assert main(["report", str(grid), "--out", str(tmp_path / "rep")]) == 0
    err = capsys.readouterr().err
    assert f"{grid} holds no run itself; reporting the 2 runs inside it: tool-k1, none-k0" in err
    assert _names(tmp_path / "rep") == ["tool-k1", "none-k0"]
    assert main(["report", f"{grid}=x", "--out", str(tmp_path / "rep2")]) == 2
    assert "label its runs one by one" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty), "--out", str(tmp_path / "rep3")]) == 2
    assert "is not a run directory (no manifest.json)" in capsys.readouterr().err
