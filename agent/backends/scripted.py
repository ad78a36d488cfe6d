"""The ``scripted`` backend: returns given outputs in order. For tests and docs.

Like python-chess's ``MockTransport``: script what the model says, run the code, then
:meth:`ScriptedBackend.assert_done` checks every scripted output was consumed. Every request
is recorded, so a test can assert the whole transcript.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError

from redraft.agent.backends._protocol import ConstraintKind, Generation, GenerationRequest
from redraft.core import BadInputError, Cost

__all__ = ["ScriptConstraintError", "ScriptExhaustedError", "ScriptedBackend"]

Output = str | Generation | Callable[[GenerationRequest], str | Generation]
"""A scripted text, a whole generation (to script reasoning fields, token counts or a finish
reason), or a callable computing either from the request."""


class ScriptExhaustedError(BadInputError, AssertionError):
    """The code asked the scripted backend for more outputs than were scripted.

    Bad input (the script is too short for the run) to the command line, and an
    ``AssertionError`` to a test.
    """


class ScriptConstraintError(BadInputError, AssertionError):
    """A scripted output breaks the ``choice`` constraint of the request it answers."""


class ScriptedBackend:
    """Return scripted outputs in order, one per request, across batches.

    Args:
        outputs: texts, generations, or callables computing either from the request. A
            text costs one completion token per word; a generation costs what it says.
        name: the model string shown in records.
        constraint_kinds: constraint kinds to claim support for; a scripted output that
            breaks a ``choice`` constraint raises, so tests notice.
    """

    def __init__(
        self,
        outputs: Iterable[Output] = (),
        *,
        name: str = "scripted/inline",
        constraint_kinds: frozenset[ConstraintKind] = frozenset({"choice"}),
    ) -> None:
        self.name = name
        self.constraint_kinds = constraint_kinds
        self._outputs: list[Output] = list(outputs)
        self._next = 0
        self.requests: list[GenerationRequest] = []
        """Every request received, in order."""
        self.calls = 0
        """How many times :meth:`generate` was called (one per batch)."""

    @classmethod
    def from_spec(cls, spec: str) -> ScriptedBackend:
        """Build from a JSONL file of outputs, one per line.

        Each line is a JSON string, ``{"text": ...}``, or a whole generation
        (``{"text": ..., "reasoning": ..., "finish_reason": "length", ...}``).
        """
        path = Path(spec)
        if not path.is_file():
            raise BadInputError(f"scripted backend: no such file {spec!r} (one output per line)")
        outputs: list[Output] = []
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise BadInputError(
                f"scripted backend: {spec} is not UTF-8 text (offset {exc.start}); save it "
                "as UTF-8 (JSON escapes such as \\u00e9 work too)"
            ) from exc
        for number, line in enumerate(content.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{spec}:{number}: not JSON ({exc.msg})") from exc
            if isinstance(value, dict) and set(value) - {"text"}:
                # A whole generation: reasoning, finish_reason, usage, ...
                try:
                    outputs.append(Generation.model_validate(value))
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(p) for p in first["loc"])
                    raise BadInputError(f"{spec}:{number}: {where}: {first['msg']}") from exc
                continue
            text = value.get("text") if isinstance(value, dict) else value
            if not isinstance(text, str):
                raise BadInputError(f'{spec}:{number}: expected a string or {{"text": ...}}')
            outputs.append(text)
        return cls(outputs, name=f"scripted/{spec}")

    def extend(self, outputs: Iterable[Output]) -> None:
        """Script more outputs."""
        self._outputs.extend(outputs)

    @property
    def remaining(self) -> int:
        """Scripted outputs not yet consumed."""
        return len(self._outputs) - self._next

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Return the next scripted output for each request."""
        self.calls += 1
        results = []
        for request in requests:
            self.requests.append(request)
            if self._next >= len(self._outputs):
                raise ScriptExhaustedError(
                    f"{self.name}: scripted backend exhausted after {len(self._outputs)} "
                    f"outputs (script more, or run fewer episodes or steps); unexpected "
                    f"{request.purpose} request{_for(request)}: "
                    f"{request.messages[-1].content[:200]!r}"
                )
            output = self._outputs[self._next]
            self._next += 1
            scripted = output(request) if callable(output) else output
            text = scripted.text if isinstance(scripted, Generation) else scripted
            constraint = request.constraint
            allowed = constraint.choices if constraint and constraint.kind == "choice" else None
            if allowed is not None and text not in allowed:
                shown = ", ".join(allowed[:10]) + (", ..." if len(allowed) > 10 else "")
                raise ScriptConstraintError(
                    f"{self.name}: scripted output {self._next} ({text[:80]!r}) breaks the "
                    f"choice constraint of its {request.purpose} request{_for(request)}: it "
                    f"must be one of {shown}"
                )
            if isinstance(scripted, Generation):
                results.append(scripted)
                continue
            prompt_tokens = sum(len(m.content.split()) for m in request.messages)
            results.append(
                Generation(
                    text=text,
                    usage=Cost(prompt_tokens=prompt_tokens, completion_tokens=len(text.split())),
                )
            )
        return results

    def assert_done(self) -> None:
        """Raise ``AssertionError`` unless every scripted output was consumed."""
        if self.remaining:
            raise AssertionError(f"{self.remaining} scripted outputs were never requested")

    async def aclose(self) -> None:
        """Nothing to release."""


def _for(request: GenerationRequest) -> str:
    return f" for item {request.item_id}" if request.item_id is not None else ""
