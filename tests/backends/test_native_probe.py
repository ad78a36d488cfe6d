"""weights=native: a CPU whose quantized kernels crash gets one line, not a dead process.

The crash itself needs a CPU this machine is not (issue 21), so a test hook makes the probe's
child process kill itself with a real SIGSEGV; everything else is the real path.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from redraft.agent.backends import GenerationRequest, Message, SamplingParams
from redraft.agent.backends._native_probe import (
    CRASH_FOR_TESTS_ENV,
    ProbeOutcome,
    check_native_weights,
    probe_key,
)
from redraft.core import BadInputError
from redraft.evals.cli import main


@pytest.fixture
def probe_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache of probe outcomes (and of f32 copies) for this test alone."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(CRASH_FOR_TESTS_ENV, raising=False)
    return tmp_path / "cache" / "redraft" / "llamacpp-probe"


@pytest.mark.slow
def test_a_crashing_native_load_is_one_line_naming_the_option(
    smollm2_path: Path, probe_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redraft.agent.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    options = LlamaCppOptions(n_ctx=256, n_threads=2, weights="native")
    monkeypatch.setenv(CRASH_FOR_TESTS_ENV, "1")
    with pytest.raises(BadInputError) as info:
        LlamaCppBackend(smollm2_path, name="llamacpp/smollm2", options=options)
    message = str(info.value)
    assert "\n" not in message
    assert "weights=native" in message and "weights=f32" in message and "SIGSEGV" in message
    record = probe_cache / f"{probe_key(smollm2_path)}.json"
    assert ProbeOutcome.model_validate_json(record.read_text()).signal == "SIGSEGV"
    # The outcome is remembered: without the hook no new child runs, the answer stays.
    monkeypatch.delenv(CRASH_FOR_TESTS_ENV)
    with pytest.raises(BadInputError, match="weights=native"):
        check_native_weights(smollm2_path, "llamacpp/smollm2", n_threads=2)


@pytest.mark.slow
def test_the_cli_exits_2_with_one_line(
    smollm2_path: Path,
    probe_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(CRASH_FOR_TESTS_ENV, "1")
    argv = ["eval", "running_sum", "--model", "llamacpp/smollm2", "--model-option",
            "weights=native", "--episodes", "1", "--max-steps", "1", "--out",
            str(tmp_path / "run"), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "weights=native" in err, err


@pytest.mark.slow
def test_native_weights_run_here_and_are_probed_once(
    smollm2_path: Path, probe_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redraft.agent.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    options = LlamaCppOptions(n_ctx=256, n_threads=2, weights="native")
    backend = LlamaCppBackend(smollm2_path, name="llamacpp/smollm2", options=options)
    try:
        request = GenerationRequest(
            messages=(Message(role="user", content="What is 2+3?"),),
            params=SamplingParams(temperature=0.0, max_tokens=8),
        )
        (out,) = asyncio.run(backend.generate([request]))
        assert out.text and out.usage.completion_tokens > 0
    finally:
        asyncio.run(backend.aclose())
    record = probe_cache / f"{probe_key(smollm2_path)}.json"
    assert ProbeOutcome.model_validate_json(record.read_text()).crashed is False
    # A second load does not start a child: one would crash now, and none does.
    monkeypatch.setenv(CRASH_FOR_TESTS_ENV, "1")
    check_native_weights(smollm2_path, "llamacpp/smollm2", n_threads=2)
    # Another key (here: another GPU offload) is probed again.
    with pytest.raises(BadInputError, match="SIGSEGV"):
        check_native_weights(smollm2_path, "llamacpp/smollm2", n_threads=2, n_gpu_layers=1)


def test_a_child_that_fails_without_a_signal_decides_nothing(
    probe_cache: Path, tmp_path: Path
) -> None:
    pytest.importorskip("llama_cpp")
    garbage = tmp_path / "not-a-model.gguf"
    garbage.write_bytes(b"GGUF but not really")
    check_native_weights(garbage, "llamacpp/x", n_threads=1)  # the load reports it instead
    assert not probe_cache.exists() or not any(probe_cache.iterdir())


@pytest.mark.slow
def test_cache_list_labels_probe_records_as_probe_results(
    smollm2_path: Path, probe_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_native_weights(smollm2_path, "llamacpp/smollm2", n_threads=2)  # a real probe child
    assert main(["cache", "list"]) == 0
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    assert "llamacpp-probe" in line and "probe result" in line
    assert str(probe_cache / f"{probe_key(smollm2_path)}.json") in line
    assert "converted model" not in line + err  # a record of a run, not a model
    assert "1 probe result(s) in" in err
