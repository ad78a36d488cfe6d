from __future__ import annotations

import os
import shutil
from typing import Any

import chess
import pytest
from task_harness import commit

from redraft.agent.backends import ScriptedBackend, load_backend
from redraft.core import BadInputError
from redraft.evals.tasks import Task, load_task
from redraft.evals.tasks.chess import ChessTask
from redraft.tools.chess import ChessVerifier

needs_stockfish = pytest.mark.skipif(
    shutil.which("stockfish") is None and not os.path.exists("/usr/games/stockfish"),
    reason="Stockfish not installed (apt-get install stockfish)",
)
MATE_IN_ONE = "6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1"  # Ra8#
STALEMATE_IN_ONE = "k7/8/2K5/1Q6/8/8/8/8 w - - 0 1"  # Qb6 leaves the a8 king no move


def test_is_a_task() -> None:
    with load_task("chess") as task:
        assert isinstance(task, Task) and isinstance(task, ChessTask)
        assert task.representations == ("san", "fen", "board", "legal")
        assert isinstance(task.verifier(), ChessVerifier)
        assert task.oracle() is task.oracle()
    with pytest.raises(BadInputError, match="representation"):
        load_task("chess", representation="pgn")
    with pytest.raises(BadInputError, match="start_fen"):
        load_task("chess", start_fen="not a position")


@pytest.mark.parametrize(
    ("representation", "marker"),
    [("san", "1. "), ("fen", "Position (FEN): "), ("board", "a b c d e f g h"),
     ("legal", "Legal moves: ")],
)
def test_representations(representation: str, marker: str) -> None:
    with load_task("chess", representation=representation) as task:
        episode = task.new_episode(0, max_steps=4, error_policy="continue")
        commit(task, episode, episode.prompt().hint.correct)
        prompt = episode.prompt()
        text = prompt.messages[-1].content
        assert marker in text
        assert "as White" in prompt.messages[0].content and "SAN" in prompt.messages[0].content
        assert prompt.constraint is not None and prompt.hint.correct in prompt.constraint.choices
        assert prompt.stop == ("\n",)  # a move is one line
        verifier = task.verifier()
        assert verifier.check(prompt.context, prompt.hint.correct).ok
        assert not any(verifier.check(prompt.context, w).ok for w in prompt.hint.wrong)
        assert episode.prompt() == prompt  # prompting twice draws nothing new


def test_san_prompt_is_a_move_list() -> None:
    with load_task("chess", color="black") as task:
        episode = task.new_episode(7, max_steps=4, error_policy="stop")
        first = episode.prompt().messages[-1].content
        opening = episode.board.root().san(episode.board.move_stack[0])
        assert first.endswith(f"\n1. {opening}")
        assert "as Black" in episode.prompt().messages[0].content
        commit(task, episode, episode.prompt().hint.correct)
        text = episode.prompt().messages[-1].content
        assert text.split("\n")[-1].startswith("1. ") and "2. " in text


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_simulated_games(drive: Any, check: Any, policy: str) -> None:
    with load_task("chess", representation="fen") as task:
        backend = load_backend("simulated/e=0.2,r=0.5,h=0.1")
        records = drive(task, backend, range(8), max_steps=12, error_policy=policy, rounds=1)
    check(records, max_steps=12, policy=policy, has_global=False)
    steps = [s for game in records.values() for s in game]
    assert any(not s.judgements[0].local.ok for s in steps)
    if policy == "continue":
        forced = [s for s in steps if s.result.forced]
        assert forced and all(not s.local_ok for s in forced)
        assert all(s.result.end in (None, "max_steps", "natural") for s in steps)
    else:
        assert any(game[-1].result.end == "error" for game in records.values())


def test_transcript_with_feedback_codes(drive: Any) -> None:
    with load_task("chess", start_fen="4k3/8/8/8/8/5N2/8/1N2K3 w - - 0 1") as task:
        backend = ScriptedBackend(["Nd2", "Nbd2", "Kxe8", "Ke2", "gibberish", "I pass"])
        records = drive(task, backend, [0], max_steps=3, error_policy="continue", rounds=1)
    backend.assert_done()
    steps = records[0]
    assert [s.outputs for s in steps] == [["Nd2", "Nbd2"], ["Kxe8", "Ke2"],
                                         ["gibberish", "I pass"]]
    assert steps[0].feedback[0].code == "ambiguous" and "Nbd2, Nfd2" in steps[0].feedback[0].message
    assert steps[0].result.action == "Nbd2" and steps[0].local_ok
    assert steps[1].feedback[0].code == "illegal" and steps[1].local_ok
    assert steps[2].feedback[1].code == "unparseable"
    assert steps[2].result.forced and not steps[2].local_ok
    assert steps[2].result.end == "max_steps"


def test_checkmate_ends_naturally() -> None:
    with load_task("chess", start_fen=MATE_IN_ONE) as task:
        episode = task.new_episode(0, max_steps=10, error_policy="stop")
        result = commit(task, episode, "Ra8#")
    assert result.end == "natural" and result.local_ok
    assert result.info["termination"] == "checkmate" and result.info["result"] == "1-0"
    assert "opponent" not in result.info


def test_stalemate_ends_naturally() -> None:
    with load_task("chess", start_fen=STALEMATE_IN_ONE) as task:
        episode = task.new_episode(0, max_steps=10, error_policy="stop")
        result = commit(task, episode, "Qb6")
    assert result.end == "natural" and result.info["termination"] == "stalemate"
    assert result.info["result"] == "1/2-1/2"


@needs_stockfish
def test_opponent_mate_ends_naturally() -> None:
    # Fool's mate with the agent as White: 1. f3 e5 2. g4 Qh4#, the last move the opponent's.
    fen = "rnbqkbnr/pppp1ppp/8/4p3/8/5P2/PPPPP1PP/RNBQKBNR w KQkq - 0 2"
    with load_task("chess", start_fen=fen, opponent="stockfish", skill_level=20,
                   move_time=0.05) as task:
        episode = task.new_episode(0, max_steps=10, error_policy="stop")
        result = commit(task, episode, "g4")
    assert result.info["opponent"] == "Qh4#" and result.end == "natural"
    assert result.info["result"] == "0-1"


@needs_stockfish
@pytest.mark.slow
def test_game_against_stockfish(drive: Any, check: Any) -> None:
    with load_task("chess", opponent="stockfish", skill_level=0, move_time=0.01,
                   representation="san", quality=True) as task:
        records = drive(task, load_backend("simulated/e=0.1,r=0.5,h=0.1"), [0, 1], max_steps=4,
                        error_policy="continue")
        quality = [j.quality for game in records.values() for s in game for j in s.judgements
                   if j.local.ok]
        assert quality and all(q is not None and q >= 0 for q in quality)
        engine = task._engine
        assert engine is not None
    check(records, max_steps=4, policy="continue", has_global=False)
    assert all("opponent" in s.result.info for game in records.values() for s in game)
    assert task._engine is None  # closed with the task
    with pytest.raises(chess.engine.EngineTerminatedError):
        engine.ping()


def test_missing_stockfish_says_how_to_install() -> None:
    with pytest.raises(BadInputError, match="apt-get install stockfish"):
        ChessTask(opponent="stockfish", stockfish_path="/nonexistent/stockfish")


@needs_stockfish
def test_blunder_as_error_agrees_with_the_oracle() -> None:
    fen = "4k3/8/2p5/3p4/8/8/8/3QK3 w - - 0 1"
    with load_task("chess", start_fen=fen, quality=True, blunder_cp=300,
                   blunder_is_error=True, analysis_depth=6) as task:
        episode = task.new_episode(0, max_steps=5, error_policy="continue")
        judgement = task.oracle().judge_sync(episode.prompt().context, "Qxd5")
        result = commit(task, episode, "Qxd5")
    assert judgement.local.code == "blunder" and not result.local_ok
    assert result.action == "Qxd5" and not result.forced  # the blunder is still played
