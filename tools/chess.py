"""The chess verifier and oracle: is the proposed move legal, and (optionally) is it good?

The context is a :class:`ChessContext` (a start position and the moves played, so that draw
rules see the history), a ``chess.Board`` or a FEN string. The answer is read leniently from
free text (see :func:`read_move`); every failure has its own code and an actionable message:
``unparseable`` (no move found), ``invalid_syntax`` (a malformed move such as ``Ni9``),
``illegal`` (with the rule that forbids it: no such piece, path blocked, pinned, castling
through check, ...), ``ambiguous`` (which pieces could make it).

The oracle's local verdict is about legality. With ``quality=True`` it also asks Stockfish for
the centipawn loss of a legal move (``Judgement.quality``) and marks losses of at least
``blunder_cp`` as ``blunder`` in the evidence, or as the local verdict itself with
``blunder_is_error=True``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import chess
import chess.engine
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.core import BadInputError, Settings, parse_options
from redraft.tools._chess_notation import ReadMove, read_move
from redraft.tools._stockfish import find_stockfish, open_stockfish
from redraft.tools._verdict import Judgement, Verdict

__all__ = [
    "ChessContext",
    "ChessOracle",
    "ChessOracleConfig",
    "ChessVerifier",
    "ChessVerifierConfig",
    "ReadMove",
    "board_of",
    "find_stockfish",
    "move_verdict",
    "open_stockfish",
    "read_move",
]

SAN_EXAMPLES = "e.g. Nf3, exd5, O-O, e8=Q"


class ChessContext(BaseModel):
    """A position with its history: the start position and the moves played since."""

    model_config = ConfigDict(frozen=True)

    moves: tuple[str, ...] = ()
    """The moves played, in UCI (e.g. ``e2e4``)."""
    start_fen: str = chess.STARTING_FEN
    """The position the moves start from."""

    def board(self) -> chess.Board:
        """A fresh board at the current position, with its move stack."""
        try:
            board = chess.Board(self.start_fen)
            for uci in self.moves:
                board.push_uci(uci)
        except ValueError as exc:
            raise BadInputError(f"bad chess context: {exc}") from exc
        return board


def board_of(context: object) -> chess.Board:
    """The board a context describes (a copy the caller may change).

    Raises:
        BadInputError: if the context is not a ChessContext, a Board or a FEN string.
    """
    if isinstance(context, ChessContext):
        return context.board()
    if isinstance(context, chess.Board):
        return context.copy()
    if isinstance(context, str):
        try:
            return chess.Board(context)
        except ValueError as exc:
            raise BadInputError(f"bad FEN {context!r}: {exc}") from exc
    raise BadInputError(
        f"a chess verifier needs a ChessContext, chess.Board or FEN string, not "
        f"{type(context).__name__}"
    )


def _legal_list(board: chess.Board) -> str:
    return "Legal moves: " + ", ".join(sorted(board.san(m) for m in board.legal_moves))


def move_verdict(board: chess.Board, read: ReadMove, *, legal_moves_hint: bool = False) -> Verdict:
    """Turn what the reader made of an answer into a verdict for the agent."""
    evidence: dict[str, JsonValue] = {
        "token": read.token,
        "lenient": read.lenient,
        "normalised": list(read.notes),
    }
    if read.status == "ok" and read.move is not None:
        evidence.update(move=read.move.uci(), san=read.san)
        return Verdict.accept(evidence=evidence)
    if read.status == "unparseable":
        message = (
            f"No chess move found in your answer. Reply with one move in SAN ({SAN_EXAMPLES})."
        )
    elif read.status == "invalid_syntax":
        message = f"{read.message}. Write one move in SAN ({SAN_EXAMPLES})."
    elif read.status == "ambiguous":
        evidence["candidates"] = list(read.candidates)
        message = (f"{read.token} is ambiguous: {read.message}. Write one of: "
                   f"{', '.join(read.candidates)}.")
    else:
        evidence["reason"] = read.reason
        message = f"{read.token} is illegal: {read.message}."
    hint = _legal_list(board) if legal_moves_hint and not board.is_game_over() else None
    return Verdict.reject(read.status, message, hint=hint, evidence=evidence)


class ChessVerifierConfig(Settings):
    """Options of :class:`ChessVerifier`."""

    legal_moves_hint: bool = False
    """Add the list of legal moves to every rejection, as its hint."""
    strict: bool = False
    """Accept only a bare SAN move (no prose, no lowercase piece letters, no UCI)."""


class ChessVerifier:
    """Feedback on a proposed chess move: legal, or exactly why not.

    Args:
        **options: see :class:`ChessVerifierConfig`.
    """

    name = "chess"

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(ChessVerifierConfig, options, "chess verifier")

    def check(self, context: object, proposal: str) -> Verdict:
        """The verdict, synchronously."""
        board = board_of(context)
        return move_verdict(board, read_move(board, proposal, strict=self.config.strict),
                            legal_moves_hint=self.config.legal_moves_hint)

    async def verify(self, context: ChessContext | chess.Board | str, proposal: str) -> Verdict:
        """Check ``proposal`` in the position ``context`` describes (a FEN, for a string)."""
        return self.check(context, proposal)


class ChessOracleConfig(Settings):
    """Options of :class:`ChessOracle`."""

    quality: bool = False
    """Measure the centipawn loss of legal moves with Stockfish."""
    blunder_cp: int = Field(200, ge=1)
    """A loss of at least this many centipawns is a blunder."""
    blunder_is_error: bool = False
    """Make a blunder the local verdict (code ``blunder``) instead of evidence only."""
    analysis_depth: int = Field(8, ge=1, le=30)
    """Stockfish search depth per evaluation (fixed depth keeps judgements repeatable)."""
    stockfish_path: str | None = None
    """The Stockfish binary; default: ``stockfish`` on PATH or in /usr/games."""
    strict: bool = False
    """Judge only a bare SAN move as an answer; anything read leniently is ``invalid_syntax``."""


class ChessOracle:
    """Ground truth for chess: legality (local); the game itself is the global state.

    Args:
        **options: see :class:`ChessOracleConfig`.
    """

    name = "chess"

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(ChessOracleConfig, options, "chess oracle")
        self._engine: chess.engine.SimpleEngine | None = None
        self._lock = threading.Lock()

    def _score(self, board: chess.Board, pov: chess.Color) -> int:
        if self._engine is None:
            self._engine = open_stockfish(self.config.stockfish_path)
        info = self._engine.analyse(board, chess.engine.Limit(depth=self.config.analysis_depth))
        score = info.get("score")
        if score is None:
            raise RuntimeError("Stockfish returned no score")
        return int(score.pov(pov).score(mate_score=10_000))

    def centipawn_loss(self, board: chess.Board, move: chess.Move) -> int:
        """How many centipawns ``move`` loses against Stockfish's best (0 or more)."""
        with self._lock:
            us = board.turn
            before = self._score(board, us)
            after_board = board.copy()
            after_board.push(move)
            after = self._score(after_board, us)
        return max(0, before - after)

    def judge_sync(self, context: object, proposal: str) -> Judgement:
        """The judgement, synchronously."""
        board = board_of(context)
        read = read_move(board, proposal, strict=self.config.strict)
        local = move_verdict(board, read)
        if not local.ok or not self.config.quality or read.move is None:
            return Judgement(local=local.model_copy(update={"source": self.name}))
        loss = self.centipawn_loss(board, read.move)
        blunder = loss >= self.config.blunder_cp
        evidence = {**local.evidence, "cp_loss": loss, "blunder": blunder}
        if blunder and self.config.blunder_is_error:
            local = Verdict.reject(
                "blunder",
                f"{read.san} is legal but loses {loss} centipawns (blunder threshold "
                f"{self.config.blunder_cp})",
                evidence=evidence,
            )
        else:
            local = local.model_copy(update={"evidence": evidence})
        return Judgement(local=local.model_copy(update={"source": self.name}), quality=float(loss))

    async def judge(self, context: object, proposal: str) -> Judgement:
        """Judge ``proposal`` in the position ``context`` describes."""
        if self.config.quality:
            return await asyncio.to_thread(self.judge_sync, context, proposal)
        return self.judge_sync(context, proposal)

    def close(self) -> None:
        """Stop Stockfish if it was started."""
        with self._lock:
            if self._engine is not None:
                self._engine.quit()
                self._engine = None
