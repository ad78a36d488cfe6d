"""The hf backend on CPU with the embedded SmolLM2 GGUF, loaded through transformers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chess
import pytest

pytest.importorskip("torch", reason="extra 'hf' not installed (torch)")
pytest.importorskip("transformers", reason="extra 'hf' not installed (transformers)")
pytest.importorskip("gguf", reason="extra 'hf' not installed (gguf)")

from redraft.agent.backends._protocol import (
    Backend,
    Constraint,
    GenerationRequest,
    Message,
    SamplingParams,
)
from redraft.agent.backends._registry import load_backend
from redraft.agent.backends.hf import ChoiceTrie, batch_seed, resolve_hf_model
from redraft.tools import BadInputError, ConstraintNotSupportedError


@pytest.fixture(scope="module")
def hf_backend(smollm2_path: Path) -> Iterator[Any]:
    # The first run converts the GGUF once into ~/.cache/redraft/hf-gguf (about a minute).
    backend = load_backend("hf/smollm2", max_batch_size=16)
    yield backend
    asyncio.run(backend.aclose())


def ask(text: str, **params: Any) -> GenerationRequest:
    return GenerationRequest(
        messages=(Message(role="user", content=text),), params=SamplingParams(**params)
    )


def run(backend: Any, requests: list[GenerationRequest]) -> list[Any]:
    return asyncio.run(backend.generate(requests))


def test_choice_trie() -> None:
    trie = ChoiceTrie([[1, 2], [1, 3, 4], [5]], end=0)
    assert trie.allowed([]) == [1, 5]
    assert trie.allowed([1]) == [2, 3]
    assert trie.allowed([1, 2]) == [0]
    assert trie.allowed([1, 3]) == [4]
    assert trie.allowed([5, 0, 0]) == [0]  # finished rows only get padding


def test_batch_seed_is_stable_and_depends_on_every_seed() -> None:
    assert batch_seed(0, [1, None]) == batch_seed(0, [1, None])
    assert len({batch_seed(0, [1, 2]), batch_seed(0, [2, 1]), batch_seed(1, [1, 2])}) == 3


def test_missing_gguf_path_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such model file"):
        resolve_hf_model(str(tmp_path / "x.gguf"), None)
    with pytest.raises(BadInputError, match="option max_batch: Extra inputs"):
        load_backend("hf/smollm2", max_batch=3)


def test_generates_a_mixed_batch(hf_backend: Any) -> None:
    assert isinstance(hf_backend, Backend)
    assert hf_backend.name == "hf/smollm2" and hf_backend.device in ("cpu", "cuda")
    requests = [
        ask("Name a colour.", max_tokens=8),
        ask("Tell me about the sea in one long sentence.", max_tokens=8),
        ask("Count from 1 to 9, separated by commas.", max_tokens=30, stop=("5",)),
        ask("Name an animal.", temperature=1.0, seed=1, max_tokens=8),
        ask("Name an animal.", temperature=1.0, seed=2, max_tokens=8),
    ]
    first = run(hf_backend, requests)
    assert len(first) == 5
    colour, sea, counted, *_ = first
    assert colour.text and colour.usage.prompt_tokens > 0 and colour.usage.seconds > 0
    assert sea.finish_reason == "length" and sea.usage.completion_tokens == 8
    assert "5" not in counted.text and counted.finish_reason == "stop"
    # the same batch reproduces, sampling included
    assert [g.text for g in run(hf_backend, requests)] == [g.text for g in first]
    # left padding does not change a greedy answer
    [alone] = run(hf_backend, [requests[0]])
    assert alone.text == colour.text
    assert alone.usage.prompt_tokens == colour.usage.prompt_tokens


def test_choice_constraint_keeps_chess_moves_legal(hf_backend: Any) -> None:
    boards = []
    for seed in range(8):
        rng = random.Random(seed)
        board = chess.Board()
        for _ in range(rng.randrange(0, 40)):
            moves = list(board.legal_moves)
            if not moves:
                break
            board.push(rng.choice(moves))
        if not any(board.legal_moves):
            board.pop()
        boards.append(board)
    requests = [
        GenerationRequest(
            messages=(Message(role="user", content=f"FEN {b.fen()}. Your move in SAN:"),),
            params=SamplingParams(temperature=1.5, seed=i, max_tokens=1),
            constraint=Constraint(kind="choice", choices=tuple(b.san(m) for m in b.legal_moves)),
        )
        for i, b in enumerate(boards)
    ]
    # one unconstrained request in the same batch must stay free
    requests.append(ask("Say hello.", temperature=1.5, seed=9, max_tokens=1))
    outputs = run(hf_backend, requests)
    *moves, free = outputs
    assert free.text
    for board, out in zip(boards, moves, strict=True):
        assert board.san(board.parse_san(out.text)) == out.text
        assert out.finish_reason == "stop"


def test_unsupported_constraints_are_refused(hf_backend: Any) -> None:
    request = GenerationRequest(
        messages=(Message(role="user", content="x"),),
        constraint=Constraint(kind="regex", pattern="[a-z]+"),
    )
    with pytest.raises(ConstraintNotSupportedError):
        run(hf_backend, [request])
