"""From raw records to questions: the field mapping, sub-questions, checks of every field.

Each role (the question, the target, the id, the choices, the visible tests, the list of
sub-questions, a reference solution) is read from the field the user named, or else from the
first of its usual names the file has (:data:`DEFAULT_FIELDS`). A record that lacks a field
or holds one of the wrong shape is a :class:`~redraft.evals.tasks._files.BadRecord` whose
reason names the field.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from redraft.tools.code import split_tests

__all__ = [
    "DEFAULT_FIELDS",
    "Layout",
    "Record",
    "Step",
    "choice_columns",
    "parse_record",
    "placeholders",
    "render",
]

DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "input": ("input", "question", "prompt", "problem", "text"),
    "target": ("target", "answer", "label", "output", "hidden_tests"),
    "id": ("id", "task_id", "qid", "uid"),
    "choices": ("choices", "options"),
    "steps": ("steps", "subquestions", "questions"),
    "tests": ("tests", "visible_tests", "test_list"),
    "solution": ("solution", "canonical_solution", "reference"),
}
"""The usual names of each role's field, tried in order when the user names none."""

ROLES = tuple(DEFAULT_FIELDS)


@dataclass(frozen=True)
class Layout:
    """Which field plays which role (None: the dataset has none)."""

    input: str | None
    target: str
    id: str | None
    choices: str | tuple[str, ...] | None
    """A field holding the choices, or the columns holding one choice each (CSV: A, B, C)."""
    steps: str | None
    tests: str | None
    solution: str | None
    metadata: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One question an episode asks."""

    question: str
    target: JsonValue
    choices: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()
    solution: str | None = None
    fields: dict[str, JsonValue] = field(default_factory=dict)
    """The fields the question's template may name."""


@dataclass(frozen=True)
class Record:
    """One record: one episode of one or more steps."""

    id: str
    where: str
    preamble: str | None
    """Text shared by a record's sub-questions (its input field), shown before the first."""
    steps: tuple[Step, ...]
    metadata: dict[str, JsonValue]


def choice_columns(names: Iterable[str]) -> tuple[str, ...]:
    """Columns named A, B, C, ... in a row from A (at least two), as CSV files often hold."""
    present = set(names)
    columns: list[str] = []
    for letter in string.ascii_uppercase:
        if letter not in present:
            break
        columns.append(letter)
    return tuple(columns) if len(columns) >= 2 else ()


def _text(value: JsonValue) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def _choices(value: JsonValue) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("holds text that starts like a JSON list but does not parse"
                             ) from None
    if isinstance(value, dict):
        value = [value[k] for k in sorted(value)]
    if not isinstance(value, list) or len(value) < 2:
        raise ValueError("must be a list of at least two choices (or an object of letter -> "
                         "choice)")
    texts = [_text(v) for v in value]
    if any(t is None for t in texts):
        raise ValueError("every choice must be non-empty text")
    if len(texts) > 26:
        raise ValueError(f"holds {len(texts)} choices; at most 26 (A-Z) are labelled")
    return tuple(t for t in texts if t is not None)


class _Missing(ValueError):
    pass


def _get(data: dict[str, JsonValue], name: str | None, role: str) -> JsonValue:
    if name is None or name not in data or data[name] is None or data[name] == "":
        raise _Missing(f"field {name!r}: missing ({role})" if name else f"no {role} field")
    return data[name]


def _step(data: dict[str, JsonValue], layout: Layout, record: dict[str, JsonValue],
          prefix: str) -> Step:
    def where(name: str | None) -> str:
        return f"field {prefix}{name!r}"

    question = _text(_get(data, layout.input, "the question"))
    if question is None:
        raise ValueError(f"{where(layout.input)}: must be non-empty text")
    target = _get(data, layout.target, "the target")
    choices: tuple[str, ...] = ()
    if isinstance(layout.choices, tuple):
        choices = tuple(_text(data.get(c)) or "" for c in layout.choices)
        if not all(choices):
            empty = [c for c, t in zip(layout.choices, choices, strict=True) if not t]
            raise ValueError(f"field {prefix}{empty[0]!r}: missing (a choice)")
    elif layout.choices is not None and data.get(layout.choices) not in (None, ""):
        try:
            choices = _choices(data[layout.choices])
        except ValueError as exc:
            raise ValueError(f"{where(layout.choices)}: {exc}") from None
    tests: tuple[str, ...] = ()
    source = data if layout.tests in data else record
    if layout.tests is not None and source.get(layout.tests) not in (None, ""):
        try:
            tests = tuple(split_tests(source[layout.tests]))
        except ValueError as exc:
            raise ValueError(f"{where(layout.tests)}: {exc}") from None
    solution = None
    if layout.solution is not None:
        solution = _text(data.get(layout.solution) or record.get(layout.solution))
    fields = {k: v for k, v in record.items() if _text(v) is not None}
    fields.update({k: v for k, v in data.items() if _text(v) is not None})
    return Step(question, target, choices, tests, solution, fields)


def parse_record(where: str, data: dict[str, JsonValue], layout: Layout) -> Record:
    """The record's id and questions.

    Raises:
        ValueError: naming the field that is missing or malformed.
    """
    ident = _text(data.get(layout.id)) if layout.id else None
    steps: list[Step] = []
    preamble = None
    try:
        nested = data.get(layout.steps) if layout.steps else None
        if nested is not None:
            if not isinstance(nested, list) or not nested:
                raise ValueError(f"field {layout.steps!r}: must be a non-empty list of "
                                 "sub-questions (objects)")
            for i, item in enumerate(nested):
                if not isinstance(item, dict):
                    raise ValueError(f"field {layout.steps!r}[{i}]: must be an object")
                steps.append(_step(item, layout, data, f"{layout.steps}[{i}]."))
            preamble = _text(data.get(layout.input)) if layout.input else None
        else:
            steps.append(_step(data, layout, data, ""))
    except _Missing as exc:
        raise ValueError(str(exc)) from None
    metadata = {name: data[name] for name in layout.metadata if name in data}
    return Record(ident or where, where, preamble, tuple(steps), metadata)


def placeholders(template: str) -> list[str]:
    """The field names a template names (``{input}``, ``{choices}``, a record's field).

    Raises:
        ValueError: a malformed template, or a placeholder with an attribute or index.
    """
    names = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"the template does not parse: {exc}") from None
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"template placeholder {{{name}}}: write a field's plain name "
                             "(no attribute, index or position)")
        names.append(name)
    return names


def render(template: str, step: Step, letters: Sequence[str]) -> str:
    """The question as the agent is asked it."""
    values: dict[str, str] = {
        k: v if isinstance(v, str) else json.dumps(v) for k, v in step.fields.items()
    }
    values["input"] = step.question
    values["choices"] = "\n".join(
        f"{letter}. {choice}" for letter, choice in zip(letters, step.choices, strict=True))
    values["tests"] = "\n".join(step.tests)
    return template.format_map(values)
