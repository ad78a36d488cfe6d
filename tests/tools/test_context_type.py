"""Which contexts a verifier says it checks, so that a run can refuse a mismatch early."""

from __future__ import annotations

from typing import Any

import chess

from redraft.tools import FunctionVerifier, Verdict, accepts_context, context_type
from redraft.tools.arithmetic import AdditionContext, AdditionVerifier
from redraft.tools.chess import ChessContext, ChessVerifier


class Untyped:
    name = "untyped"

    async def verify(self, context, proposal):  # type: ignore[no-untyped-def]
        return Verdict.accept()


class Anything:
    name = "anything"

    async def verify(self, context: Any, proposal: str) -> Verdict:
        return Verdict.accept()


def test_a_verifier_that_names_its_context_refuses_another_tasks() -> None:
    addition = AdditionContext(a="12", b="34", column=0)
    assert context_type(AdditionVerifier()) is AdditionContext
    assert accepts_context(AdditionVerifier(), addition)
    assert not accepts_context(ChessVerifier(), addition)
    for context in (ChessContext(), chess.Board(), chess.STARTING_FEN):  # a union of three
        assert accepts_context(ChessVerifier(), context)


def test_a_verifier_that_does_not_say_accepts_anything() -> None:
    function = FunctionVerifier(lambda context, answer: Verdict.accept())
    for verifier in (Untyped(), Anything(), function):
        assert context_type(verifier) is None
        assert accepts_context(verifier, object())
