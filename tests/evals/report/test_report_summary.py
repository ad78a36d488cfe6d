"""``write_report``: files written, summary.json in the contract shape, leaky runs labelled."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from synthetic_logs import Policy, write_run

from redraft.core import BadInputError
from redraft.evals.report import build_report, write_report
from redraft.evals.stats import RunData, load_run

REQUIRED = ("e_raw", "e_post", "recovery", "harm", "e_hat", "critic_tpr", "critic_fpr")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("runs")
    none = write_run(base / "none", Policy(e=0.1, revise=False), 60, 15, 1)
    oracle = write_run(base / "oracle", Policy(e=0.1, r=0.9, h=0.0, fpr=0.0), 60, 15, 2,
                       critic="oracle")
    out = base / "report"
    write_report([none, oracle], out, n_boot=200)
    return out


def test_report_writes_html_pngs_and_summary(report_dir: Path) -> None:
    names = {p.name for p in report_dir.iterdir()}
    assert {"report.html", "summary.json", "survival.png", "error_rates.png", "hazard.png",
            "global_error.png"} <= names
    for png in report_dir.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (report_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4
    assert 'src="http' not in html and "<link" not in html  # self-contained


def test_summary_json_has_the_contract_shape(report_dir: Path) -> None:
    text = (report_dir / "summary.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert list(data) == ["runs", "comparison", "headlines"]
    assert {row["run"] for row in data["comparison"]["rows"] if row["leaky"]} == {"oracle"}
    runs = {entry["run"]: entry for entry in data["runs"]}
    assert list(runs) == ["none", "oracle"]
    for entry in runs.values():
        assert {"run", "config", "episodes", "steps", "metrics"} <= set(entry)
        assert entry["episodes"] == 60 and entry["steps"] > 60
        assert entry["n_episodes"] == 60 and entry["unfinished"] == 0
        assert entry["level"] == 0.95
        assert {"e_raw", "e_post", "global_error", "hazard"} <= set(entry["curves"])
        assert entry["survival"]["kaplan_meier"]["survival"][0] == 1.0
        for name in REQUIRED:
            metric = entry["metrics"][name]
            assert set(metric) == {"value", "ci_low", "ci_high"}
    # No critic: critic rates are undefined, so null, never NaN.
    assert runs["none"]["metrics"]["critic_tpr"] == {"value": None, "ci_low": None,
                                                      "ci_high": None}
    assert runs["none"]["config"]["corrector"]["critic"] == "none"
    assert "leaky" not in runs["none"]
    assert runs["oracle"]["leaky"] is True and runs["oracle"]["config"]["leaky"] is True
    value = runs["oracle"]["metrics"]["e_raw"]
    assert value["ci_low"] <= value["value"] <= value["ci_high"]
    assert not math.isnan(value["value"])


def test_html_labels_the_leaky_run(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    assert "Leaky upper bound" in html and "LEAKY upper bound" in html


def test_report_rejects_no_runs_and_duplicate_names(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="at least one run"):
        write_report([], tmp_path / "out")
    run = RunData(name="a")
    with pytest.raises(BadInputError, match="give them labels"):
        build_report([run, run], tmp_path / "out")
    # Labels tell them apart.
    report = build_report([run, run], tmp_path / "out", labels=["first", "second"], n_boot=10)
    assert [s.name for s in report.runs] == ["first", "second"]


@pytest.mark.slow
def test_report_of_an_empty_run_is_null_not_nan(tmp_path: Path) -> None:
    d = tmp_path / "empty"
    d.mkdir()
    (d / "events.jsonl").write_text("")
    report = build_report([load_run(d)], tmp_path / "out", n_boot=10)
    data = json.loads(report.summary.read_text())
    assert data["runs"][0]["episodes"] == 0
    assert data["runs"][0]["metrics"]["e_raw"]["value"] is None


def test_what_a_run_recorded_reaches_the_page_escaped(tmp_path: Path) -> None:
    from redraft.agent import CorrectorConfig
    from redraft.agent.backends import ScriptedBackend
    from redraft.evals import EvalConfig, run_eval

    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    config = EvalConfig(task="addition", model="scripted/inline", episodes=1, max_steps=1,
                        corrector=CorrectorConfig(critic="tool", max_revisions=1))
    run_dir = tmp_path / "<b>run</b>"
    run_eval(config, run_dir, backend=ScriptedBackend([hostile] * 4))
    html = build_report([load_run(run_dir)], tmp_path / "report", n_boot=20).html.read_text()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>run</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the page's own: figures-loaded marker
