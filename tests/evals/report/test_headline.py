"""Headline sentences and warnings, on real runs whose answers are scripted to be degenerate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from redraft.agent.backends import GenerationRequest, ScriptedBackend
from redraft.evals import EvalConfig, run_eval
from redraft.evals.report import (
    build_report,
    profile_run,
    run_headline,
    setting_differences,
    trend_power,
)
from redraft.evals.report._headline import _effect
from redraft.evals.stats import Estimate, analyze_run, load_run


def _column_sum(request: GenerationRequest) -> int:
    text = "\n".join(m.content for m in request.messages)
    a, b = re.search(r"Add (\d+) \+ (\d+)", text).groups()  # type: ignore[union-attr]
    carry = int(re.search(r"Carry from the previous column: (\d)", text).group(1))  # type: ignore[union-attr]
    column = int(re.search(r"Now the (\d+)\w\w column", text).group(1))  # type: ignore[union-attr]
    return int(a[-column]) + int(b[-column]) + carry


def _lenient_reviser(request: GenerationRequest) -> str:
    """Round 0 unreadable; the revision right, but only as a column sum in prose."""
    if request.purpose == "propose":
        return "I am not sure."
    return f"So the column sum is {_column_sum(request):02d}."


def _run(tmp: Path, name: str, outputs: object, **fields: object) -> Path:
    config = EvalConfig.model_validate({"task": "addition", "model": "scripted/inline",
                                        "critic": "tool", "max_rounds": 2, "episodes": 6,
                                        "max_steps": 4, "batch_size": 1,
                                        "task_options": {"digits": 4}, **fields})
    backend = ScriptedBackend([outputs] * 200)  # type: ignore[list-item]
    run_eval(config, tmp / name, backend=backend)
    return tmp / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("headline")
    return {
        "lenient": _run(tmp, "lenient", _lenient_reviser),
        "stuck": _run(tmp, "stuck", "I am not sure."),
    }


def test_lenient_recoveries_are_counted_and_warned(runs: dict[str, Path]) -> None:
    run = load_run(runs["lenient"])
    profile = profile_run(run, runs["lenient"] / "events.jsonl")
    reading = profile.lenient
    assert reading.correct == reading.correct_lenient == profile.steps == 24
    assert reading.recovered == reading.recovered_lenient == 24
    assert profile.stop_reasons == {"accepted": 24}
    assert any("column sum" in note for note in reading.notes)
    headline = run_headline(analyze_run(run, n_boot=50), profile)
    lenient = [c for c in headline.caveats if c.kind == "lenient"]
    assert len(lenient) == 1
    assert "24 of the 24 answers of lenient judged correct were read leniently" in (
        lenient[0].text)
    assert "24 of the 24 recoveries" in lenient[0].text and "strict=true" in lenient[0].text
    # The transcripts show the oracle's lenient reading.
    sample = profile.transcripts[0]
    assert sample.kind == "recovered"
    assert "read leniently" in str(sample.rounds[-1].judgement)


def test_the_repeat_rule_is_named_when_it_cuts_steps_short(runs: dict[str, Path]) -> None:
    run = load_run(runs["stuck"])
    profile = profile_run(run)
    assert profile.stop_reasons == {"repeated_error": 6}
    assert profile.revisions == {1: 6} and profile.stopped_early == 6
    headline = run_headline(analyze_run(run, n_boot=50), profile)
    kinds = {c.kind: c.text for c in headline.caveats}
    assert "6 of 6 steps of stuck stopped at repeated_error before using their k=2" in (
        kinds["repeat_rule"])
    assert "corrector.repeat_limit" in kinds["repeat_rule"]
    # Every episode ends at its first step (stop policy, every answer wrong).
    assert {"one_step", "untestable", "all_same"} <= set(kinds)
    assert "Whether errors compound cannot be told" in headline.text
    power = trend_power(analyze_run(run, n_boot=50))
    assert power.at_risk_after_first == 0 and not power.testable


def test_a_run_without_errors_says_there_is_nothing_to_compound(tmp_path: Path) -> None:
    config = EvalConfig(task="addition", model="simulated/e=0,r=0,h=0", critic="none",
                        max_rounds=0, episodes=20, max_steps=5)
    run_eval(config, tmp_path / "clean")
    stats = analyze_run(load_run(tmp_path / "clean"), n_boot=50)
    headline = run_headline(stats)
    assert "No committed error in" in headline.text
    assert {c.kind for c in headline.caveats} == {"all_same", "no_errors"}


def test_effects_in_words() -> None:
    def est(value: float, low: float, high: float) -> Estimate:
        return Estimate(value=value, ci_low=low, ci_high=high, n=100)

    what = "the error after correction"
    assert _effect(est(-0.008, -0.047, 0.031), what) == (
        "changed the error after correction by −0.008 [−0.047, 0.031]: no detectable effect")
    assert _effect(est(-0.05, -0.08, -0.02), what).startswith(
        "lowered the error after correction by −0.050")
    assert _effect(est(0.05, 0.02, 0.08), what).endswith("a detectable increase")
    assert "undefined" in _effect(Estimate.undefined(), what)


def test_setting_differences_ignore_seeds_and_the_unused_budget() -> None:
    base = {"task": "chess", "model": "m", "critic": "none", "max_rounds": 0, "seed": 1,
            "episodes": 10, "corrector": {"repeat_limit": 2}}
    tool = {**base, "critic": "tool", "max_rounds": 2, "seed": 7, "episodes": 40}
    assert setting_differences(base, tool) == ["critic"]  # type: ignore[arg-type]
    other = {**tool, "model": "n", "corrector": {"repeat_limit": None}}
    assert setting_differences(tool, other) == ["model", "corrector.repeat_limit"]  # type: ignore[arg-type]


def test_two_runs_with_the_same_directory_name_get_told_apart(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    run = load_run(runs["stuck"])
    report = build_report([run, run], tmp_path / "rep", labels=["before", "after"], n_boot=20)
    subjects = [h.subject for h in report.headlines]
    assert subjects == ["before", "after", "after vs before"]
    assert re.fullmatch(
        r"A replicate of before \(the same settings\): the error after correction differs by "
        r"0\.000 \[−\d\.\d{3}, \d\.\d{3}\]: no detectable difference\.",
        report.headlines[-1].text), report.headlines[-1].text


def test_the_strict_task_option_counts_lenient_answers_as_errors(tmp_path: Path) -> None:
    strict = _run(tmp_path, "strict", _lenient_reviser,
                  task_options={"digits": 4, "strict": True})
    run = load_run(strict)
    profile = profile_run(run)
    assert profile.lenient.correct == 0 and profile.steps == 6  # every episode ends at once
    stats = analyze_run(run, n_boot=50)
    assert stats.metrics["e_post"].value == 1.0
    feedback = run.episodes[0].rounds[1].feedback
    assert feedback is not None and feedback.code == "invalid_syntax"
    assert "read strictly" in feedback.message
