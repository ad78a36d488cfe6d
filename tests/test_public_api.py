"""The public names per package are pinned here and listed in docs/api.md.

A name joins a package's ``__all__`` when a user (the README's examples) or a plug-in author
(a verifier, oracle, task, backend or command) needs it, and only then: adding or removing
one changes this test and docs/api.md together, deliberately.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"

PUBLIC: dict[str, set[str]] = {
    "redraft.core": {
        "BadInputError", "ConstraintNotSupportedError", "Cost", "MissingDependencyError",
        "PluginLoadError", "RedraftError", "Registry", "Settings", "UnknownPluginError",
        "describe_validation_error", "parse_options",
    },
    "redraft.tools": {
        "LOG_CONTEXT", "Correctness", "FunctionVerifier", "Judgement", "Oracle",
        "SchemaVerifier", "Verdict", "Verifier", "ensure_oracle", "ensure_verifier",
        "oracle_as_verifier", "register_verdict_code", "register_verifier", "safe_judge",
        "safe_verify", "truncated_judgement", "verdict_codes", "verifier_as_oracle",
        "verifiers", "verify_sync",
        # scorers: the oracles of the dataset task, and what a scorer author needs
        "AnswerContext", "AnswerTruth", "FormatChecking", "Scorer", "Turn", "load_scorer",
        "register_scorer", "scorers", "unscorable",
        # which contexts a verifier can check (a run refuses a mismatched --verifier)
        "accepts_context", "context_type", "describe_type",
    },
    "redraft.tools.conformance": {
        "GARBAGE", "ConformanceError", "VerifierConformance", "check_oracle", "check_verifier",
        "ScorerConformance", "check_scorer",
    },
    "redraft.agent": {
        "ANSWER_MARKER", "DEFAULT_MODEL", "EXTRACTOR_SOURCE", "RETRY_MARKER", "VERDICT_MARKER",
        "CommitPolicy", "Correction", "CorrectorConfig", "CorrectorInput", "CorrectorOutput",
        "CorrectorState", "CriticMode", "Item", "Outcome", "RevisionContext", "RoundRecord",
        "StopReason", "acorrect", "ajudge_correction", "build_corrector", "correct",
        "is_leaky", "judge_round", "RunningLoopError",
    },
    "redraft.agent.backends": {
        "Backend", "BackendRejectedError", "BackendUnavailableError", "Constraint",
        "ConstraintKind", "FinishReason", "Generation", "GenerationRequest", "HintBoard",
        "HintReceiver", "Message", "Purpose", "SamplingParams", "ScriptExhaustedError",
        "ScriptedBackend", "SimulatedBackend", "SimulationHint", "SimulationParams",
        "backends", "load_backend", "public_options", "register_backend", "secret_field",
        "split_model_string", "ScriptConstraintError",
    },
    "redraft.evals": {
        "EVENTS_FILE", "MANIFEST_FILE", "MODEL_RECIPE_FILE", "SCHEMA_VERSION",
        "EpisodeEndEvent", "EpisodeStartEvent", "EvalConfig", "Event", "EventLogError",
        "RoundEvent", "RunObserver", "RunResult", "ShardSpec", "StepEvent", "arun_eval",
        "file_sha256", "merge_runs", "read_config_file", "read_events", "read_manifest",
        "run_eval", "run_grid", "trained_defaults", "default_episodes",
    },
    "redraft.evals.tasks": {
        "EndReason", "Episode", "ErrorPolicy", "StepPrompt", "StepResult", "Task",
        "load_task", "register_task", "tasks",
        # helpers for task authors, and the optional protocols of dataset-like tasks
        "ClosingMixin", "ConfiguredTask", "EpisodeBase", "EpisodeFinishedError",
        "DescribedTask", "IndexedTask",
    },
    "redraft.evals.stats": {
        "DEFAULT_BOOTSTRAP", "DEFAULT_LEVEL", "METRIC_DESCRIPTIONS", "MONOLOGUE_METRICS",
        "Comparison", "ComparisonRow", "EpisodeArrays", "EpisodeLog", "Estimate",
        "GeometricFit", "HazardTrend", "KaplanMeier", "PermutationTest", "RunData",
        "RunStats", "StepCurve", "analyze_run", "compare_runs", "episode_arrays",
        "geometric_fit", "global_error_undone", "hazard_curve", "hazard_trend_test",
        "kaplan_meier", "load_run", "monologue_metrics", "self_conditioning_test",
        "step_curve", "step_trend_test", "wilson",
    },
    "redraft.evals.report": {
        "COLOURS", "HTML_FILE", "SUMMARY_FILE", "Caveat", "Headline", "Report",
        "build_report", "format_number", "label_axes", "needed_digits", "png_bytes",
        "write_report",
    },
    "redraft.evals.commands": {
        "Command", "backend_log", "commands", "key_value", "option_error", "say",
    },
}


def documented() -> dict[str, set[str]]:
    """The names docs/api.md lists under each package heading."""
    listed: dict[str, set[str]] = {}
    package = None
    for line in API_PAGE.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## `([\w.]+)`", line)
        if heading:
            package = heading.group(1)
            listed[package] = set()
        row = re.match(r"\| `(\w+)` \|", line)
        if row and package is not None:
            listed[package].add(row.group(1))
    return listed


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_the_public_names_are_the_pinned_ones(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == PUBLIC[package]
    assert len(module.__all__) == len(set(module.__all__))  # no name listed twice
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_nothing_else_is_reachable_from_the_package(package: str) -> None:
    """A name dropped from ``__all__`` is not left importable from the package by accident."""
    module = importlib.import_module(package)
    extra = {name for name, value in vars(module).items()
             if not name.startswith("_") and not isinstance(value, type(module))
             and getattr(value, "__module__", package) not in ("__future__", "typing")
             and name not in PUBLIC[package] and name not in ("annotations", "TYPE_CHECKING")}
    if not package.endswith(("conformance", "commands")):  # modules with code of their own
        assert extra == set()


def test_docs_api_lists_every_public_name_and_no_other() -> None:
    assert documented() == PUBLIC
