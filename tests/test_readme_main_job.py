"""The README's main command runs end to end (scaled down) on the embedded model."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def main_command() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    line = next(b for b in blocks if "redraft grid" in b or "redraft eval" in b).strip()
    install, _, run = line.partition(" && ")
    assert install.startswith("pip install"), "the main command installs first"
    return shlex.split(run)


def scaled(argv: list[str], out: Path) -> list[str]:
    small = {"--episodes": "2", "--max-steps": "2", "--out": str(out)}
    return [small.get(argv[i - 1], arg) if i else arg for i, arg in enumerate(argv)]


@pytest.mark.slow
def test_readme_main_job_runs_and_reports(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    argv = scaled(main_command(), tmp_path / "quickstart")
    assert argv[0] == "redraft"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "redraft.evals.cli", *argv[1:]],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "quickstart" / "report" / "summary.json").read_text())
    runs = {run["run"]: run for run in summary["runs"]}
    assert len(runs) == 3
    for run in runs.values():
        assert run["config"]["model"] == "llamacpp/smollm2"
        assert run["episodes"] == 2
        assert {"e_raw", "e_post", "recovery", "harm", "e_hat", "critic_tpr", "critic_fpr"} <= set(
            run["metrics"]
        )
    for name in runs:  # the numbers rest on judged answers: few are cut at the token limit
        rounds = [json.loads(line) for line in
                  (tmp_path / "quickstart" / name / "events.jsonl").read_text().splitlines()]
        answers = [r for r in rounds if r["kind"] == "round"]
        cut = sum(r["finish_reason"] == "length" for r in answers)
        assert answers and cut <= 0.1 * len(answers), (name, cut, len(answers))
    constrained = next(
        r for r in runs.values() if r["config"]["corrector"]["critic"] == "constrained")
    assert constrained["metrics"]["e_raw"]["value"] == 0.0  # illegal moves cannot be decoded
    assert (tmp_path / "quickstart" / "report" / "report.html").stat().st_size > 10_000
