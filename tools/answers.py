"""Answer scorers: oracles that judge an answer to a dataset question against its target.

Each scorer judges against a record's target (:class:`~redraft.tools.AnswerTruth`) and names
its format verifier (:mod:`redraft.tools.formats`), which checks only the answer's form with
what the agent was shown (:class:`~redraft.tools.AnswerContext`: the question, the choices),
so its feedback leaks nothing.

- ``exact``: the target is a string, a number or a list of accepted strings; the answer is
  compared as normalised text. Format verifier ``answer`` (one short answer).
- ``number``: the target is a number or a string holding one (``"1,234"``, ``"3/4"``, a
  GSM8K ``"... #### 72"``); the answer is read as the number it gives. Verifier ``number``.
- ``choice``: the target is a letter, a 0-based index or one choice's text; the answer is
  read as a letter. Verifier ``choice``.
- ``regex``: targets as ``exact``; the answer is the first group of the pattern's last
  match. Verifier ``regex``.
- ``json``: the target is any JSON value (a string holding an object or array is parsed);
  the answer is the JSON it holds. Verifier ``json``.

The code-execution scorer (``code``) is in :mod:`redraft.tools.code`. The readers the
scorers and format verifiers share (:func:`read_number`, :func:`read_choice`,
:func:`number_target`, :func:`normalise_text`) are exported here too.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.tools._readers import (
    ChoiceRead,
    NumberRead,
    TextNormalisation,
    normalise_text,
    number_target,
    read_choice,
    read_number,
)
from redraft.tools._scorer import AnswerContext, AnswerTruth, unscorable
from redraft.tools._verdict import Judgement, Verdict
from redraft.tools._verifier import Verifier
from redraft.tools.formats import (
    AnswerVerifier,
    ChoiceVerifier,
    JsonVerifier,
    NumberVerifier,
    RegexVerifier,
    compile_pattern,
    extract_match,
    span,
)
from redraft.tools.schema import extract_json

__all__ = [
    "ChoiceRead",
    "ChoiceScorer",
    "ExactScorer",
    "JsonScorer",
    "NumberRead",
    "NumberScorer",
    "RegexScorer",
    "TextNormalisation",
    "normalise_text",
    "number_target",
    "read_choice",
    "read_number",
]


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(value)


class _Normalised(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    case_sensitive: bool = False
    """Keep upper and lower case apart."""
    strip_punctuation: bool = True
    """Drop punctuation and symbols before comparing."""
    collapse_whitespace: bool = True
    """Compare with every run of whitespace as one space, ends trimmed."""
    strip_articles: bool = False
    """Drop the English articles a, an, the before comparing."""
    strict: bool = False
    """Compare the answer as written (ends trimmed): no normalisation at all."""

    def how(self) -> TextNormalisation:
        if self.strict:
            return TextNormalisation(case_sensitive=True, strip_punctuation=False)
        return TextNormalisation(**self.model_dump(include=set(_NORMALISATION)))


_NORMALISATION = ("case_sensitive", "strip_punctuation", "collapse_whitespace", "strip_articles")


def _text_targets(target: JsonValue) -> list[str] | str:
    """The accepted answers of an exact target, or why there are none."""
    if isinstance(target, bool) or target is None or isinstance(target, dict):
        kind = "null" if target is None else type(target).__name__
        return f"a {kind} is not text to compare an answer with"
    if isinstance(target, str | int | float):
        return [str(target)]
    accepted = [t for t in target if isinstance(t, str | int | float) and not isinstance(t, bool)]
    if len(accepted) != len(target) or not accepted:
        return "a list of accepted answers must hold strings or numbers only, at least one"
    return [str(t) for t in accepted]


def _compare_text(
    source: str, answer: str, target: JsonValue, how: TextNormalisation
) -> Judgement:
    accepted = _text_targets(target)
    if isinstance(accepted, str):
        return unscorable(source, f"the target: {accepted}")
    said = normalise_text(answer, how)
    if not said:
        return Judgement(local=Verdict.reject("unparseable", "the answer is empty",
                                              source=source))
    for text in accepted:
        if said == normalise_text(text, how):
            lenient = answer.strip() != text.strip()
            return Judgement(local=Verdict.accept(source=source, evidence={
                "read": said, "lenient": lenient,
                "normalised": ["normalised text"] if lenient else []}))
    return Judgement(local=Verdict.reject(
        "wrong_value", f"{_shown(answer.strip())!r} is not the expected answer", source=source,
        evidence={"read": said, "lenient": False, "normalised": []}))


class ExactScorer(_Normalised):
    """Right when the answer equals the target, or one of a list of accepted answers.

    Both are normalised first: Unicode NFKC, then the options below.
    """

    name: str = Field("exact", exclude=True)
    """The scorer's name in records."""

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        """None for a string, a number or a list of them."""
        accepted = _text_targets(target)
        return accepted if isinstance(accepted, str) else None

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        """Compare the normalised answer with the normalised target(s)."""
        return _compare_text(self.name, proposal, context.target, self.how())

    def format_verifier(self) -> Verifier[AnswerContext]:
        """:class:`AnswerVerifier`."""
        return AnswerVerifier()


class NumberScorer(BaseModel):
    """Right when the number the answer gives equals the target, or lies within a tolerance.

    Numbers compare exactly: ``0.1`` is one tenth, ``3/4`` is ``0.75``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("number", exclude=True)
    """The scorer's name in records."""
    abs_tol: float = Field(0.0, ge=0)
    """An answer this close to the target is right."""
    rel_tol: float = Field(0.0, ge=0)
    """An answer within this fraction of the target's size is right."""
    strict: bool = False
    """Take only an answer that is one number (or marked): a number picked out of prose
    is ``invalid_syntax``."""

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        """None when :func:`number_target` reads a number from the target."""
        value = number_target(target)
        return value if isinstance(value, str) else None

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        """Read the answer's number and compare it with the target's."""
        expected = number_target(context.target)
        if isinstance(expected, str):
            return unscorable(self.name, f"the target: {expected}")
        read = read_number(proposal)
        evidence: dict[str, JsonValue] = {
            "read": None if read.value is None else _number_text(read.value),
            "lenient": read.how == "last", "normalised": list(read.notes),
        }
        if read.value is None:
            return Judgement(local=Verdict.reject(
                "unparseable", "no number in the answer", source=self.name, evidence=evidence))
        if self.strict and read.how == "last":
            return Judgement(local=Verdict.reject(
                "invalid_syntax", f"read strictly, {read.text!r} in prose is not an answer",
                source=self.name, evidence=evidence))
        gap = abs(read.value - expected)
        if gap == 0 or gap <= max(Fraction(self.abs_tol), Fraction(self.rel_tol) * abs(expected)):
            return Judgement(local=Verdict.accept(source=self.name, evidence=evidence))
        return Judgement(local=Verdict.reject(
            "wrong_value", f"{_number_text(read.value)} is not {_number_text(expected)}",
            source=self.name, evidence=evidence))

    def format_verifier(self) -> Verifier[AnswerContext]:
        """:class:`NumberVerifier`."""
        return NumberVerifier(strict=self.strict)


class ChoiceScorer(BaseModel):
    """Right when the letter the answer picks is the target's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("choice", exclude=True)
    """The scorer's name in records."""
    strict: bool = False
    """Take only the letter itself: a letter found in prose, or a choice's text, is
    ``invalid_syntax``."""

    def _letter(self, target: JsonValue, choices: tuple[str, ...]) -> str:
        """The target as a letter; raises ValueError saying why it is none."""
        letters = tuple(chr(ord("A") + i) for i in range(len(choices)))
        if not choices:
            raise ValueError("the record has no choices")
        if isinstance(target, int) and not isinstance(target, bool):
            if 0 <= target < len(choices):
                return letters[target]
            raise ValueError(f"index {target} names no choice (0-based: 0 to {len(choices) - 1})")
        if isinstance(target, str):
            text = target.strip()
            if len(text) == 1 and text.upper() in letters:
                return text.upper()
            if text.isdigit() and int(text) < len(choices):
                return letters[int(text)]
            same = [letters[i] for i, c in enumerate(choices) if c.strip() == text]
            if len(same) == 1:
                return same[0]
            raise ValueError(f"{_shown(text)!r} is neither a letter {span(letters)}, an index "
                             "nor one choice's text")
        raise ValueError(f"a {type(target).__name__} names no choice")

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        """None for a letter, a 0-based index or one choice's exact text."""
        try:
            self._letter(target, context.choices)
        except ValueError as exc:
            return str(exc)
        return None

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        """Read the answer's letter and compare it with the target's."""
        try:
            expected = self._letter(context.target, context.choices)
        except ValueError as exc:
            return unscorable(self.name, f"the target: {exc}")
        read = read_choice(proposal, context.choices)
        evidence: dict[str, JsonValue] = {"read": read.letter, "lenient": bool(read.notes),
                                          "normalised": list(read.notes)}
        if read.status != "ok":
            message = {"illegal": f"{read.letter} names no choice",
                       "ambiguous": f"the answer names several choices: {', '.join(read.found)}",
                       "unparseable": "no choice letter in the answer"}[read.status]
            return Judgement(local=Verdict.reject(read.status, message, source=self.name,
                                                  evidence=evidence))
        if self.strict and read.notes:
            return Judgement(local=Verdict.reject(
                "invalid_syntax", f"read strictly, only a letter is an answer "
                f"({', '.join(read.notes)})", source=self.name, evidence=evidence))
        if read.letter == expected:
            return Judgement(local=Verdict.accept(source=self.name, evidence=evidence))
        return Judgement(local=Verdict.reject(
            "wrong_value", f"{read.letter} is not {expected}", source=self.name,
            evidence=evidence))

    def format_verifier(self) -> Verifier[AnswerContext]:
        """:class:`ChoiceVerifier`."""
        return ChoiceVerifier(strict=self.strict)


class RegexScorer(_Normalised):
    """Right when the pattern's pick from the answer equals the target.

    The pick is the pattern's last match in the answer (its first group, if it has groups);
    it is compared with the target as ``exact`` compares.
    """

    name: str = Field("regex", exclude=True)
    """The scorer's name in records."""
    pattern: str
    """The regular expression that picks the answer out (required)."""

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        """As for ``exact``."""
        accepted = _text_targets(target)
        return accepted if isinstance(accepted, str) else None

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        """Pick the answer out with the pattern, then compare as ``exact`` does."""
        problem = self.target_problem(context.target, context)
        if problem is not None:
            return unscorable(self.name, f"the target: {problem}")
        found = extract_match(compile_pattern(self.pattern, "regex scorer"), proposal)
        if found is None:
            return Judgement(local=Verdict.reject(
                "unparseable", f"no match of {self.pattern}", source=self.name))
        return _compare_text(self.name, found, context.target, self.how())

    def format_verifier(self) -> Verifier[AnswerContext]:
        """:class:`RegexVerifier` with the same pattern."""
        return RegexVerifier(self.pattern)


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), booleans apart from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _json_target(target: JsonValue) -> JsonValue:
    if isinstance(target, str):
        try:
            value: JsonValue = extract_json(target)[0] if target.strip()[:1] in "{[" else target
        except ValueError:
            return target
        return value
    return target


class JsonScorer(BaseModel):
    """Right when the JSON the answer holds equals the target.

    Objects compare in any key order, numbers by value. A string target that holds a JSON
    object or array is parsed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("json", exclude=True)
    """The scorer's name in records."""
    strict: bool = False
    """The whole answer must be the JSON value: JSON in a fence or in prose is
    ``invalid_syntax``."""

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        """None: any JSON value is a target."""
        return None

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        """Extract the answer's JSON and compare it with the target."""
        try:
            value, where = extract_json(proposal)
        except ValueError as exc:
            return Judgement(local=Verdict.reject("unparseable", str(exc), source=self.name))
        evidence: dict[str, JsonValue] = {"found": where, "lenient": where != "whole"}
        if self.strict and where != "whole":
            return Judgement(local=Verdict.reject(
                "invalid_syntax", f"read strictly, JSON in {where} is not an answer",
                source=self.name, evidence=evidence))
        if _json_equal(value, _json_target(context.target)):
            return Judgement(local=Verdict.accept(source=self.name, evidence=evidence))
        return Judgement(local=Verdict.reject(
            "wrong_value", "the JSON differs from the expected value", source=self.name,
            evidence=evidence))

    def format_verifier(self) -> Verifier[AnswerContext]:
        """:class:`JsonVerifier`."""
        return JsonVerifier(strict=self.strict)

