"""The findings page: its tables come from run logs through ``redraft report`` alone.

Two checks hold the page to its data: the tables rebuilt from a small committed log (two
simulated runs under tests/data/findings/runs) equal the committed expected markdown, and
the committed ``docs/findings.md`` equals what the generator writes from the committed
summaries under ``docs/findings/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from redraft.evals.cli import main
from redraft.evals.findings import (
    SCALES,
    Findings,
    FindingsOptions,
    group_tables,
    load_findings,
    page_path,
    plan,
    render_page,
)
from redraft.evals.findings._page import _newcombe, _verdict
from redraft.evals.report import write_report

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "findings"
DOCS = ROOT / "docs" / "findings"


@pytest.fixture(scope="module")
def tiny_summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("report")
    runs = tmp_path_factory.mktemp("runs")
    dirs = []
    for name in ("none-k0", "tool-k1"):  # copied: loading a run may take its lock
        shutil.copytree(DATA / "runs" / name, runs / name)
        dirs.append(runs / name)
    report = write_report(dirs, out)
    summary: dict[str, object] = json.loads(report.summary.read_text(encoding="utf-8"))
    return summary


def test_tables_rebuilt_from_the_committed_log_equal_the_expected_markdown(
    tiny_summary: dict[str, object],
) -> None:
    tables = "\n".join(group_tables(tiny_summary)) + "\n"
    expected = (DATA / "expected_tables.md").read_text(encoding="utf-8")
    assert tables == expected


def test_the_page_from_the_tiny_log_states_its_contrasts_from_the_numbers(
    tiny_summary: dict[str, object],
) -> None:
    meta = {"scale": "quick", "groups": [{"name": "tiny", "title": "tiny simulated runs"}],
            "command": "redraft findings --out x", "seed": 0}
    page = render_page(Findings({"tiny": tiny_summary}, meta))
    row = next(r for r in tiny_summary["comparison"]["rows"]  # type: ignore[index]
               if r["metric"] == "e_post")
    diff = row["difference"]
    excluded = diff["ci_low"] > 0 or diff["ci_high"] < 0
    if excluded:
        assert "1 of 1 contrasts have an interval that excludes zero (" in page
    else:
        assert "None of the 1 contrasts has an interval that excludes zero" in page
    assert "**Scale: `quick`.**" in page
    assert "CRITIC" in page and "Huang et al. 2023" in page and "Acher 2023" in page


def test_the_committed_page_is_what_its_committed_summaries_produce() -> None:
    page = page_path(DOCS)
    assert page.is_file(), "docs/findings.md is missing: run 'redraft findings --out docs/findings'"
    assert page.read_text(encoding="utf-8") == render_page(load_findings(DOCS))


def test_committed_findings_artefacts_stay_small() -> None:
    total = sum(p.stat().st_size for p in DOCS.rglob("*") if p.is_file())
    assert total < 2_000_000


def test_a_difference_whose_interval_holds_zero_is_no_detectable_effect() -> None:
    assert _verdict({"value": -0.05, "ci_low": -0.1, "ci_high": 0.01})[1] == 0
    assert _verdict({"value": -0.05, "ci_low": -0.1, "ci_high": 0.01})[0].startswith(
        "no detectable effect")
    assert _verdict({"value": -0.05, "ci_low": -0.1, "ci_high": -0.01}) [1] == -1
    assert _verdict({"value": 0.05, "ci_low": 0.01, "ci_high": 0.1})[1] == 1
    assert _verdict({"value": None, "ci_low": None, "ci_high": None})[1] == 0


def test_newcombe_interval_of_two_proportions() -> None:
    # 10/40 against 30/40: Newcombe's hybrid score interval (his method 10) is [0.29, 0.65].
    diff = _newcombe((10, 40), (30, 40), 0.95)
    assert diff["value"] == pytest.approx(0.5)
    assert diff["ci_low"] == pytest.approx(0.29, abs=0.01)
    assert diff["ci_high"] == pytest.approx(0.65, abs=0.01)


def test_the_grid_holds_every_critic_on_held_out_episodes_twice_the_training_length(
    tmp_path: Path,
) -> None:
    trains, groups = plan(FindingsOptions(out=tmp_path / "o", work=tmp_path / "w"))
    scale = SCALES["quick"]
    assert [t.regime for t in trains] == ["expert", "retry", "scratchpad"]
    names = {g.name: g for g in groups}
    assert set(names) == {"testbed-expert", "testbed-retry", "testbed-scratchpad", "regimes",
                          "smollm2-chess", "smollm2-addition", "simulated"}
    critics = [r.config["critic"] for r in names["testbed-retry"].runs]
    assert critics == ["none", "tool", "self", "resample"]
    for run in names["testbed-expert"].runs:
        assert run.config["max_steps"] == 2 * scale.train_episode_steps
        assert run.config["max_rounds"] in (0, scale.rounds)  # equal budgets
    chess = names["smollm2-chess"].runs
    assert [r.config["critic"] for r in chess] == ["none", "tool", "constrained"]
    assert all(r.config["representation"] == "legal" and r.config["opponent"] == "random"
               for r in chess)
    monologue = [r for r in names["simulated"].runs
                 if r.config["corrector"]["monologue"]]  # type: ignore[index]
    assert len(monologue) == 4


def test_with_a_model_the_same_grid_runs_on_it_and_nothing_is_trained(tmp_path: Path) -> None:
    trains, groups = plan(FindingsOptions(out=tmp_path, model="openai/m@http://127.0.0.1:1/v1"))
    assert trains == []
    names = [g.name for g in groups]
    assert names == ["model-running_sum", "model-chess", "model-addition", "simulated"]
    models = {r.config["model"] for g in groups[:3] for r in g.runs}
    assert models == {"openai/m@http://127.0.0.1:1/v1"}


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["findings", "--out", str(tmp_path), "--scale", "huge"])
    assert exc.value.code == 2
    assert main(["findings", "--out", str(tmp_path / "none"), "--page-only"]) == 2
    assert "meta.json is missing" in capsys.readouterr().err


def test_one_command_runs_reports_writes_the_page_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redraft.evals.findings import Scale, run_findings

    tiny = Scale(train_steps=1, train_minutes=1, train_episode_steps=2, episodes=3, rounds=1,
                 embedded_episodes=2, chess_steps=2, addition_steps=2, simulated_episodes=3)
    monkeypatch.setitem(SCALES, "quick", tiny)
    options = FindingsOptions(out=tmp_path / "docs" / "f", work=tmp_path / "w",
                              model="simulated/e=0.3,r=0.5")
    page = run_findings(options)
    assert page == tmp_path / "docs" / "f.md"
    text = page.read_text(encoding="utf-8")
    assert text == render_page(load_findings(options.out))
    meta = json.loads((options.out / "meta.json").read_text(encoding="utf-8"))
    # The simulated backend cannot constrain decoding: that run is named as not applicable.
    assert [s["run"] for s in meta["skipped"]] == ["constrained-k1"]
    assert "Not applicable, so not run" in text
    assert (options.out / "survival.png").stat().st_size > 0
    events = options.work / "runs" / "model-running_sum" / "none-k0" / "events.jsonl"
    before = events.read_bytes()
    assert run_findings(options).read_text(encoding="utf-8") == text  # a rerun resumes
    assert events.read_bytes() == before
