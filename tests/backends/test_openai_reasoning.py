"""The openai backend and reasoning models: a reasoning field, inline think blocks, a cut."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from backend_servers import CannedChatServer

from redraft.agent import Item
from redraft.agent._answer import extract_answer
from redraft.agent._correct import arun_items
from redraft.agent.backends import Generation, GenerationRequest, Message, SamplingParams
from redraft.tools import FunctionVerifier, Verdict

pytest.importorskip("openai", reason="extra 'openai' not installed")

from redraft.agent.backends.openai import OpenAIBackend


def usage(completion: int, reasoning: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prompt_tokens": 5,
        "completion_tokens": completion,
        "total_tokens": 5 + completion,
    }
    if reasoning is not None:
        data["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return data


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[CannedChatServer] = []

    def make(*replies: dict[str, Any]) -> CannedChatServer:
        servers.append(CannedChatServer(list(replies)))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def generate_one(server: CannedChatServer, max_tokens: int = 64) -> Generation:
    backend = OpenAIBackend("reasoner", [server.base_url])
    request = GenerationRequest(
        messages=(Message(role="user", content="What is 8 + 9?"),),
        params=SamplingParams(max_tokens=max_tokens),
    )

    async def go() -> Generation:
        try:
            (generation,) = await backend.generate([request])
            return generation
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_reasoning_content_field_is_kept_apart_from_the_answer(serve: Any) -> None:
    server = serve(
        {
            "message": {"content": "17", "reasoning_content": "8 + 9: 8 + 2 = 10, + 7 = 17."},
            "usage": usage(40, reasoning=38),
        }
    )
    generation = generate_one(server)
    assert generation.text == "17"
    assert generation.reasoning == "8 + 9: 8 + 2 = 10, + 7 = 17."
    assert generation.reasoning_tokens == 38
    assert generation.usage.completion_tokens == 40
    extracted = extract_answer(generation)
    assert (extracted.answer, extracted.first_answer, extracted.answers) == ("17", "17", 1)
    assert extracted.reasoning == "8 + 9: 8 + 2 = 10, + 7 = 17."
    assert extracted.reasoning_source == "field"
    assert extracted.reasoning_tokens == 38  # the server's count, not an estimate
    assert not extracted.truncated


def test_reasoning_field_named_reasoning_without_a_token_count(serve: Any) -> None:
    server = serve(
        {"message": {"content": "ANSWER: 17", "reasoning": "eight plus nine"}, "usage": usage(9)}
    )
    generation = generate_one(server)
    assert generation.reasoning == "eight plus nine"
    assert generation.reasoning_tokens is None
    extracted = extract_answer(generation, monologue=True)
    assert extracted.answer == "17"
    assert extracted.path == "marker"
    # Apportioned by characters: "eight plus nine" is most of what was written.
    assert 0 < extracted.reasoning_tokens < 9


def test_inline_think_block(serve: Any) -> None:
    server = serve(
        {
            "message": {"content": "<think>\n8 + 9 is 16... wait, 17.\n</think>\n\n17"},
            "usage": usage(20),
        }
    )
    generation = generate_one(server)
    assert generation.reasoning is None
    assert generation.text.startswith("<think>")
    extracted = extract_answer(generation)
    assert extracted.answer == "17"
    assert extracted.reasoning == "8 + 9 is 16... wait, 17."
    assert extracted.reasoning_source == "think"
    assert 0 < extracted.reasoning_tokens < 20
    assert not extracted.truncated


def test_think_block_cut_at_max_tokens_is_truncated_not_an_answer(serve: Any) -> None:
    server = serve(
        {
            "message": {"content": "<think>\nLet me add 8 and 9. First 8 + 2 = 10, then"},
            "finish_reason": "length",
            "usage": usage(16),
        }
    )
    generation = generate_one(server, max_tokens=16)
    assert generation.finish_reason == "length"
    assert server.bodies[0]["max_tokens"] == 16
    extracted = extract_answer(generation)
    assert extracted.answer is None and extracted.first_answer is None
    assert extracted.truncated
    assert extracted.path == "none"
    assert extracted.reasoning.startswith("Let me add 8 and 9.")
    assert extracted.reasoning_tokens == 16  # all of it was reasoning


def test_think_block_closed_by_the_template(serve: Any) -> None:
    # DeepSeek-R1's template opens <think> in the prompt: the output only closes it.
    server = serve({"message": {"content": "8 + 9 = 17.\n</think>\n17"}, "usage": usage(8)})
    extracted = extract_answer(generate_one(server))
    assert extracted.answer == "17"
    assert extracted.reasoning == "8 + 9 = 17."


def test_through_the_corrector_the_verifier_sees_only_answers(serve: Any) -> None:
    # Round 0: a think block cut at max tokens. Round 1: reasoning_content plus an answer.
    server = serve(
        {
            "message": {"content": "<think>\n8 + 9: count up from 9: 10, 11, 12,"},
            "finish_reason": "length",
            "usage": usage(12),
        },
        {
            "message": {"content": "17", "reasoning_content": "9 + 8 = 17"},
            "usage": usage(9, reasoning=7),
        },
    )
    seen: list[str] = []

    def check(_: Any, proposal: str) -> Verdict:
        seen.append(proposal)
        return Verdict.accept() if proposal == "17" else Verdict.reject("wrong_value", "no")

    backend = OpenAIBackend("reasoner", [server.base_url])
    item = Item(id="q", messages=(Message(role="user", content="What is 8 + 9?"),))

    async def go() -> Any:
        try:
            (result,) = await arun_items(
                backend, [item], FunctionVerifier(check), critic="tool", max_revisions=1
            )
            return result
        finally:
            await backend.aclose()

    result = asyncio.run(go())
    assert seen == ["17"]
    cut, fixed = result.rounds
    assert cut.truncated and cut.answer is None
    assert cut.feedback is not None and cut.feedback.code == "truncated"
    assert cut.reasoning is not None and cut.reasoning.startswith("8 + 9: count up")
    assert cut.reasoning_usage.completion_tokens == 12
    assert (fixed.answer, fixed.reasoning) == ("17", "9 + 8 = 17")
    assert fixed.reasoning_usage.completion_tokens == 7
    # The revision request showed the cut output without its think block (nothing visible).
    assert server.bodies[1]["messages"][1] == {"role": "assistant", "content": ""}
    assert "cut off at the token limit" in server.bodies[1]["messages"][2]["content"]
