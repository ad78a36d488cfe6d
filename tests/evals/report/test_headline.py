"""Headline sentences and warnings, on real runs whose answers are scripted to be degenerate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from redraft.agent import CorrectorConfig
from redraft.agent.backends import Generation, GenerationRequest, ScriptedBackend
from redraft.core import Cost
from redraft.evals import EvalConfig, run_eval
from redraft.evals.report import build_report
from redraft.evals.report._headline import (
    _effect,
    _interval,
    _num,
    judged_steps,
    p_clause,
    p_text,
    run_headline,
)
from redraft.evals.report._power import trend_power
from redraft.evals.report._profile import Transcript, TranscriptRound, profile_run
from redraft.evals.report._settings import setting_differences
from redraft.evals.report._transcripts import kind_words
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


def _run(tmp: Path, name: str, outputs: object, critic: str = "tool", max_revisions: int = 2,
         **fields: object) -> Path:
    config = EvalConfig.model_validate({"task": "addition", "model": "scripted/inline",
                                        "episodes": 6, "max_steps": 4, "batch_size": 1,
                                        "corrector": {"critic": critic,
                                                      "max_revisions": max_revisions},
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
    config = EvalConfig(task="addition", model="simulated/e=0,r=0,h=0", episodes=20,
                        max_steps=5, corrector=CorrectorConfig(critic="none", max_revisions=0))
    run_eval(config, tmp_path / "clean")
    stats = analyze_run(load_run(tmp_path / "clean"), n_boot=50)
    headline = run_headline(stats)
    assert "No committed error in" in headline.text
    assert {c.kind for c in headline.caveats} == {"all_same", "no_errors"}


def _all_cut(request: GenerationRequest) -> Generation:
    return Generation(text="I think", finish_reason="length", usage=Cost(completion_tokens=2))


def test_a_run_with_nothing_judged_says_so_instead_of_no_committed_error(tmp_path: Path) -> None:
    run = _run(tmp_path, "cut", _all_cut, critic="none", max_revisions=0, episodes=2,
               max_steps=2)
    stats = analyze_run(load_run(run), n_boot=50)
    assert stats.metrics["e_post"].n == 0
    headline = run_headline(stats, profile_run(load_run(run)))
    assert "none of its committed answers could be judged" in headline.text
    assert "No committed error" not in headline.text and "ê" not in headline.text
    kinds = {c.kind for c in headline.caveats}
    assert "no_data" in kinds and "unknown" in kinds and "no_errors" not in kinds


def _est(value: float, low: float, high: float) -> Estimate:
    return Estimate(value=value, ci_low=low, ci_high=high, n=100)


def test_effects_in_words() -> None:
    what = "the error after correction"
    assert _effect(_est(-0.008, -0.047, 0.031), what) == (
        "did not detectably change the error after correction (Δ = −0.008 [−0.047, 0.031]): "
        "no detectable effect")
    # A decrease is "lowered by" its size, never "by −": the interval's ends swap places.
    assert _effect(_est(-0.95, -0.99, -0.9), what) == (
        "lowered the error after correction by 0.950 [0.900, 0.990]: a detectable decrease")
    assert _effect(_est(0.05, 0.02, 0.08), what) == (
        "raised the error after correction by 0.050 [0.020, 0.080]: a detectable increase")
    assert "undefined" in _effect(Estimate.undefined(), what)


def test_estimates_that_round_to_zero_get_the_digits_they_need() -> None:
    what = "the error"
    # "Δ = −0.000 [−0.001, −0.000]" labelled lower read as no change: now it shows the sizes.
    assert _effect(_est(-0.0004, -0.0009, -0.0001), what) == (
        "lowered the error by 0.0004 [0.0001, 0.0009]: a detectable decrease")
    assert _interval(_est(-0.00004, -0.0001, 0.00002)) == "−0.00004 [−0.00010, 0.00002]"
    assert _num(-0.0001) == "0.000"  # never "−0.000"
    assert _effect(Estimate(value=-1e-9, n=5), what) == (
        "did not change the error at this precision (no interval)")


def test_simulated_p_values_at_their_floor_are_bounds() -> None:
    assert p_clause(1 / 1000, 999) == "< 0.001"  # no simulated data set reached it
    assert p_clause(1 / 100, 99) == "< 0.01"
    assert p_clause(1 / 10000, 9999) == "< 0.0001"
    assert p_clause(0.002, 999) == "= 0.002"
    assert p_text(0.001, 999) == "< 0.001" and p_text(0.042, 999) == "0.042"


def _simulated(tmp: Path, name: str, model: str, episodes: int, steps: int) -> Path:
    config = EvalConfig(task="addition", model=model,
                        corrector=CorrectorConfig(critic="none", max_revisions=0),
                        episodes=episodes, max_steps=steps, seed=0,
                        task_options={"digits": steps})
    run_eval(config, tmp / name)
    return tmp / name


def test_the_power_warning_is_given_only_where_the_test_did_not_reject(tmp_path: Path) -> None:
    # Few episodes and a steeply rising hazard: the test rejects at its floor though its
    # power is low; the warning "a large p means not enough data" would contradict it.
    rising = analyze_run(load_run(_simulated(tmp_path, "rising", "simulated/e=0.03,growth=0.5",
                                             20, 10)), n_boot=50)
    assert rising.trend.rejects() and trend_power(rising).low
    headline = run_headline(rising)
    assert "Errors compound" in headline.text and "(p < 0.001)" in headline.text
    assert "low_power" not in {c.kind for c in headline.caveats}
    flat = analyze_run(load_run(_simulated(tmp_path, "flat", "simulated/e=0.1", 10, 6)),
                       n_boot=50)
    assert not flat.trend.rejects() and trend_power(flat).low
    assert "low_power" in {c.kind for c in run_headline(flat).caveats}


def test_a_step_without_revisions_is_not_said_to_stay_wrong_after_revision() -> None:
    one = TranscriptRound(round=0, output="17", feedback=None, judgement="incorrect", line=3)
    two = TranscriptRound(round=1, output="18", feedback=None, judgement="incorrect", line=4)

    def sample(rounds: list[TranscriptRound], kind: str) -> Transcript:
        return Transcript.model_validate({"episode": 0, "step": 1, "kind": kind, "prompt": "",
                                          "rounds": rounds, "stop_reason": "no_critic",
                                          "step_line": 2})

    assert kind_words(sample([one], "stayed_wrong")) == "wrong at round 0 and not revised"
    assert kind_words(sample([one, two], "stayed_wrong")) == "stayed wrong after revision"
    assert kind_words(sample([one], "kept_right")) == "right at round 0 and not revised"


def _truncated_first(request: GenerationRequest) -> str | Generation:
    """Round 0 of the first column cut at the token limit (unjudged), else a right digit."""
    total = _column_sum(request)
    text = "\n".join(m.content for m in request.messages)
    if request.purpose == "propose" and "Now the 1st column" in text:
        return Generation(text="1", finish_reason="length", usage=Cost(completion_tokens=1))
    return f"digit {total % 10}, carry {total // 10}"


def test_numbers_side_by_side_say_when_they_count_different_steps(tmp_path: Path) -> None:
    run = _run(tmp_path, "cut", _truncated_first, max_revisions=1)
    stats = analyze_run(load_run(run), n_boot=50)
    m = stats.metrics
    assert 0 < m["e_raw"].n < m["e_post"].n  # the cut first proposals are not judged
    clause = judged_steps(stats)
    assert clause.startswith(f" (over different steps: e_raw over the {m['e_raw'].n} with a "
                             f"judged first proposal, e_post over the {m['e_post'].n}")
    assert "net_effect need not equal their difference" in clause
    assert clause in run_headline(stats).text
    # The metrics table gives each one's count beside its value.
    page = build_report([load_run(run)], tmp_path / "rep", n_boot=50).html.read_text()
    for name in ("e_raw", "e_post", "net_effect"):
        assert f"{m[name].n} judged steps" in page, name
    # A run whose every answer was judged needs no such clause.
    assert judged_steps(analyze_run(load_run(_simulated(tmp_path, "all", "simulated/e=0.1",
                                                        6, 4)), n_boot=50)) == ""


def test_setting_differences_ignore_seeds_and_the_unused_budget() -> None:
    base = {"task": "chess", "model": "m", "seed": 1, "episodes": 10,
            "corrector": {"critic": "none", "max_revisions": 0, "repeat_limit": 2}}
    tool = {**base, "seed": 7, "episodes": 40,
            "corrector": {"critic": "tool", "max_revisions": 2, "repeat_limit": 2}}
    assert setting_differences(base, tool) == ["critic"]  # type: ignore[arg-type]
    other = {**tool, "model": "n",
             "corrector": {"critic": "tool", "max_revisions": 2, "repeat_limit": None}}
    assert setting_differences(tool, other) == ["model", "corrector.repeat_limit"]  # type: ignore[arg-type]


def test_two_runs_with_the_same_directory_name_get_told_apart(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    run = load_run(runs["stuck"])
    report = build_report([run, run], tmp_path / "rep", labels=["before", "after"], n_boot=20)
    subjects = [h.subject for h in report.headlines]
    assert subjects == ["before", "after", "after vs before"]
    assert re.fullmatch(
        r"A replicate of before \(the same settings\): the difference in the error after "
        r"correction is 0\.000 \[−\d\.\d{3}, \d\.\d{3}\]: no detectable difference\.",
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
