"""The code verifier (visible tests, feedback) and scorer (hidden tests, the oracle)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import JsonValue

from redraft.tools import AnswerContext, AnswerTruth, safe_judge, safe_verify
from redraft.tools.code import CodeScorer, CodeVerifier, extract_code, split_tests
from redraft.tools.conformance import ScorerConformance
from redraft.tools.sandbox import Sandbox, SandboxLimits

LIMITS = SandboxLimits(cpu_s=1, timeout_s=3, memory_mb=256)
PROBLEM = AnswerContext(record="add", question="Write add(a, b).",
                        tests=("assert add(1, 2) == 3",))
HIDDEN = "assert add(-1, 1) == 0\nassert add(10, 5) == 15\n"
GOOD = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```\n"
ONLY_VISIBLE = "```python\ndef add(a, b):\n    return 3\n```"


def truth(target: JsonValue = HIDDEN) -> AnswerTruth:
    return AnswerTruth(**PROBLEM.model_dump(), target=target)


@pytest.mark.parametrize(("answer", "code"), [
    (GOOD, "def add(a, b):\n    return a + b\n"),
    ("def f():\n    return 1\n", "def f():\n    return 1\n"),
    ("```python\ndef f(): pass\n```\nthen\n```python\nprint(f())\n```", "def f(): pass\n"),
    ("```py\ndef f(): pass\n```\n```python\ndef g(): pass\n```",
     "def f(): pass\n\n\ndef g(): pass\n"),
    ("```python\ndef f(): # cut off", "def f(): # cut off\n"),
    ("Here: ```Python\ndef f(): pass```", "def f(): pass\n"),
    ("Use `x` or ```inline``` code.\n```\ndef f(): pass\n```", "def f(): pass\n"),
    ("Sure! I would write a loop.", None),
    ("", None),
])
def test_extract_code(answer: str, code: str | None) -> None:
    assert extract_code(answer) == code


def test_split_tests() -> None:
    assert split_tests(["assert a", "assert b"]) == ["assert a", "assert b"]
    assert split_tests("import m\nassert m.f()\nassert g()\nx = 1\n") == [
        "import m\nassert m.f()", "assert g()\nx = 1"]
    with pytest.raises(ValueError, match="do not parse"):
        split_tests("assert (")
    with pytest.raises(ValueError, match="string or a list"):
        split_tests({"a": 1})


def test_the_verifier_runs_the_visible_tests_only() -> None:
    verifier = CodeVerifier(sandbox=Sandbox("process", LIMITS))
    scorer = CodeScorer(sandbox=Sandbox("process", LIMITS))
    # Passes the visible test, fails the hidden ones: feedback accepts, the oracle does not.
    assert asyncio.run(verifier.verify(PROBLEM, ONLY_VISIBLE)).ok
    judged = asyncio.run(scorer.judge(truth(), ONLY_VISIBLE))
    assert (judged.correctness, judged.local.code) == ("incorrect", "test_failed")
    times = "```python\ndef add(a, b):\n    return a * b\n```"
    feedback = asyncio.run(verifier.verify(PROBLEM, times))
    assert feedback.code == "test_failed"
    assert "add(1, 2) returned 2, expected 3" in feedback.message
    assert HIDDEN.splitlines()[0] not in feedback.message
    none = asyncio.run(verifier.verify(PROBLEM, "I would add them."))
    assert none.code == "unparseable"


def test_a_broken_sandbox_is_a_verifier_error_and_an_unknown() -> None:
    box = Sandbox("process", LIMITS)
    box._launch = box._launch.model_copy(update={"argv": ["/bin/false"]})
    verdict = asyncio.run(safe_verify(CodeVerifier(sandbox=box), PROBLEM, GOOD))
    assert verdict.code == "verifier_error"
    assert "did not start" in verdict.message
    judgement = asyncio.run(safe_judge(CodeScorer(sandbox=box), truth(), GOOD))
    assert judgement.correctness == "unknown"


@pytest.mark.slow  # runs every conformance program in the sandbox
class TestCodeConformance(ScorerConformance):
    def make_scorer(self) -> CodeScorer:
        return CodeScorer(sandbox=Sandbox("process", LIMITS))

    def cases(self) -> list[tuple[AnswerTruth, str, Any]]:
        return [(truth(), GOOD, "correct"), (truth(), ONLY_VISIBLE, "incorrect"),
                (truth(["assert add(2, 2) == 4"]), GOOD, "correct"),
                (truth(), "```python\nwhile True: pass\n```", "incorrect")]

    def bad_targets(self) -> list[tuple[JsonValue, AnswerContext]]:
        return [("assert (", PROBLEM), ([], PROBLEM), (42, PROBLEM), ("", PROBLEM)]
