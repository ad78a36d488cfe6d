"""The ``dataset`` task: questions and answers from a file, one record per episode.

``redraft eval dataset --task-option path=FILE`` runs a JSON Lines, JSON, CSV/TSV or Parquet
file. Record ``i`` is episode ``i`` (without ``--episodes``, every record once); a record of
one question is an episode of one step, and a record holding a list of sub-questions
(``steps``) is an episode of several: the agent sees each one after its own answers to the
earlier ones, so errors before and after correction, survival and compounding are measured
across them as for the built-in tasks.

The oracle is an answer scorer (``redraft.tools``; by name with ``scorer=``, else chosen by
the targets: visible tests or a ``hidden_tests`` target make it ``code``, choices make it
``choice``, numeric targets ``number``, JSON objects or lists ``json``, anything else
``exact``). The verifier is the scorer's format check (the visible tests, for code), built
from the verifier context alone: the target reaches only the oracle. Every record is checked
as the file loads; a bad one stops the run in one line naming the file, the line and the
field (``on_bad_record="skip"`` leaves it out instead, and the manifest counts it). The
manifest records the file's name and content hash (and the sandbox, for code); a resume on
a changed file is refused.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.agent.backends import Constraint, Message, SimulationHint
from redraft.core import parse_options
from redraft.evals._manifest import file_sha256
from redraft.evals.tasks._episode import ClosingMixin, EpisodeBase
from redraft.evals.tasks._files import (
    BadRecord,
    DatasetError,
    FileFormat,
    file_format,
    read_records,
)
from redraft.evals.tasks._protocol import ErrorPolicy, StepPrompt, StepResult
from redraft.evals.tasks._records import (
    DEFAULT_FIELDS,
    Layout,
    Record,
    Step,
    choice_columns,
    parse_record,
    placeholders,
    render,
)
from redraft.tools import (
    AnswerContext,
    AnswerTruth,
    FormatChecking,
    Judgement,
    Scorer,
    Turn,
    Verifier,
    load_scorer,
)
from redraft.tools.answers import number_target
from redraft.tools.formats import AnswerVerifier

__all__ = ["DEFAULT_TEMPLATES", "DatasetConfig", "DatasetEpisode", "DatasetError", "DatasetTask"]

log = logging.getLogger("redraft.dataset")
_warned: set[str] = set()

_ANSWER_LINE = "Give your final answer on a last line of the form 'ANSWER: ...'."
DEFAULT_TEMPLATES: dict[str, str] = {
    "number": "{input}\n\nGive your final answer as a number on a last line 'ANSWER: N'.",
    "choice": "{input}\n\n{choices}\n\nAnswer with the letter of the right choice, on a last "
              "line 'ANSWER: X'.",
    "code": "{input}\n\nYour code should pass these tests:\n{tests}\n\nWrite the whole program "
            "in one ```python block.",
    "exact": f"{{input}}\n\n{_ANSWER_LINE}",
}
"""The question template per scorer, when the config gives none (others: ``{input}``)."""


class DatasetConfig(BaseModel):
    """Options of the ``dataset`` task (``--task-option KEY=VALUE``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    """The dataset file (required)."""
    format: Literal["auto", "jsonl", "json", "csv", "tsv", "parquet"] = "auto"
    """How to read it; ``auto``: by its suffix."""
    input: str | None = None
    """The question's field (default: the first of input, question, prompt, problem, text);
    with sub-questions, the text shown before the first of them."""
    target: str | None = None
    """The answer's field (default: target, answer, label, output, hidden_tests); for code,
    the hidden tests."""
    id: str | None = None
    """The record's id field (default: id, task_id, qid, uid; else its line number)."""
    choices: str | list[str] | None = None
    """The field holding the choices (a list, or an object of letter -> text), or the
    columns holding one each (default: choices, options; else columns A, B, C, ...)."""
    steps: str | None = None
    """The field holding a list of sub-questions, each an object with its own question and
    target fields (default: steps, subquestions, questions)."""
    tests: str | None = None
    """The visible tests' field, for code (default: tests, visible_tests, test_list)."""
    solution: str | None = None
    """A reference solution's field (default: solution, canonical_solution, reference): the
    right answer the ``simulated`` backend plays, for code."""
    metadata: list[str] = Field(default_factory=list)
    """Fields copied into each step's log record."""
    template: str | None = None
    """The question as asked: ``{input}``, ``{choices}`` (lettered), ``{tests}`` and any
    field of the record (default: per scorer, :data:`DEFAULT_TEMPLATES`)."""
    system: str | None = None
    """A system message (default: none)."""
    scorer: str | None = None
    """The oracle, a registered scorer (default: chosen by the targets, see the module)."""
    scorer_options: dict[str, JsonValue] = Field(default_factory=dict)
    """Options of the scorer (e.g. ``{"rel_tol": 0.01}``; for code: ``isolation``,
    ``limits``)."""
    strict: bool = False
    """Read answers strictly, scorer and format check alike: only the answer alone counts
    (a number or letter picked out of prose is ``invalid_syntax``). Passed to the scorer as
    its ``strict`` option (every built-in text scorer has one)."""
    on_bad_record: Literal["stop", "skip"] = "stop"
    """A record with a missing or malformed field stops the run (one line naming the file,
    the line and the field), or is left out (each logged; the manifest counts them)."""


def _resolve(config: DatasetConfig, fields: set[str], path: Path) -> Layout:
    def pick(role: str, given: str | None) -> str | None:
        if given is not None:
            return given
        return next((name for name in DEFAULT_FIELDS[role] if name in fields), None)

    target = pick("target", config.target)
    if target is None:
        raise DatasetError(
            f"{path}: no target field (looked for {', '.join(DEFAULT_FIELDS['target'])}; its "
            f"fields are {', '.join(sorted(fields))}): name it with --task-option target=FIELD"
        )
    choices: str | tuple[str, ...] | None
    if isinstance(config.choices, list):
        choices = tuple(config.choices)
    else:
        choices = pick("choices", config.choices) or choice_columns(fields) or None
    return Layout(input=pick("input", config.input), target=target, id=pick("id", config.id),
                  choices=choices, steps=pick("steps", config.steps),
                  tests=pick("tests", config.tests), solution=pick("solution", config.solution),
                  metadata=tuple(config.metadata))


def _numeric(target: JsonValue) -> bool:
    return isinstance(number_target(target), Fraction)


def _choose_scorer(layout: Layout, steps: list[Step]) -> tuple[str, str]:
    """The scorer a dataset's records call for, and why."""
    if any(s.tests for s in steps) or layout.target == "hidden_tests":
        return "code", "its records hold tests"
    if all(s.choices for s in steps):
        return "choice", "every record has choices"
    if all(_numeric(s.target) for s in steps):
        return "number", "every target is a number"
    if all(isinstance(s.target, dict) or (isinstance(s.target, list) and not _texts(s.target))
           for s in steps):
        return "json", "every target is a JSON object or list"
    return "exact", "its targets are text (a list: accepted answers)"


def _texts(value: list[JsonValue]) -> bool:
    """A list of strings: accepted answers (SQuAD's, TriviaQA's aliases), not a JSON value."""
    return bool(value) and all(isinstance(v, str) for v in value)


class DatasetTask(ClosingMixin):
    """Questions and answers from a file; episode ``i`` is record ``i``.

    Args:
        **options: see :class:`DatasetConfig`.

    Raises:
        DatasetError: the file, or (unless ``on_bad_record="skip"``) a record, is bad.
    """

    name = "dataset"
    error_policies: tuple[ErrorPolicy, ...] = ("stop", "continue")
    representations: tuple[str, ...] = ("chat",)

    def __init__(self, representation: str = "chat", **options: Any) -> None:
        if representation != "chat":
            raise DatasetError(f"the dataset task has one representation, chat, not "
                               f"{representation!r}")
        self.config = parse_options(DatasetConfig, options, "dataset task")
        self.path = Path(self.config.path).expanduser()
        fmt: FileFormat = file_format(self.path, self.config.format)
        raw = list(read_records(self.path, fmt))
        fields = {k for r in raw if not isinstance(r, BadRecord) for k in r.data}
        layout = _resolve(self.config, fields, self.path)
        self.records: list[Record] = []
        self.skipped: list[str] = []
        seen: dict[str, str] = {}
        for item in raw:
            problem = item.reason if isinstance(item, BadRecord) else None
            if problem is None and not isinstance(item, BadRecord):
                try:
                    record = parse_record(item.where, item.data, layout)
                except ValueError as exc:
                    problem = str(exc)
                else:
                    if record.id in seen:
                        problem = f"field {layout.id!r}: {record.id!r} is already the id of " \
                                  f"{seen[record.id]}"
                    else:
                        seen[record.id] = record.where
                        self.records.append(record)
            if problem is not None:
                self._bad(item.where, problem)
        steps = [s for r in self.records for s in r.steps]
        if not steps:
            raise DatasetError(f"{self.path}: no usable records ({len(self.skipped)} left out; "
                               f"the first: {self.skipped[0] if self.skipped else 'none'})")
        if self.config.scorer is not None:
            scorer_name, why = self.config.scorer, "named in the options"
        else:
            scorer_name, why = _choose_scorer(layout, steps)
        strict: dict[str, JsonValue] = {"strict": True} if self.config.strict else {}
        self.scorer: Scorer = load_scorer(scorer_name, **{**strict, **self.config.scorer_options})
        self._why = why
        self.template = self.config.template or DEFAULT_TEMPLATES.get(scorer_name, "{input}")
        self._vet(layout, scorer_name)
        self._sha256 = file_sha256(self.path) if self.path.is_file() else ""
        self._format = fmt

    def _bad(self, where: str, problem: str) -> None:
        line = f"{self.path}, {where}, {problem}"
        if self.config.on_bad_record == "stop":
            raise DatasetError(f"{line} (fix it, or leave such records out with "
                               "--task-option on_bad_record=skip)")
        if line not in _warned:  # once per process: a grid loads the file for every run
            _warned.add(line)
            log.warning("redraft: skipping %s", line)
        self.skipped.append(f"{where}, {problem}")

    def _vet(self, layout: Layout, scorer_name: str) -> None:
        """Check every step's target with the scorer and the template against every record."""
        try:
            named = placeholders(self.template)
        except ValueError as exc:
            raise DatasetError(f"dataset task option template: {exc}") from None
        kept: list[Record] = []
        for record in self.records:
            problem = None
            for index, step in enumerate(record.steps):
                where = f"{layout.steps}[{index}]." if len(record.steps) > 1 else ""
                missing = [n for n in named if n not in ("input", "choices", "tests")
                           and n not in step.fields]
                if missing:
                    problem = f"field {missing[0]!r}: missing (the template names it)"
                    break
                why = self.scorer.target_problem(step.target, self._context(record, index, ()))
                if why is not None:
                    problem = (f"field {where}{layout.target!r}: the target {why} (scorer "
                               f"{scorer_name}: {self._why})")
                    break
            if problem is None:
                kept.append(record)
            else:
                self._bad(record.where, problem)
        if not kept:
            raise DatasetError(f"{self.path}: no usable records ({len(self.skipped)} left out; "
                               f"the first: {self.skipped[0]})")
        self.records = kept

    def __len__(self) -> int:
        """How many records (episodes) the task holds."""
        return len(self.records)

    def _context(self, record: Record, index: int, history: tuple[Turn, ...]) -> AnswerContext:
        step = record.steps[index]
        letters = tuple(chr(ord("A") + i) for i in range(len(step.choices)))
        return AnswerContext(record=record.id, step=index,
                             question=render(self.template, step, letters),
                             choices=step.choices, tests=step.tests, history=history)

    def verifier(self) -> Verifier[Any]:
        """The scorer's format check (the visible tests, for code): no target in sight."""
        if isinstance(self.scorer, FormatChecking):
            return self.scorer.format_verifier()
        return AnswerVerifier()

    def oracle(self) -> Scorer:
        """The answer scorer (it gets the target)."""
        return self.scorer

    def provenance(self) -> dict[str, JsonValue]:
        """The file's name, size and hash, the records used, the scorer (and sandbox)."""
        short = self._sha256[:12]
        skipped = f", {len(self.skipped)} left out" if self.skipped else ""
        info: dict[str, JsonValue] = {
            "dataset": {
                "name": self.path.name, "path": self.config.path, "format": self._format,
                "sha256": self._sha256, "records": len(self.records),
                "skipped": list(self.skipped[:50]), "skipped_count": len(self.skipped),
                "summary": f"{self.path.name}: {len(self.records)} records{skipped} "
                           f"(sha256 {short})",
            },
            "scorer": {"name": self.scorer.name, "why": self._why,
                       "summary": f"{self.scorer.name} ({self._why})"},
        }
        sandbox = getattr(self.scorer, "info", None)
        if isinstance(sandbox, BaseModel):
            summary = getattr(sandbox, "summary", None)
            info["sandbox"] = {**sandbox.model_dump(mode="json"),
                               "summary": summary() if callable(summary) else ""}
        return info

    def new_episode_at(self, index: int, seed: int, *, max_steps: int,
                       error_policy: ErrorPolicy) -> DatasetEpisode:
        """The episode of record ``index``."""
        if not 0 <= index < len(self.records):
            raise DatasetError(f"{self.path} holds {len(self.records)} records; there is no "
                               f"record {index}")
        return DatasetEpisode(self, self.records[index], seed, max_steps=max_steps,
                              error_policy=error_policy)

    def new_episode(self, seed: int, *, max_steps: int, error_policy: ErrorPolicy
                    ) -> DatasetEpisode:
        """The episode of record ``seed`` modulo the record count.

        The runner uses :meth:`new_episode_at` (episode ``i`` is record ``i``).
        """
        return self.new_episode_at(seed % len(self.records), seed, max_steps=max_steps,
                                   error_policy=error_policy)


class DatasetEpisode(EpisodeBase):
    """One record: its questions asked in turn, each after the agent's earlier answers."""

    def __init__(self, task: DatasetTask, record: Record, seed: int, *, max_steps: int,
                 error_policy: ErrorPolicy) -> None:
        super().__init__("dataset", seed, max_steps=max_steps, error_policy=error_policy)
        self.dataset = task
        self.record = record
        self.turns: list[Turn] = []

    def _messages(self, question: str) -> tuple[Message, ...]:
        messages = []
        if self.dataset.config.system:
            messages.append(Message(role="system", content=self.dataset.config.system))
        asked = [turn.question for turn in self.turns] + [question]
        if self.record.preamble:
            asked[0] = f"{self.record.preamble}\n\n{asked[0]}"
        for i, text in enumerate(asked):
            messages.append(Message(role="user", content=text))
            if i < len(self.turns):
                messages.append(Message(role="assistant", content=self.turns[i].answer))
        return tuple(messages)

    def prompt(self) -> StepPrompt:
        """The current question, with the agent's earlier answers as the conversation."""
        self._ensure_running()
        context = self.dataset._context(self.record, self.step, tuple(self.turns))
        step = self.record.steps[self.step]
        return StepPrompt(
            messages=self._messages(context.question),
            context=context,
            oracle_context=AnswerTruth(**context.model_dump(), target=step.target),
            constraint=_constraint(self.dataset.scorer.name, context),
            hint=self._hint(step, context),
        )

    def _hint(self, step: Step, context: AnswerContext) -> SimulationHint | None:
        """A right and some wrong answers, for the ``simulated`` backend (None: unknown)."""
        kind, target = self.dataset.scorer.name, step.target
        if kind == "number" and _numeric(target):
            value = number_target(target)
            if isinstance(value, Fraction):
                right = _number(value)
                return self.hint(right, [_number(value + 1), _number(value - 1),
                                         _number(value * 10 + 1), "I do not know."])
        if kind == "choice":
            letters = context.letters()
            letter = _letter(target, context.choices)
            if letter is not None:
                return self.hint(letter, [x for x in letters if x != letter])
        if kind == "exact" and isinstance(target, str | int | float):
            return self.hint(str(target), ["I do not know.", f"not {target}"])
        if kind == "exact" and isinstance(target, list) and target:
            return self.hint(str(target[0]), ["I do not know."])
        if kind == "code" and step.solution is not None:
            return self.hint(f"```python\n{step.solution}\n```",
                             ["```python\ndef solution(*args):\n    return None\n```"])
        return None

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        """Record the answer; end after the last question (or the first error, under stop)."""
        self._ensure_running()
        question = self.dataset._context(self.record, self.step, ()).question
        self.turns.append(Turn(question=question, answer=proposal))
        info: dict[str, JsonValue] = {"record": self.record.id}
        if self.record.metadata:
            info["metadata"] = dict(self.record.metadata)
        return self.finish_step(action=proposal[:500], correctness=judgement.correctness,
                                natural=self.step + 1 >= len(self.record.steps), info=info)


def _number(value: Fraction) -> str:
    # A fraction as a fraction: 1/3 written as a decimal would not be 1/3 to the scorer.
    return str(value.numerator) if value.denominator == 1 else str(value)


def _letter(target: JsonValue, choices: tuple[str, ...]) -> str | None:
    letters = tuple(chr(ord("A") + i) for i in range(len(choices)))
    if isinstance(target, int) and not isinstance(target, bool) and 0 <= target < len(choices):
        return letters[target]
    if isinstance(target, str):
        text = target.strip()
        if text.upper() in letters:
            return text.upper()
        if text.isdigit() and int(text) < len(choices):
            return letters[int(text)]
        if text in choices:
            return letters[choices.index(text)]
    return None


def _constraint(scorer: str, context: AnswerContext) -> Constraint | None:
    if scorer == "choice" and context.choices:
        return Constraint(kind="choice", choices=context.letters())
    if scorer == "number":
        return Constraint(kind="regex", pattern=r"-?[0-9]{1,12}(\.[0-9]{1,6})?")
    return None
