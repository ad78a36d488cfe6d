"""The answer extractor: every path, and corrections inside one generation."""

from __future__ import annotations

import pytest

from redraft.agent import ANSWER_MARKER, RETRY_MARKER
from redraft.agent._answer import (
    ExtractedAnswer,
    extract_answer,
    marked_values,
    missing_answer_verdict,
    strip_think,
)
from redraft.agent.backends import Generation
from redraft.core import Cost


def gen(text: str, *, tokens: int = 0, finish: str = "stop", **fields: object) -> Generation:
    return Generation(
        text=text, usage=Cost(completion_tokens=tokens), finish_reason=finish, **fields
    )


def test_public_markers() -> None:
    assert RETRY_MARKER == "[BACK]"
    assert ANSWER_MARKER == "ANSWER:"


# (output, monologue) -> (answer, first_answer, answers, path)
CODE = "```python\ndef total(xs):\n    # Answer: the sum of xs\n    return sum(xs)\n```"
CASES = [
    ("17", False, ("17", "17", 1, "plain")),
    ("  e4 \n", False, ("e4", "e4", 1, "plain")),
    ("", False, (None, None, 0, "none")),
    ("Let me think.\n8 + 9 = 17\nANSWER: 17", True, ("17", "17", 1, "marker")),
    ("Let me think.\n8 + 9 = 16\nANSWER: 16\nWait, 9 + 8 = 17.\nANSWER: 17", True,
     ("17", "16", 2, "marker")),
    ("**Answer:** 17", False, ("17", "17", 1, "marker")),
    ("Final answer: 17", True, ("17", "17", 1, "marker")),
    ("reasoning\nANSWER:\n17", True, ("17", "17", 1, "marker")),
    ("16 [BACK] 17", False, ("17", "16", 2, "plain")),
    ("16 [BACK] 15 [BACK] 17", False, ("17", "16", 3, "plain")),
    ("ANSWER: 16\n[BACK]\nANSWER: 17", True, ("17", "16", 2, "marker")),
    ("16 [BACK]", False, ("16", "16", 1, "plain")),
    # The monologue was asked for and never answered: reasoning only, no answer.
    ("Let me think.\n8 + 9 is a sum of two numbers.", True, (None, None, 0, "none")),
    # ... but one line is an answer, given without reasoning.
    ("17", True, ("17", "17", 1, "plain")),
    # Without the monologue the visible text is the answer, as always.
    ("Let me think.\n17", False, ("Let me think.\n17", "Let me think.\n17", 1, "plain")),
    ("<think>8+9=17</think>17", False, ("17", "17", 1, "plain")),
    ("<think>8+9=17</think>\nLet me explain.\nIt is 17.", True,
     ("Let me explain.\nIt is 17.", "Let me explain.\nIt is 17.", 1, "plain")),
    ("<think>a</think><think>b</think>ANSWER: 17", True, ("17", "17", 1, "marker")),
    ("<think>I am still thinking", False, (None, None, 0, "none")),
    ("<think>8+9=17</think>", False, (None, None, 0, "none")),
    # A marker inside a fenced code block is code (a comment), not the answer line.
    (CODE, False, (CODE, CODE, 1, "plain")),
    (CODE + "\nANSWER: 42", True, ("42", "42", 1, "marker")),
    ("```python\n# Answer: 17\nprint(17)", False,  # an unclosed fence runs to the end
     ("```python\n# Answer: 17\nprint(17)",) * 2 + (1, "plain")),
]


@pytest.mark.parametrize(("text", "monologue", "expected"), CASES)
def test_paths(text: str, monologue: bool, expected: tuple[object, ...]) -> None:
    extracted = extract_answer(gen(text), monologue=monologue)
    got = (extracted.answer, extracted.first_answer, extracted.answers, extracted.path)
    assert got == expected


def test_reasoning_is_everything_but_the_answer() -> None:
    extracted = extract_answer(
        gen("<think>inner</think>Step one.\nANSWER: 16\nNo, wait.\nANSWER: 17\n", tokens=30),
        monologue=True,
    )
    assert extracted.answer == "17"
    assert extracted.reasoning == "inner\n\nStep one.\nANSWER: 16\nNo, wait."
    assert extracted.reasoning_source == "think"
    assert extracted.corrected
    assert 0 < extracted.reasoning_tokens < 30


def test_a_plain_answer_has_no_reasoning() -> None:
    extracted = extract_answer(gen("17", tokens=1))
    assert extracted == ExtractedAnswer(answer="17", first_answer="17", answers=1)
    assert not extracted.corrected


def test_same_answer_twice_is_not_a_correction() -> None:
    extracted = extract_answer(gen("ANSWER: 17\nchecking...\nANSWER: 17"), monologue=True)
    assert extracted.answers == 2 and not extracted.corrected


def test_reasoning_field_takes_precedence_and_counts() -> None:
    extracted = extract_answer(
        gen("17", tokens=50, reasoning="long thought", reasoning_tokens=48), monologue=True
    )
    assert extracted.answer == "17"
    assert extracted.reasoning == "long thought"
    assert extracted.reasoning_source == "field"
    assert extracted.reasoning_tokens == 48


def test_reasoning_field_with_multiline_content_is_an_answer() -> None:
    # A reasoning model put its reasoning aside: the content is the answer, markers or not.
    extracted = extract_answer(gen("line one\nline two", reasoning="thought"), monologue=True)
    assert extracted.answer == "line one\nline two"


@pytest.mark.parametrize(
    ("text", "truncated", "answer"),
    [
        ("<think>still thinking about", True, None),
        ("Step one. Step two. Step", True, "Step one. Step two. Step"),  # cut mid-answer
        ("ANSWER: 17\nAnd let me explain why", False, "17"),  # the answer was complete
        ("reasoning\nANSWER: 1", True, "1"),  # might have been 17
        ("reasoning\nmore reasoning", True, None),
    ],
)
def test_cut_at_the_token_limit(text: str, truncated: bool, answer: str | None) -> None:
    extracted = extract_answer(gen(text, tokens=8, finish="length"), monologue=True)
    assert (extracted.truncated, extracted.answer) == (truncated, answer)


def test_an_unclosed_think_block_that_stopped_is_no_answer_not_truncated() -> None:
    extracted = extract_answer(gen("<think>hmm", tokens=3, finish="stop"))
    assert extracted.answer is None and not extracted.truncated
    assert extracted.reasoning == "hmm" and extracted.reasoning_tokens == 3


def test_strip_think() -> None:
    assert strip_think("a<think>b</think>c") == ("ac", "b", False)
    assert strip_think("x</think>y") == ("y", "x", False)
    assert strip_think("a<think>b") == ("a", "b", True)
    assert strip_think("plain") == ("plain", "", False)


def test_marked_values_with_another_marker() -> None:
    text = "I checked it.\nVERDICT: INCORRECT: 16 should be 17"
    assert [v for v, _, _ in marked_values(text, "VERDICT:")] == ["INCORRECT: 16 should be 17"]
    assert marked_values("The answer is 17.", ANSWER_MARKER) == []


def test_missing_answer_verdicts() -> None:
    assert missing_answer_verdict(truncated=True, source="extractor").code == "truncated"
    verdict = missing_answer_verdict(truncated=False, source="extractor")
    assert verdict.code == "no_answer" and "ANSWER:" in verdict.message
