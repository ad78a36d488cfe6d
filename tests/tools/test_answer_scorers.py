"""The answer scorers and format verifiers: readers, judgements, and the conformance suite."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

import pytest
from pydantic import JsonValue

from redraft.core import BadInputError, UnknownPluginError
from redraft.tools import (
    AnswerContext,
    AnswerTruth,
    Judgement,
    load_scorer,
    register_scorer,
    scorers,
    unscorable,
    verifiers,
)
from redraft.tools.answers import (
    ChoiceScorer,
    ExactScorer,
    JsonScorer,
    NumberScorer,
    RegexScorer,
    read_choice,
    read_number,
)
from redraft.tools.conformance import ConformanceError, ScorerConformance, check_scorer

QUESTION = AnswerContext(record="1", question="How many?")
CAPITALS = AnswerContext(record="2", question="Capital of France?",
                         choices=("Lyon", "Paris", "Nice", "Metz"))


def truth(target: JsonValue, context: AnswerContext = QUESTION) -> AnswerTruth:
    return AnswerTruth(**context.model_dump(), target=target)


def judge(scorer: Any, target: JsonValue, answer: str,
          context: AnswerContext = QUESTION) -> Judgement:
    result: Judgement = asyncio.run(scorer.judge(truth(target, context), answer))
    return result


@pytest.mark.parametrize(("text", "value", "how"), [
    ("42", 42, "whole"),
    ("-7", -7, "whole"),
    ("1,234", 1234, "whole"),
    ("$1,234.50", Fraction("1234.5"), "whole"),
    ("3/4", Fraction(3, 4), "whole"),
    ("0.1", Fraction(1, 10), "whole"),
    ("50%", 50, "whole"),
    ("She has 3 apples, then 5 more, so 8 in all.", 8, "last"),
    ("Janet makes 9 a day.\n#### 18", 18, "marked"),
    ("so \\boxed{12} is it, not 13", 12, "marked"),
    ("The answer is 17. (I checked 4 times.)", 17, "marked"),
    ("42.", 42, "whole"),
])
def test_read_number(text: str, value: Fraction | int, how: str) -> None:
    read = read_number(text)
    assert (read.value, read.how) == (value, how)


@pytest.mark.parametrize("text", ["", "no digits here", "x2 and v1.2", "1/0"])
def test_read_number_finds_none(text: str) -> None:
    assert read_number(text).value is None


@pytest.mark.parametrize(("text", "status", "letter"), [
    ("B", "ok", "B"), ("(B)", "ok", "B"), ("B. Paris", "ok", "B"), ("**B**", "ok", "B"),
    ("b)", "ok", "B"), ("The answer is C", "ok", "C"), ("Paris", "ok", "B"),
    ("I think D is right", "ok", "D"), ("E", "illegal", "E"), ("B or C", "ambiguous", None),
    ("A bird", "unparseable", None), ("", "unparseable", None),
])
def test_read_choice(text: str, status: str, letter: str | None) -> None:
    read = read_choice(text, CAPITALS.choices)
    assert (read.status, read.letter) == (status, letter)


def test_number_scorer_judges_and_tolerates() -> None:
    scorer = NumberScorer()
    assert judge(scorer, 18, "#### 18").correctness == "correct"
    assert judge(scorer, "1,234", "1234").correctness == "correct"
    assert judge(scorer, 0.75, "3/4").correctness == "correct"
    assert judge(scorer, "Janet ... #### 72", "72").correctness == "correct"
    wrong = judge(scorer, 18, "17")
    assert (wrong.correctness, wrong.local.code) == ("incorrect", "wrong_value")
    assert judge(scorer, 18, "eighteen").local.code == "unparseable"
    assert judge(NumberScorer(rel_tol=0.01), 100, "100.5").correctness == "correct"
    assert judge(NumberScorer(strict=True), 8, "so 8 in all").local.code == "invalid_syntax"


def test_exact_scorer_normalises_as_asked() -> None:
    assert judge(ExactScorer(), "Paris", " paris. ").correctness == "correct"
    assert judge(ExactScorer(case_sensitive=True), "Paris", "paris").correctness == "incorrect"
    assert judge(ExactScorer(), ["USA", "United States"], "U.S.A.").correctness == "correct"
    assert judge(ExactScorer(strip_articles=True), "Eiffel Tower",
                 "the Eiffel tower").correctness == "correct"


def test_choice_scorer_takes_letters_indices_and_texts() -> None:
    scorer = ChoiceScorer()
    for target in ("B", "b", 1, "1", "Paris"):
        assert judge(scorer, target, "B", CAPITALS).correctness == "correct", target
    assert judge(scorer, "B", "C", CAPITALS).local.code == "wrong_value"
    assert scorer.target_problem("E", CAPITALS) is not None
    assert scorer.target_problem(7, CAPITALS) is not None


def test_regex_and_json_scorers() -> None:
    regex = RegexScorer(pattern=r"FINAL=(\w+)")
    assert judge(regex, "yes", "think... FINAL=no ... FINAL=Yes").correctness == "correct"
    assert judge(regex, "yes", "yes").local.code == "unparseable"
    with pytest.raises(BadInputError, match="not a regular expression"):
        asyncio.run(RegexScorer(pattern="(").judge(truth("x"), "x"))
    scorer = JsonScorer()
    assert judge(scorer, {"a": 1, "b": [1, 2]}, '```json\n{"b": [1, 2.0], "a": 1}\n```'
                 ).correctness == "correct"
    assert judge(scorer, '{"a": true}', '{"a": 1}').correctness == "incorrect"


def test_an_unscorable_target_is_unknown_and_says_why() -> None:
    judgement = judge(NumberScorer(), "twelve", "12")
    assert judgement.correctness == "unknown"
    assert judgement.local.code == "unscorable"
    assert "'twelve' is not a number" in judgement.local.message


def test_scorers_load_by_name_and_refuse_bad_options() -> None:
    assert isinstance(load_scorer("number", abs_tol=0.5), NumberScorer)
    with pytest.raises(BadInputError, match="abs_tol"):
        load_scorer("number", abs_tol="much")
    with pytest.raises(BadInputError, match="tolerance"):
        load_scorer("number", tolerance=1)
    with pytest.raises(UnknownPluginError, match=r"redraft\.scorers"):
        load_scorer("nonesuch")
    for name in ("answer", "number", "choice", "json", "code"):
        assert name in verifiers.names()


class TestExactConformance(ScorerConformance):
    def make_scorer(self) -> ExactScorer:
        return ExactScorer()

    def cases(self) -> list[tuple[AnswerTruth, str, Any]]:
        return [(truth("Paris"), "Paris", "correct"), (truth("Paris"), "paris!", "correct"),
                (truth("Paris"), "Lyon", "incorrect"), (truth(["1", "one"]), "One", "correct")]

    def bad_targets(self) -> list[tuple[JsonValue, AnswerContext]]:
        return [(None, QUESTION), ({"a": 1}, QUESTION), ([], QUESTION), (True, QUESTION)]


class TestNumberConformance(ScorerConformance):
    def make_scorer(self) -> NumberScorer:
        return NumberScorer()

    def cases(self) -> list[tuple[AnswerTruth, str, Any]]:
        return [(truth(42), "42", "correct"), (truth("42"), "It is 42.", "correct"),
                (truth(42), "41", "incorrect"), (truth(0.5), "1/2", "correct")]

    def bad_targets(self) -> list[tuple[JsonValue, AnswerContext]]:
        return [("twelve", QUESTION), (None, QUESTION), ([1], QUESTION), (True, QUESTION),
                (float("nan"), QUESTION)]


class TestChoiceConformance(ScorerConformance):
    def make_scorer(self) -> ChoiceScorer:
        return ChoiceScorer()

    def cases(self) -> list[tuple[AnswerTruth, str, Any]]:
        return [(truth("B", CAPITALS), "B", "correct"), (truth(1, CAPITALS), "(B)", "correct"),
                (truth("B", CAPITALS), "C", "incorrect")]

    def bad_targets(self) -> list[tuple[JsonValue, AnswerContext]]:
        return [("E", CAPITALS), (9, CAPITALS), ("B", QUESTION), (None, CAPITALS)]


class TestRegexConformance(ScorerConformance):
    def make_scorer(self) -> RegexScorer:
        return RegexScorer(pattern=r"ANSWER=(\w+)")

    def cases(self) -> list[tuple[AnswerTruth, str, Any]]:
        return [(truth("yes"), "ANSWER=yes", "correct"), (truth("yes"), "ANSWER=no", "incorrect")]

    def bad_targets(self) -> list[tuple[JsonValue, AnswerContext]]:
        return [(None, QUESTION)]


class TestJsonConformance(ScorerConformance):
    def make_scorer(self) -> JsonScorer:
        return JsonScorer()

    def cases(self) -> list[tuple[AnswerTruth, str, Any]]:
        return [(truth({"a": 1}), '{"a": 1}', "correct"), (truth([1]), "[2]", "incorrect")]


class _Shrugging:
    """A scorer whose unknown does not say why (a reject code that is not an unknown one)."""

    name = "shrugging"

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        if context.target == "?":
            return Judgement(local=unscorable(self.name, "x").local.model_copy(
                update={"code": "oracle_error", "message": " "}))
        return await ExactScorer().judge(context, proposal)

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        return "no" if target == "?" else None


def test_conformance_catches_an_unknown_without_a_reason() -> None:
    with pytest.raises(ConformanceError, match="without saying why"):
        check_scorer(_Shrugging(), [(truth("a"), "a", "correct")], [("?", QUESTION)])


def test_conformance_catches_a_format_verifier_stricter_than_its_scorer() -> None:
    scorer = NumberScorer(strict=False)
    # The strict verifier refuses "so 8 in all", which the lenient scorer judges right.
    scorer_with_strict_check = _StrictCheck()
    with pytest.raises(ConformanceError, match="rejected"):
        check_scorer(scorer_with_strict_check, [(truth(8), "so 8 in all", "correct")])
    check_scorer(scorer, [(truth(8), "so 8 in all", "correct")])


class _StrictCheck:
    name = "number"

    async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
        return await NumberScorer().judge(context, proposal)

    def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
        return NumberScorer().target_problem(target, context)

    def format_verifier(self) -> Any:
        return NumberScorer(strict=True).format_verifier()


def test_a_registered_scorer_works_like_a_built_in() -> None:
    @register_scorer("test_upper_31")
    class Upper:
        name = "upper"

        async def judge(self, context: AnswerTruth, proposal: str) -> Judgement:
            problem = self.target_problem(context.target, context)
            if problem is not None:
                return unscorable(self.name, problem)
            return await ExactScorer(case_sensitive=True).judge(context, proposal.upper())

        def target_problem(self, target: JsonValue, context: AnswerContext) -> str | None:
            return None if isinstance(target, str) else "not text"

    try:
        scorer = load_scorer("test_upper_31")
        check_scorer(scorer, [(truth("PARIS"), "paris", "correct"),
                              (truth("PARIS"), "lyon", "incorrect")], [(1, QUESTION)])
    finally:
        scorers._factories.pop("test_upper_31", None)


def test_strict_reading_takes_only_the_answer_alone() -> None:
    assert judge(ExactScorer(strict=True), "Paris", "paris").correctness == "incorrect"
    assert judge(ExactScorer(strict=True), "Paris", " Paris ").correctness == "correct"
    assert judge(ChoiceScorer(strict=True), "B", "I think B", CAPITALS).local.code == (
        "invalid_syntax")
    assert judge(ChoiceScorer(strict=True), "B", "(B)", CAPITALS).correctness == "correct"
    assert judge(JsonScorer(strict=True), [1], "```json\n[1]\n```").local.code == (
        "invalid_syntax")
    for scorer, context, answer in ((ChoiceScorer(strict=True), CAPITALS, "Paris"),
                                    (JsonScorer(strict=True), QUESTION, "it is [1]")):
        verdict = asyncio.run(scorer.format_verifier().verify(context, answer))
        assert verdict.code == "invalid_syntax"
