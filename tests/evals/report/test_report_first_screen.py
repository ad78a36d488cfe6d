"""The report's first screen, as a browser shows it: sentences and warnings in plain words.

Real runs (the runner, the log, the statistics) on the simulated backend: a degenerate run
whose every episode errs at step 1 (the quickstart's case), a healthy one, and a baseline.
The page is rendered by headless Chromium and its visible text is searched.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from headless import CHROMIUM, chromium, needs_chromium
from matplotlib import image

from redraft.agent import CorrectorConfig
from redraft.evals import EvalConfig, run_eval
from redraft.evals.report import Report, write_report

pytestmark = pytest.mark.slow


def _visible_text(dom: str) -> str:
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.DOTALL)
    dom = re.sub(r'src="data:[^"]*"', "", dom)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    base = tmp_path_factory.mktemp("first_screen")
    common = {"task": "addition", "max_steps": 8, "seed": 3}
    runs = {
        # No critic: the baseline.
        "none": EvalConfig(model="simulated/e=0.1,r=0.6,h=0.02", episodes=150,
                           corrector=CorrectorConfig(critic="none", max_revisions=0), **common),
        # Tool feedback on the same model: differs from the baseline in the critic only.
        "tool": EvalConfig(model="simulated/e=0.1,r=0.6,h=0.02", episodes=150,
                           corrector=CorrectorConfig(critic="tool"), **common),
        # Every answer wrong, errors counted and replaced: every first error is at step 1.
        "wall": EvalConfig(model="simulated/e=1.0,r=0,h=0", episodes=30,
                           corrector=CorrectorConfig(critic="tool"), error_policy="continue",
                           **common),
        # Few episodes, a steeply rising hazard: the test rejects at its simulated floor,
        # though its power is low.
        "rising": EvalConfig(model="simulated/e=0.03,growth=0.5", episodes=20,
                             corrector=CorrectorConfig(critic="none", max_revisions=0),
                             **common),
    }
    for name, config in runs.items():
        run_eval(config, base / name)
    return write_report([base / name for name in runs], base / "report", n_boot=300)


@pytest.fixture(scope="module")
def page_text(report: Report, tmp_path_factory: pytest.TempPathFactory) -> str:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    result = chromium(tmp_path_factory.mktemp("dom"), "--dump-dom", report.html.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    return _visible_text(result.stdout)


@needs_chromium
def test_first_screen_says_the_degenerate_test_is_uninformative_and_why(page_text: str) -> None:
    first = page_text[: page_text.index("Runs setting")]  # before the first table
    assert "wall. simulated/e=1.0,r=0,h=0 on addition (tool feedback, k=2)" in first
    assert "Whether errors compound cannot be told" in first
    assert ("every one of the 30 episodes had its first committed error at step 1, so none "
            "was still error-free at step 2") in first
    assert "Uninformative test: The compounding test of wall is uninformative" in first
    # Under the continue policy the later steps are still measured, and the page says so.
    assert "Episodes went on after errors: the first proposals' error e_raw(t)" in first
    assert "Degenerate rates: Every judged answer of wall was wrong" in first


@needs_chromium
def test_first_screen_states_each_run_and_comparison_with_intervals(page_text: str) -> None:
    first = page_text[: page_text.index("Runs setting")]
    interval = r"−?\d\.\d{3} \[−?\d\.\d{3}, −?\d\.\d{3}\]"
    sentence = re.search(rf"tool\. .*?the error per step was ({interval}) before correction and "
                         rf"({interval}) after\.", first)
    assert sentence is not None, first[:2000]
    size = r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]"  # a decrease's size: no minus sign
    comparison = re.search(
        rf"tool vs none\. Tool feedback \(critic=tool, k=2 instead of none\) lowered the error "
        rf"after correction by ({size}): a detectable decrease\.", first)
    assert comparison is not None, first
    # The wall run differs from the baseline in model, critic and error policy.
    assert "Not comparable: wall and none differ in more than the setting compared" in first
    assert "error_policy: stop vs continue" in first


@needs_chromium
def test_the_page_words_effects_p_values_and_unrevised_steps_plainly(page_text: str) -> None:
    assert "by −" not in page_text and "−0.000" not in page_text
    # The rising run's test is at its simulated floor (999 draws): a bound, not an equality;
    # and having rejected, it gets no "little power" warning.
    assert "rising. simulated/e=0.03,growth=0.5" in page_text
    assert "Errors compound: the hazard of a first committed error rises with the step " \
        "(p < 0.001)" in page_text
    assert "p = 0.001" not in page_text
    assert "Little power: The compounding test of rising" not in page_text
    assert "Little power: The compounding test of tool" in page_text  # did not reject
    transcripts = page_text[page_text.index("Sample transcripts"):]
    none = transcripts[transcripts.index("none (log:"): transcripts.index("tool (log:")]
    rising = transcripts[transcripts.index("rising (log:"):]
    assert "wrong at round 0 and not revised" in none  # e=0.1 over 8 steps: some errors
    assert "after revision" not in none + rising  # the runs without a critic revised nothing


@needs_chromium
def test_runs_table_names_every_setting_and_stop_reason(page_text: str) -> None:
    runs = page_text[page_text.index("Runs setting"): page_text.index("Metrics metric")]
    for words in ("model", "task", "representation", "verifier", "critic mode", "revisions (k)",
                  "repeat limit", "error policy", "why steps stopped revising",
                  "committed answers read leniently", "no_critic: 8", "accepted:",
                  "rounds_exhausted:"):
        assert words in runs, words


@needs_chromium
def test_transcripts_cite_log_lines_that_hold_the_rounds(report: Report, page_text: str) -> None:
    assert "Sample transcripts" in page_text
    profile = next(p for p in report.profiles if p.name == "tool")
    sample = profile.transcripts[0]
    assert sample.kind == "recovered" and len(sample.rounds) >= 2
    log = Path(str(profile.log)).read_text().splitlines()
    for r in sample.rounds:
        assert r.line is not None
        record = json.loads(log[r.line - 1])
        assert (record["kind"], record["episode"], record["step"], record["round"]) == (
            "round", sample.episode, sample.step, r.round)
        assert f"events.jsonl line {r.line}" in page_text


def test_summary_json_carries_the_sentences_and_warnings(report: Report) -> None:
    data = json.loads(report.summary.read_text())
    by_subject = {h["subject"]: h for h in data["headlines"]}
    assert set(by_subject) == {"none", "tool", "wall", "rising", "tool vs none", "wall vs none",
                               "rising vs none"}
    kinds = {w["kind"] for w in by_subject["wall"]["warnings"]}
    assert {"untestable", "all_same"} <= kinds
    assert [w["kind"] for w in by_subject["wall vs none"]["warnings"]] == ["not_comparable"]
    assert by_subject["tool vs none"]["warnings"] == []


@needs_chromium
def test_screenshot_shows_warnings_on_the_first_screen(report: Report, tmp_path: Path) -> None:
    shot = tmp_path / "first.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900",
                       report.html.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    pixels = image.imread(str(shot))[..., :3]
    # The warning boxes' background (#fff3cd) fills part of the first 900 pixels.
    warn = (np.abs(pixels - np.array((0xFF, 0xF3, 0xCD)) / 255).max(axis=-1) < 0.02).mean()
    assert warn > 0.02, f"no warning box on the first screen ({warn:.1%})"
