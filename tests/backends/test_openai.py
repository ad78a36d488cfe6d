"""The openai backend against a real llama.cpp server and tiny scripted HTTP servers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from backend_servers import LlamaServer, LoopbackServer, free_port, send_json

from redraft.agent.backends._errors import BackendRejectedError, BackendUnavailableError
from redraft.agent.backends._protocol import (
    Backend,
    Constraint,
    GenerationRequest,
    Message,
    SamplingParams,
)
from redraft.agent.backends._registry import load_backend
from redraft.core import BadInputError, ConstraintNotSupportedError

pytest.importorskip("openai", reason="extra 'openai' not installed")

from redraft.agent.backends.openai import OpenAIBackend, constraint_body

FAST_RETRY = {"retry_initial_s": 0.05, "retry_max_s": 0.2}


def ask(text: str, **params: Any) -> GenerationRequest:
    return GenerationRequest(
        messages=(Message(role="user", content=text),), params=SamplingParams(**params)
    )


# -- a scripted HTTP server ---------------------------------------------------------------


class ScriptedServer(LoopbackServer):
    """Answers POST /v1/chat/completions with scripted statuses (then 200), counting hits."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.hits = 0
        self.headers: list[dict[str, str]] = []
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.hits += 1
                    owner.headers.append(dict(self.headers))
                    owner.bodies.append(body)
                    status = owner.statuses.pop(0) if owner.statuses else 200
                if status == 200:
                    payload: dict[str, Any] = {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": f"ok {owner.port}"},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
                    }
                else:
                    payload = {"error": {"message": f"scripted {status}", "type": "x"}}
                send_json(self, status, payload)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[ScriptedServer] = []

    def make(statuses: list[int] | None = None) -> ScriptedServer:
        servers.append(ScriptedServer(statuses))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def generate(backend: Any, requests: list[GenerationRequest]) -> list[Any]:
    async def go() -> list[Any]:
        try:
            return list(await backend.generate(requests))
        finally:
            await backend.aclose()

    return asyncio.run(go())


# -- pure parts ------------------------------------------------------------------------


def test_model_string_and_options() -> None:
    backend = load_backend("openai/m@http://127.0.0.1:1/v1|http://127.0.0.1:2/v1/")
    assert isinstance(backend, Backend) and isinstance(backend, OpenAIBackend)
    assert backend.model == "m"
    assert backend.base_urls == ("http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1")
    extra = load_backend("openai/m@http://127.0.0.1:1/v1", base_urls=["http://127.0.0.1:3/v1"])
    assert isinstance(extra, OpenAIBackend) and len(extra.base_urls) == 2
    with pytest.raises(BadInputError, match="no server"):
        load_backend("openai/m")
    with pytest.raises(BadInputError, match="option constraint_style: Input should be"):
        load_backend("openai/m@http://127.0.0.1:1/v1", constraint_style="outlines")


def test_constraint_mappings() -> None:
    choice = Constraint(kind="choice", choices=("e4", 'say "x"'))
    regex = Constraint(kind="regex", pattern="[a-h][1-8]")
    assert constraint_body(choice, "vllm") == {"structured_outputs": {"choice": ["e4", 'say "x"']}}
    assert constraint_body(regex, "vllm") == {"structured_outputs": {"regex": "[a-h][1-8]"}}
    assert constraint_body(regex, "vllm-guided") == {"guided_regex": "[a-h][1-8]"}
    assert constraint_body(choice, "llamacpp") == {"grammar": 'root ::= "e4" | "say \\"x\\""\n'}
    with pytest.raises(ConstraintNotSupportedError):
        constraint_body(regex, "llamacpp")
    with pytest.raises(ConstraintNotSupportedError):
        constraint_body(choice, "none")


def test_unsupported_constraint_is_refused_before_any_request(scripted: Any) -> None:
    server = scripted()
    backend = load_backend(f"openai/m@{server.base_url}", constraint_style="none")
    request = GenerationRequest(
        messages=(Message(role="user", content="x"),),
        constraint=Constraint(kind="choice", choices=("a",)),
    )
    with pytest.raises(ConstraintNotSupportedError):
        generate(backend, [request])
    assert server.hits == 0


# -- scripted servers: retry policy, balancing, keys -----------------------------------


@pytest.mark.parametrize("status", [400, 401, 404, 422])
@pytest.mark.slow
def test_client_errors_are_not_retried(scripted: Any, status: int) -> None:
    server = scripted([status] * 5)
    backend = load_backend(f"openai/m@{server.base_url}", retry_attempts=5, **FAST_RETRY)
    with pytest.raises(BackendRejectedError, match=f"HTTP {status}") as info:
        generate(backend, [ask("hi")])
    assert server.hits == 1
    assert info.value.url == server.base_url
    assert backend.retries == 0


@pytest.mark.parametrize("status", [429, 500, 503])
@pytest.mark.slow
def test_transient_errors_are_retried_until_success(scripted: Any, status: int) -> None:
    server = scripted([status, status])
    backend = load_backend(f"openai/m@{server.base_url}", retry_attempts=5, **FAST_RETRY)
    [out] = generate(backend, [ask("hi")])
    assert out.text.startswith("ok") and server.hits == 3
    assert out.usage.prompt_tokens == 7 and out.usage.completion_tokens == 2
    assert backend.retries == 2


@pytest.mark.slow
def test_transient_errors_give_up_with_a_named_error(scripted: Any) -> None:
    server = scripted([500] * 10)
    backend = load_backend(f"openai/m@{server.base_url}", retry_attempts=4, **FAST_RETRY)
    with pytest.raises(BackendUnavailableError, match="InternalServerError") as info:
        generate(backend, [ask("hi")])
    assert server.hits == 4 and info.value.attempts == 4
    assert server.base_url in str(info.value)


@pytest.mark.slow
def test_requests_are_balanced_and_retries_move_to_a_healthy_server(scripted: Any) -> None:
    a, b = scripted(), scripted()
    backend = load_backend(f"openai/m@{a.base_url}|{b.base_url}")
    outputs = generate(backend, [ask(f"q{i}") for i in range(8)])
    assert len(outputs) == 8 and a.hits == 4 and b.hits == 4

    broken, healthy = scripted([503] * 100), scripted()
    backend = load_backend(f"openai/m@{broken.base_url}|{healthy.base_url}", **FAST_RETRY)
    outputs = generate(backend, [ask(f"q{i}") for i in range(6)])
    assert all(o.text == f"ok {healthy.port}" for o in outputs)
    assert healthy.hits == 6 and broken.hits <= 6


@pytest.mark.slow
def test_api_key_comes_from_the_environment(scripted: Any, monkeypatch: Any) -> None:
    server = scripted()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    generate(load_backend(f"openai/m@{server.base_url}"), [ask("hi")])
    monkeypatch.delenv("OPENAI_API_KEY")
    generate(load_backend(f"openai/m@{server.base_url}"), [ask("hi")])
    auth = [h.get("Authorization") or h.get("authorization") for h in server.headers]
    assert auth == ["Bearer sk-test-123", "Bearer EMPTY"]


@pytest.mark.slow
def test_sampling_params_reach_the_server(scripted: Any) -> None:
    server = scripted()
    request = ask("hi", temperature=0.7, top_p=0.9, max_tokens=5, seed=3, stop=("\n",))
    generate(load_backend(f"openai/m@{server.base_url}"), [request])
    body = server.bodies[0]
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9 and body["max_tokens"] == 5
    assert body["seed"] == 3 and body["stop"] == ["\n"] and body["model"] == "m"


# -- a real llama.cpp server -----------------------------------------------------------


@pytest.mark.slow
def test_rounds_against_a_llama_cpp_server(llama_server: LlamaServer) -> None:
    backend = load_backend(
        f"openai/smollm2@{llama_server.base_url}", constraint_style="llamacpp", max_concurrency=4
    )
    histories = [[Message(role="user", content=f"Game {i}: name an animal.")] for i in range(4)]

    async def play() -> list[list[Any]]:
        rounds = []
        try:
            for _ in range(3):
                requests = [
                    GenerationRequest(
                        messages=tuple(h),
                        params=SamplingParams(temperature=0.8, seed=i, max_tokens=12),
                        cache_key=f"game-{i}",
                    )
                    for i, h in enumerate(histories)
                ]
                outputs = await backend.generate(requests)
                for history, out in zip(histories, outputs, strict=True):
                    history.append(Message(role="assistant", content=out.text))
                    history.append(Message(role="user", content="Another one."))
                rounds.append(outputs)
            choices = ("cat", "dog", 'say "moo"')
            constrained = await backend.generate(
                [
                    GenerationRequest(
                        messages=(Message(role="user", content="Pick an animal."),),
                        params=SamplingParams(temperature=1.5, seed=s, max_tokens=1),
                        constraint=Constraint(kind="choice", choices=choices),
                    )
                    for s in range(4)
                ]
            )
            assert all(g.text in choices for g in constrained), constrained
        finally:
            await backend.aclose()
        return rounds

    rounds = asyncio.run(play())
    assert len(rounds) == 3 and all(len(r) == 4 for r in rounds)
    for outputs in rounds:
        for out in outputs:
            assert out.text and 0 < out.usage.completion_tokens <= 12
            assert out.usage.prompt_tokens > 0 and out.usage.seconds > 0
    # later rounds carry the history: their prompts are longer
    assert rounds[2][0].usage.prompt_tokens > rounds[0][0].usage.prompt_tokens


@pytest.mark.slow
def test_server_killed_mid_run_recovers_by_retrying(spare_server: LlamaServer) -> None:
    spare_server.start()
    backend = load_backend(
        f"openai/smollm2@{spare_server.base_url}",
        max_concurrency=2,
        retry_attempts=40,
        retry_initial_s=0.2,
        retry_max_s=1.0,
        retry_deadline_s=60,
        timeout_s=20,
    )
    requests = [ask(f"Write a short poem about the number {i}.", max_tokens=40) for i in range(6)]

    async def run() -> list[Any]:
        try:
            task = asyncio.ensure_future(backend.generate(requests))
            await asyncio.sleep(0.4)
            assert not task.done(), "the batch finished before the server could be killed"
            spare_server.kill()
            await asyncio.sleep(1.0)
            await asyncio.to_thread(spare_server.start)  # same port, inside the retry window
            return list(await task)
        finally:
            await backend.aclose()

    started = time.monotonic()
    outputs = asyncio.run(run())
    assert len(outputs) == 6 and all(o.text for o in outputs)
    assert backend.retries > 0, "the kill should have forced retries"
    assert spare_server.starts == 2
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_server_that_stays_down_fails_cleanly_in_bounded_time() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    backend = load_backend(f"openai/smollm2@{url}", retry_attempts=5, timeout_s=2, **FAST_RETRY)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        generate(backend, [ask("hi"), ask("there")])
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert info.value.url == url and info.value.attempts == 5
    assert "APIConnectionError" in str(info.value) and url in str(info.value)


@pytest.mark.slow
def test_deadline_bounds_the_retries(scripted: Any) -> None:
    server = scripted([503] * 1000)
    backend = load_backend(
        f"openai/m@{server.base_url}",
        retry_attempts=1000,
        retry_deadline_s=1.0,
        retry_initial_s=0.05,
        retry_max_s=0.1,
    )
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        generate(backend, [ask("hi")])
    assert time.monotonic() - started < 2.5


# -- servers that misbehave: Retry-After, bodies that are not completions, null content ----


class RawServer(LoopbackServer):
    """Answers each POST with the next scripted (status, headers, body), then a completion."""

    COMPLETION = json.dumps({
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }).encode()

    def __init__(self, replies: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.replies = list(replies)
        self.times: list[float] = []
        self.walls: list[float] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                owner.times.append(time.monotonic())
                owner.walls.append(time.time())
                status, headers, body = (
                    owner.replies.pop(0) if owner.replies
                    else (200, {"Content-Type": "application/json"}, owner.COMPLETION)
                )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


@pytest.fixture
def raw() -> Iterator[Any]:
    servers: list[RawServer] = []

    def make(replies: list[tuple[int, dict[str, str], bytes]]) -> RawServer:
        servers.append(RawServer(replies))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


JSON = {"Content-Type": "application/json"}
ERROR = b'{"error": {"message": "slow down", "type": "x"}}'


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("header", ["retry-after", "retry-after-ms"])
@pytest.mark.slow
def test_retry_after_is_honoured(raw: Any, status: int, header: str) -> None:
    value = "1" if header == "retry-after" else "1000"
    server = raw([(status, {**JSON, header: value}, ERROR)])
    # The backoff alone would retry after 0.05 s; the server asked for 1 s.
    backend = load_backend(f"openai/m@{server.base_url}", **FAST_RETRY)
    [out] = generate(backend, [ask("hi")])
    assert out.text == "fine" and len(server.times) == 2
    assert server.times[1] - server.times[0] >= 0.95


@pytest.mark.slow
def test_retry_after_as_an_http_date(raw: Any) -> None:
    from email.utils import formatdate

    backend = load_backend("openai/m@http://127.0.0.1:9/v1", **FAST_RETRY)  # imports openai
    when = int(time.time()) + 3  # an HTTP date has whole seconds
    server = raw([(503, {**JSON, "Retry-After": formatdate(when, usegmt=True)}, ERROR)])
    backend = load_backend(f"openai/m@{server.base_url}", **FAST_RETRY)
    [out] = generate(backend, [ask("hi")])
    assert out.text == "fine" and len(server.walls) == 2
    assert server.walls[0] < when - 0.5 and server.walls[1] >= when - 0.05


@pytest.mark.slow
def test_a_retry_after_beyond_the_limit_fails_at_once_saying_so(raw: Any) -> None:
    server = raw([(429, {**JSON, "Retry-After": "3600"}, ERROR)])
    backend = load_backend(f"openai/m@{server.base_url}", retry_after_max_s=30, **FAST_RETRY)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="retry after 3600 s"):
        generate(backend, [ask("hi")])
    assert time.monotonic() - started < 5 and len(server.times) == 1


HTML = {"Content-Type": "text/html"}
NOT_COMPLETIONS = {
    "truncated-json": (JSON, b'{"id": "x", "choi'),
    "html": (HTML, b"<html><body>502 Bad Gateway</body></html>"),
    "no-choices": (JSON, b'{"id": "x", "object": "chat.completion", "choices": []}'),
    "other-json": (JSON, b'{"status": "ok"}'),
    "json-null": (JSON, b"null"),
    "choice-without-message": (JSON, b'{"choices": [{"index": 0, "finish_reason": "stop"}]}'),
}


@pytest.mark.parametrize("kind", sorted(NOT_COMPLETIONS))
@pytest.mark.slow
def test_a_200_that_is_not_a_completion_is_retried(raw: Any, kind: str) -> None:
    headers, body = NOT_COMPLETIONS[kind]
    server = raw([(200, headers, body)] * 2)
    backend = load_backend(f"openai/m@{server.base_url}", **FAST_RETRY)
    [out] = generate(backend, [ask("hi")])
    assert out.text == "fine" and len(server.times) == 3 and backend.retries == 2


@pytest.mark.parametrize("kind", sorted(NOT_COMPLETIONS))
@pytest.mark.slow
def test_a_server_that_never_sends_a_completion_fails_in_one_line(raw: Any, kind: str) -> None:
    headers, body = NOT_COMPLETIONS[kind]
    server = raw([(200, headers, body)] * 10)
    backend = load_backend(f"openai/m@{server.base_url}", retry_attempts=3, **FAST_RETRY)
    with pytest.raises(BackendUnavailableError) as info:
        generate(backend, [ask("hi")])
    message = str(info.value)
    assert "\n" not in message and "after 3 attempts" in message
    assert "MalformedResponseError" in message and len(server.times) == 3


@pytest.mark.parametrize(
    ("finish_reason", "expected"),
    [("content_filter", "content_filter"), (None, "content_filter"), ("stop", "content_filter")],
)
@pytest.mark.slow
def test_null_content_is_a_withheld_answer_not_an_empty_one(
    raw: Any, finish_reason: str | None, expected: str
) -> None:
    body = json.dumps({
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None},
                     "finish_reason": finish_reason}],
    }).encode()
    server = raw([(200, JSON, body)])
    [out] = generate(load_backend(f"openai/m@{server.base_url}"), [ask("hi")])
    assert (out.text, out.finish_reason) == ("", expected)
    assert len(server.times) == 1  # a filtered answer is an answer: not retried
