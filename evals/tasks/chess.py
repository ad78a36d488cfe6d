"""Chess against an opponent: one step is one agent ply.

The agent plays one colour against a seeded random mover or Stockfish. The prompt shows the
game in one of four representations: ``san`` (the move list only, PGN-like: "1. e4 e5 2.
Nf3", as in the GPT-4 game discussed in "Contra LeCun on Autoregressive LLMs are doomed"),
``fen`` (FEN and move list), ``board`` (a text diagram and the side to move) or ``legal`` (the
move list and every legal move). Answers are read and checked by
:mod:`redraft.tools.chess`. Under ``continue`` an illegal committed answer is replaced by a
random (seeded) legal move and recorded as forced. The game is the global state, so the
oracle's global verdict is None.

Use the task as a context manager (or call :meth:`ChessTask.close`) to stop Stockfish.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Literal

import chess
import chess.engine
from pydantic import Field

from redraft.agent.backends import Constraint, Message
from redraft.core import BadInputError, Settings, parse_options
from redraft.evals.tasks._episode import ClosingMixin, EpisodeBase
from redraft.evals.tasks._protocol import ErrorPolicy, StepPrompt, StepResult
from redraft.tools import Judgement
from redraft.tools.chess import (
    ChessContext,
    ChessOracle,
    ChessVerifier,
    open_stockfish,
    read_move,
)

__all__ = ["ChessEpisode", "ChessTask", "ChessTaskConfig"]

ChessRepresentation = Literal["san", "fen", "board", "legal"]

SYSTEM_PROMPT = (
    "You are playing chess as {color}. Reply with your next move in standard algebraic "
    "notation (SAN), for example e4, Nf3, exd5, O-O or e8=Q."
)


class ChessTaskConfig(Settings):
    """Options of the ``chess`` task."""

    representation: ChessRepresentation = "san"
    """How the game is shown: ``san``, ``fen``, ``board`` or ``legal``."""
    start_fen: str = chess.STARTING_FEN
    """The starting position (an opening or a puzzle); the side to move there moves first."""
    color: Literal["white", "black"] = "white"
    """The colour the agent plays."""
    opponent: Literal["random", "stockfish"] = "random"
    """``random``: a seeded uniformly random legal move; ``stockfish``: the engine."""
    skill_level: int = Field(0, ge=0, le=20)
    """Stockfish's skill level (0 is weakest)."""
    move_time: float = Field(0.01, gt=0.0, le=60.0)
    """Seconds Stockfish thinks per move."""
    stockfish_path: str | None = None
    """The Stockfish binary; default ``stockfish`` on PATH or in /usr/games."""
    legal_moves_hint: bool = False
    """The verifier lists the legal moves in the hint of every rejection."""
    strict: bool = False
    """Read answers strictly (verifier, oracle and the task alike): only the exact answer
    format counts; what the lenient reader would pick out of prose is ``invalid_syntax``."""
    quality: bool = False
    """The oracle measures each legal move's centipawn loss with Stockfish."""
    blunder_cp: int = Field(200, ge=1)
    """A loss of at least this many centipawns is a blunder (evidence, or an error below)."""
    blunder_is_error: bool = False
    """Count blunders as local errors (the committed move is still played)."""
    analysis_depth: int = Field(8, ge=1, le=30)
    """Stockfish search depth of the quality oracle."""


ANSWER_STOP = ("\n",)
"""A move is one line: generation stops at the end of the first one. A small model that
goes on (SmolLM2-135M echoes the game, or writes prose, until the token limit) is then
judged on the line it answered with instead of being cut off, unjudged."""


def _diagram(board: chess.Board) -> str:
    rows = ["  a b c d e f g h"]
    for rank in range(7, -1, -1):
        cells = []
        for file in range(8):
            piece = board.piece_at(chess.square(file, rank))
            cells.append(piece.symbol() if piece else ".")
        rows.append(f"{rank + 1} {' '.join(cells)} {rank + 1}")
    rows.append("  a b c d e f g h")
    return "\n".join(rows)


class ChessEpisode(EpisodeBase):
    """One game; built by :meth:`ChessTask.new_episode`."""

    def __init__(self, task: ChessTask, seed: int, *, max_steps: int,
                 error_policy: ErrorPolicy) -> None:
        super().__init__("chess", seed, max_steps=max_steps, error_policy=error_policy)
        self._task = task
        self.config = task.config
        self.color = chess.WHITE if self.config.color == "white" else chess.BLACK
        self.board = chess.Board(self.config.start_fen)
        if self.board.turn != self.color and not self.board.is_game_over():
            self.board.push(self._opponent_move())

    def _draw(self, purpose: str) -> random.Random:
        # Keyed by ply, so repeated prompt() calls draw the same values.
        return random.Random(f"chess:{self.seed}:{purpose}:{len(self.board.move_stack)}")

    def _opponent_move(self) -> chess.Move:
        if self.config.opponent == "stockfish":
            return self._task.engine_move(self.board)
        moves = sorted(self.board.legal_moves, key=chess.Move.uci)
        return self._draw("opponent").choice(moves)

    def context(self) -> ChessContext:
        """The position with its history, for the verifier and the oracle."""
        return ChessContext(moves=tuple(m.uci() for m in self.board.move_stack),
                            start_fen=self.config.start_fen)

    def _moves_text(self) -> str:
        if not self.board.move_stack:
            return ""
        return self.board.root().variation_san(self.board.move_stack)

    def _render(self) -> str:
        side = "White" if self.color == chess.WHITE else "Black"
        moves = self._moves_text()
        rep = self.config.representation
        if rep == "san":
            number = self.board.fullmove_number
            if self.board.turn == chess.WHITE:
                tail = f"{number}."
            else:
                tail = "" if moves else f"{number}..."
            game = f"{moves} {tail}".strip()
            if self.config.start_fen != chess.STARTING_FEN:
                game = f'[FEN "{self.config.start_fen}"]\n\n{game}'
            return f"Continue this game. You play {side}; give {side}'s next move.\n\n{game}"
        listed = moves or "(none yet)"
        if rep == "fen":
            fen = self.board.fen()
            return f"Position (FEN): {fen}\nMoves so far: {listed}\nYour move ({side}):"
        if rep == "board":
            return (f"{_diagram(self.board)}\n(Uppercase: White, lowercase: Black, '.': empty.)\n"
                    f"{side} to move. Your move:")
        legal = ", ".join(sorted(self.board.san(m) for m in self.board.legal_moves))
        return f"Moves so far: {listed}\nLegal moves: {legal}\nYour move ({side}):"

    def _wrong_answers(self) -> list[str]:
        flipped = self.board.copy(stack=False)
        flipped.push(chess.Move.null())
        theirs = sorted(flipped.san(m) for m in flipped.legal_moves)
        wrong = [s for s in theirs if read_move(self.board, s).status != "ok"][:2]
        return [*wrong, "Qz9", "I resign."]

    def prompt(self) -> StepPrompt:
        """The current position's prompt."""
        self._ensure_running()
        legal = sorted(self.board.san(m) for m in self.board.legal_moves)
        side = "White" if self.color == chess.WHITE else "Black"
        return StepPrompt(
            messages=(Message(role="system", content=SYSTEM_PROMPT.format(color=side)),
                      Message(role="user", content=self._render())),
            context=self.context(),
            constraint=Constraint(kind="choice", choices=tuple(legal)),
            hint=self.hint(self._draw("correct").choice(legal), self._wrong_answers()),
            stop=ANSWER_STOP,
        )

    def _over(self) -> chess.Outcome | None:
        return self.board.outcome(claim_draw=True)

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        """Play the committed move (a random legal one if there is none to play).

        Whether the step was an error is the oracle's judgement (a blunder is one when the
        quality oracle is on); the task only reads the move to play it.
        """
        self._ensure_running()
        read = read_move(self.board, proposal, strict=self.config.strict)
        correctness = judgement.correctness
        info: dict[str, Any] = {"lenient": read.lenient, "normalised": list(read.notes)}
        cp_loss = judgement.local.evidence.get("cp_loss")
        if cp_loss is not None:
            info["cp_loss"] = cp_loss
        forced = False
        move = read.move
        if move is None:
            if self.error_policy == "stop" and correctness != "unknown":
                return self.finish_step(action=read.token or proposal[:40],
                                        correctness=correctness, info=info)
            legal = sorted(self.board.legal_moves, key=chess.Move.uci)
            move = self._draw("forced").choice(legal)
            forced = True
        action = self.board.san(move)
        self.board.push(move)
        outcome = self._over()
        if outcome is None:
            reply = self._opponent_move()
            info["opponent"] = self.board.san(reply)
            self.board.push(reply)
            outcome = self._over()
        if outcome is not None:
            info["result"] = outcome.result()
            info["termination"] = outcome.termination.name.lower()
        return self.finish_step(action=action, correctness=correctness, forced=forced,
                                natural=outcome is not None, info=info)


class ChessTask(ClosingMixin):
    """Chess against a random mover or Stockfish; one step is one agent ply.

    Args:
        **options: see :class:`ChessTaskConfig`.

    Raises:
        BadInputError: for bad options, or ``opponent='stockfish'`` without Stockfish.
    """

    name = "chess"
    error_policies: tuple[ErrorPolicy, ...] = ("stop", "continue")
    representations: tuple[str, ...] = ("san", "fen", "board", "legal")

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(ChessTaskConfig, options, "chess task")
        try:
            start = chess.Board(self.config.start_fen)
        except ValueError as exc:
            raise BadInputError(f"chess task option start_fen: {exc}") from None
        if start.is_game_over():
            raise BadInputError("chess task option start_fen: the game is already over there")
        self._engine: chess.engine.SimpleEngine | None = None
        self._lock = threading.Lock()
        self._oracle: ChessOracle | None = None
        if self.config.opponent == "stockfish":
            self._engine = open_stockfish(self.config.stockfish_path,
                                          skill_level=self.config.skill_level)

    def engine_move(self, board: chess.Board) -> chess.Move:
        """Stockfish's move in ``board``."""
        with self._lock:
            if self._engine is None:
                self._engine = open_stockfish(self.config.stockfish_path,
                                              skill_level=self.config.skill_level)
            result = self._engine.play(board, chess.engine.Limit(time=self.config.move_time))
        if result.move is None:
            raise RuntimeError("Stockfish returned no move")
        return result.move

    def verifier(self) -> ChessVerifier:
        """Legality feedback with the reason for each rejection."""
        return ChessVerifier(legal_moves_hint=self.config.legal_moves_hint,
                             strict=self.config.strict)

    def oracle(self) -> ChessOracle:
        """Ground truth: legality (and, with ``quality``, centipawn loss). One per task."""
        with self._lock:
            if self._oracle is None:
                self._oracle = ChessOracle(
                    quality=self.config.quality, blunder_cp=self.config.blunder_cp,
                    blunder_is_error=self.config.blunder_is_error,
                    analysis_depth=self.config.analysis_depth,
                    stockfish_path=self.config.stockfish_path, strict=self.config.strict,
                )
            return self._oracle

    def new_episode(self, seed: int, *, max_steps: int, error_policy: ErrorPolicy
                    ) -> ChessEpisode:
        """A fresh game, fully determined by ``seed`` (with a random opponent)."""
        return ChessEpisode(self, seed, max_steps=max_steps, error_policy=error_policy)

    def close(self) -> None:
        """Stop the Stockfish processes this task started."""
        with self._lock:
            if self._engine is not None:
                self._engine.quit()
                self._engine = None
            if self._oracle is not None:
                self._oracle.close()
