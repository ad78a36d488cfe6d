"""The vllm backend's pure parts; vLLM itself cannot be installed here (no GPU)."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from redraft.agent.backends._protocol import (
    Constraint,
    GenerationRequest,
    Message,
    SamplingParams,
)
from redraft.agent.backends._registry import load_backend
from redraft.agent.backends.vllm import (
    VLLMBackend,
    make_sampling_params,
    sampling_kwargs,
    structured_kwargs,
    to_generation,
)
from redraft.core import BadInputError, MissingDependencyError

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def request(constraint: Constraint | None = None, **params: Any) -> GenerationRequest:
    return GenerationRequest(
        messages=(
            Message(role="system", content="Play chess."),
            Message(role="user", content="Your move?"),
        ),
        params=SamplingParams(**params),
        constraint=constraint,
    )


# Shapes of vLLM's documented classes, reduced to the fields redraft uses.
@dataclass
class StructuredOutputsParams:
    choice: list[str] | None = None
    regex: str | None = None
    grammar: str | None = None


@dataclass
class FakeSamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = 16
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    structured_outputs: StructuredOutputsParams | None = None
    guided_decoding: StructuredOutputsParams | None = None


@dataclass
class CompletionOutput:
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclass
class RequestOutput:
    prompt_token_ids: list[int] | None
    outputs: list[CompletionOutput]


def test_sampling_kwargs() -> None:
    assert sampling_kwargs(request()) == {
        "n": 1,
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 64,
    }
    sampled = sampling_kwargs(
        request(temperature=0.7, top_p=0.9, seed=5, stop=("\n",), max_tokens=8)
    )
    assert sampled == {
        "n": 1,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 8,
        "seed": 5,
        "stop": ["\n"],
    }


def test_choice_requests_drop_stops_and_fit_the_longest_choice() -> None:
    choice = Constraint(kind="choice", choices=("e4", "exd8=Q+"))
    kwargs = sampling_kwargs(request(choice, max_tokens=2, stop=("+",)))
    assert kwargs["max_tokens"] == len("exd8=Q+") + 1 and "stop" not in kwargs


def test_structured_kwargs() -> None:
    assert structured_kwargs(Constraint(kind="choice", choices=("a", "b"))) == {
        "choice": ["a", "b"]
    }
    assert structured_kwargs(Constraint(kind="regex", pattern="[a-h][1-8]")) == {
        "regex": "[a-h][1-8]"
    }
    assert structured_kwargs(Constraint(kind="grammar", grammar='root ::= "x"')) == {
        "grammar": 'root ::= "x"'
    }


@pytest.mark.parametrize("field_name", ["structured_outputs", "guided_decoding"])
def test_make_sampling_params_for_both_vllm_apis(field_name: str) -> None:
    constraint = Constraint(kind="regex", pattern="[0-9]+")
    params = make_sampling_params(
        request(constraint, temperature=0.5),
        FakeSamplingParams,
        StructuredOutputsParams,
        field_name,
    )
    assert getattr(params, field_name) == StructuredOutputsParams(regex="[0-9]+")
    assert params.temperature == 0.5
    plain = make_sampling_params(request(), FakeSamplingParams, StructuredOutputsParams, field_name)
    assert plain.structured_outputs is None and plain.guided_decoding is None


def test_to_generation() -> None:
    out = to_generation(
        RequestOutput([1, 2, 3, 4], [CompletionOutput("Nf3", [10, 11], "length")]), 0.25
    )
    assert out.text == "Nf3" and out.finish_reason == "length"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.seconds) == (4, 2, 0.25)
    unknown = to_generation(RequestOutput(None, [CompletionOutput("", [], None)]), 0.0)
    assert unknown.finish_reason == "stop" and unknown.usage.prompt_tokens == 0


@pytest.mark.slow
def test_importing_backend_modules_imports_no_optional_dependency() -> None:
    modules = ", ".join(f"redraft.agent.backends.{m}" for m in ("llamacpp", "openai", "vllm", "hf"))
    optional = ("llama_cpp", "openai", "vllm", "torch", "transformers", "gguf")
    code = f"import sys, {modules}; print([m for m in {optional!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed")
def test_missing_vllm_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError, match=r"redraft\[vllm\]"):
        load_backend("vllm/Qwen/Qwen2.5-0.5B-Instruct")


def test_bad_options_are_bad_input() -> None:
    with pytest.raises(BadInputError, match="option gpu_memory_utilisation: Extra inputs"):
        load_backend("vllm/some-model", gpu_memory_utilisation=0.5)
    with pytest.raises(BadInputError):
        load_backend("vllm/")


def test_a_batch_is_one_chat_call_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drive the glue with a stand-in engine that has vLLM's documented signatures."""
    calls: list[tuple[list[Any], list[Any]]] = []

    class LLM:
        def __init__(self, model: str, **kwargs: Any) -> None:
            self.kwargs = kwargs

        def chat(
            self, messages: list[Any], sampling_params: list[Any], use_tqdm: bool
        ) -> list[Any]:
            calls.append((messages, sampling_params))
            return [
                RequestOutput([0] * len(conversation), [CompletionOutput(f"#{i}", [1, 2], "stop")])
                for i, conversation in enumerate(messages)
            ]

    vllm = types.ModuleType("vllm")
    vllm.LLM = LLM  # type: ignore[attr-defined]
    vllm.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.StructuredOutputsParams = StructuredOutputsParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)

    backend = VLLMBackend.from_spec("m", tensor_parallel_size=2)
    assert backend._llm.kwargs["tensor_parallel_size"] == 2
    assert backend._llm.kwargs["enable_prefix_caching"] is True
    choice = Constraint(kind="choice", choices=("a", "b"))
    outputs = asyncio.run(backend.generate([request(), request(choice), request()]))
    asyncio.run(backend.aclose())
    assert [o.text for o in outputs] == ["#0", "#1", "#2"]
    assert len(calls) == 1
    conversations, params = calls[0]
    assert conversations[0] == [
        {"role": "system", "content": "Play chess."},
        {"role": "user", "content": "Your move?"},
    ]
    assert params[1].structured_outputs == StructuredOutputsParams(choice=["a", "b"])
    assert abs(sum(o.usage.seconds for o in outputs) - 3 * outputs[0].usage.seconds) < 1e-9
