"""Answer scorers: oracles that judge an answer against a dataset record's target.

A scorer is an :class:`~redraft.tools.Oracle` over :class:`AnswerTruth` (the verifier context
:class:`AnswerContext` plus the target) that can also say, before a run starts, whether it
can score against a given target at all (:meth:`Scorer.target_problem`): the dataset task
asks it of every record as it loads, so a target of the wrong type stops the run in one line
instead of turning into a column of unknowns.

A judgement is ``unknown`` only with a code that says so: ``unscorable`` (this scorer cannot
compare an answer with this target; the message says why), or the runner's ``oracle_error``
when the scorer raised. An answer the scorer cannot read is *incorrect* (the model's error),
never unknown.

Scorers register by name in :data:`scorers` (entry point group ``redraft.scorers``), like
verifiers in ``redraft.verifiers``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from redraft.core import BadInputError, Registry
from redraft.tools._verdict import Judgement, Verdict
from redraft.tools._verifier import Verifier

__all__ = [
    "AnswerContext",
    "AnswerTruth",
    "FormatChecking",
    "Scorer",
    "Turn",
    "load_scorer",
    "register_scorer",
    "scorers",
    "unscorable",
]


class Turn(BaseModel):
    """An earlier sub-question of a multi-step record, with the answer the agent committed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: str
    """The sub-question as it was asked."""
    answer: str
    """The answer the agent committed to it (its own, right or wrong)."""


class AnswerContext(BaseModel):
    """What a format verifier may see of one step of a dataset record: never its target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record: str
    """The record's id (its ``id`` field, or its line number in the file)."""
    step: int = 0
    """The sub-question's index (0 for a record of one question)."""
    question: str
    """The question as the agent was asked it (the rendered template)."""
    choices: tuple[str, ...] = ()
    """The choices' texts, labelled A, B, C, ... in that order (empty: not multiple choice)."""
    tests: tuple[str, ...] = ()
    """The visible tests of a code problem (each a Python statement or block)."""
    history: tuple[Turn, ...] = ()
    """The earlier sub-questions of the record and the agent's own answers to them."""

    def letters(self) -> tuple[str, ...]:
        """The choices' labels: ``A``, ``B``, ... one per choice."""
        return tuple(chr(ord("A") + i) for i in range(len(self.choices)))


class AnswerTruth(AnswerContext):
    """What a scorer sees: the verifier context plus the record's target."""

    target: JsonValue = Field(...)
    """The right answer as the file holds it (a number, a string, a letter, a JSON value, or
    a code problem's hidden tests)."""


@runtime_checkable
class Scorer(Protocol):
    """An oracle over :class:`AnswerTruth` that can vet targets before a run starts."""

    name: str

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        """Judge ``proposal`` (the answer) against ``context.target``."""
        ...

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        """Why this scorer cannot score answers against ``target`` (None: it can).

        ``context`` is the record's step as the verifier would see it (e.g. its choices, to
        check that a letter names one). Phrased to follow "the target ...": e.g. ``"'twelve'
        is not a number"``.
        """
        ...


@runtime_checkable
class FormatChecking(Protocol):
    """A scorer that also offers feedback on an answer's form (without the target)."""

    def format_verifier(self) -> Verifier[AnswerContext]:
        """The verifier that checks what this scorer needs of an answer's form."""
        ...


def unscorable(source: str, why: str, **evidence: JsonValue) -> Judgement:
    """An ``unknown`` judgement that says why the scorer could not judge (``unscorable``)."""
    return Judgement(
        local=Verdict.reject("unscorable", f"{source}: {why}", source=source, evidence=evidence)
    )


scorers = Registry("scorer", "redraft.scorers")
"""The answer scorer registry (entry point group ``redraft.scorers``): ``f(**options) ->
Scorer``."""

register_scorer = scorers.register
"""Decorator registering a scorer factory under a name."""

for _name, _target in {
    "exact": "redraft.tools.answers:ExactScorer",
    "number": "redraft.tools.answers:NumberScorer",
    "choice": "redraft.tools.answers:ChoiceScorer",
    "regex": "redraft.tools.answers:RegexScorer",
    "json": "redraft.tools.answers:JsonScorer",
    "code": "redraft.tools.code:CodeScorer",
}.items():
    scorers.add_lazy(_name, _target)


def load_scorer(name: str, /, **options: Any) -> Scorer:
    """Build the scorer registered as ``name`` with ``options``.

    Raises:
        UnknownPluginError: no scorer of that name.
        BadInputError: an option it does not take or a bad value, or a factory that does
            not return a :class:`Scorer`.
    """
    factory = scorers.get(name)
    try:
        scorer = factory(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        raise BadInputError(f"{name} scorer option {where}: {first['msg']}") from None
    except TypeError as exc:
        raise BadInputError(
            f"{name} scorer rejected its options {sorted(options)}: {exc}") from None
    if not isinstance(scorer, Scorer):
        raise BadInputError(
            f"scorer {name!r} built {type(scorer).__name__}, which is not a Scorer: it needs a "
            "name, async judge(context, answer) and target_problem(target, context)"
        )
    return scorer
