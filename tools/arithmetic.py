"""Verifiers and oracles for step-wise arithmetic: long addition and a running sum.

**Long addition** writes one digit per step, right to left. The answer format is
``digit D, carry C``; the reader also takes ``D carry C``, ``7 1`` or a column sum such as
``17`` (noted as lenient). Local: the digit and carry are right given the agent's *own*
previous carry. Global: the digits written so far equal the true sum's (at the last column the
carry is written too, as the leading digit).

**Running sum** states the running total after adding this step's values. The reader takes
``total: N``, ``the running total is N``, ``... = N`` or, failing a marker, the last number.
Local: the total equals the agent's own previous total (as shown to it) plus this step's
values. Global: it equals the true running total. With a ``modulus`` the totals live modulo
it, written at a fixed width (``total: 07`` modulo 100), and answers are compared modulo it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.core import Settings, parse_options
from redraft.tools._numbers import NumberToken, find_numbers
from redraft.tools._verdict import Judgement, Verdict

__all__ = [
    "AdditionContext",
    "AdditionOracle",
    "AdditionVerifier",
    "ArithmeticOracleConfig",
    "ArithmeticVerifierConfig",
    "NumberRead",
    "RunningSumContext",
    "RunningSumOracle",
    "RunningSumTruth",
    "RunningSumVerifier",
    "addition_answer",
    "format_total",
    "read_addition",
    "read_total",
]

ReadStatus = Literal["ok", "unparseable", "invalid_syntax", "illegal"]
ADDITION_FORMAT = "answer as 'digit D, carry C', e.g. 'digit 7, carry 1'"
TOTAL_FORMAT = "answer as 'total: N', e.g. 'total: 42'"


@dataclass(frozen=True)
class NumberRead:
    """What a reader made of an answer: values, or why there are none."""

    status: ReadStatus
    """``ok`` or why the answer could not be taken."""
    message: str = ""
    """Why, phrased for the agent (empty when ``ok``)."""
    values: tuple[int, ...] = ()
    """The values read: ``(digit, carry)`` or ``(total,)``."""
    notes: tuple[str, ...] = ()
    """What had to be normalised."""

    def evidence(self) -> dict[str, JsonValue]:
        """The machine-readable part of a verdict."""
        return {"read": list(self.values), "lenient": bool(self.notes),
                "normalised": list(self.notes)}


# "total: 42", "the total is now **42**", "carry out = 1", "the sum comes to 12".
# Each repetition consumes exactly one filler word or one '*': a nested '\*+' here let a row
# of stars split in exponentially many ways, and a failed match tried them all.
_FILLER = r"(?:\s*(?:is|:|=|of|out|now|becomes|equals|comes\s+to|would\s+be|will\s+be|\*))*"
_KEYED_RE = {
    key: re.compile(rf"\b{key}\b{_FILLER}\s*(?=[-−–]?\d)", re.IGNORECASE)
    for key in ("digit", "carry", "total", "answer", "sum")
}
_CANONICAL_ADDITION = re.compile(r"^\s*digit \d, carry \d\s*\.?\s*$")
_CANONICAL_TOTAL = re.compile(r"^\s*total: -?\d+\s*$")


def _after(text: str, key: str, numbers: list[NumberToken]) -> NumberToken | None:
    """The first number right after the last ``key`` marker."""
    by_start = {number.start: number for number in numbers}
    for marker in reversed(list(_KEYED_RE[key].finditer(text))):
        number = by_start.get(marker.end())
        if number is not None:
            return number
    return None


def _after_equals(text: str, numbers: list[NumberToken]) -> list[NumberToken]:
    """The numbers written right after an ``=`` (spaces allowed), in linear time."""
    found = []
    for number in numbers:
        i = number.start
        while i > 0 and text[i - 1].isspace():
            i -= 1
        if i > 0 and text[i - 1] == "=":
            found.append(number)
    return found


def _bad_number(number: NumberToken) -> NumberRead | None:
    if number.too_long:
        return NumberRead("invalid_syntax", f"{number.text[:20]}... is far too long a number")
    if number.fractional or number.value is None:
        return NumberRead("invalid_syntax", f"{number.text} is not a whole number")
    return None


def _strictly(read: NumberRead, strict: bool, fmt: str) -> NumberRead:
    """A lenient reading refused: with ``strict`` the answer must be in the exact format."""
    if not strict or read.status != "ok" or not read.notes:
        return read
    return NumberRead("invalid_syntax", f"read strictly, {fmt} and nothing else; the answer "
                      f"was readable only leniently ({'; '.join(read.notes)})",
                      values=read.values, notes=read.notes)


def read_addition(text: str, *, strict: bool = False) -> NumberRead:
    """Read ``(digit, carry)`` from an answer; never raises.

    With ``strict=True`` only the exact ``digit D, carry C`` form is taken.
    """
    return _strictly(_read_addition(text), strict, ADDITION_FORMAT)


def _read_addition(text: str) -> NumberRead:
    numbers = find_numbers(text)
    if not numbers:
        return NumberRead("unparseable",
                          f"no digit and carry found in the answer; {ADDITION_FORMAT}")
    notes: list[str] = []
    digit_tok, carry_tok = _after(text, "digit", numbers), _after(text, "carry", numbers)
    if digit_tok is None and carry_tok is not None:
        before = [n for n in numbers if n.end <= carry_tok.start]
        if before:
            digit_tok = before[-1]
            notes.append(f"read {digit_tok.text} before 'carry' as the digit")
    pair: tuple[NumberToken, NumberToken] | None = None
    if digit_tok is not None and carry_tok is not None:
        pair = (digit_tok, carry_tok)
    elif digit_tok is None and carry_tok is None and len(numbers) == 2:
        pair = (numbers[0], numbers[1])
        notes.append(f"read {numbers[0].text} {numbers[1].text} as digit and carry")
    if pair is None:
        summed = _after(text, "sum", numbers) or _after(text, "answer", numbers)
        eq = _after_equals(text, numbers)
        single = summed or (eq[-1] if eq else None) or (numbers[0] if len(numbers) == 1 else None)
        if single is not None and digit_tok is None and carry_tok is None:
            bad = _bad_number(single)
            if bad is not None:
                return bad
            value = single.value or 0
            if 10 <= value <= 19 or (len(single.text) == 2 and value < 10):
                notes.append(f"read the column sum {single.text} as digit {value % 10}, "
                             f"carry {value // 10}")
                return NumberRead("ok", values=(value % 10, value // 10), notes=tuple(notes))
        missing = "carry" if digit_tok is not None else "digit" if carry_tok is not None else (
            "digit and the carry"
        )
        return NumberRead("invalid_syntax", f"could not tell the {missing} in the answer; "
                          f"{ADDITION_FORMAT}", notes=tuple(notes))
    for number in pair:
        bad = _bad_number(number)
        if bad is not None:
            return bad
    digit, carry = pair[0].value or 0, pair[1].value or 0
    if not 0 <= digit <= 9:
        return NumberRead("invalid_syntax", f"the digit must be one of 0-9, not {digit}",
                          values=(digit, carry), notes=tuple(notes))
    if carry not in (0, 1):
        return NumberRead(
            "illegal",
            f"a carry of {carry} is impossible: two digits plus a carry of at most 1 make at "
            "most 19, so the carry is 0 or 1",
            values=(digit, carry), notes=tuple(notes),
        )
    if not notes and not _CANONICAL_ADDITION.match(text):
        notes.append("digit and carry picked out of free text")
    return NumberRead("ok", values=(digit, carry), notes=tuple(notes))


def read_total(text: str, *, strict: bool = False) -> NumberRead:
    """Read a running total from an answer; never raises.

    With ``strict=True`` only the exact ``total: N`` form is taken.
    """
    return _strictly(_read_total(text), strict, TOTAL_FORMAT)


def _read_total(text: str) -> NumberRead:
    numbers = find_numbers(text)
    if not numbers:
        return NumberRead("unparseable", f"no total found in the answer; {TOTAL_FORMAT}")
    notes: list[str] = []
    chosen = _after(text, "total", numbers) or _after(text, "answer", numbers)
    if chosen is None:
        eq = _after_equals(text, numbers)
        chosen = eq[-1] if eq else numbers[-1]
        if len(numbers) > 1:
            which = "number after the last =" if eq else "last number"
            notes.append(f"took {chosen.text}, the {which}")
    bad = _bad_number(chosen)
    if bad is not None:
        return NumberRead(bad.status, f"{bad.message}; totals are whole numbers; {TOTAL_FORMAT}")
    if chosen.grouped:
        notes.append("thousands separators dropped")
    if not notes and not _CANONICAL_TOTAL.match(text):
        notes.append("total picked out of free text")
    return NumberRead("ok", values=(chosen.value or 0,), notes=tuple(notes))


def _reject(read: NumberRead, source: str) -> Verdict:
    return Verdict.reject(read.status, read.message, evidence=read.evidence(), source=source)


class AdditionContext(BaseModel):
    """One column of a long addition, as the agent has it."""

    model_config = ConfigDict(frozen=True)

    a: str
    """The first number's digits."""
    b: str
    """The second number's digits."""
    column: int = Field(ge=0)
    """The column to write, 0 for the units."""
    carry_in: int = Field(0, ge=0)
    """The carry the agent itself stated at the previous column (0 at the units)."""
    written: str = ""
    """The digits the agent has written so far, as read (most significant first)."""

    @property
    def width(self) -> int:
        """How many columns there are."""
        return max(len(self.a), len(self.b))

    def digits(self) -> tuple[int, int]:
        """The two digits of this column."""
        a, b = self.a.zfill(self.width), self.b.zfill(self.width)
        return int(a[-1 - self.column]), int(b[-1 - self.column])

    @property
    def last(self) -> bool:
        """True at the leftmost column, whose carry is written as the leading digit."""
        return self.column == self.width - 1

    def true_sum(self) -> str:
        """The true sum, zero-padded to ``width + 1`` digits."""
        return str(int(self.a) + int(self.b)).zfill(self.width + 1)


def addition_answer(digit: int, carry: int) -> str:
    """The canonical answer text."""
    return f"digit {digit}, carry {carry}"


class ArithmeticVerifierConfig(Settings):
    """Options of :class:`AdditionVerifier` and :class:`RunningSumVerifier`."""

    reveal: bool = False
    """Put the right value in the hint of a ``wrong_value`` verdict (a calculator critic)."""
    strict: bool = False
    """Take only answers in the exact format; anything read leniently is ``invalid_syntax``."""


class ArithmeticOracleConfig(Settings):
    """Options of :class:`AdditionOracle` and :class:`RunningSumOracle`."""

    strict: bool = False
    """Judge only answers in the exact format; anything read leniently is ``invalid_syntax``."""


def _addition_local(context: AdditionContext, read: NumberRead, reveal: bool) -> Verdict:
    x, y = context.digits()
    total = x + y + context.carry_in
    digit, carry = read.values
    if (digit, carry) == (total % 10, total // 10):
        return Verdict.accept(evidence=read.evidence())
    wrong = [part for part, bad in (("digit", digit != total % 10), ("carry", carry != total // 10))
             if bad]
    sum_text = f"{x} + {y} + carry {context.carry_in}"
    message = (f"the {' and the '.join(wrong)} {'are' if len(wrong) > 1 else 'is'} wrong for "
               f"column {context.column + 1} from the right: recompute {sum_text}")
    hint = f"{sum_text} = {total}: {addition_answer(total % 10, total // 10)}" if reveal else None
    return Verdict.reject("wrong_value", message, hint=hint,
                          evidence={**read.evidence(), "wrong": list(wrong)})


class AdditionVerifier:
    """Feedback on one column of a long addition (a calculator that checks the step).

    Args:
        **options: see :class:`ArithmeticVerifierConfig`.
    """

    name = "addition"

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(ArithmeticVerifierConfig, options, "addition verifier")

    def check(self, context: AdditionContext, proposal: str) -> Verdict:
        """The verdict, synchronously."""
        read = read_addition(proposal, strict=self.config.strict)
        if read.status != "ok":
            return _reject(read, self.name)
        return _addition_local(context, read, self.config.reveal)

    async def verify(self, context: AdditionContext, proposal: str) -> Verdict:
        """Check the digit and carry for ``context``'s column."""
        return self.check(context, proposal)


class AdditionOracle:
    """Ground truth for long addition: the step (local) and the written digits (global).

    Args:
        **options: see :class:`ArithmeticOracleConfig`.
    """

    name = "addition"

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(ArithmeticOracleConfig, options, "addition oracle")

    def judge_sync(self, context: AdditionContext, proposal: str) -> Judgement:
        """The judgement, synchronously."""
        read = read_addition(proposal, strict=self.config.strict)
        if read.status != "ok":
            failed = _reject(read, self.name)
            return Judgement(local=failed, global_state=failed)
        local = _addition_local(context, read, reveal=False)
        local = local.model_copy(update={"source": self.name})
        digit, carry = read.values
        mine = str(digit) + context.written
        if context.last:
            mine = str(carry) + mine
        truth = context.true_sum()[-len(mine):]
        if mine == truth:
            global_state = Verdict.accept(evidence={"written": mine}, source=self.name)
        else:
            global_state = Verdict.reject(
                "wrong_value", f"the digits written so far, {mine}, differ from the true {truth}",
                evidence={"written": mine, "true": truth}, source=self.name,
            )
        return Judgement(local=local, global_state=global_state)

    async def judge(self, context: AdditionContext, proposal: str) -> Judgement:
        """Judge the digit and carry for ``context``'s column."""
        return self.judge_sync(context, proposal)


def format_total(value: int, modulus: int | None = None) -> str:
    """A running total as written in prompts and answers.

    With a ``modulus`` the value is reduced modulo it and zero-padded to the width of
    ``modulus - 1`` (``7`` modulo 100 is ``07``), so every total has the same length.
    """
    if modulus is None:
        return str(value)
    return str(value % modulus).zfill(len(str(modulus - 1)))


class RunningSumContext(BaseModel):
    """One step of a running sum, as the agent has it: the verifier's context.

    It holds what the prompt shows and nothing more, so a verifier checks the step against
    the agent's own previous total and cannot know the true one.
    """

    model_config = ConfigDict(frozen=True)

    keys: tuple[str, ...]
    """The keys named at this step."""
    values: tuple[int, ...]
    """Their values, in the same order."""
    previous: int
    """The previous total as the agent was shown it (its own, or a planted error)."""
    modulus: int | None = Field(None, ge=2)
    """Totals are taken modulo this (None: plain integers)."""

    def reduce(self, value: int) -> int:
        """``value`` modulo :attr:`modulus` (unchanged without one)."""
        return value if self.modulus is None else value % self.modulus

    def expected(self) -> int:
        """The locally right total (reduced modulo :attr:`modulus`)."""
        return self.reduce(self.previous + sum(self.values))

    def answer(self, value: int) -> str:
        """The canonical answer stating ``value`` (``total: N``, fixed width modulo)."""
        return f"total: {format_total(value, self.modulus)}"


class RunningSumTruth(RunningSumContext):
    """One step of a running sum with the truth: the oracle's context."""

    true_previous: int
    """The true running total before this step."""

    def truth(self) -> int:
        """The true running total after this step (reduced modulo :attr:`modulus`)."""
        return self.reduce(self.true_previous + sum(self.values))


def _sum_local(context: RunningSumContext, read: NumberRead, reveal: bool) -> Verdict:
    stated = read.values[0]
    expected = context.expected()
    if context.reduce(stated) == expected:
        return Verdict.accept(evidence=read.evidence())
    parts = " + ".join(f"{k} ({v})" for k, v in zip(context.keys, context.values, strict=True))
    previous = format_total(context.previous, context.modulus)
    modulo = "" if context.modulus is None else f", modulo {context.modulus}"
    message = f"{stated} is wrong: recompute the previous total {previous} + {parts}{modulo}"
    hint = f"the total is {format_total(expected, context.modulus)}" if reveal else None
    return Verdict.reject("wrong_value", message, hint=hint, evidence=read.evidence())


class RunningSumVerifier:
    """Feedback on one step of a running sum.

    Args:
        **options: see :class:`ArithmeticVerifierConfig`.
    """

    name = "running_sum"

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(ArithmeticVerifierConfig, options, "running_sum verifier")

    def check(self, context: RunningSumContext, proposal: str) -> Verdict:
        """The verdict, synchronously."""
        read = read_total(proposal, strict=self.config.strict)
        if read.status != "ok":
            return _reject(read, self.name)
        return _sum_local(context, read, self.config.reveal)

    async def verify(self, context: RunningSumContext, proposal: str) -> Verdict:
        """Check the stated total against the previous total plus this step's values."""
        return self.check(context, proposal)


class RunningSumOracle:
    """Ground truth for a running sum: the step (local) and the true total (global).

    Args:
        **options: see :class:`ArithmeticOracleConfig`.
    """

    name = "running_sum"

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(ArithmeticOracleConfig, options, "running_sum oracle")

    def judge_sync(self, context: RunningSumTruth, proposal: str) -> Judgement:
        """The judgement, synchronously."""
        read = read_total(proposal, strict=self.config.strict)
        if read.status != "ok":
            failed = _reject(read, self.name)
            return Judgement(local=failed, global_state=failed)
        local = _sum_local(context, read, reveal=False).model_copy(update={"source": self.name})
        stated, truth = context.reduce(read.values[0]), context.truth()
        if stated == truth:
            global_state = Verdict.accept(evidence={"true": truth}, source=self.name)
        else:
            global_state = Verdict.reject(
                "wrong_value", f"the total {stated} differs from the true total {truth}",
                evidence={"true": truth, "stated": stated}, source=self.name,
            )
        return Judgement(local=local, global_state=global_state)

    async def judge(self, context: RunningSumTruth, proposal: str) -> Judgement:
        """Judge the stated total."""
        return self.judge_sync(context, proposal)
