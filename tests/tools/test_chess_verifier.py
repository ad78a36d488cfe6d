from __future__ import annotations

import asyncio
import os
import shutil

import chess
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redraft.core import BadInputError
from redraft.tools import verifiers, verify_sync
from redraft.tools.chess import ChessContext, ChessOracle, ChessVerifier, read_move
from redraft.tools.conformance import VerifierConformance

START = chess.STARTING_FEN
CASTLE_THROUGH_CHECK = "r3k2r/8/8/8/2b5/8/8/R3K2R w KQkq - 0 1"  # Bc4 covers f1
CASTLE_IN_CHECK = "r3k2r/8/8/8/8/8/8/R3K1qR w KQkq - 0 1"
NO_RIGHTS = "r3k2r/8/8/8/8/8/8/R3K2R w - - 0 1"
EN_PASSANT = "4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2"
PROMOTION = "8/4P3/8/8/8/8/k7/4K3 w - - 0 1"
KNIGHTS = "4k3/8/8/8/8/5N2/8/1N2K3 w - - 0 1"  # Nb1 and Nf3 both reach d2
ROOKS = "k7/8/8/8/4R3/8/8/4RK2 w - - 0 1"  # Re1 and Re4 both reach e2
PINNED = "4k3/8/8/8/1b6/8/3N4/4K3 w - - 0 1"  # Nd2 pinned by Bb4
PINNED_PAIR = "4k3/8/8/8/1b6/8/3N4/4K1N1 w - - 0 1"  # Nd2 pinned; Ng1 not
IN_CHECK = "4k3/8/8/8/8/8/3P4/r3K2N w - - 0 1"  # Ra1 checks along the first rank
BC4 = "4k3/8/8/8/2p5/1P6/8/2B1K3 w - - 0 1"  # b3xc4 legal; Bc1 cannot reach c4
BOTH_BC4 = "4k3/8/8/8/2p5/1P6/8/4KB2 w - - 0 1"  # b3xc4 and Bf1xc4 both legal


def check(fen: str, answer: str, **options: object) -> tuple[str, str, dict[str, object]]:
    verdict = verify_sync(ChessVerifier(**options), chess.Board(fen), answer)
    return verdict.code, verdict.feedback(), dict(verdict.evidence)


def san_of(fen: str, answer: str) -> str | None:
    return read_move(chess.Board(fen), answer).san


# ---- reading answers the way a lenient human judge would -----------------------------------


@pytest.mark.parametrize(
    ("answer", "san", "lenient"),
    [
        ("e4", "e4", False),
        ("Nf3", "Nf3", False),
        ("The legal move is Nf3.", "Nf3", True),
        ("1. e4", "e4", True),
        ("nf3", "Nf3", True),
        ("E4", "e4", True),
        ("e2e4", "e4", True),
        ("Ng1-f3", "Nf3", True),
        ("Nf3!?", "Nf3", True),
        ("**Nf3**", "Nf3", False),
        ("I think my move is d4, since e4 is too common", "d4", True),
        ("1. e4 e5 2. Nf3", "e4", True),
        ("I move my knight to f3", "Nf3", True),
        ("pawn to e4", "e4", True),
    ],
)
def test_reader_takes_what_a_judge_would(answer: str, san: str, lenient: bool) -> None:
    read = read_move(chess.Board(), answer)
    assert (read.status, read.san, read.lenient) == ("ok", san, lenient), read


def test_a_replay_of_the_game_so_far_is_skipped() -> None:
    board = chess.Board()
    for san in ("e4", "e5", "Nf3"):
        board.push_san(san)
    read = read_move(board, "1. e4 e5 2. Nf3 Nc6 3. Bb5")
    assert read.san == "Nc6"
    assert "the game so far was repeated; took the move after it" in read.notes
    assert read_move(board, "2... Nc6 3. Bb5").san == "Nc6"  # a continuation: first move


def test_castling_in_words() -> None:
    fen = "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1"
    assert san_of(fen, "I will castle queenside.") == "O-O-O"
    assert san_of(fen, "castling short") == "O-O"
    code, message, _ = check(START, "castle kingside")
    assert code == "illegal" and "between king and rook" in message


def test_black_move_after_move_number() -> None:
    board = chess.Board()
    board.push_san("e4")
    read = read_move(board, "1... e5")
    assert read.san == "e5" and "move number dropped" in read.notes


@pytest.mark.parametrize("answer", ["O-O", "0-0", "o-o", "O-O+", "e1g1"])
def test_castling_spellings(answer: str) -> None:
    fen = "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1"
    assert san_of(fen, answer) == "O-O"
    assert san_of(fen, answer.replace("O-O", "O-O-O").replace("0-0", "0-0-0")
                  .replace("o-o", "o-o-o").replace("e1g1", "e1c1")) == "O-O-O"


def test_castling_through_check_is_illegal_with_reason() -> None:
    code, message, _ = check(CASTLE_THROUGH_CHECK, "O-O")
    assert code == "illegal"
    assert "pass through f1" in message and "bishop on c4" in message
    assert check(CASTLE_THROUGH_CHECK, "O-O-O")[0] == "ok"


def test_castling_out_of_check_and_without_rights() -> None:
    code, message, _ = check(CASTLE_IN_CHECK, "O-O")
    assert code == "illegal" and "out of check" in message
    code, message, _ = check(NO_RIGHTS, "O-O")
    assert code == "illegal" and "can no longer castle kingside" in message
    code, message, _ = check(START, "O-O")
    assert code == "illegal" and "between king and rook must be empty" in message


def test_king_two_squares_is_not_castling() -> None:
    code, message, _ = check("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "Kg1")
    assert code == "illegal" and "write O-O" in message


@pytest.mark.parametrize("answer", ["exd6", "exd6 e.p.", "e5d6", "ed6"])
def test_en_passant(answer: str) -> None:
    assert san_of(EN_PASSANT, answer) == "exd6"


def test_en_passant_only_right_after_the_double_step() -> None:
    code, message, _ = check(EN_PASSANT.replace(" d6 ", " - "), "exd6")
    assert code == "illegal" and "nothing to capture on d6" in message


@pytest.mark.parametrize(("answer", "lenient"),
                         [("e8=Q", False), ("e8Q", True), ("e8(Q)", True), ("e7e8q", True),
                          ("e8=q", True)])
def test_promotion_with_and_without_equals(answer: str, lenient: bool) -> None:
    read = read_move(chess.Board(PROMOTION), answer)
    assert (read.san, read.lenient) == ("e8=Q", lenient)
    assert san_of(PROMOTION, "e8=N") == "e8=N"


def test_promotion_piece_missing_is_ambiguous() -> None:
    code, message, evidence = check(PROMOTION, "e8")
    assert code == "ambiguous" and "must say what it promotes to" in message
    assert evidence["candidates"] == ["e8=B", "e8=N", "e8=Q", "e8=R"]


def test_promotion_to_king_is_invalid_syntax() -> None:
    code, message, _ = check(PROMOTION, "e8=K")
    assert code == "invalid_syntax" and "promotes to a queen, rook, bishop or knight" in message


def test_disambiguation() -> None:
    code, message, evidence = check(KNIGHTS, "Nd2")
    assert code == "ambiguous" and "b1 and f3" in message
    assert evidence["candidates"] == ["Nbd2", "Nfd2"]
    assert san_of(KNIGHTS, "Nbd2") == "Nbd2"
    assert san_of(KNIGHTS, "Nfd2") == "Nfd2"
    assert san_of(KNIGHTS, "N1d2") == "Nbd2"
    assert check(ROOKS, "Re2")[0] == "ambiguous"
    assert san_of(ROOKS, "R1e2") == "R1e2"
    assert san_of(ROOKS, "R4e2") == "R4e2"


def test_pinned_piece() -> None:
    code, message, _ = check(PINNED, "Nf3")
    assert code == "illegal"
    assert "knight on d2 is pinned to its king by the bishop on b4" in message


def test_pinned_piece_does_not_make_a_move_ambiguous() -> None:
    # Nd2 and Ng1 both reach f3, but Nd2 is pinned: Nf3 means Ng1-f3.
    assert san_of(PINNED_PAIR, "Nf3") == "Nf3"


def test_in_check_and_king_into_check() -> None:
    code, message, _ = check(IN_CHECK, "d4")
    assert code == "illegal" and "in check from the rook on a1" in message
    code, message, _ = check(IN_CHECK, "Kd1")
    assert code == "illegal" and "king would be in check on d1" in message


@pytest.mark.parametrize(
    ("fen", "answer", "reason"),
    [
        (START, "Bc4", "blocked by the pawn on e2"),
        (START, "Qh5", "blocked by the pawn on e2"),
        (START, "e5", "one square forward"),
        (START, "Nf4", "knights (on b1, g1) can move to f4"),
        (START, "Ke2", "occupied by your own pawn"),
        (START, "a3b4", "no piece on a3"),
        (START, "e7e5", "is Black's"),
        (START, "Ncd2", "White has no knight on the c-file"),
        (START, "Rad1", "d1 is occupied by your own queen"),
        ("4k3/8/8/8/8/8/8/4K3 w - - 0 1", "Qd4", "White has no queen"),
        ("4k3/8/8/8/8/4p3/4P3/4K3 w - - 0 1", "e3", "blocked by the pawn on e3"),
    ],
)
def test_illegal_reasons(fen: str, answer: str, reason: str) -> None:
    code, message, _ = check(fen, answer)
    assert code == "illegal"
    assert message.startswith(f"{answer} is illegal: ")
    assert reason in message


def test_lowercase_b_is_read_by_legality() -> None:
    assert san_of(BC4, "bc4") == "bxc4"  # only the pawn capture is legal
    assert san_of("4k3/8/8/8/8/8/8/5BK1 w - - 0 1", "bc4") == "Bc4"  # only the bishop
    code, message, evidence = check(BOTH_BC4, "bc4")
    assert code == "ambiguous" and evidence["candidates"] == ["Bxc4", "bxc4"]
    assert "uppercase" in message
    assert san_of(BOTH_BC4, "bxc4") == "bxc4"  # standard: a pawn capture
    assert san_of(BOTH_BC4, "Bxc4") == "Bxc4"


@pytest.mark.parametrize(
    ("answer", "code", "fragment"),
    [
        ("", "unparseable", "No chess move found"),
        ("I resign.", "unparseable", "No chess move found"),
        ("Ni9", "invalid_syntax", "i9 is not a square"),
        ("e9", "invalid_syntax", "ranks run from 1 to 8"),
        ("O-O-O-O", "invalid_syntax", "castling is O-O"),
    ],
)
def test_unparseable_and_invalid_syntax_feedback(answer: str, code: str, fragment: str) -> None:
    got, message, _ = check(START, answer)
    assert got == code and fragment in message
    assert "SAN" in message  # says what to write instead


def test_legal_moves_hint_is_optional() -> None:
    verdict = verify_sync(ChessVerifier(legal_moves_hint=True), chess.Board(), "Ke2")
    assert verdict.hint is not None and verdict.hint.startswith("Legal moves: ")
    assert "Nf3" in verdict.hint and verdict.hint in verdict.feedback()
    assert verify_sync(ChessVerifier(), chess.Board(), "Ke2").hint is None


def test_contexts_and_options() -> None:
    context = ChessContext(moves=("e2e4", "e7e5"))
    verifier = ChessVerifier()
    assert verify_sync(verifier, context, "Nf3").ok
    assert verify_sync(verifier, context.board().fen(), "Nf3").ok
    with pytest.raises(BadInputError, match="legal_moves_hint"):
        ChessVerifier(legal_moves_hint="yes please")
    with pytest.raises(BadInputError, match="options"):
        ChessVerifier(colour="white")
    assert isinstance(verifiers.create("chess"), ChessVerifier)


# ---- the contract and the fuzz ---------------------------------------------------------------


class TestChessConformance(VerifierConformance):
    def make_verifier(self) -> ChessVerifier:
        return ChessVerifier(legal_moves_hint=True)

    def accepted_cases(self) -> list[tuple[object, str]]:
        return [(chess.Board(), "e4"), (ChessContext(), "Nf3"), (PROMOTION, "e8=Q"),
                (EN_PASSANT, "exd6")]

    def rejected_cases(self) -> list[tuple[object, str, str | None]]:
        return [(START, "Ke2", "illegal"), (START, "hello", "unparseable"),
                (START, "Ni9", "invalid_syntax"), (KNIGHTS, "Nd2", "ambiguous")]


ANSWERISH = st.text(alphabet=st.sampled_from(list("abcdefghKQRBNPkqrnpxoO0-=+#!?() 123456789.e:")),
                    max_size=25)
BOARDS = [chess.Board(fen) for fen in (START, CASTLE_THROUGH_CHECK, PROMOTION, EN_PASSANT, KNIGHTS,
                                       "7k/5Q2/6K1/8/8/8/8/8 b - - 0 1")]


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), ANSWERISH), st.sampled_from(range(len(BOARDS))))
def test_reader_never_raises(text: str, which: int) -> None:
    board = BOARDS[which]
    read = read_move(board, text)
    assert read.status in ("ok", "unparseable", "invalid_syntax", "illegal", "ambiguous")
    assert (read.move is not None) == (read.status == "ok")
    if read.move is not None:
        assert board.is_legal(read.move)
    else:
        assert read.message


# ---- the oracle -------------------------------------------------------------------------------


def test_oracle_local_is_legality_and_global_is_none() -> None:
    oracle = ChessOracle()
    judgement = asyncio.run(oracle.judge(ChessContext(), "Ke2"))
    assert judgement.local.code == "illegal" and judgement.global_state is None
    assert judgement.quality is None
    assert asyncio.run(oracle.judge(ChessContext(), "e4")).correctness == "correct"
    assert judgement.correctness == "incorrect" and judgement.global_correctness is None


needs_stockfish = pytest.mark.skipif(
    shutil.which("stockfish") is None and not os.path.exists("/usr/games/stockfish"),
    reason="Stockfish not installed (apt-get install stockfish)",
)


@needs_stockfish
def test_oracle_quality_marks_a_blunder() -> None:
    # Qxd5?? takes a pawn protected by c6 and loses the queen.
    fen = "4k3/8/2p5/3p4/8/8/8/3QK3 w - - 0 1"
    oracle = ChessOracle(quality=True, analysis_depth=6, blunder_cp=300)
    strict = ChessOracle(quality=True, analysis_depth=6, blunder_cp=300, blunder_is_error=True)
    try:
        bad = oracle.judge_sync(fen, "Qxd5")
        assert bad.local.ok and bad.quality is not None and bad.quality >= 300
        assert bad.local.evidence["blunder"] is True
        good = oracle.judge_sync(fen, "Kd2")
        assert good.quality is not None and good.quality < 300
        assert good.local.evidence["blunder"] is False
        flagged = asyncio.run(strict.judge(fen, "Qxd5"))
        assert flagged.local.code == "blunder" and "centipawns" in flagged.local.message
    finally:
        oracle.close()
        strict.close()


def test_missing_stockfish_names_the_package() -> None:
    oracle = ChessOracle(quality=True, stockfish_path="/nonexistent/stockfish")
    with pytest.raises(BadInputError, match="apt-get install stockfish"):
        oracle.judge_sync(START, "e4")


@pytest.mark.parametrize(
    ("fen", "answer", "kind"),
    [
        (CASTLE_THROUGH_CHECK, "O-O", "castling_through_check"),
        (CASTLE_IN_CHECK, "O-O", "castling_in_check"),
        (NO_RIGHTS, "O-O", "no_castling_rights"),
        (START, "O-O", "castling_blocked"),
        (PINNED, "Nf3", "pinned"),
        (IN_CHECK, "d4", "does_not_end_check"),
        (IN_CHECK, "Kd1", "king_into_check"),
        (START, "Bc4", "path_blocked"),
        (START, "Nf4", "unreachable"),
        (START, "Ke2", "own_piece_on_target"),
        (START, "Qd4e5", "no_such_piece"),
        (START, "e7e5", "not_your_piece"),
        (START, "e5", "pawn_rules"),
        (START, "Nf3=Q", "bad_promotion"),
    ],
)
def test_illegal_reason_kinds_in_evidence(fen: str, answer: str, kind: str) -> None:
    code, _, evidence = check(fen, answer)
    assert (code, evidence["reason"]) == ("illegal", kind)


def test_an_echoed_list_of_moves_chooses_nothing() -> None:
    # SmolLM2 echoes the prompt's "Legal moves:" line; taking its first entry would credit
    # the model with a move it never chose.
    board = chess.Board()
    echo = read_move(board, "Moves so far: (None yet)\nLegal moves: Na3, Nc3, Nf3, Nh3, a3")
    assert echo.status == "ambiguous"
    assert "lists several moves (Na3, Nc3, Nf3, Nh3, a3)" in echo.message
    assert read_move(board, "I play e4, then Nf3 next.").san == "e4"
