"""The inner monologue in evals: the log, the in-generation metrics against planted truth,
and ``redraft grid --monologue off,on`` on the simulated and the embedded model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from redraft.agent._prompts import DEFAULT_MONOLOGUE_TEMPLATE
from redraft.evals import EvalConfig, read_events, run_eval
from redraft.evals.cli import main
from redraft.evals.stats import MONOLOGUE_METRICS, analyze_run, load_run

E, R, H, NONE = 0.3, 0.6, 0.1, 0.05
MODEL = f"simulated/e={E},r=0.5,think_r={R},think_h={H},think_none={NONE},think_tokens=40,seed=3"
# A generation without an answer is a wrong step whose first answer is missing: it counts as
# wrong first and last, and so as an in-generation error not recovered.
TRUTH = {
    "ingen_first_error": E * (1 - NONE) + NONE,
    "ingen_recovery": E * (1 - NONE) * R / (E * (1 - NONE) + NONE),
    "ingen_harm": H,
    "ingen_answer_error": (E * (1 - R) + (1 - E) * H) * (1 - NONE) + NONE,
    "no_answer_rate": NONE,
}


def test_intervals_cover_the_planted_in_generation_rates(tmp_path: Path) -> None:
    config = EvalConfig.model_validate(
        {
            "task": "running_sum",
            "model": MODEL,
            "episodes": 150,
            "max_steps": 10,
            "error_policy": "continue",
            "corrector": {"critic": "none", "monologue": True},
        }
    )
    run_eval(config, tmp_path / "run")
    stats = analyze_run(load_run(tmp_path / "run"), n_boot=400, seed=0)
    for name, truth in TRUTH.items():
        estimate = stats.metrics[name]
        assert estimate.ci_low is not None and estimate.ci_high is not None
        assert estimate.ci_low <= truth <= estimate.ci_high, (name, estimate)
    assert stats.metrics["ingen_answer_error"].value == stats.metrics["e_raw"].value
    # Without revisions, every recovery is an in-generation one.
    assert stats.metrics["total_recovery"].value == stats.metrics["ingen_recovery"].value
    assert stats.metrics["recovery"].value in (0.0, None)
    tokens = stats.metrics["generated_tokens_per_step"].value
    reasoning = stats.metrics["reasoning_tokens_per_step"].value
    assert tokens is not None and reasoning is not None and 30 < reasoning < tokens < 50


def test_the_log_keeps_output_answer_and_reasoning(tmp_path: Path) -> None:
    config = EvalConfig.model_validate(
        {
            "task": "running_sum",
            "model": "simulated/e=0.5,think_r=1.0,seed=1",
            "episodes": 4,
            "max_steps": 3,
            "corrector": {"critic": "tool", "max_revisions": 1, "monologue": True},
        }
    )
    run_eval(config, tmp_path / "run")
    events = read_events(tmp_path / "run")
    rounds: list[Any] = [e for e in events if e.kind == "round"]
    steps: list[Any] = [e for e in events if e.kind == "step"]
    assert rounds and steps
    for record in rounds:
        assert record.messages[-1].content.endswith(DEFAULT_MONOLOGUE_TEMPLATE)
        assert record.reasoning.startswith("Let me work through this step by step.\n")
        assert record.answers == 1 or record.first_answer in record.reasoning
        assert record.answer is not None and record.output.endswith(f"ANSWER: {record.answer}")
        assert 0 < record.reasoning_usage.completion_tokens < record.usage.completion_tokens
    # think_r=1: every wrong first answer was corrected inside its generation, so the
    # oracle judged both answers and the first one was wrong.
    corrected = [r for r in rounds if r.first_answer != r.answer]
    assert corrected, "e=0.5 over a dozen steps should give a wrong first answer"
    for record in corrected:
        assert record.first_judgement is not None
        assert record.first_judgement.correctness == "incorrect"
        assert record.judgement is not None and record.judgement.correctness == "correct"
    # The step commits the answer, not the reasoning.
    by_step = {(r.episode, r.step): r for r in rounds}
    for step in steps:
        assert step.committed_answer == by_step[(step.episode, step.step)].answer


def _summary(out: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((out / "report" / "summary.json").read_text())
    return {run["run"]: run for run in data["runs"]}


def test_grid_compares_monologue_off_and_on(tmp_path: Path) -> None:
    pytest.importorskip("redraft.evals.report")
    out = tmp_path / "grid"
    args = ["grid", "running_sum", "--model", MODEL, "--critic", "none,tool", "--rounds", "1",
            "--monologue", "off,on", "--episodes", "20", "--max-steps", "5", "--out", str(out),
            "-q"]
    assert main(args) == 0
    runs = _summary(out)
    assert sorted(runs) == ["none-k0", "none-k0-monologue", "tool-k1", "tool-k1-monologue"]
    for name, run in runs.items():
        assert run["config"]["corrector"]["monologue"] == name.endswith("monologue")
        assert set(MONOLOGUE_METRICS) <= set(run["metrics"])
    off = runs["none-k0"]["metrics"]
    on = runs["none-k0-monologue"]["metrics"]
    assert off["generated_tokens_per_step"]["value"] == 1.0
    assert on["generated_tokens_per_step"]["value"] > 40
    assert off["reasoning_tokens_per_step"]["value"] == 0.0
    assert on["reasoning_tokens_per_step"]["value"] > 30
    html = (out / "report" / "report.html").read_text()
    assert "generated_tokens_per_step" in html and "ingen_recovery" in html


def test_bad_monologue_value_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["grid", "running_sum", "--monologue", "off,maybe", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "off,on" in capsys.readouterr().err


@pytest.mark.slow
def test_grid_monologue_on_the_embedded_model(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="extra 'llamacpp' not installed")
    pytest.importorskip("redraft.evals.report")
    out = tmp_path / "grid"
    args = ["grid", "running_sum", "--model", "llamacpp/smollm2", "--critic", "none",
            "--monologue", "off,on", "--episodes", "1", "--max-steps", "2",
            "--error-policy", "continue", "--max-tokens", "40",
            "--model-option", "n_ctx=2048", "--out", str(out), "-q"]
    assert main(args) == 0
    runs = _summary(out)
    assert sorted(runs) == ["none-k0", "none-k0-monologue"]
    for run in runs.values():
        assert run["steps"] == 2
        assert run["metrics"]["generated_tokens_per_step"]["value"] > 0
    rounds = [e for e in read_events(out / "none-k0-monologue") if e.kind == "round"]
    assert all(r.messages[-1].content.endswith(DEFAULT_MONOLOGUE_TEMPLATE) for r in rounds)
    # Whatever SmolLM2 wrote, the round says what was read out of it.
    for record in rounds:
        assert record.answer is not None or record.judgement is not None


def test_a_task_refines_the_monologue_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redraft.agent.backends import ScriptedBackend
    from redraft.evals.tasks.running_sum import RunningSumEpisode

    original = RunningSumEpisode.prompt

    def refined(self: RunningSumEpisode) -> Any:
        return original(self).model_copy(update={"monologue_template": "Add, then ANSWER:"})

    monkeypatch.setattr(RunningSumEpisode, "prompt", refined)
    backend = ScriptedBackend(["adding\nANSWER: total: 99999"])
    config = EvalConfig.model_validate(
        {"task": "running_sum", "model": "scripted/inline", "episodes": 1,
         "max_steps": 1, "corrector": {"critic": "none", "monologue": True}}
    )
    run_eval(config, tmp_path / "run", backend=backend)
    assert backend.requests[0].messages[-1].content.endswith("\n\nAdd, then ANSWER:")
    (step,) = [e for e in read_events(tmp_path / "run") if e.kind == "step"]
    assert step.committed_answer == "total: 99999"  # type: ignore[union-attr]


def test_the_self_critic_reasons_then_its_verdict_line_is_measured(tmp_path: Path) -> None:
    config = EvalConfig.model_validate(
        {"task": "running_sum", "model": "simulated/e=0.3,r=0.6,think_r=0.5,tpr=0.8,fpr=0.1",
         "episodes": 100, "max_steps": 8, "error_policy": "continue",
         "corrector": {"critic": "self", "max_revisions": 1, "monologue": True}}
    )
    run_eval(config, tmp_path / "run")
    critiques = [e.critique for e in read_events(tmp_path / "run")
                 if e.kind == "round" and e.critique is not None]  # type: ignore[union-attr]
    assert critiques and all("VERDICT:" in c and "\n" in c for c in critiques)
    stats = analyze_run(load_run(tmp_path / "run"), n_boot=400, seed=0)
    assert stats.metrics["critic_tpr"].covers(0.8)
    assert stats.metrics["critic_fpr"].covers(0.1)
