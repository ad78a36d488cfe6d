"""Code execution: the model's program run against tests, in a sandbox.

The verifier (:class:`CodeVerifier`, feedback) runs the program against the *visible* tests
the agent was shown (:attr:`AnswerContext.tests <redraft.tools.AnswerContext.tests>`) and
tells it the first failing test, what it returned and the end of the traceback. The scorer
(:class:`CodeScorer`, the oracle) runs it against the record's *hidden* tests, the target,
which no verifier context holds. Both run in :class:`~redraft.tools.sandbox.Sandbox`.

An answer's code is read from its fenced blocks (```` ```python ````, ```` ```py ```` or
unlabelled): the blocks that define something (``def``, ``class``), joined in order, else the
last block; an answer with no fence is taken whole if it parses as Python. Verdict codes:
``unparseable`` (no code), ``invalid_syntax``, ``test_failed``, ``runtime_error``,
``time_limit``, ``resource_limit``, ``forbidden``.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.core import parse_options
from redraft.tools._scorer import AnswerContext, AnswerTruth, unscorable
from redraft.tools._verdict import Judgement, Verdict
from redraft.tools._verifier import Verifier
from redraft.tools.sandbox import ProgramResult, Sandbox, SandboxInfo, SandboxLimits

__all__ = ["CodeOptions", "CodeScorer", "CodeVerifier", "extract_code", "split_tests"]

_PYTHON = {"", "python", "py", "python3", "py3"}
# Spaces and tabs only: "\s*" would run on through every following newline at each line.
_DEFINES = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]", re.MULTILINE)


def _fenced(answer: str) -> list[tuple[str, str]]:
    """``(language, body)`` of each fenced block, line by line (linear in the answer).

    A fence opens where a line holds ```` ``` ```` (the word after it is the language) and
    closes at the next line that holds one; a block never closed runs to the end (a cut-off
    answer). A line with two fences is inline code, not a block.
    """
    blocks: list[tuple[str, str]] = []
    lang: str | None = None
    body: list[str] = []
    for line in answer.split("\n"):
        at = line.find("```")
        if lang is None:
            rest = line[at + 3:]
            if at == -1 or "```" in rest:
                continue
            words = rest.split()
            lang, body = (words[0].lower() if words else ""), []
        elif at != -1:
            if line[:at].strip():
                body.append(line[:at])
            blocks.append((lang, "\n".join(body) + "\n"))
            lang = None
        else:
            body.append(line)
    if lang is not None:
        blocks.append((lang, "\n".join(body) + "\n"))
    return blocks


def extract_code(answer: str) -> str | None:
    """The Python program an answer holds (see the module docstring), or None."""
    blocks = [body for lang, body in _fenced(answer) if lang in _PYTHON]
    if blocks:
        defining = [b for b in blocks if _DEFINES.search(b)]
        code = "\n\n".join(defining) if defining else blocks[-1]
        return code if code.strip() else None
    if not answer.strip() or "```" in answer:
        return None
    try:
        ast.parse(answer)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return answer


def split_tests(tests: JsonValue) -> list[str]:
    """Tests as a list of units, each run on its own.

    A list holds one test per item. A string is split into its top-level statements, each
    ``assert`` a test, with the statements before it (imports, set-up) run as part of it.

    Raises:
        ValueError: neither a string nor a list of strings, or a string that does not parse.
    """
    if isinstance(tests, list):
        if not all(isinstance(t, str) for t in tests):
            raise ValueError("a list of tests must hold strings only")
        return [t for t in tests if isinstance(t, str) and t.strip()]
    if not isinstance(tests, str):
        raise ValueError(f"tests must be a string or a list of strings, not {type(tests).__name__}")
    try:
        tree = ast.parse(tests)
    except SyntaxError as exc:
        raise ValueError(f"the tests do not parse: {exc.msg} (line {exc.lineno})") from None
    lines = tests.splitlines()
    units: list[str] = []
    pending: list[str] = []
    for node in tree.body:
        end = node.end_lineno or node.lineno
        pending.append("\n".join(lines[node.lineno - 1: end]))
        if isinstance(node, ast.Assert):
            units.append("\n".join(pending))
            pending = []
    if pending:  # set-up after the last assert: part of the last test
        if units:
            units[-1] = "\n".join([units[-1], *pending])
        else:
            units.append("\n".join(pending))
    return units


class CodeOptions(BaseModel):
    """Options of the code verifier and scorer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    isolation: Literal["auto", "bwrap", "process"] = "auto"
    """``auto``: bubblewrap where it works, else a plain child process (recorded)."""
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    """What each run may use."""
    interpreter: str | None = None
    """The Python that runs the programs (default: see :class:`Sandbox`)."""

    def sandbox(self) -> Sandbox:
        """The sandbox these options describe."""
        return Sandbox(self.isolation, self.limits, self.interpreter)


def _verdict(result: ProgramResult, source: str, *, feedback: bool) -> Verdict:
    evidence: dict[str, JsonValue] = {
        "passed": result.passed, "total": result.total, "isolation": result.isolation,
        "seconds": round(result.seconds, 3)}
    if result.outcome == "passed":
        return Verdict.accept(result.message, source=source, evidence=evidence)
    message = result.message
    if result.trace and result.outcome != "test_failed":
        message = f"{message}\n{result.trace.strip()}"
    subject = "Your program" if feedback else "The program"
    if result.outcome in ("time_limit", "resource_limit"):
        message = f"{subject} {message}"
    elif result.outcome == "forbidden":
        message = f"{subject} was stopped: {message}"
    return Verdict.reject(result.outcome, message[-4000:], source=source, evidence=evidence)


class CodeVerifier:
    """Feedback from running the program against the visible tests.

    Args:
        **options: see :class:`CodeOptions` (or pass ``sandbox=`` to share one).
    """

    def __init__(self, sandbox: Sandbox | None = None, **options: Any) -> None:
        self.sandbox = sandbox or parse_options(CodeOptions, options, "code verifier").sandbox()
        self.name = "code"

    async def verify(self, context: AnswerContext | Any, proposal: str) -> Verdict:
        """Run the answer's code against ``context.tests`` (none: it must run cleanly)."""
        code = extract_code(proposal)
        if code is None:
            return Verdict.reject(
                "unparseable", "No code found: put your whole program in one ```python block.")
        tests = list(getattr(context, "tests", ()) or ())
        result = await self.sandbox.arun(code, tests)
        return _verdict(result, self.name, feedback=True)


class CodeScorer:
    """Right when the answer's program passes every hidden test (the record's target).

    Args:
        **options: see :class:`CodeOptions` (or pass ``sandbox=`` to share one).
    """

    def __init__(self, sandbox: Sandbox | None = None, **options: Any) -> None:
        self.sandbox = sandbox or parse_options(CodeOptions, options, "code scorer").sandbox()
        self.name = "code"

    @property
    def info(self) -> SandboxInfo:
        """The isolation the programs run in (for a run's manifest)."""
        return self.sandbox.info

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        """None for tests (a string of statements or a list of them) that parse, at least one."""
        try:
            units = split_tests(target)
            for unit in units:
                ast.parse(unit)
        except (ValueError, SyntaxError) as exc:
            return str(exc) if isinstance(exc, ValueError) else f"a test does not parse: {exc}"
        return None if units else "no hidden tests"

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        """Run the answer's code against the hidden tests."""
        try:
            tests = split_tests(context.target)
        except ValueError as exc:
            return unscorable(self.name, f"the hidden tests: {exc}")
        if not tests:
            return unscorable(self.name, "the record has no hidden tests")
        code = extract_code(proposal)
        if code is None:
            return Judgement(local=Verdict.reject("unparseable", "no code in the answer",
                                                  source=self.name))
        result = await self.sandbox.arun(code, tests)
        return Judgement(local=_verdict(result, self.name, feedback=False))

    def format_verifier(self) -> Verifier[AnswerContext]:
        """:class:`CodeVerifier` on the same sandbox (the visible tests)."""
        return CodeVerifier(sandbox=self.sandbox)
