from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redraft.tools import verifiers, verify_sync
from redraft.tools.arithmetic import (
    AdditionContext,
    AdditionOracle,
    AdditionVerifier,
    RunningSumContext,
    RunningSumOracle,
    RunningSumTruth,
    RunningSumVerifier,
    read_addition,
    read_total,
)
from redraft.tools.conformance import VerifierConformance

# 478 + 256 = 734. Units: 8 + 6 = 14 -> digit 4, carry 1. Tens: 7 + 5 + 1 = 13.
UNITS = AdditionContext(a="478", b="256", column=0)
TENS = AdditionContext(a="478", b="256", column=1, carry_in=1, written="4")
TENS_AFTER_WRONG_CARRY = AdditionContext(a="478", b="256", column=1, carry_in=0, written="4")
LAST = AdditionContext(a="978", b="256", column=2, carry_in=1, written="34")  # 1234


@pytest.mark.parametrize(
    ("text", "values", "lenient"),
    [
        ("digit 4, carry 1", (4, 1), False),
        ("Digit: 4, Carry: 1.", (4, 1), True),
        ("The digit is 4 and the carry is 1", (4, 1), True),
        ("4 carry 1", (4, 1), True),
        ("4, 1", (4, 1), True),
        ("14", (4, 1), True),
        ("8 + 6 = 14", (4, 1), True),
        ("The column sums to 14, so I write 4 and carry 1", (4, 1), True),
        ("digit: **4**, carry out = 1", (4, 1), True),
    ],
)
def test_addition_reader(text: str, values: tuple[int, int], lenient: bool) -> None:
    read = read_addition(text)
    assert (read.status, read.values, bool(read.notes)) == ("ok", values, lenient)


@pytest.mark.parametrize(
    ("text", "status", "fragment"),
    [
        ("", "unparseable", "digit D, carry C"),
        ("no idea", "unparseable", "digit D, carry C"),
        ("4", "invalid_syntax", "could not tell the digit and the carry"),
        ("digit 4", "invalid_syntax", "could not tell the carry"),
        ("digit 14, carry 0", "invalid_syntax", "one of 0-9"),
        ("digit 4.5, carry 1", "invalid_syntax", "not a whole number"),
        ("digit 4, carry 2", "illegal", "carry is 0 or 1"),
    ],
)
def test_addition_reader_failures(text: str, status: str, fragment: str) -> None:
    read = read_addition(text)
    assert read.status == status and fragment in read.message


def test_addition_local_uses_the_agents_own_carry() -> None:
    verifier = AdditionVerifier()
    assert verify_sync(verifier, UNITS, "digit 4, carry 1").ok
    assert verify_sync(verifier, TENS, "digit 3, carry 1").ok
    # After a wrong carry of 0, 7 + 5 + 0 = 12 is locally right (and globally wrong).
    assert verify_sync(verifier, TENS_AFTER_WRONG_CARRY, "digit 2, carry 1").ok
    wrong = verify_sync(verifier, TENS, "digit 2, carry 1")
    assert wrong.code == "wrong_value" and "the digit is wrong" in wrong.message
    assert "7 + 5 + carry 1" in wrong.message and wrong.hint is None
    both = verify_sync(verifier, TENS, "digit 2, carry 0")
    assert "the digit and the carry are wrong" in both.message
    revealed = verify_sync(AdditionVerifier(reveal=True), TENS, "digit 2, carry 1")
    assert revealed.hint == "7 + 5 + carry 1 = 13: digit 3, carry 1"


def test_addition_oracle_local_and_global() -> None:
    oracle = AdditionOracle()
    right = oracle.judge_sync(TENS, "digit 3, carry 1")
    assert right.local.ok and right.global_state is not None and right.global_state.ok
    propagated = oracle.judge_sync(TENS_AFTER_WRONG_CARRY, "digit 2, carry 1")
    assert propagated.local.ok
    assert propagated.global_state is not None and not propagated.global_state.ok
    assert "24" in propagated.global_state.message and "34" in propagated.global_state.message
    # At the last column the carry is written too: 1234.
    assert oracle.judge_sync(LAST, "digit 2, carry 1").global_state.ok  # type: ignore[union-attr]
    last_wrong = oracle.judge_sync(LAST, "digit 2, carry 0")
    assert not last_wrong.local.ok and not last_wrong.global_state.ok  # type: ignore[union-attr]
    garbage = asyncio.run(oracle.judge(UNITS, "banana"))
    assert garbage.local.code == "unparseable" and garbage.global_state == garbage.local


SUM = RunningSumTruth(keys=("A", "B"), values=(3, -5), previous=10, true_previous=10)
SUM_AFTER_ERROR = RunningSumTruth(keys=("A", "B"), values=(3, -5), previous=12, true_previous=10)
SEEN = RunningSumContext(keys=("A", "B"), values=(3, -5), previous=12)


@pytest.mark.parametrize(
    ("text", "value", "lenient"),
    [
        ("total: 8", 8, False),
        ("The running total is 8.", 8, True),
        ("10 + 3 - 5 = 8", 8, True),
        ("total: 1,234", 1234, True),
        ("total: -3", -3, False),
        ("I get 9, no wait, 8", 8, True),
        ("The total is now 8 (previous 10 + 3 - 5)", 8, True),
        ("running total: **8**", 8, True),
    ],
)
def test_total_reader(text: str, value: int, lenient: bool) -> None:
    read = read_total(text)
    assert (read.status, read.values, bool(read.notes)) == ("ok", (value,), lenient)


def test_total_reader_failures() -> None:
    assert read_total("no idea").status == "unparseable"
    assert read_total("total: 8.5").status == "invalid_syntax"
    assert read_total("9" * 5000).status == "invalid_syntax"


def test_running_sum_local_and_global() -> None:
    verifier, oracle = RunningSumVerifier(), RunningSumOracle()
    assert verify_sync(verifier, SUM, "total: 8").ok
    wrong = verify_sync(verifier, SUM, "total: 9")
    assert wrong.code == "wrong_value" and "10 + A (3) + B (-5)" in wrong.message
    assert verify_sync(RunningSumVerifier(reveal=True), SUM, "total: 9").hint == "the total is 8"
    # Building on its own wrong total is locally right and globally wrong ...
    carried = oracle.judge_sync(SUM_AFTER_ERROR, "total: 10")
    assert carried.local.ok and not carried.global_state.ok  # type: ignore[union-attr]
    # ... and recomputing from the table undoes the global error (locally "wrong").
    undone = oracle.judge_sync(SUM_AFTER_ERROR, "total: 8")
    assert not undone.local.ok and undone.global_state.ok  # type: ignore[union-attr]
    assert (undone.correctness, undone.global_correctness) == ("incorrect", "correct")


def test_running_sum_verifier_context_holds_no_truth() -> None:
    # The verifier sees what the prompt shows; the true total is the oracle's alone.
    assert "true_previous" not in RunningSumContext.model_fields
    assert not hasattr(SEEN, "truth")
    verdict = verify_sync(RunningSumVerifier(reveal=True), SEEN, "total: 8")
    assert verdict.code == "wrong_value" and verdict.hint == "the total is 10"


def test_registered_by_name() -> None:
    assert isinstance(verifiers.create("addition"), AdditionVerifier)
    assert isinstance(verifiers.create("running_sum", reveal=True), RunningSumVerifier)


class TestAdditionConformance(VerifierConformance):
    def make_verifier(self) -> AdditionVerifier:
        return AdditionVerifier()

    def accepted_cases(self) -> list[tuple[object, str]]:
        return [(UNITS, "digit 4, carry 1"), (TENS, "3 carry 1")]

    def rejected_cases(self) -> list[tuple[object, str, str | None]]:
        return [(UNITS, "digit 5, carry 1", "wrong_value"), (UNITS, "what?", "unparseable"),
                (UNITS, "digit 4, carry 3", "illegal"), (UNITS, "4", "invalid_syntax")]


class TestRunningSumConformance(VerifierConformance):
    def make_verifier(self) -> RunningSumVerifier:
        return RunningSumVerifier()

    def accepted_cases(self) -> list[tuple[object, str]]:
        return [(SUM, "total: 8"), (SUM_AFTER_ERROR, "total: 10")]

    def rejected_cases(self) -> list[tuple[object, str, str | None]]:
        return [(SUM, "total: 9", "wrong_value"), (SUM, "hmm", "unparseable"),
                (SUM, "total: 7.5", "invalid_syntax")]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80),
                 st.text(alphabet=st.sampled_from(list("0123456789 ,.-−=+digtcarytol:")),
                         max_size=40)))
def test_readers_never_raise(text: str) -> None:
    for read in (read_addition(text), read_total(text)):
        assert read.status in ("ok", "unparseable", "invalid_syntax", "illegal")
        assert bool(read.values) or read.status != "ok"
        assert read.message or read.status == "ok"
