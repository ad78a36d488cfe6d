"""The hf backend on CPU with the embedded SmolLM2 GGUF, loaded through transformers."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chess
import pytest

pytest.importorskip("torch", reason="extra 'hf' not installed (torch)")
pytest.importorskip("transformers", reason="extra 'hf' not installed (transformers)")
pytest.importorskip("gguf", reason="extra 'hf' not installed (gguf)")

from redraft.agent.backends import hf as hf_module
from redraft.agent.backends._protocol import (
    Backend,
    Constraint,
    GenerationRequest,
    Message,
    SamplingParams,
)
from redraft.agent.backends._registry import load_backend
from redraft.agent.backends.hf import ChoiceTrie, batch_seed, hub_reachable, resolve_hf_model
from redraft.core import BadInputError, ConstraintNotSupportedError


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


def test_a_hub_id_the_hub_cannot_serve_is_bad_input_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # from_pretrained retried for ~50 s before saying it could not connect; a typo'd local
    # folder (models/nope) reads as a Hub id.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(hf_module, "hub_reachable", lambda endpoint=None: False)
    started = time.monotonic()
    with pytest.raises(BadInputError, match=r"no folder 'models/nope' here, not in the Hugging "
                       r"Face cache, and the Hub .* cannot be reached.*hf/\./models/nope"):
        resolve_hf_model("models/nope", None)
    assert time.monotonic() - started < 5
    (tmp_path / "models" / "here").mkdir(parents=True)  # a folder that is there is used
    assert resolve_hf_model("models/here", None) == ("models/here", None)
    monkeypatch.setattr(hf_module, "hub_reachable", lambda endpoint=None: True)
    assert resolve_hf_model("models/nope", None) == ("models/nope", None)  # the Hub decides


def test_the_hub_probe_is_quick_offline_and_on_a_closed_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_reachable("https://huggingface.co") is False
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with socket.socket() as listener:  # a loopback port nobody listens on
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    started = time.monotonic()
    assert hub_reachable(f"http://127.0.0.1:{port}") is False
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert hub_reachable(f"http://127.0.0.1:{listener.getsockname()[1]}") is True
    assert time.monotonic() - started < 5


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_unsupported_constraints_are_refused(hf_backend: Any) -> None:
    request = GenerationRequest(
        messages=(Message(role="user", content="x"),),
        constraint=Constraint(kind="regex", pattern="[a-z]+"),
    )
    with pytest.raises(ConstraintNotSupportedError):
        run(hf_backend, [request])


# -- the static-cache decoding loop (testbed models) ---------------------------------------


@pytest.fixture(scope="module")
def testbed_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A micro testbed model trained a few steps: its answers vary in length and content."""
    from redraft.lab.testbed import TrainConfig, train

    out = tmp_path_factory.mktemp("testbed") / "micro"
    train(TrainConfig(task="running_sum", size="micro", steps=60, minutes=None, batch_size=32,
                      lr=6e-3, device="cpu", threads=1, log_every=20), out)
    return out


def _testbed_prompts(n: int) -> list[tuple[Message, ...]]:
    from redraft.evals.tasks import load_task
    from redraft.lab.testbed import examples, task_spec

    spec = task_spec("running_sum")
    task = load_task("running_sum", **{**spec.options, "representation": spec.representation})
    stream = examples(task, "expert", seed=8, episode_steps=30)
    return [next(stream).messages for _ in range(n)]  # totals of 1 to 3 digits: lengths vary


@pytest.mark.parametrize(("temperature", "top_p"), [(0.0, 1.0), (1.0, 1.0), (0.8, 0.9)])
@pytest.mark.slow
def test_static_decoding_equals_generate(
    testbed_model: Path, temperature: float, top_p: float
) -> None:
    import torch

    from redraft.agent.backends._hf_decode import decode_static
    from redraft.agent.backends.hf import HFBackend

    backend = HFBackend(str(testbed_model))
    tokenizer, model = backend.tokenizer, backend.model
    prompts = [tokenizer.apply_chat_template([m.model_dump() for m in p], tokenize=False,
                                             add_generation_prompt=True)
               for p in _testbed_prompts(96)]
    inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    assert (inputs["attention_mask"] == 0).any()  # left padding is exercised
    sampling = ({"do_sample": False} if temperature == 0 else
                {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0})
    with torch.inference_mode():
        torch.manual_seed(5)
        expected = model.generate(**inputs, max_new_tokens=20, pad_token_id=0,
                                  eos_token_id=tokenizer.eos_token_id, **sampling)
        torch.manual_seed(5)
        got = decode_static(model, inputs["input_ids"], inputs["attention_mask"],
                            max_new_tokens=20, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=0, temperature=temperature, top_p=top_p)
    new = expected[:, inputs["input_ids"].shape[1]:]
    width = max(new.shape[1], got.shape[1])
    pad = torch.nn.functional.pad
    assert torch.equal(pad(new, (0, width - new.shape[1])), pad(got, (0, width - got.shape[1])))
    ended = (new == tokenizer.eos_token_id).any(dim=1)
    assert ended.any() and len({tuple(r) for r in new.tolist()}) > 1  # rows differ


@pytest.mark.slow
def test_the_backend_decodes_testbed_models_statically(testbed_model: Path) -> None:
    from redraft.agent.backends.hf import HFBackend

    static = load_backend(f"hf/{testbed_model}", decode="static", max_batch_size=64)
    plain = load_backend(f"hf/{testbed_model}", decode="generate", max_batch_size=64)
    assert isinstance(static, HFBackend) and static._static and not plain._static
    requests = [GenerationRequest(messages=p, params=SamplingParams(max_tokens=16, seed=i,
                                                                    temperature=i % 2))
                for i, p in enumerate(_testbed_prompts(80))]  # two groups of settings
    fast, slow = run(static, requests), run(plain, requests)
    assert [(g.text, g.finish_reason, g.usage.completion_tokens) for g in fast] == [
        (g.text, g.finish_reason, g.usage.completion_tokens) for g in slow]
    for backend in (static, plain):
        asyncio.run(backend.aclose())


@pytest.mark.slow
def test_unseeded_samples_draw_anew_each_call_and_again_after_a_restart(
    testbed_model: Path,
) -> None:
    # One engine seed for every call made each call draw the same numbers: an episode's
    # steps shared their sampling noise (an unlucky draw erred at every step), and a
    # resumed run could not draw as the uninterrupted one had.
    backend = load_backend(f"hf/{testbed_model}", max_batch_size=64)
    prompts = _testbed_prompts(16)

    def step() -> list[str]:  # the same states, asked again as an episode's next step
        requests = [GenerationRequest(messages=p, params=SamplingParams(
            max_tokens=12, temperature=3.0), item_id=f"{i}/0", purpose="propose")
            for i, p in enumerate(prompts)]
        return [g.text for g in run(backend, requests)]

    first, second = step(), step()
    assert first != second  # the second step draws anew (same states: else identical)
    backend.restart_seeds()  # type: ignore[attr-defined]
    assert step() == first  # a run started again draws as the first did
    asyncio.run(backend.aclose())


@pytest.mark.slow
def test_smollm2_static_decoding_equals_generate(hf_backend: Any) -> None:
    from redraft.agent.backends.hf import HFBackend

    static = load_backend("hf/smollm2", decode="static", max_batch_size=16)
    assert isinstance(static, HFBackend) and static._static
    assert hf_backend._static == hf_backend.device.startswith("cuda")  # auto: CUDA only
    requests = [ask(q, max_tokens=10) for q in ("Name a colour.", "What is 2+2?",
                                                 "Say a long word, then stop.")]
    assert [g.text for g in run(static, requests)] == [g.text for g in run(hf_backend, requests)]
    asyncio.run(static.aclose())
