"""``strict`` reading: every built-in reader refuses an answer it could only read leniently."""

from __future__ import annotations

import chess
import pytest
from pydantic import BaseModel

from redraft.tools import SchemaVerifier
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
from redraft.tools.chess import ChessOracle, ChessVerifier, read_move
from redraft.tools.tracking import (
    TrackingContext,
    TrackingOracle,
    TrackingTruth,
    TrackingVerifier,
    read_tracking,
)


@pytest.mark.parametrize("answer", ["I play e4 because it takes the centre", "e2e4", "E4",
                                    "1. e4"])
def test_chess_strict_refuses_lenient_moves(answer: str) -> None:
    board = chess.Board()
    lenient = read_move(board, answer)
    assert lenient.status == "ok" and lenient.lenient
    strict = read_move(board, answer, strict=True)
    assert strict.status == "invalid_syntax"
    assert "read strictly" in strict.message and lenient.notes[0] in strict.message


def test_chess_strict_takes_a_bare_san_move() -> None:
    board = chess.Board()
    for answer in ("e4", "Nf3", " e4 "):
        assert read_move(board, answer, strict=True).status == "ok"
    assert ChessVerifier(strict=True).check(board, "Nf3").ok
    verdict = ChessVerifier(strict=True).check(board, "my move is Nf3")
    assert verdict.code == "invalid_syntax" and verdict.evidence["lenient"] is True
    judged = ChessOracle(strict=True).judge_sync(board, "my move is Nf3")
    assert judged.local.code == "invalid_syntax"
    assert ChessOracle().judge_sync(board, "my move is Nf3").correctness == "correct"


def test_arithmetic_strict_takes_only_the_exact_format() -> None:
    assert read_addition("digit 7, carry 1", strict=True).values == (7, 1)
    for answer in ("17", "7 1", "The digit is 7 and the carry is 1."):
        assert read_addition(answer).status == "ok"
        assert read_addition(answer, strict=True).status == "invalid_syntax", answer
    assert read_total("total: 42", strict=True).values == (42,)
    assert read_total("so 40 + 2 = 42", strict=True).status == "invalid_syntax"
    column = AdditionContext(a="8", b="9", column=0)
    assert AdditionVerifier().check(column, "17").ok
    assert AdditionVerifier(strict=True).check(column, "17").code == "invalid_syntax"
    assert AdditionOracle(strict=True).judge_sync(column, "17").local.code == "invalid_syntax"
    assert AdditionOracle(strict=True).judge_sync(column, "digit 7, carry 1").local.ok
    step = RunningSumContext(keys=("x",), values=(2,), previous=40)
    truth = RunningSumTruth(keys=("x",), values=(2,), previous=40, true_previous=40)
    assert RunningSumVerifier(strict=True).check(step, "the total is 42").code == "invalid_syntax"
    assert RunningSumOracle(strict=True).judge_sync(truth, "total: 42").local.ok


def test_tracking_strict_takes_only_holder_object_pairs() -> None:
    holders, objects = ("Alice", "Bob"), ("ball", "cup")
    assert read_tracking("Alice: cup, Bob: ball", holders, objects, strict=True).status == "ok"
    lenient = "Alice has the cup and Bob has the ball."
    assert read_tracking(lenient, holders, objects).status == "ok"
    assert read_tracking(lenient, holders, objects, strict=True).status == "invalid_syntax"
    context = TrackingContext(holders=holders, objects=objects, previous=("ball", "cup"),
                              swap=(0, 1))
    truth = TrackingTruth(holders=holders, objects=objects, previous=("ball", "cup"),
                          true_previous=("ball", "cup"), swap=(0, 1))
    assert TrackingVerifier(strict=True).check(context, lenient).code == "invalid_syntax"
    assert TrackingOracle(strict=True).judge_sync(truth, lenient).local.code == "invalid_syntax"
    assert TrackingOracle().judge_sync(truth, lenient).local.ok


def test_schema_strict_takes_only_a_whole_json_answer() -> None:
    class City(BaseModel):
        name: str

    fenced = 'Here it is:\n```json\n{"name": "Lyon"}\n```'
    assert SchemaVerifier(model=City).check(fenced).ok
    verdict = SchemaVerifier(model=City, strict=True).check(fenced)
    assert verdict.code == "invalid_syntax" and "fenced block" in verdict.message
    assert SchemaVerifier(model=City, strict=True).check('{"name": "Lyon"}').ok
