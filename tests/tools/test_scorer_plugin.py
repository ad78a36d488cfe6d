"""A scorer registered by entry point works like a built-in one: listed, conformant, used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = '''
from redraft.tools import AnswerContext, AnswerTruth, Judgement, Verdict, unscorable


class Shout:
    """Right when the answer, upper-cased, is the target."""

    name = "shout"

    def __init__(self, exclaim: bool = False) -> None:
        self.exclaim = exclaim

    def target_problem(self, target, context: AnswerContext):
        shouted = isinstance(target, str) and target.isupper()
        return None if shouted else f"{target!r} is not shouted"

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        problem = self.target_problem(context.target, context)
        if problem:
            return unscorable(self.name, f"the target {problem}")
        said = proposal.strip().upper() + ("!" if self.exclaim else "")
        if not said.strip("!"):
            return Judgement(local=Verdict.reject("unparseable", "nothing said"))
        if said == context.target:
            return Judgement(local=Verdict.accept())
        return Judgement(local=Verdict.reject("wrong_value", f"{said} is not {context.target}"))
'''

CHECK = '''
from redraft.tools import AnswerContext, AnswerTruth, load_scorer
from redraft.tools.conformance import check_scorer

ask = AnswerContext(record="1", question="Greet me.")
scorer = load_scorer("shout", exclaim=True)
check_scorer(scorer, [(AnswerTruth(**ask.model_dump(), target="HI!"), "hi", "correct"),
                      (AnswerTruth(**ask.model_dump(), target="HI!"), "bye", "incorrect")],
             bad_targets=[("quiet", ask), (3, ask)])
print("conformant")
'''


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "redraft_shout.py").write_text(PLUGIN)
    info = root / "redraft_shout-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: redraft-shout\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[redraft.scorers]\nshout = redraft_shout:Shout\n")
    return {**os.environ, "PYTHONPATH": str(root)}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.slow
def test_an_entry_point_scorer_is_listed_conformant_and_scores_a_run(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    listed = _run(plugin_env, "-m", "redraft.evals.cli", "list")
    assert "shout" in listed.stdout.split("scorers:")[1].split("backends:")[0]
    checked = _run(plugin_env, "-c", CHECK)
    assert checked.returncode == 0 and "conformant" in checked.stdout, checked.stderr
    data = tmp_path / "greetings.jsonl"
    data.write_text('{"input": "Greet me.", "target": "HI!"}\n'
                    '{"input": "Say bye.", "target": "BYE!"}\n')
    script = tmp_path / "answers.jsonl"
    script.write_text(json.dumps("hi") + "\n" + json.dumps("hello") + "\n")
    out = tmp_path / "run"
    done = _run(plugin_env, "-m", "redraft.evals.cli", "eval", "dataset", "--task-option",
                f"path={data}", "--task-option", "scorer=shout", "--task-option",
                'scorer_options={"exclaim": true}', "--critic", "none",
                "--model", f"scripted/{script}", "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    steps = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    finals = [e["final"] for e in steps if e["kind"] == "step"]
    assert finals == ["correct", "incorrect"]
    info = json.loads((out / "manifest.json").read_text())["task_info"]
    assert info["scorer"] == {"name": "shout", "why": "named in the options",
                              "summary": "shout (named in the options)"}
    refused = _run(plugin_env, "-m", "redraft.evals.cli", "eval", "dataset", "--task-option",
                   f"path={data}", "--task-option", "scorer=shout", "--task-option",
                   "target=input", "--model", f"scripted/{script}",
                   "--out", str(tmp_path / "run2"), "-q")
    assert refused.returncode == 2
    assert "line 1, field 'input': the target 'Greet me.' is not shouted" in refused.stderr
