from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redraft.tools import verifiers, verify_sync
from redraft.tools.conformance import VerifierConformance
from redraft.tools.tracking import (
    TrackingContext,
    TrackingOracle,
    TrackingTruth,
    TrackingVerifier,
    read_tracking,
)

HOLDERS = ("Alice", "Bob", "Claire")
OBJECTS = ("ball", "cup", "hat")
# Alice and Bob swap: ball, cup, hat -> cup, ball, hat.
STEP = TrackingTruth(holders=HOLDERS, objects=OBJECTS, previous=OBJECTS,
                     true_previous=OBJECTS, swap=(0, 1))
# The agent's state went wrong earlier (ball, hat, cup instead of ball, cup, hat).
AFTER_ERROR = TrackingTruth(holders=HOLDERS, objects=OBJECTS, previous=("ball", "hat", "cup"),
                            true_previous=OBJECTS, swap=(1, 2))


@pytest.mark.parametrize(
    ("text", "lenient"),
    [
        ("Alice: cup, Bob: ball, Claire: hat", False),
        ("Alice: cup Bob: ball Claire: hat", True),
        ("alice has the cup, bob has the ball and claire has the hat.", True),
        ("Alice - cup\nBob - ball\nClaire - hat", True),
        ("cup: Alice, ball: Bob, hat: Claire", True),
        ("the cup is with Alice, the ball is with Bob, the hat is with Claire", True),
        ("cup, ball, hat", True),
    ],
)
def test_reader(text: str, lenient: bool) -> None:
    read = read_tracking(text, HOLDERS, OBJECTS)
    assert (read.status, read.state, bool(read.notes)) == ("ok", ("cup", "ball", "hat"), lenient)


@pytest.mark.parametrize(
    ("text", "status", "fragment"),
    [
        ("", "unparseable", "Alice: ball, Bob: cup, Claire: hat"),
        ("no idea", "unparseable", "no 'holder: object' pairs"),
        ("Alice: banana", "invalid_syntax", "unknown object 'banana'"),
        ("Alice: cup, Bob: ball", "invalid_syntax", "missing: Claire"),
        ("Alice: cup, Bob: cup, Claire: hat", "illegal", "cannot be with both Alice and Bob"),
    ],
)
def test_reader_failures(text: str, status: str, fragment: str) -> None:
    read = read_tracking(text, HOLDERS, OBJECTS)
    assert read.status == status and fragment in read.message


def test_local_and_global() -> None:
    verifier, oracle = TrackingVerifier(), TrackingOracle()
    assert verify_sync(verifier, STEP, "Alice: cup, Bob: ball, Claire: hat").ok
    wrong = verify_sync(verifier, STEP, "Alice: ball, Bob: cup, Claire: hat")
    assert wrong.code == "wrong_value" and "after Alice and Bob swap" in wrong.message
    assert "check Alice, Bob" in wrong.message and wrong.hint is None
    hinted = verify_sync(TrackingVerifier(reveal=True), STEP, "Alice: ball, Bob: cup, Claire: hat")
    assert hinted.hint == "Alice: cup, Bob: ball, Claire: hat"
    # Building on its own wrong state keeps the global error (locally right) ...
    carried = oracle.judge_sync(AFTER_ERROR, "Alice: ball, Bob: cup, Claire: hat")
    assert carried.local.ok and not carried.global_state.ok  # type: ignore[union-attr]
    # ... recomputing from the start undoes it (locally "wrong", globally right).
    undone = oracle.judge_sync(AFTER_ERROR, "Alice: ball, Bob: hat, Claire: cup")
    assert not undone.local.ok and undone.global_state.ok  # type: ignore[union-attr]
    kept = oracle.judge_sync(STEP, "Alice: ball, Bob: cup, Claire: hat")
    assert not kept.local.ok and not kept.global_state.ok  # type: ignore[union-attr]
    assert isinstance(verifiers.create("tracking"), TrackingVerifier)
    # The verifier's context holds the agent's own state only, never the true one.
    assert "true_previous" not in TrackingContext.model_fields
    seen = TrackingContext(holders=HOLDERS, objects=OBJECTS, previous=("ball", "hat", "cup"),
                           swap=(1, 2))
    assert verify_sync(verifier, seen, "Alice: ball, Bob: cup, Claire: hat").ok


class TestTrackingConformance(VerifierConformance):
    def make_verifier(self) -> TrackingVerifier:
        return TrackingVerifier()

    def accepted_cases(self) -> list[tuple[object, str]]:
        return [(STEP, "Alice: cup, Bob: ball, Claire: hat"),
                (AFTER_ERROR, "Alice: ball, Bob: cup, Claire: hat")]

    def rejected_cases(self) -> list[tuple[object, str, str | None]]:
        return [(STEP, "Alice: ball, Bob: cup, Claire: hat", "wrong_value"),
                (STEP, "?", "unparseable"), (STEP, "Alice: cup", "invalid_syntax"),
                (STEP, "Alice: cup, Bob: cup, Claire: cup", "illegal")]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80),
                 st.lists(st.sampled_from([*HOLDERS, *OBJECTS, ":", ",", "has", "the", "-", "x"]),
                          max_size=12).map(" ".join)))
def test_reader_never_raises(text: str) -> None:
    read = read_tracking(text, HOLDERS, OBJECTS)
    assert read.status in ("ok", "unparseable", "invalid_syntax", "illegal")
    if read.status == "ok":
        assert sorted(read.state) == sorted(OBJECTS)
    else:
        assert read.message
