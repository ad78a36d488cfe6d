"""Why a well-formed chess move is illegal, in words a player can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

import chess

if TYPE_CHECKING:
    from redraft.tools._chess_notation import MoveReading

__all__ = ["IllegalKind", "Why", "explain_castling", "explain_illegal"]

IllegalKind = Literal[
    "no_castling_rights", "castling_in_check", "castling_blocked", "castling_through_check",
    "no_such_piece", "not_your_piece", "own_piece_on_target", "bad_promotion",
    "king_two_squares", "king_into_check", "does_not_end_check", "pinned",
    "leaves_king_in_check", "pawn_rules", "path_blocked", "unreachable", "other",
]
"""Machine-readable kinds of illegal move, for analysis (``evidence["reason"]``)."""


class Why(NamedTuple):
    """Why a move is illegal: a kind and the words for the agent."""

    kind: IllegalKind
    """What rule the move breaks."""
    text: str
    """The rule, phrased for the agent."""


def _side(color: chess.Color) -> str:
    return "White" if color == chess.WHITE else "Black"


def _piece_on(board: chess.Board, square: chess.Square) -> str:
    piece = board.piece_at(square)
    if piece is None:
        return f"nothing on {chess.square_name(square)}"
    return f"the {chess.piece_name(piece.piece_type)} on {chess.square_name(square)}"


def _attackers(board: chess.Board, color: chess.Color, square: chess.Square) -> str:
    found = [_piece_on(board, sq) for sq in board.attackers(color, square)]
    return " and ".join(found) or "an enemy piece"


def explain_castling(board: chess.Board, kingside: bool) -> Why:
    """Why castling to ``kingside`` (else queenside) is illegal for the side to move."""
    us = board.turn
    name = "kingside" if kingside else "queenside"
    has_rights = (
        board.has_kingside_castling_rights(us) if kingside
        else board.has_queenside_castling_rights(us)
    )
    if not has_rights:
        rook = ("h" if kingside else "a") + ("1" if us == chess.WHITE else "8")
        return Why("no_castling_rights", f"{_side(us)} can no longer castle {name}: the king or "
                   f"the {rook} rook has moved (or the rook was captured)")
    if board.is_check():
        checkers = _attackers(board, not us, board.king(us) or 0)
        return Why("castling_in_check", f"you cannot castle out of check ({checkers} gives check)")
    king = board.king(us)
    if king is None:
        return Why("no_such_piece", f"{_side(us)} has no king")
    rank = chess.square_rank(king)
    rook_sq = chess.square(7 if kingside else 0, rank)
    for sq in chess.SquareSet(chess.between(king, rook_sq)):
        piece = board.piece_at(sq)
        if piece is not None:
            return Why("castling_blocked", "the squares between king and rook must be empty, but "
                       f"a {chess.piece_name(piece.piece_type)} stands on {chess.square_name(sq)}")
    path = [chess.square(5, rank), chess.square(6, rank)] if kingside else [
        chess.square(3, rank), chess.square(2, rank)
    ]
    for index, sq in enumerate(path):
        if board.is_attacked_by(not us, sq):
            verb = "pass through" if index == 0 else "land on"
            return Why("castling_through_check",
                       f"the king would {verb} {chess.square_name(sq)}, which is attacked by "
                       f"{_attackers(board, not us, sq)} (castling through or into check)")
    return Why("other", f"castling {name} is not legal here")


def _pinned_message(board: chess.Board, move: chess.Move) -> str | None:
    us = board.turn
    if not board.is_pinned(us, move.from_square):
        return None
    ray = board.pin(us, move.from_square)
    pinners = [sq for sq in ray if (p := board.piece_at(sq)) and p.color != us]
    by = f" by {_piece_on(board, pinners[0])}" if pinners else ""
    return f"{_piece_on(board, move.from_square)} is pinned to its king{by}"


def _leaves_in_check(board: chess.Board, move: chess.Move) -> Why:
    us = board.turn
    piece = board.piece_type_at(move.from_square)
    if piece == chess.KING:
        after = board.copy(stack=False)
        after.push(move)
        return Why("king_into_check",
                   f"the king would be in check on {chess.square_name(move.to_square)} "
                   f"(attacked by {_attackers(after, not us, move.to_square)})")
    pinned = _pinned_message(board, move)
    if board.is_check():
        king = board.king(us)
        checkers = _attackers(board, not us, king) if king is not None else "an enemy piece"
        extra = f"; besides, {pinned}" if pinned else ""
        return Why("does_not_end_check",
                   f"your king is in check from {checkers} and this move does not end the "
                   f"check{extra}")
    if pinned:
        return Why("pinned", pinned)
    return Why("leaves_king_in_check", "the move would leave your king in check")


def _reaches(piece: chess.PieceType, a: chess.Square, b: chess.Square) -> bool:
    df = abs(chess.square_file(a) - chess.square_file(b))
    dr = abs(chess.square_rank(a) - chess.square_rank(b))
    if piece == chess.KNIGHT:
        return {df, dr} == {1, 2}
    if piece == chess.KING:
        return max(df, dr) == 1
    straight = df == 0 or dr == 0
    diagonal = df == dr
    if piece == chess.ROOK:
        return straight
    if piece == chess.BISHOP:
        return diagonal
    return straight or diagonal


def _pawn_reason(board: chess.Board, origin: chess.Square, to: chess.Square) -> Why | None:
    us = board.turn
    step = 1 if us == chess.WHITE else -1
    df = chess.square_file(to) - chess.square_file(origin)
    dr = (chess.square_rank(to) - chess.square_rank(origin)) * step
    if dr <= 0:
        return Why("pawn_rules", "pawns cannot move backwards or sideways")
    if df == 0:
        if dr > 2:
            return Why("pawn_rules", "a pawn moves one square forward (two from its starting rank)")
        if dr == 2 and chess.square_rank(origin) != (1 if us == chess.WHITE else 6):
            return Why("pawn_rules", "a pawn can move two squares only from its starting rank")
        for sq in chess.SquareSet(chess.between(origin, to)) | chess.SquareSet.from_square(to):
            if board.piece_at(sq) is not None:
                blocker = _piece_on(board, sq)
                return Why("path_blocked",
                           f"the pawn on {chess.square_name(origin)} is blocked by {blocker}")
        return None
    if abs(df) == 1 and dr == 1:
        if board.piece_at(to) is None and board.ep_square != to:
            return Why("pawn_rules", "a pawn captures diagonally, and there is nothing to "
                       f"capture on {chess.square_name(to)}")
        return None
    return Why("pawn_rules",
               "a pawn moves straight forward, and captures one square diagonally forward")


def _why_not(board: chess.Board, piece: chess.PieceType, origin: chess.Square,
             to: chess.Square) -> Why:
    """Why the piece on ``origin`` cannot move to ``to`` (pseudo-legally)."""
    name = f"the {chess.piece_name(piece)} on {chess.square_name(origin)}"
    if piece == chess.PAWN:
        return _pawn_reason(board, origin, to) or Why(
            "other", f"{name} cannot move to {chess.square_name(to)}"
        )
    if not _reaches(piece, origin, to):
        how = {chess.KNIGHT: "in an L", chess.BISHOP: "diagonally", chess.ROOK: "along ranks "
               "and files", chess.QUEEN: "along ranks, files and diagonals", chess.KING: "one "
               "square (or castles with O-O / O-O-O)"}[piece]
        return Why("unreachable", f"{name} moves {how} and cannot reach {chess.square_name(to)}")
    blockers = [sq for sq in chess.SquareSet(chess.between(origin, to)) if board.piece_at(sq)]
    if blockers:
        return Why("path_blocked",
                   f"the path is blocked: {name} is blocked by {_piece_on(board, blockers[0])}")
    return Why("other", f"{name} cannot move to {chess.square_name(to)}")


def _where(file: int | None, rank: int | None) -> str:
    """The words for a disambiguation: ' on the b-file', ' on rank 1', ' on b1' or ''."""
    if file is not None and rank is not None:
        return f" on {chess.square_name(chess.square(file, rank))}"
    if file is not None:
        return f" on the {chess.FILE_NAMES[file]}-file"
    if rank is not None:
        return f" on rank {chess.RANK_NAMES[rank]}"
    return ""


def explain_illegal(board: chess.Board, reading: MoveReading) -> Why:
    """Why no legal move in ``board`` matches ``reading``; never raises."""
    try:
        return _explain(board, reading)
    except Exception:  # a message must never cost the verdict
        return Why("other", "it is not a legal move in this position")


def _explain(board: chess.Board, reading: MoveReading) -> Why:
    us = board.turn
    side = _side(us)
    if reading.castle is not None:
        return explain_castling(board, reading.castle == "kingside")
    to = reading.to_square
    if to is None:
        return Why("other", "it is not a legal move in this position")
    to_name = chess.square_name(to)
    if reading.piece is None and reading.from_file is not None and reading.from_rank is not None:
        origin = chess.square(reading.from_file, reading.from_rank)
        piece = board.piece_at(origin)
        if piece is None:
            return Why("no_such_piece", f"there is no piece on {chess.square_name(origin)}")
        if piece.color != us:
            return Why("not_your_piece", f"{_piece_on(board, origin)} is "
                       f"{_side(piece.color)}'s, and it is {side}'s move")
        origins = [origin]
        piece_type = piece.piece_type
    else:
        piece_type = reading.piece or chess.PAWN
        origins = [
            sq for sq in board.pieces(piece_type, us)
            if (reading.from_file is None or chess.square_file(sq) == reading.from_file)
            and (reading.from_rank is None or chess.square_rank(sq) == reading.from_rank)
        ]
        if not origins:
            where = _where(reading.from_file, reading.from_rank)
            return Why("no_such_piece", f"{side} has no {chess.piece_name(piece_type)}{where}")
    target = board.piece_at(to)
    if target is not None and target.color == us:
        return Why("own_piece_on_target",
                   f"{to_name} is occupied by your own {chess.piece_name(target.piece_type)}")
    if reading.promotion is not None and piece_type != chess.PAWN:
        return Why("bad_promotion", "only pawns promote")
    last_rank = 7 if us == chess.WHITE else 0
    if reading.promotion is not None and chess.square_rank(to) != last_rank:
        return Why("bad_promotion",
                   f"a pawn promotes only on the last rank ({'8' if us == chess.WHITE else '1'})")
    if piece_type == chess.KING and reading.piece is not None:
        king = board.king(us)
        home = chess.E1 if us == chess.WHITE else chess.E8
        castle_squares = (chess.C1, chess.G1) if us == chess.WHITE else (chess.C8, chess.G8)
        if king == home and to in castle_squares and board.piece_at(to) is None:
            return Why("king_two_squares",
                       "the king moves one square; to castle write O-O or O-O-O")
    pseudo = [
        m for m in board.pseudo_legal_moves
        if m.from_square in origins and m.to_square == to
        and (reading.promotion is None or m.promotion == reading.promotion)
    ]
    if pseudo:
        return _leaves_in_check(board, pseudo[0])
    if piece_type == chess.PAWN and reading.from_file is None:
        # "e5": only the pawns on the e-file are meant.
        same_file = [sq for sq in origins if chess.square_file(sq) == chess.square_file(to)]
        origins = same_file or origins
    if len(origins) == 1:
        return _why_not(board, piece_type, origins[0], to)
    near = [sq for sq in origins if piece_type == chess.PAWN or _reaches(piece_type, sq, to)]
    if near and len(near) <= 2:
        whys = [_why_not(board, piece_type, sq, to) for sq in near]
        return Why(whys[0].kind, "; ".join(w.text for w in whys))
    listed = ", ".join(chess.square_name(sq) for sq in origins)
    plural = chess.piece_name(piece_type) + "s"
    return Why("unreachable", f"none of {side}'s {plural} (on {listed}) can move to {to_name}")
