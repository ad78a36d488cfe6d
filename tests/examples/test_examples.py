"""Every script in examples/ runs: with fakes in the fast loop, on real engines when slow."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from redraft.agent.backends import ScriptedBackend
from redraft.tools.conformance import check_verifier

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT / "tests" / "backends"))


def load(path: Path) -> ModuleType:
    """Import an example script as a module (its ``main`` does not run)."""
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args: str, env: dict[str, str] | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_every_example_is_tested_here() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py")} | {
        p.parent.name for p in EXAMPLES.glob("*/pyproject.toml")}
    assert scripts == {"embed.py", "custom_task.py", "grid_openai.py", "verifier_plugin"}


# -- embedding ------------------------------------------------------------------------------


def test_embedding_from_sync_and_async_code() -> None:
    embed = load(EXAMPLES / "embed.py")
    model = ScriptedBackend(['{"city": "Lyon"}', '{"city": "Lyon", "nights": 2}'])
    result = embed.book("two nights in Lyon", model)
    assert (result.stop_reason, result.revisions) == ("accepted", 1)
    assert "nights" in result.rounds[0].feedback.message  # the validation error, fed back
    result = asyncio.run(embed.book_one("a week in Oslo",
                                        ScriptedBackend(['{"city": "Oslo", "nights": 7}'])))
    assert (result.stop_reason, result.committed_answer) == (
        "accepted", '{"city": "Oslo", "nights": 7}')
    # A batch: one backend call per round for every request still revising.
    backend = ScriptedBackend(['{"city": "Rome", "nights": 3}', "Porto, one night",
                               '{"city": "Porto", "nights": 1}'])
    rome, porto = asyncio.run(embed.book_many(["3 nights in Rome", "one night in Porto"],
                                              backend))
    assert (rome.revisions, porto.revisions, porto.stop_reason) == (0, 1, "accepted")
    assert len(backend.requests) == 3
    assert embed.booking(porto) == embed.Booking(city="Porto", nights=1)
    assert "Booking(city='Porto', nights=1)" in embed.show(porto)


@pytest.mark.slow
def test_the_embedding_script_runs_on_the_embedded_model() -> None:
    pytest.importorskip("llama_cpp")
    lines = run_script("examples/embed.py").stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["sync", "async", "batch", "batch"], lines


# -- a verifier plug-in -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``pip install ./examples/verifier_plugin`` into a folder of its own, on PYTHONPATH."""
    target = tmp_path_factory.mktemp("plugin")
    work = tmp_path_factory.mktemp("plugin-build")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-index", "--target", str(target),
         str(EXAMPLES / "verifier_plugin")],
        check=True, capture_output=True, timeout=300, cwd=work,
    )
    return {**os.environ, "PYTHONPATH": str(target)}


def test_the_verifier_plugin_passes_the_conformance_checks() -> None:
    plugin = load(EXAMPLES / "verifier_plugin" / "redraft_one_line.py")
    check_verifier(plugin.OneLineVerifier(max_chars=10),
                   accepted=[(None, "42"), (None, "  Nf3 ")],
                   rejected=[(None, "", "unparseable"), (None, "4\n2", "invalid_syntax"),
                             (None, "x" * 11, "invalid_syntax")])


@pytest.mark.slow
def test_the_installed_verifier_plugin_is_listed_and_used(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    listed = run_script("-m", "redraft.evals.cli", "list", env=plugin_env).stdout
    assert "one_line" in listed and "redraft_one_line:OneLineVerifier" in listed
    run_script("-m", "redraft.evals.cli", "eval", "addition", "--verifier", "one_line",
               "--model", "simulated/e=0.3,r=0.5", "--episodes", "3", "--max-steps", "3",
               "--out", str(tmp_path / "run"), "-q", env=plugin_env)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["verifier"] == "one_line"
    records = [json.loads(line) for line in
               (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    sources = {r["feedback"]["source"] for r in records
               if r["kind"] == "round" and r.get("feedback")}
    assert sources == {"one_line"}


# -- a task of your own -----------------------------------------------------------------------


def test_a_custom_task_runs_through_the_runner_and_reports(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    sevens = load(EXAMPLES / "custom_task.py")
    assert sevens.main(["--episodes", "12", "--max-steps", "4", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "none-k0: 12 episodes" in out and "tool-k2: 12 episodes" in out
    assert (tmp_path / "report" / "report.html").is_file()
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert [run["run"] for run in summary["runs"]] == ["none-k0", "tool-k2"]


def test_the_custom_tasks_oracle_tells_a_local_slip_from_a_lost_count() -> None:
    sevens = load(EXAMPLES / "custom_task.py")
    oracle = sevens.SevensOracle()
    # The agent said 90 (the truth was 93): 83 is locally right, globally off.
    judgement = asyncio.run(oracle.judge(sevens.Truth(previous=90, true_previous=93), "83"))
    assert (judgement.local.ok, judgement.global_state.ok) == (True, False)
    verdict = asyncio.run(sevens.SevensVerifier().verify(sevens.Said(90), "eighty-three"))
    assert verdict.code == "unparseable"


# -- a grid against an OpenAI-compatible server ------------------------------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama.cpp server on loopback, serving the embedded model's 32-bit copy."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("fastapi", reason="llama-cpp-python[server] not installed")
    import llama_cpp
    from backend_servers import LlamaServer, free_port

    from redraft.agent.backends._common import smollm2_gguf
    from redraft.agent.backends.llamacpp import dequantized_f32

    model = dequantized_f32(llama_cpp, smollm2_gguf(), None, "llamacpp/smollm2")
    server = LlamaServer(model, free_port(), tmp_path_factory.mktemp("server"))
    try:
        server.start()
        yield server.base_url
    finally:
        server.stop()


@pytest.mark.slow
def test_a_grid_against_a_llama_cpp_server(llama_server: str, tmp_path: Path) -> None:
    out = run_script("examples/grid_openai.py", "--model", "smollm2", "--base-url",
                     llama_server, "--episodes", "2", "--max-steps", "2",
                     "--out", str(tmp_path)).stdout
    for name in ("none-k0", "tool-k2", "self-k1"):
        assert f"{name}: 2 episodes" in out
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert {run["config"]["model"] for run in summary["runs"]} == {
        f"openai/smollm2@{llama_server}"}
