"""The README's "Your own data" commands run as written, and report.

The slow test runs each command as written on the embedded model (only ``--out`` moved to a
temporary folder); the fast one runs the same commands on the ``simulated`` backend, so the
developer loop notices a README command that no longer parses or runs. The OpenAI-compatible
command is parsed and its config validated (no server is started).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Your own data")
    return text[start: text.index("\n## ", start + 1)]


def _commands(model: str) -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", _section(), re.DOTALL)
    lines = [line.split("   #")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines
            if line.startswith("redraft grid dataset") and f"--model {model}" in line]


def _moved(argv: list[str], out: Path, **replace: str) -> list[str]:
    given = {"--out": str(out), **replace}
    return [given.get(argv[i - 1], arg) if i else arg for i, arg in enumerate(argv)]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    assert argv[0] == "redraft"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "redraft.evals.cli", *argv[1:]], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env, check=False)


def _check_report(out: Path, model: str) -> dict[str, object]:
    summary = json.loads((out / "report" / "summary.json").read_text())
    runs = {run["config"]["corrector"]["critic"]: run for run in summary["runs"]}
    assert set(runs) == {"none", "self", "tool"}
    for run in runs.values():
        assert run["config"]["model"] == model
        assert run["task_info"]["dataset"]["sha256"]
        assert {"e_raw", "e_post", "recovery", "harm", "critic_tpr"} <= set(run["metrics"])
    assert (out / "report" / "report.html").stat().st_size > 10_000
    return runs


def test_the_section_shows_three_embedded_commands_and_a_server_one() -> None:
    embedded = _commands("llamacpp/smollm2")
    assert [next(a for a in argv if a.startswith("path=")) for argv in embedded] == [
        "path=examples/word_problems.jsonl", "path=examples/multiple_choice.csv",
        "path=examples/code_problems.jsonl"]
    served = _commands("openai/Qwen/Qwen2.5-7B-Instruct@http://localhost:8000/v1")
    assert len(served) == 1
    from redraft.evals.cli import _RunSettings, build_parser

    args = build_parser().parse_args(served[0][1:])
    settings = _RunSettings(args)  # a grid's lists (critics, budgets) go in run by run
    settings.put(("corrector", "critic"), args.critic[0], "critic")
    settings.put(("corrector", "max_revisions"), args.revisions[0], "revisions")
    config = settings.validate()
    assert config.model.startswith("openai/")


@pytest.mark.parametrize("index", [0, 1, 2], ids=["words", "choices", "code"])
def test_the_commands_run_on_the_simulated_model(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redraft.evals.cli import main

    argv = _moved(_commands("llamacpp/smollm2")[index], tmp_path / "grid",
                  **{"--model": "simulated/e=0.3,r=0.5"})
    monkeypatch.chdir(ROOT)  # the commands name examples/ from the repository's root
    assert main([*argv[1:], "-q"]) == 0
    _check_report(tmp_path / "grid", "simulated/e=0.3,r=0.5")


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1, 2], ids=["words", "choices", "code"])
def test_the_commands_run_as_written_on_the_embedded_model(index: int, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    argv = _moved(_commands("llamacpp/smollm2")[index], tmp_path / "grid")
    done = _run(argv)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = _check_report(tmp_path / "grid", "llamacpp/smollm2")
    if index == 2:  # code: the sandbox's isolation is in the report
        tool = runs["tool"]
        assert tool["task_info"]["sandbox"]["isolation"] in ("bwrap", "process")  # type: ignore[index]
