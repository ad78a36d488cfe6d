"""The llamacpp backend against the real embedded SmolLM2 model."""

from __future__ import annotations

import asyncio
import os
import random
import re
from pathlib import Path
from typing import Any

import chess
import pytest

from redraft.agent.backends._common import cache_key_order, choice_grammar, gbnf_literal
from redraft.agent.backends._protocol import (
    Backend,
    Constraint,
    GenerationRequest,
    Message,
    SamplingParams,
)
from redraft.agent.backends._registry import load_backend
from redraft.core import BadInputError, ConstraintNotSupportedError


def ask(text: str, **params: Any) -> GenerationRequest:
    return GenerationRequest(
        messages=(Message(role="user", content=text),), params=SamplingParams(**params)
    )


def run(backend: Any, requests: list[GenerationRequest]) -> list[Any]:
    return asyncio.run(backend.generate(requests))


@pytest.mark.slow
def test_model_string_loads_the_embedded_model(smollm2_path: Path) -> None:
    backend = load_backend("llamacpp/smollm2", n_ctx=512, n_threads=2)
    try:
        assert isinstance(backend, Backend)
        assert backend.name == "llamacpp/smollm2"
        assert {"choice", "regex", "grammar"} <= backend.constraint_kinds
        [out] = run(backend, [ask("Say hi.", max_tokens=8)])
        assert out.text
        assert 0 < out.usage.completion_tokens <= 8
        assert out.usage.prompt_tokens > 0 and out.usage.seconds > 0
    finally:
        asyncio.run(backend.aclose())


@pytest.mark.slow
def test_a_gguf_path_loads_too(smollm2_path: Path) -> None:
    backend = load_backend(f"llamacpp/{smollm2_path}", n_ctx=256)
    asyncio.run(backend.aclose())
    assert backend.name == f"llamacpp/{smollm2_path}"


def test_missing_file_and_bad_options_are_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(BadInputError, match="no such model file"):
        load_backend(f"llamacpp/{missing}")
    with pytest.raises(BadInputError, match=r"n_ctxx: Extra .* \(options: cache_dir, engine, "):
        load_backend("llamacpp/smollm2", n_ctxx=512)


def test_prompt_longer_than_the_context_is_bad_input() -> None:
    backend = load_backend("llamacpp/smollm2", n_ctx=64)
    try:
        with pytest.raises(BadInputError, match="n_ctx"):
            run(backend, [ask("word " * 200)])
    finally:
        asyncio.run(backend.aclose())


@pytest.mark.slow
def test_greedy_is_deterministic_and_seeds_reproduce(exact_backend: Any) -> None:
    prompt = "Name a colour."
    greedy = run(exact_backend, [ask(prompt, max_tokens=12), ask(prompt, max_tokens=12)])
    assert greedy[0].text == greedy[1].text
    sampled = [ask(prompt, temperature=1.2, seed=s, max_tokens=12) for s in (1, 2, 1, 3, 4)]
    first = [g.text for g in run(exact_backend, sampled)]
    second = [g.text for g in run(exact_backend, sampled)]
    assert first == second
    assert first[0] == first[2]
    assert len(set(first)) > 1, "different seeds should sample different texts"


@pytest.mark.slow
def test_max_tokens_and_stop(llama_backend: Any) -> None:
    long, stopped = run(
        llama_backend,
        [
            ask("Count from 1 to 50, separated by commas.", max_tokens=5),
            ask("Count from 1 to 50, separated by commas.", max_tokens=40, stop=("5",)),
        ],
    )
    assert long.finish_reason == "length" and long.usage.completion_tokens == 5
    assert "5" not in stopped.text and stopped.finish_reason == "stop"


@pytest.mark.slow
def test_grouping_by_cache_key_keeps_request_order(exact_backend: Any) -> None:
    prompts = ["What is 2+2?", "Name a fruit.", "What is 3+3?", "Name a tree."]
    requests = [
        GenerationRequest(
            messages=(Message(role="user", content=p),),
            params=SamplingParams(max_tokens=10),
            cache_key="math" if i % 2 == 0 else "nature",
        )
        for i, p in enumerate(prompts)
    ]
    batched = run(exact_backend, requests)
    alone = [run(exact_backend, [r])[0] for r in reversed(requests)][::-1]
    assert [g.text for g in batched] == [g.text for g in alone]


def test_cache_key_order_groups_and_is_stable() -> None:
    keys = ["a", "b", None, "a", None, "b", "c"]
    requests = [
        GenerationRequest(messages=(Message(role="user", content=str(i)),), cache_key=k)
        for i, k in enumerate(keys)
    ]
    assert cache_key_order(requests) == [0, 3, 1, 5, 2, 4, 6]


def test_gbnf_literal_escapes() -> None:
    assert gbnf_literal('a"b\\c\nd\x01é') == '"a\\"b\\\\c\\nd\\x01é"'
    assert choice_grammar(["x", "x", "y"]) == 'root ::= "x" | "y"\n'
    with pytest.raises(BadInputError):
        choice_grammar(["x", ""])


@pytest.mark.slow
def test_choice_with_awkward_strings(llama_backend: Any) -> None:
    choices = ('say "yes"', "back\\slash", "two\nlines", "naïve ünïcode ♞", "[x] | y ::= z")
    requests = [
        GenerationRequest(
            messages=(Message(role="user", content="Pick one option."),),
            params=SamplingParams(temperature=1.5, seed=seed, max_tokens=1, stop=("e",)),
            constraint=Constraint(kind="choice", choices=choices),
        )
        for seed in range(8)
    ]
    outputs = [g.text for g in run(llama_backend, requests)]
    assert all(text in choices for text in outputs), outputs


@pytest.mark.slow
def test_regex_and_grammar_constraints(llama_backend: Any) -> None:
    date = r"[12][0-9]{3}-(0[1-9]|1[0-2])-[0-3][0-9]"
    grammar = 'root ::= ("yes" | "no") " because " [a-z ]{3,20}\n'
    dated, reasoned = run(
        llama_backend,
        [
            GenerationRequest(
                messages=(Message(role="user", content="When did it happen?"),),
                params=SamplingParams(temperature=1.0, seed=3),
                constraint=Constraint(kind="regex", pattern=date),
            ),
            GenerationRequest(
                messages=(Message(role="user", content="Is the sky blue?"),),
                constraint=Constraint(kind="grammar", grammar=grammar),
            ),
        ],
    )
    assert re.fullmatch(date, dated.text), dated.text
    assert re.fullmatch(r"(yes|no) because [a-z ]{3,20}", reasoned.text), reasoned.text


@pytest.mark.slow
def test_bad_grammar_and_unsupported_regex_raise_instead_of_crashing(llama_backend: Any) -> None:
    # llama.cpp aborts the process on an unparseable grammar; the backend must check first.
    with pytest.raises(BadInputError, match="cannot parse"):
        run(llama_backend, [ask_constrained(Constraint(kind="grammar", grammar="root ::= ("))])
    with pytest.raises(ConstraintNotSupportedError):
        run(llama_backend, [ask_constrained(Constraint(kind="regex", pattern=r"\d+"))])
    with pytest.raises(ConstraintNotSupportedError):
        run(llama_backend, [ask_constrained(Constraint(kind="regex", pattern=r"(?=a)a"))])
    [ok] = run(llama_backend, [ask("Still alive?", max_tokens=4)])
    assert ok.text


def ask_constrained(constraint: Constraint) -> GenerationRequest:
    return GenerationRequest(
        messages=(Message(role="user", content="Answer."),), constraint=constraint
    )


def random_position(seed: int) -> chess.Board:
    rng = random.Random(seed)
    board = chess.Board()
    for _ in range(rng.randrange(0, 60)):
        moves = list(board.legal_moves)
        if not moves or board.is_game_over():
            break
        board.push(rng.choice(moves))
    if board.is_game_over():  # no legal move to ask for: step back until there is one
        while board.move_stack and not any(board.legal_moves):
            board.pop()
    return board


@pytest.mark.slow
def test_choice_constraint_makes_illegal_chess_moves_impossible(llama_backend: Any) -> None:
    boards = [random_position(seed) for seed in range(12)]
    requests = []
    for seed, board in enumerate(boards):
        legal = tuple(board.san(move) for move in board.legal_moves)
        assert legal
        side = "White" if board.turn else "Black"
        requests.append(
            GenerationRequest(
                messages=(
                    Message(role="system", content="You are a chess engine. Answer in SAN."),
                    Message(
                        role="user",
                        content=f"Position (FEN): {board.fen()}\n{side} to move. Your move:",
                    ),
                ),
                # Sampling hot and short on purpose: the grammar alone must keep it legal.
                params=SamplingParams(temperature=1.5, seed=seed, max_tokens=2, stop=("+",)),
                constraint=Constraint(kind="choice", choices=legal),
                cache_key=f"game-{seed}",
            )
        )
    outputs = run(llama_backend, requests)
    assert len(outputs) == len(boards)
    for board, out in zip(boards, outputs, strict=True):
        move = board.parse_san(out.text)  # raises on an illegal or malformed move
        assert board.san(move) == out.text
        assert out.finish_reason == "stop"
    assert len({out.text for out in outputs}) > 3


def episode_requests(keys: str, history: dict[str, list[Message]]) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            messages=tuple(history[key]), params=SamplingParams(max_tokens=6), cache_key=key
        )
        for key in keys
    ]


def play_rounds(backend: Any, keys: str, rounds: int) -> list[list[str]]:
    """Interleaved episodes, one request per episode per round, each answer fed back."""
    history = {key: [Message(role="user", content=f"Game {key}: say a word.")] for key in keys}
    texts = []
    for _ in range(rounds):
        outputs = run(backend, episode_requests(keys, history))
        texts.append([out.text for out in outputs])
        for key, out in zip(keys, outputs, strict=True):
            history[key] += [
                Message(role="assistant", content=out.text),
                Message(role="user", content="Another."),
            ]
    return texts


def animal_requests() -> list[GenerationRequest]:
    # Prompts of different lengths, so that a batch mixes prompt chunks and generated tokens.
    return [
        GenerationRequest(
            messages=(Message(role="user", content=f"{'Please, ' * i}name an animal ({i})."),),
            params=SamplingParams(max_tokens=4 + 2 * i),
            cache_key=f"k{i}",
        )
        for i in range(8)
    ]


@pytest.mark.slow
def test_greedy_answers_do_not_depend_on_the_batch(smollm2_path: Path) -> None:
    requests = animal_requests()
    one, eight = (
        load_backend("llamacpp/smollm2", n_ctx=512, n_threads=2, memo_size=0) for _ in range(2)
    )
    try:
        alone = [run(one, [r])[0] for r in requests]  # one sequence, reused by each in turn
        together = run(eight, requests)  # eight sequences decoded side by side
        # (the first evaluates the shared chat-template prefix, the others copy its cache)
        assert eight.stats.borrowed_tokens > 0
        reused = eight.stats.reused_tokens
        again = run(eight, requests)  # each prompt now cached but for its last token
        assert eight.stats.reused_tokens - reused == sum(
            g.usage.prompt_tokens - 1 for g in alone
        )
    finally:
        for backend in (one, eight):
            asyncio.run(backend.aclose())
    texts = [g.text for g in alone]
    assert [g.text for g in together] == texts
    assert [g.text for g in again] == texts
    for a, b in zip(alone, together, strict=True):
        assert a.usage.prompt_tokens == b.usage.prompt_tokens
        assert a.usage.completion_tokens == b.usage.completion_tokens
        assert a.finish_reason == b.finish_reason
    assert {g.finish_reason for g in alone} == {"stop", "length"}


@pytest.mark.slow
def test_a_revision_round_on_scattered_episodes_moves_them_together(
    exact_backend: Any,
) -> None:
    # Eight episodes, then a round for every other one: their sequences (1, 3, 5, 7) are
    # scattered, and llama.cpp would evaluate each in a pass of its own; the decoder moves
    # caches so that they are consecutive, and each answer is what a fresh evaluation gives.
    backend = load_backend("llamacpp/smollm2", n_ctx=512, n_threads=2, memo_size=0)
    try:
        keys = "abcdefgh"
        history = {key: [Message(role="user", content=f"Game {key}: say a word.")] for key in keys}
        first = run(backend, episode_requests(keys, history))
        for key, out in zip(keys, first, strict=True):
            history[key] += [
                Message(role="assistant", content=out.text),
                Message(role="user", content="Another."),
            ]
        second = run(backend, episode_requests(keys[1::2], history))
        assert backend.stats.moves > 0
        assert backend.stats.scattered_passes == 0
    finally:
        asyncio.run(backend.aclose())
    fresh = run(exact_backend, episode_requests(keys[1::2], history))
    assert [g.text for g in second] == [g.text for g in fresh]


@pytest.mark.slow
def test_repeated_deterministic_requests_are_decoded_once(smollm2_path: Path) -> None:
    backend = load_backend("llamacpp/smollm2", n_ctx=512, n_threads=2)
    try:
        twice = [*animal_requests()[:3], *animal_requests()[:3]]
        first = run(backend, twice)
        assert backend.memo_hits == 3  # the second three, within the same call
        evaluated = backend.stats.evaluated_tokens
        again = run(backend, twice[:3])  # a later call: answered without decoding
        assert backend.memo_hits == 6
        assert backend.stats.evaluated_tokens == evaluated
        # A sampled request without a seed of its own is never remembered.
        sampled = [ask("Name a colour.", temperature=1.0, max_tokens=6)] * 2
        run(backend, sampled)
        run(backend, sampled)
        assert backend.memo_hits == 6
        # Its seeds come from the backend's generator, which a grid restarts before each run.
        backend.restart_seeds()
        fresh = random.Random(backend.options.seed)
        expected = [fresh.getrandbits(32) for _ in sampled]
        assert [backend._job(r)[0].sampler.seed for r in sampled] == expected
        # A request for an item draws by what it is for, whatever was asked before it
        # (a resumed run asks only for the steps it has left).
        step = sampled[0].model_copy(update={"item_id": "3/1", "purpose": "resample"})
        backend.restart_seeds()
        alone = [backend._job(step)[0].sampler.seed for _ in range(2)]
        backend.restart_seeds()
        backend._job(sampled[0])
        backend._job(step.model_copy(update={"item_id": "0/1"}))
        after_others = [backend._job(step)[0].sampler.seed for _ in range(2)]
        assert alone == after_others and alone[0] != alone[1]
    finally:
        asyncio.run(backend.aclose())
    assert [g.text for g in first[3:]] == [g.text for g in first[:3]]
    assert again == first[:3]  # the same text, finish reason and usage (the decode's cost)


@pytest.mark.slow
def test_f32_weights_are_converted_once_and_cached(smollm2_path: Path, tmp_path: Path) -> None:
    from redraft.agent.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    options = LlamaCppOptions(n_ctx=256, n_threads=2, cache_dir=str(tmp_path))
    first = LlamaCppBackend(smollm2_path, options=options)
    converted = first.loaded_path
    assert converted.parent == tmp_path
    assert converted.stat().st_size > 4 * smollm2_path.stat().st_size
    written = converted.stat().st_mtime_ns
    second = LlamaCppBackend(smollm2_path, options=options)
    try:
        assert second.loaded_path == converted and converted.stat().st_mtime_ns == written
        assert first.model_path == smollm2_path  # runs identify the model by its own file
        assert [p.name for p in tmp_path.iterdir()] == [converted.name]  # no partial left
        native = LlamaCppBackend(
            smollm2_path, options=LlamaCppOptions(n_ctx=256, n_threads=2, weights="native")
        )
        assert native.loaded_path == smollm2_path
        asyncio.run(native.aclose())
    finally:
        for backend in (first, second):
            asyncio.run(backend.aclose())
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with pytest.raises(BadInputError, match="cache_dir"):
        LlamaCppBackend(smollm2_path, options=LlamaCppOptions(cache_dir=str(blocked)))


@pytest.mark.slow
def test_episodes_keep_their_cache_and_match_a_fresh_evaluation(
    smollm2_path: Path, exact_backend: Any
) -> None:
    backend = load_backend("llamacpp/smollm2", n_ctx=1024, n_threads=2)
    try:
        cached = play_rounds(backend, "abc", rounds=3)
        stats = backend.stats
        assert stats.evictions == 0
        # Episodes b and c start from a copy of a's cache (the chat template's system prompt).
        assert stats.borrowed_tokens >= 2 * 16
        # Rounds 2 and 3 evaluate only what follows each episode's own cached prefix.
        assert stats.reused_tokens > stats.evaluated_tokens
    finally:
        asyncio.run(backend.aclose())
    assert cached == play_rounds(exact_backend, "abc", rounds=3)


@pytest.mark.slow
def test_more_episodes_than_sequences_evicts_the_least_recently_used(
    smollm2_path: Path, exact_backend: Any
) -> None:
    backend = load_backend("llamacpp/smollm2", n_ctx=512, n_threads=2, n_seq=2)
    try:
        texts = play_rounds(backend, "abc", rounds=2)
        assert backend.stats.evictions > 0
    finally:
        asyncio.run(backend.aclose())
    assert texts == play_rounds(exact_backend, "abc", rounds=2)


@pytest.mark.slow
def test_sequential_engine_still_answers(smollm2_path: Path) -> None:
    backend = load_backend("llamacpp/smollm2", engine="sequential", n_ctx=256, n_threads=2)
    try:
        long, stopped = run(
            backend,
            [
                ask("Count from 1 to 50, separated by commas.", max_tokens=5),
                ask("Count from 1 to 50, separated by commas.", max_tokens=40, stop=("5",)),
            ],
        )
        assert backend.stats is None
    finally:
        asyncio.run(backend.aclose())
    assert long.finish_reason == "length" and long.usage.completion_tokens == 5
    assert "5" not in stopped.text and stopped.finish_reason == "stop"


def test_n_batch_must_hold_a_token_per_sequence() -> None:
    with pytest.raises(BadInputError, match="n_batch"):
        load_backend("llamacpp/smollm2", n_seq=64, n_batch=32)


@pytest.mark.slow
def test_random_subsets_of_episodes_with_evictions_match_fresh_evaluations(
    exact_backend: Any,
) -> None:
    # Episodes continue in random subsets over fewer sequences than episodes: caches are
    # evicted, borrowed and swapped into consecutive places; every answer must still be
    # what evaluating its whole conversation from scratch gives.
    backend = load_backend("llamacpp/smollm2", n_ctx=512, n_threads=2, n_seq=4, memo_size=0)
    draw = random.Random(7)
    keys = "abcdef"
    history = {key: [Message(role="user", content=f"Game {key}: say a word.")] for key in keys}
    try:
        for _ in range(5):
            chosen = "".join(sorted(draw.sample(keys, draw.randint(2, 4))))
            requests = episode_requests(chosen, history)
            cached = run(backend, requests)
            fresh = run(exact_backend, requests)
            assert [g.text for g in cached] == [g.text for g in fresh], chosen
            for key, out in zip(chosen, cached, strict=True):
                history[key] += [
                    Message(role="assistant", content=out.text),
                    Message(role="user", content="Another."),
                ]
        assert backend.stats.evictions > 0 and backend.stats.moves > 0
        assert backend.stats.scattered_passes == 0
    finally:
        asyncio.run(backend.aclose())


@pytest.mark.slow
def test_prompts_and_batches_take_their_own_thread_count(smollm2_path: Path) -> None:
    from redraft.evals._manifest import backend_options

    backend = load_backend("llamacpp/smollm2", n_ctx=256, n_threads=1, n_threads_batch=2)
    try:
        # Two episodes: every pass evaluates more than one token, with n_threads_batch.
        outs = run(backend, [ask(f"Count to {n}.", max_tokens=4).model_copy(
            update={"cache_key": f"episode-{n}"}) for n in (2, 3)])
        assert all(out.text for out in outs)
        lib, ctx = backend._llama_cpp, backend._decoder._ctx
        assert (lib.llama_n_threads(ctx), lib.llama_n_threads_batch(ctx)) == (1, 2)
        # The run's manifest records it with the other options.
        recorded = backend_options(backend, "llamacpp")
        assert recorded is not None
        assert (recorded["n_threads"], recorded["n_threads_batch"]) == (1, 2)
    finally:
        asyncio.run(backend.aclose())
    everything = load_backend("llamacpp/smollm2", n_ctx=256, n_threads=1, n_threads_batch="all")
    asyncio.run(everything.aclose())
    assert everything.threads_batch == len(os.sched_getaffinity(0))
    alike = load_backend("llamacpp/smollm2", n_ctx=256, n_threads=1)  # unset: as n_threads
    asyncio.run(alike.aclose())
    assert alike.threads_batch == 1


@pytest.mark.parametrize("value", [0, -2, 1.5, "many", True])
def test_n_threads_batch_is_a_count_or_all(value: object) -> None:
    with pytest.raises(BadInputError, match=r"n_threads_batch: .* or \"all\""):
        load_backend("llamacpp/smollm2", n_threads_batch=value)
