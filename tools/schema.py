"""The schema verifier: does the output hold JSON that validates against a pydantic model?

The JSON may be the whole output, inside a fenced block (```json ... ```) or surrounded by
prose; the first JSON object or array that parses is taken. No JSON at all, or JSON that
does not parse, is ``unparseable``; JSON that fails validation is ``schema_error`` with one
line per problem: the field path, what was expected, and what was found.

    verifier = SchemaVerifier(model=Invoice)
    verdict = await verifier.verify(None, llm_output)
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from redraft.core import BadInputError
from redraft.tools._verdict import Verdict

__all__ = ["SchemaVerifier", "extract_json"]

_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON|jsonc)?[ \t]*\n?(.*?)```", re.DOTALL)
_MAX_ERRORS = 10
_MAX_STARTS = 200
_DECODER = json.JSONDecoder()


def extract_json(text: str) -> tuple[Any, str]:
    """The JSON value an output holds, and where it was found (``whole``, ``fence``, ``prose``).

    Raises:
        ValueError: with a message for the agent when there is none.
    """
    stripped = text.strip()
    first_error: str | None = None
    if stripped:
        try:
            return json.loads(stripped), "whole"
        except (ValueError, RecursionError) as exc:
            if stripped[0] in "{[":
                first_error = str(exc)
    for block in _FENCE_RE.findall(text):
        try:
            return json.loads(block), "fence"
        except (ValueError, RecursionError) as exc:
            first_error = first_error or f"the fenced block does not parse: {exc}"
    for count, m in enumerate(re.finditer(r"[{\[]", text)):
        if count >= _MAX_STARTS:  # bound the work on pathological output
            break
        try:
            value, _ = _DECODER.raw_decode(text, m.start())
        except (ValueError, RecursionError) as exc:
            first_error = first_error or str(exc)
            continue
        if isinstance(value, dict | list):
            return value, "prose"
    if first_error is not None:
        raise ValueError(f"the JSON in the answer does not parse: {first_error[:300]}")
    raise ValueError("no JSON found in the answer")


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, BaseModel) else repr(value)
    kind = "null" if value is None else type(value).__name__
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"


def _problem(error: Any) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    where = f"at '{path}'" if path else "at the top level"
    if error["type"] == "missing":
        return f"{where}: required field is missing"
    if error["type"] == "extra_forbidden":
        return f"{where}: unexpected field (not in the schema)"
    return f"{where}: {error['msg'].lower()}; found {_describe(error.get('input'))}"


class SchemaVerifier:
    """Feedback on output that must validate against a pydantic model (or any type).

    Args:
        model: the pydantic model class (or a type such as ``list[Item]``) to validate against.
        name: the verifier's name in records; default ``schema:<Model>``.
        strict: take only an output that is JSON as a whole (no fence, no prose around it).
    """

    def __init__(self, model: Any = None, *, name: str | None = None,
                 strict: bool = False) -> None:
        if model is None:
            raise BadInputError(
                "the schema verifier needs model=YourPydanticModel (the type the output must "
                "validate against)"
            )
        try:
            self._adapter: TypeAdapter[Any] = TypeAdapter(model)
        except Exception as exc:
            raise BadInputError(f"schema verifier: {model!r} is not a usable type: {exc}") from exc
        self.model = model
        self.strict = strict
        self.name = name or f"schema:{getattr(model, '__name__', str(model))}"

    def check(self, proposal: str) -> Verdict:
        """The verdict, synchronously."""
        try:
            value, where = extract_json(proposal)
        except ValueError as exc:
            return Verdict.reject(
                "unparseable", f"{exc}; reply with one JSON value matching the schema",
                evidence={"found": False},
            )
        if self.strict and where != "whole":
            return Verdict.reject(
                "invalid_syntax",
                f"read strictly, the whole answer must be one JSON value; it was found in "
                f"{'a fenced block' if where == 'fence' else 'surrounding prose'}",
                evidence={"found": where, "lenient": True},
            )
        try:
            self._adapter.validate_python(value)
        except ValidationError as exc:
            errors = exc.errors()
            lines = [_problem(e) for e in errors[:_MAX_ERRORS]]
            if len(errors) > _MAX_ERRORS:
                lines.append(f"... and {len(errors) - _MAX_ERRORS} more problems")
            paths = [".".join(str(p) for p in e["loc"]) for e in errors[:_MAX_ERRORS]]
            return Verdict.reject(
                "schema_error",
                f"the JSON does not match the schema ({len(errors)} problem"
                f"{'s' if len(errors) > 1 else ''}):\n" + "\n".join(f"- {line}" for line in lines),
                evidence={"found": where, "paths": list(paths), "lenient": where != "whole"},
            )
        return Verdict.accept(evidence={"found": where, "lenient": where != "whole"})

    async def verify(self, context: object, proposal: str) -> Verdict:
        """Check ``proposal``; the context is not used."""
        return self.check(proposal)
