"""The ``openai`` backend: any OpenAI-compatible chat server, through ``openai.AsyncOpenAI``.

Model string: ``openai/MODEL@BASE_URL``, e.g. ``openai/smollm2@http://127.0.0.1:8000/v1``
(``vllm serve``, the llama.cpp server, Ollama, a hosted API). Several servers serving the same
model: ``openai/MODEL@URL1|URL2`` or the option ``base_urls``. Each request goes to the server
with the fewest requests in flight (ties: the one sent fewest so far, i.e. round-robin); a
retried request moves to another server when there is one. The API key comes from the option
``api_key`` or ``OPENAI_API_KEY``, else ``EMPTY`` (what local servers expect).

Retries: tenacity is the only retry policy (the client's own retries are off). Transient
failures — connection errors, timeouts, HTTP 408, 429 and 5xx — are retried with
exponential backoff and jitter until ``retry_attempts`` or ``retry_deadline_s`` runs out,
then :class:`~redraft.agent.backends._errors.BackendUnavailableError` says which server
failed and why. Any other 4xx fails at once with
:class:`~redraft.agent.backends._errors.BackendRejectedError`.

Constraints go in the request body; servers disagree on the field, so the option
``constraint_style`` picks the mapping:

============== ============================================== ========================
style          body                                           servers
============== ============================================== ========================
``vllm``       ``structured_outputs: {choice|regex|grammar}`` vLLM >= 0.10.2 (default)
``vllm-guided`` ``guided_choice|guided_regex|guided_grammar``  vLLM < 0.12
``llamacpp``   ``grammar`` (GBNF; choice lists are compiled)  llama.cpp servers
``none``       nothing; constrained decoding unavailable      hosted APIs
============== ============================================== ========================
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from redraft.agent.backends._common import (
    check_constraints,
    choice_grammar,
    message_dicts,
    require,
    sampling_fields,
)
from redraft.agent.backends._errors import BackendRejectedError, BackendUnavailableError
from redraft.agent.backends._protocol import (
    Constraint,
    ConstraintKind,
    Generation,
    GenerationRequest,
)
from redraft.tools import BadInputError, ConstraintNotSupportedError, Cost, parse_options

__all__ = [
    "CONSTRAINT_KINDS",
    "ConstraintStyle",
    "OpenAIBackend",
    "OpenAIOptions",
    "constraint_body",
    "is_transient",
    "reasoning_fields",
]

ConstraintStyle = Literal["vllm", "vllm-guided", "llamacpp", "none"]

CONSTRAINT_KINDS: dict[ConstraintStyle, frozenset[ConstraintKind]] = {
    "vllm": frozenset({"choice", "regex", "grammar"}),
    "vllm-guided": frozenset({"choice", "regex", "grammar"}),
    "llamacpp": frozenset({"choice", "grammar"}),
    "none": frozenset(),
}
"""The constraint kinds each style can send."""


class OpenAIOptions(BaseModel):
    """How to reach OpenAI-compatible servers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_urls: tuple[str, ...] = ()
    """Server base URLs (ending in ``/v1``), in addition to those in the model string."""
    api_key: str | None = None
    """API key; ``None`` reads ``OPENAI_API_KEY``, falling back to ``EMPTY``."""
    max_concurrency: int = Field(32, ge=1)
    """Requests in flight at once, over all servers."""
    timeout_s: float = Field(60.0, gt=0)
    """Timeout of one attempt, in seconds."""
    retry_attempts: int = Field(6, ge=1)
    """Attempts per request, the first included."""
    retry_initial_s: float = Field(0.5, ge=0)
    """First backoff, doubled after each failure (plus up to as much jitter)."""
    retry_max_s: float = Field(8.0, ge=0)
    """Longest backoff between two attempts."""
    retry_deadline_s: float | None = Field(120.0, gt=0)
    """Give up retrying a request after this many seconds (``None``: attempts only)."""
    constraint_style: ConstraintStyle = "vllm"
    """How constraints are sent; see the module docstring."""


def constraint_body(constraint: Constraint, style: ConstraintStyle) -> dict[str, Any]:
    """The extra request-body fields that ask a server of ``style`` for ``constraint``.

    Raises:
        ConstraintNotSupportedError: the style cannot express this constraint.
    """
    kind = constraint.kind
    if kind not in CONSTRAINT_KINDS[style]:
        raise ConstraintNotSupportedError(
            f"constraint_style {style!r} cannot send a {kind!r} constraint"
        )
    value: Any
    if kind == "choice":
        value = list(constraint.choices)
    elif kind == "regex":
        value = constraint.pattern
    else:
        value = constraint.grammar
    if style == "vllm":
        return {"structured_outputs": {kind: value}}
    if style == "vllm-guided":
        return {f"guided_{kind}": value}
    # llamacpp: everything travels as a GBNF grammar.
    return {"grammar": choice_grammar(constraint.choices) if kind == "choice" else value}


def reasoning_fields(message: Any, usage: Any) -> dict[str, Any]:
    """The reasoning a server returned beside the content, and its token count.

    Servers name the field ``reasoning_content`` (vLLM's reasoning parsers, DeepSeek,
    llama.cpp) or ``reasoning`` (OpenRouter, newer vLLM); the count is OpenAI's
    ``usage.completion_tokens_details.reasoning_tokens``. Inline ``<think>`` blocks stay in
    the content, for :func:`redraft.agent.extract_answer`.
    """
    reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    details = getattr(usage, "completion_tokens_details", None)
    tokens = getattr(details, "reasoning_tokens", None)
    return {
        "reasoning": reasoning if isinstance(reasoning, str) and reasoning else None,
        "reasoning_tokens": tokens if isinstance(tokens, int) else None,
    }


def is_transient(exc: BaseException) -> bool:
    """Whether retrying might help: connection errors, timeouts, HTTP 408, 429 and 5xx."""
    openai: Any = require("openai", "the openai backend", "openai")
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        status = int(exc.status_code)
        return status in (408, 429) or status >= 500
    return False


class _Endpoint:
    """One server: its client and how busy it is."""

    def __init__(self, url: str, client: Any) -> None:
        self.url = url
        self.client = client
        self.in_flight = 0
        self.sent = 0


class _LoopState:
    """Clients and the concurrency limit, bound to one event loop (httpx needs that)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, endpoints: list[_Endpoint], limit: int):
        self.loop = loop
        self.endpoints = endpoints
        self.semaphore = asyncio.Semaphore(limit)


class OpenAIBackend:
    """Generate through OpenAI-compatible servers; see the module docstring.

    Args:
        model: the model name the servers know.
        base_urls: one or more server base URLs.
        name: the model string shown in records.
        options: connection, retry and constraint options.

    Raises:
        MissingDependencyError: the ``openai`` or ``tenacity`` package is missing.
        BadInputError: no base URL.
    """

    def __init__(
        self,
        model: str,
        base_urls: Sequence[str],
        *,
        name: str | None = None,
        options: OpenAIOptions | None = None,
    ) -> None:
        self._openai: Any = require("openai", "the openai backend", "openai")
        self._tenacity: Any = require("tenacity", "the openai backend", "openai")
        self.options = options or OpenAIOptions()
        urls = list(dict.fromkeys(u.rstrip("/") for u in (*base_urls, *self.options.base_urls)))
        if not urls:
            raise BadInputError(
                f"openai/{model}: no server; write openai/{model}@http://HOST:PORT/v1"
            )
        self.model = model
        self.base_urls = tuple(urls)
        self.name = name or f"openai/{model}@{'|'.join(urls)}"
        self.constraint_kinds = CONSTRAINT_KINDS[self.options.constraint_style]
        self.retries = 0
        """Attempts that failed transiently and were retried, over this backend's life."""
        self._state: _LoopState | None = None

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> Self:
        """Build from ``MODEL@URL[|URL...]`` with :class:`OpenAIOptions` as keywords.

        Raises:
            BadInputError: no model name, no URL, or an unknown or invalid option.
        """
        model, _, urls = spec.partition("@")
        if not model:
            raise BadInputError(f"openai/{spec}: write openai/MODEL@http://HOST:PORT/v1")
        parsed = parse_options(OpenAIOptions, options, f"openai/{spec} backend")
        base_urls = [u for u in urls.split("|") if u]
        return cls(model, base_urls, name=f"openai/{spec}", options=parsed)

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            api_key = self.options.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
            endpoints = [
                _Endpoint(
                    url,
                    self._openai.AsyncOpenAI(
                        base_url=url,
                        api_key=api_key,
                        max_retries=0,  # tenacity is the single retry policy
                        timeout=self.options.timeout_s,
                    ),
                )
                for url in self.base_urls
            ]
            self._state = _LoopState(loop, endpoints, self.options.max_concurrency)
        return self._state

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Send every request concurrently; return one result per request, in order.

        Raises:
            ConstraintNotSupportedError: a constraint the ``constraint_style`` cannot send.
            BackendUnavailableError: a request still failed transiently after every retry.
            BackendRejectedError: a server refused a request (a 4xx other than 408/429).
        """
        check_constraints(self.name, self.constraint_kinds, requests)
        state = self._loop_state()
        return list(await asyncio.gather(*(self._generate_one(state, r) for r in requests)))

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": message_dicts(request.messages),
            **sampling_fields(request),
        }
        if request.constraint is not None:
            body["extra_body"] = constraint_body(request.constraint, self.options.constraint_style)
        return body

    @staticmethod
    def _pick(state: _LoopState, avoid: _Endpoint | None) -> _Endpoint:
        candidates = [e for e in state.endpoints if e is not avoid] or state.endpoints
        endpoint = min(candidates, key=lambda e: (e.in_flight, e.sent))
        endpoint.sent += 1
        return endpoint

    async def _generate_one(self, state: _LoopState, request: GenerationRequest) -> Generation:
        body = self._body(request)
        tenacity = self._tenacity
        options = self.options
        stop = tenacity.stop_after_attempt(options.retry_attempts)
        if options.retry_deadline_s is not None:
            stop = stop | tenacity.stop_after_delay(options.retry_deadline_s)
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(is_transient),
            # wait_exponential + wait_random rather than wait_exponential_jitter, whose
            # arguments changed between tenacity 8 and 9.
            wait=tenacity.wait_exponential(
                multiplier=options.retry_initial_s, max=options.retry_max_s
            )
            + tenacity.wait_random(0, options.retry_initial_s),
            stop=stop,
            before_sleep=self._count_retry,
            reraise=True,
        )
        started = time.perf_counter()
        endpoint: _Endpoint | None = None
        attempts = 0
        async with state.semaphore:
            try:
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        endpoint = self._pick(state, avoid=endpoint)
                        endpoint.in_flight += 1
                        try:
                            response = await endpoint.client.chat.completions.create(**body)
                        finally:
                            endpoint.in_flight -= 1
            except self._openai.APIError as exc:
                url = endpoint.url if endpoint is not None else self.base_urls[0]
                if isinstance(exc, self._openai.APIStatusError) and not is_transient(exc):
                    raise BackendRejectedError(url, int(exc.status_code), str(exc)) from exc
                raise BackendUnavailableError(
                    url,
                    f"{type(exc).__name__}: {exc}",
                    attempts,
                    time.perf_counter() - started,
                ) from exc
        seconds = time.perf_counter() - started
        choice = response.choices[0]
        usage = response.usage
        return Generation(
            text=choice.message.content or "",
            usage=Cost(
                prompt_tokens=usage.prompt_tokens if usage is not None else 0,
                completion_tokens=usage.completion_tokens if usage is not None else 0,
                seconds=seconds,
            ),
            finish_reason=choice.finish_reason or "stop",
            **reasoning_fields(choice.message, usage),
        )

    def _count_retry(self, retry_state: Any) -> None:
        self.retries += 1

    async def aclose(self) -> None:
        """Close the HTTP clients of the current event loop."""
        state, self._state = self._state, None
        if state is not None and state.loop is asyncio.get_running_loop():
            for endpoint in state.endpoints:
                await endpoint.client.close()
