"""The ``openai`` backend: any OpenAI-compatible chat server, through ``openai.AsyncOpenAI``.

Model string: ``openai/MODEL@BASE_URL``, e.g. ``openai/smollm2@http://127.0.0.1:8000/v1``
(``vllm serve``, the llama.cpp server, Ollama, a hosted API). Several servers serving the same
model: ``openai/MODEL@URL1|URL2`` or the option ``base_urls``. Each request goes to the server
with the fewest requests in flight (ties: the one sent fewest so far, i.e. round-robin); a
retried request moves to another server when there is one. The API key comes from the option
``api_key`` or ``OPENAI_API_KEY``, else ``EMPTY`` (what local servers expect).

Retries: tenacity is the only retry policy (the client's own retries are off). Transient
failures — connection errors, timeouts, HTTP 408, 429 and 5xx, and a 200 whose body is not
a chat completion (truncated JSON, an HTML page from a proxy, no ``choices``) — are retried
with exponential backoff and jitter until ``retry_attempts`` or ``retry_deadline_s`` runs
out, then :class:`~redraft.agent.backends._errors.BackendUnavailableError` says which server
failed and why. A 429 or 503 with a ``Retry-After`` (or ``retry-after-ms``) header waits as
long as the server asks; a wait longer than ``retry_after_max_s`` (or than the deadline
left) fails at once, saying so. Any other 4xx fails at once with
:class:`~redraft.agent.backends._errors.BackendRejectedError`.

An answer whose ``content`` is null (a content filter, a refusal) is returned as an empty
text with ``finish_reason="content_filter"``: the round records a withheld answer, and the
oracle's judgement of it is ``withheld`` (unknown), not a model error.

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
import email.utils
import os
import time
from collections.abc import Sequence
from typing import Any, Literal, Self

from pydantic import Field

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
from redraft.core import BadInputError, ConstraintNotSupportedError, Cost, Settings, parse_options

__all__ = [
    "CONSTRAINT_KINDS",
    "ConstraintStyle",
    "MalformedResponseError",
    "OpenAIBackend",
    "OpenAIOptions",
    "constraint_body",
    "is_transient",
    "reasoning_fields",
    "retry_after",
]

ConstraintStyle = Literal["vllm", "vllm-guided", "llamacpp", "none"]

CONSTRAINT_KINDS: dict[ConstraintStyle, frozenset[ConstraintKind]] = {
    "vllm": frozenset({"choice", "regex", "grammar"}),
    "vllm-guided": frozenset({"choice", "regex", "grammar"}),
    "llamacpp": frozenset({"choice", "grammar"}),
    "none": frozenset(),
}
"""The constraint kinds each style can send."""


class OpenAIOptions(Settings):
    """How to reach OpenAI-compatible servers."""

    base_urls: tuple[str, ...] = Field((), strict=False)
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
    retry_after_max_s: float = Field(60.0, ge=0)
    """The longest ``Retry-After`` wait honoured; a server asking for more fails at once."""
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


class MalformedResponseError(Exception):
    """A server answered 200 with a body that is not a chat completion (retried)."""


def retry_after(exc: BaseException) -> float | None:
    """The seconds a 429 or 503 response asks the client to wait, if it says.

    Reads ``retry-after-ms`` (OpenAI's) and ``Retry-After`` (seconds, or an HTTP date).
    """
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None)
    if response is None or status not in (429, 503):
        return None
    headers = response.headers
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None  # an unreadable header: back off as usual


def is_transient(exc: BaseException) -> bool:
    """Whether retrying might help.

    Connection errors, timeouts, HTTP 408, 429 and 5xx, and a 200 whose body is not a chat
    completion are transient.
    """
    openai: Any = require("openai", "the openai backend", "openai")
    if isinstance(exc, MalformedResponseError | openai.APIResponseValidationError):
        return True
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        status = int(exc.status_code)
        return status in (408, 429) or status >= 500
    return False


def _read_completion(response: Any) -> tuple[str, str, tuple[int, int], dict[str, Any]]:
    """Text, finish reason, (prompt, completion) tokens and reasoning of a chat completion.

    Raises:
        MalformedResponseError: the response is not a chat completion with a choice.
    """
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        shown = " ".join(repr(response).split())[:120]
        raise MalformedResponseError(f"the body is not a chat completion with choices: {shown}")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if message is None:
        raise MalformedResponseError("the first choice has no message")
    content = getattr(message, "content", None)
    finish_reason = getattr(choice, "finish_reason", None)
    if content is None:
        # Withheld, not empty: whatever the server gives as the reason (content_filter, a
        # refusal, or none at all), there is no answer of the model's to score.
        text = ""
        finish_reason = "content_filter"
    elif isinstance(content, str):
        text = content
    else:
        raise MalformedResponseError(f"message content is {type(content).__name__}, not text")
    usage = getattr(response, "usage", None)
    tokens = (
        int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0,
        int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0,
    )
    return text, str(finish_reason or "stop"), tokens, reasoning_fields(message, usage)


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
        # wait_exponential + wait_random rather than wait_exponential_jitter, whose
        # arguments changed between tenacity 8 and 9.
        backoff = tenacity.wait_exponential(
            multiplier=options.retry_initial_s, max=options.retry_max_s
        ) + tenacity.wait_random(0, options.retry_initial_s)

        def wait(retry_state: Any) -> float:
            asked = retry_after(retry_state.outcome.exception())
            return float(backoff(retry_state)) if asked is None else asked

        waits: list[float] = []  # Retry-After waits refused as too long

        def too_long(retry_state: Any) -> bool:
            asked = retry_after(retry_state.outcome.exception())
            if asked is None:
                return False
            limit = options.retry_after_max_s
            if options.retry_deadline_s is not None:
                limit = min(limit, options.retry_deadline_s - retry_state.seconds_since_start)
            if asked > limit:
                waits.append(asked)
                return True
            return False

        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(is_transient),
            wait=wait,
            stop=stop | too_long,
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
                        except ValueError as exc:  # the client could not parse the body
                            raise MalformedResponseError(
                                f"the body is not JSON ({' '.join(str(exc).split())[:200]})"
                            ) from exc
                        finally:
                            endpoint.in_flight -= 1
                        text, finish_reason, usage, extras = _read_completion(response)
            except (self._openai.APIError, MalformedResponseError) as exc:
                url = endpoint.url if endpoint is not None else self.base_urls[0]
                if isinstance(exc, self._openai.APIStatusError) and not is_transient(exc):
                    raise BackendRejectedError(url, int(exc.status_code), str(exc)) from exc
                reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                if waits:
                    reason += (
                        f" (the server asked to retry after {waits[-1]:.0f} s, longer than "
                        "retry_after_max_s or the retry deadline left)"
                    )
                raise BackendUnavailableError(
                    url, reason, attempts, time.perf_counter() - started
                ) from exc
        seconds = time.perf_counter() - started
        return Generation(
            text=text,
            usage=Cost(
                prompt_tokens=usage[0], completion_tokens=usage[1], seconds=seconds
            ),
            finish_reason=finish_reason,
            **extras,
        )

    def _count_retry(self, retry_state: Any) -> None:
        self.retries += 1

    async def aclose(self) -> None:
        """Close the HTTP clients of the current event loop."""
        state, self._state = self._state, None
        if state is not None and state.loop is asyncio.get_running_loop():
            for endpoint in state.endpoints:
                await endpoint.client.close()
