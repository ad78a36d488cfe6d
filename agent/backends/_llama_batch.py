"""Continuous batched decoding over llama.cpp's low-level API, one sequence per episode.

:class:`BatchedDecoder` owns a llama.cpp context with ``n_seq`` sequences, each with its own
key-value cache (``kv_unified=False``: a sequence attends only to its own cells, so the cost
of a token does not grow with the other sequences' lengths). A request is a
:class:`DecodeJob`; requests with the same ``key`` (an episode) land on the same sequence,
whose cache keeps the tokens evaluated last time: a new prompt evaluates only the tokens after
its common prefix with them. Every ``llama_decode`` call carries one token for each sequence
that is generating plus prompt chunks of sequences that are still reading theirs, so a batch
of requests costs about as many forward passes as its longest answer, not the sum of them.

llama.cpp evaluates a batch over per-sequence caches in micro-batches of consecutive sequence
ids, taken in the order their tokens appear, so tokens go into a batch sorted by sequence,
and before each pass caches are moved (swapped through a spare sequence) so that the
sequences in it are consecutive: as runs finish, or when a revision round continues only
some episodes, they would otherwise be scattered and cost a pass each.

When more keys are in flight than sequences, the least recently used sequence is evicted
(a finished episode is simply never used again). The context is created on first use with as
many sequences as the call needs (a power of two, at most ``n_seq``) and recreated larger
when a later call needs more, so a single-item user does not pay for 64 caches.

Not thread-safe: one thread at a time (the backend's worker thread).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from redraft.core import BadInputError, RedraftError

__all__ = [
    "BatchedDecoder",
    "DecodeJob",
    "DecodeResult",
    "DecoderStats",
    "LlamaDecodeError",
    "SamplerSpec",
]

FinishReason = Literal["stop", "length"]


class LlamaDecodeError(RedraftError):
    """llama.cpp failed to evaluate a batch (out of memory, or an internal error)."""


@dataclass(frozen=True)
class SamplerSpec:
    """How to pick each token of one request."""

    temperature: float
    """0 means greedy."""
    top_p: float
    """Nucleus mass (ignored when greedy)."""
    seed: int
    """Seed of the random draw (ignored when greedy)."""
    grammar: Any = None
    """A parsed llama.cpp grammar sampler to clone (``None``: unconstrained)."""


@dataclass(frozen=True)
class DecodeJob:
    """One prompt to continue."""

    tokens: Sequence[int]
    """The prompt, tokenized (special tokens included)."""
    key: str | None
    """Jobs with the same key share a sequence and its cache (``None``: a sequence of its own)."""
    max_tokens: int
    """The most tokens to generate."""
    stop: Sequence[str]
    """Stop sequences: the text ends before the first one found."""
    sampler: SamplerSpec
    """How to sample."""


@dataclass
class DecodeResult:
    """What one job produced."""

    text: str
    """The generated text, stop sequence and end-of-generation token excluded."""
    completion_tokens: int
    """Tokens generated, the end-of-generation token excluded."""
    finish_reason: FinishReason
    """``stop``: end token, stop sequence or finished grammar; ``length``: out of tokens."""
    reused_tokens: int
    """Prompt tokens whose cache was reused rather than evaluated."""


@dataclass
class DecoderStats:
    """Counters since the decoder was made (benchmarks and tests read them)."""

    decode_calls: int = 0
    """``llama_decode`` calls."""
    evaluated_tokens: int = 0
    """Tokens evaluated (prompt tokens not found in a cache, and fed-back samples)."""
    reused_tokens: int = 0
    """Prompt tokens found in a sequence's cache, so not evaluated again."""
    borrowed_tokens: int = 0
    """Prompt tokens taken from another sequence's cache (a shared prefix)."""
    evictions: int = 0
    """Jobs that took over a sequence holding another key's cache."""
    moves: int = 0
    """Caches moved to another sequence to keep the decoding ones consecutive."""
    scattered_passes: int = 0
    """Passes whose sequences were still not consecutive (llama.cpp splits each)."""


@dataclass
class _Sequence:
    """One llama.cpp sequence: the tokens in its cache and whom it belongs to."""

    seq_id: int
    key: str | None = None
    tokens: list[int] = field(default_factory=list)
    last_used: int = -1
    busy: bool = False


@dataclass
class _Run:
    """A job being decoded on a sequence."""

    index: int
    job: DecodeJob
    seq: _Sequence
    chain: Any
    """The sampler chain without the grammar (temperature, top-p, the draw)."""
    grammar: Any
    """This run's own grammar sampler (a clone), or ``None``."""
    pending: list[int]
    """Prompt tokens still to evaluate (then the last sampled token, one at a time)."""
    reused: int
    limit: int
    """The most tokens it may generate (``max_tokens``, capped by the context)."""
    generated: list[int] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    logits_at: int = -1
    """Where its logits are in the batch being decoded (-1: none asked)."""


class BatchedDecoder:
    """Decode many prompts at once on one llama.cpp model; see the module docstring.

    Args:
        lib: the ``llama_cpp`` module.
        model: the loaded ``llama_model`` pointer (owned by the caller).
        n_ctx: context length of each sequence (prompt plus completion).
        n_seq: the most sequences (episodes) kept at once.
        n_batch: the most tokens evaluated per ``llama_decode`` call.
        n_threads: CPU threads for a pass over one token.
        n_threads_batch: CPU threads for a pass over more (a prompt, several sequences).
        reuse_prefix: keep each sequence's cache between jobs (``False``: evaluate every
            prompt from scratch).
        name: the model string, for messages.
    """

    def __init__(
        self,
        lib: Any,
        model: Any,
        *,
        n_ctx: int,
        n_seq: int,
        n_batch: int,
        n_threads: int,
        n_threads_batch: int,
        reuse_prefix: bool,
        name: str,
    ) -> None:
        self._lib = lib
        self._model = model
        self._vocab = lib.llama_model_get_vocab(model)
        self._pieces: dict[int, bytes] = {}
        self._piece_buffer = ctypes.create_string_buffer(256)
        self.n_ctx = n_ctx
        self.n_seq = n_seq
        self.n_batch = n_batch
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        self.reuse_prefix = reuse_prefix
        self.name = name
        self._ctx: Any = None
        self._memory: Any = None
        self._batch: Any = None
        self._sequences: list[_Sequence] = []
        """The slots, indexed by their llama.cpp sequence id."""
        self._spare = 0
        self._clock = 0
        self.stats = DecoderStats()
        """What it has done so far."""

    # -- context -------------------------------------------------------------------------

    @property
    def slots(self) -> int:
        """How many sequences the current context holds (0 before first use)."""
        return len(self._sequences)

    def _ensure_slots(self, wanted: int) -> None:
        size = 1
        while size < min(wanted, self.n_seq):
            size *= 2
        size = min(size, self.n_seq)
        if size <= len(self._sequences):
            return
        self._free_context()
        lib = self._lib
        params = lib.llama_context_default_params()
        # One more sequence than slots: the spare through which two caches swap places.
        params.n_ctx = self.n_ctx * (size + 1)
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_seq_max = size + 1
        params.n_threads = self.n_threads
        params.n_threads_batch = self.n_threads_batch
        params.kv_unified = False
        # Measured on the CPU: flash attention made a step at 1500 tokens of context 1.9x
        # the cost of one at 150, plain attention 1.5x (bench/README.md).
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.no_perf = True
        ctx = lib.llama_init_from_model(self._model, params)
        if not ctx:
            raise LlamaDecodeError(
                f"{self.name}: llama.cpp could not create a context for {size} sequences of "
                f"{self.n_ctx} tokens (out of memory? lower the n_seq or n_ctx option)"
            )
        self._ctx = ctx
        self._memory = lib.llama_get_memory(ctx)
        self._batch = lib.llama_batch_init(self.n_batch, 0, 1)
        self._sequences = [_Sequence(seq_id=i) for i in range(size)]
        self._spare = size

    def _free_context(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            self._lib.llama_free(self._ctx)
            self._ctx = None
            self._memory = None
        self._sequences = []

    def close(self) -> None:
        """Free the context (the model stays with its owner)."""
        self._free_context()

    def _piece(self, token: int) -> bytes:
        """The bytes a token spells (special tokens spell nothing)."""
        piece = self._pieces.get(token)
        if piece is None:
            buffer = self._piece_buffer
            size = self._lib.llama_token_to_piece(
                self._vocab, token, buffer, len(buffer), 0, False
            )
            piece = buffer.raw[: max(size, 0)]
            self._pieces[token] = piece
        return piece

    # -- decoding ------------------------------------------------------------------------

    def run(self, jobs: Sequence[DecodeJob]) -> list[DecodeResult]:
        """Decode every job; results in the order of ``jobs``.

        Raises:
            BadInputError: a prompt that does not fit the context.
            LlamaDecodeError: llama.cpp failed.
        """
        for job in jobs:
            if len(job.tokens) >= self.n_ctx:
                raise BadInputError(
                    f"{self.name}: the prompt has {len(job.tokens)} tokens, the context "
                    f"{self.n_ctx} (raise the n_ctx option or shorten the prompt)"
                )
        if not jobs:
            return []
        self._clock += 1
        distinct = {job.key if job.key is not None else ("", i) for i, job in enumerate(jobs)}
        self._ensure_slots(len(distinct))
        results: list[DecodeResult | None] = [None] * len(jobs)
        waiting = list(range(len(jobs)))
        running: list[_Run] = []
        try:
            while waiting or running:
                waiting = self._admit(jobs, waiting, running)
                self._step(running)
                still = []
                for run in running:
                    result = self._advance(run)
                    if result is None:
                        still.append(run)
                    else:
                        results[run.index] = result
                        self._finish(run)
                running = still
        finally:
            for run in running:  # an error left these mid-way: forget their caches
                self._free_samplers(run)
                self._forget(run.seq)
        return [r for r in results if r is not None]

    def _admit(
        self, jobs: Sequence[DecodeJob], waiting: list[int], running: list[_Run]
    ) -> list[int]:
        """Start waiting jobs on free sequences; the jobs that must wait longer."""
        active = {run.job.key for run in running if run.job.key is not None}
        later: list[int] = []
        for index in waiting:
            job = jobs[index]
            if (
                (job.key is not None and job.key in active)
                or len(running) >= len(self._sequences)
                or self._should_wait_for_prefix(job, running)
            ):
                later.append(index)
                continue
            seq = self._choose(job)
            running.append(self._start(index, job, seq))
            if job.key is not None:
                active.add(job.key)
        return later

    def _should_wait_for_prefix(self, job: DecodeJob, running: list[_Run]) -> bool:
        """True while a running job is still evaluating a prompt prefix ``job`` shares.

        Episodes that start together share their task's system prompt: the first one
        evaluates it, the others wait one decode and then copy its cache.
        """
        if not self.reuse_prefix:
            return False
        held = max((_common_prefix(s.tokens, job.tokens) for s in self._sequences), default=0)
        for run in running:
            if len(run.pending) > 1 and run.job.key != job.key:
                shared = _common_prefix(run.job.tokens, job.tokens)
                if shared > held + _MIN_BORROW and len(run.seq.tokens) < shared:
                    return True
        return False

    def _choose(self, job: DecodeJob) -> _Sequence:
        """The sequence for ``job``: its own, else a free one sharing the most prefix, else LRU."""
        idle = [s for s in self._sequences if not s.busy]
        if job.key is not None:
            for seq in idle:
                if seq.key == job.key:
                    return seq
        free = [s for s in idle if s.key is None]
        if free:
            return max(free, key=lambda s: (_common_prefix(s.tokens, job.tokens), -s.last_used))
        return min(idle, key=lambda s: (s.last_used, -_common_prefix(s.tokens, job.tokens)))

    def _start(self, index: int, job: DecodeJob, seq: _Sequence) -> _Run:
        lib = self._lib
        grammar = job.sampler.grammar
        keep = _common_prefix(seq.tokens, job.tokens) if self.reuse_prefix else 0
        if self.reuse_prefix:
            keep = self._borrow_prefix(seq, job, keep)
        keep = min(keep, len(job.tokens) - 1)  # evaluate at least one token to get logits
        if keep < len(seq.tokens) and not self._lib.llama_memory_seq_rm(
            self._memory, seq.seq_id, keep, -1
        ):
            keep = 0
            self._lib.llama_memory_seq_rm(self._memory, seq.seq_id, -1, -1)
        del seq.tokens[keep:]
        if seq.key is not None and seq.key != job.key:
            self.stats.evictions += 1
        self.stats.reused_tokens += keep
        seq.key = job.key
        seq.busy = True
        seq.last_used = self._clock
        return _Run(
            index=index,
            job=job,
            seq=seq,
            chain=self._sampler(job.sampler),
            grammar=None if grammar is None else lib.llama_sampler_clone(grammar),
            pending=list(job.tokens[keep:]),
            reused=keep,
            limit=min(job.max_tokens, self.n_ctx - len(job.tokens)),
        )

    def _borrow_prefix(self, seq: _Sequence, job: DecodeJob, keep: int) -> int:
        """Copy another sequence's cache if it shares a longer prefix; the new ``keep``.

        A new episode of a task starts with the same system prompt as the others.
        Sequences live in separate buffers, so llama.cpp copies the whole buffer (one
        memcpy of ``n_ctx`` tokens, far cheaper than evaluating a shared prompt again).
        """
        best, donor = keep, None
        for other in self._sequences:
            if other is not seq and len(other.tokens) > best + _MIN_BORROW:
                shared = _common_prefix(other.tokens, job.tokens)
                if shared > best + _MIN_BORROW:
                    best, donor = shared, other
        if donor is None:
            return keep
        self._lib.llama_memory_seq_rm(self._memory, seq.seq_id, -1, -1)
        self._lib.llama_memory_seq_cp(self._memory, donor.seq_id, seq.seq_id, -1, -1)
        seq.tokens = list(donor.tokens)
        self.stats.borrowed_tokens += best
        return best

    def _sampler(self, spec: SamplerSpec) -> Any:
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if spec.temperature <= 0.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
        else:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(spec.top_p, 1))
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(spec.temperature))
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(spec.seed & 0xFFFFFFFF))
        return chain

    def _step(self, running: list[_Run]) -> None:
        """One ``llama_decode``: a token per generating run, then prompt chunks."""
        # Generating runs get room first, so that a long prompt never stalls them.
        plan: list[tuple[_Run, list[int]]] = []
        n = 0
        # Every run forgets its logits first: one left out of this pass (no room) must not
        # sample next from an index that now holds another sequence's logits.
        for run in running:
            run.logits_at = -1
        for run in sorted(running, key=lambda r: len(r.pending) > 1):
            room = self.n_batch - n
            if room <= 0:
                break
            take = run.pending[:room]
            plan.append((run, take))
            n += len(take)
        self._make_consecutive([run.seq for run, _ in plan])
        # With a cache per sequence, llama.cpp evaluates a batch in micro-batches of
        # consecutive sequence ids, taken in the order their tokens appear: sorted and
        # consecutive, the whole batch is one pass (scattered, one pass per gap).
        plan.sort(key=lambda item: item[0].seq.seq_id)
        if plan and plan[-1][0].seq.seq_id - plan[0][0].seq.seq_id + 1 != len(plan):
            self.stats.scattered_passes += 1
        batch = self._batch
        n = 0
        for run, take in plan:
            pos = len(run.seq.tokens)
            for offset, token in enumerate(take):
                batch.token[n] = token
                batch.pos[n] = pos + offset
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = run.seq.seq_id
                batch.logits[n] = 0
                n += 1
            if len(take) == len(run.pending):
                batch.logits[n - 1] = 1
                run.logits_at = n - 1
            run.seq.tokens.extend(take)
            del run.pending[: len(take)]
        batch.n_tokens = n
        code = self._lib.llama_decode(self._ctx, batch)
        self.stats.decode_calls += 1
        self.stats.evaluated_tokens += n
        if code != 0:
            raise LlamaDecodeError(
                f"{self.name}: llama_decode failed with code {code} on a batch of {n} tokens"
            )

    def _make_consecutive(self, decoding: list[_Sequence]) -> None:
        """Move caches so that the ``decoding`` sequences have consecutive ids.

        Runs end at different times and a revision round decodes only some episodes, so
        the sequences in a pass get scattered over the slots. The window of slots already
        holding most of them is kept; each one outside it swaps places with a slot inside
        that is not decoding (whose cache, another episode's, moves out intact). A swap is
        three buffer copies, done by llama.cpp before the next pass: about as much as one
        extra pass, which a gap would cost at every remaining token.
        """
        if not decoding:
            return
        ids = sorted(seq.seq_id for seq in decoding)
        count = len(ids)
        if ids[-1] - ids[0] + 1 == count:
            return
        inside = [0] * (len(self._sequences) - count + 1)
        for lo in range(len(inside)):
            inside[lo] = sum(1 for i in ids if lo <= i < lo + count)
        lo = max(range(len(inside)), key=lambda start: (inside[start], -start))
        wanted = set(ids)
        holes = [self._sequences[i] for i in range(lo, lo + count) if i not in wanted]
        movers = [seq for seq in decoding if not lo <= seq.seq_id < lo + count]
        for seq, hole in zip(movers, holes, strict=True):
            self._swap(seq, hole)

    def _swap(self, a: _Sequence, b: _Sequence) -> None:
        """Exchange the caches of two sequences (their ids trade places)."""
        lib, memory = self._lib, self._memory
        if b.tokens:  # keep b's cache: through the spare (copies run in this order)
            lib.llama_memory_seq_cp(memory, b.seq_id, self._spare, -1, -1)
            lib.llama_memory_seq_cp(memory, a.seq_id, b.seq_id, -1, -1)
            lib.llama_memory_seq_cp(memory, self._spare, a.seq_id, -1, -1)
            lib.llama_memory_seq_rm(memory, self._spare, -1, -1)
        else:
            lib.llama_memory_seq_cp(memory, a.seq_id, b.seq_id, -1, -1)
            lib.llama_memory_seq_rm(memory, a.seq_id, -1, -1)
        a.seq_id, b.seq_id = b.seq_id, a.seq_id
        self._sequences[a.seq_id] = a
        self._sequences[b.seq_id] = b
        self.stats.moves += 1

    def _advance(self, run: _Run) -> DecodeResult | None:
        """Sample the next token of ``run`` if its logits are ready; its result once done."""
        if run.logits_at < 0:
            return None
        lib = self._lib
        token = self._sample(run)
        if lib.llama_vocab_is_eog(self._vocab, token):
            return self._result(run, "stop")
        run.generated.append(token)
        run.data += self._piece(token)
        if run.job.stop:
            text = run.data.decode("utf-8", errors="ignore")
            cut = min((i for s in run.job.stop if s and (i := text.find(s)) >= 0), default=-1)
            if cut >= 0:
                return self._result(run, "stop", text[:cut])
        if len(run.generated) >= run.limit:
            return self._result(run, "length")
        run.pending.append(token)
        return None

    def _sample(self, run: _Run) -> int:
        """The next token of ``run``, within its grammar if it has one.

        As llama.cpp's own samplers do, the token is first drawn without the grammar and
        kept if the grammar allows it; only otherwise is the grammar applied to the whole
        vocabulary (slow: it walks every token). Greedy picks the same token either way;
        a random draw still follows the distribution renormalised over allowed tokens.
        """
        lib = self._lib
        token = int(lib.llama_sampler_sample(run.chain, self._ctx, run.logits_at))
        if run.grammar is None:
            return token
        one = (lib.llama_token_data * 1)(lib.llama_token_data(token, 0.0, 0.0))
        single = lib.llama_token_data_array(one, 1, -1, False)
        lib.llama_sampler_apply(run.grammar, ctypes.byref(single))
        if math.isinf(one[0].logit):
            logits = lib.llama_get_logits_ith(self._ctx, run.logits_at)
            n_vocab = lib.llama_vocab_n_tokens(self._vocab)
            candidates = np.empty(n_vocab, dtype=_TOKEN_DATA)
            candidates["id"] = np.arange(n_vocab, dtype=np.int32)
            candidates["logit"] = np.ctypeslib.as_array(logits, shape=(n_vocab,))
            candidates["p"] = 0.0
            array = lib.llama_token_data_array(
                candidates.ctypes.data_as(ctypes.POINTER(lib.llama_token_data)), n_vocab, -1, False
            )
            lib.llama_sampler_apply(run.grammar, ctypes.byref(array))
            lib.llama_sampler_apply(run.chain, ctypes.byref(array))
            token = int(array.data[array.selected].id)
            lib.llama_sampler_accept(run.chain, token)
        lib.llama_sampler_accept(run.grammar, token)
        return token

    def _result(self, run: _Run, reason: FinishReason, text: str | None = None) -> DecodeResult:
        if text is None:
            text = run.data.decode("utf-8", errors="ignore")
        return DecodeResult(
            text=text,
            completion_tokens=len(run.generated),
            finish_reason=reason,
            reused_tokens=run.reused,
        )

    def _finish(self, run: _Run) -> None:
        self._free_samplers(run)
        run.seq.busy = False
        if run.job.key is None:
            run.seq.key = None  # free for anyone; its tokens stay as a shareable prefix

    def _free_samplers(self, run: _Run) -> None:
        self._lib.llama_sampler_free(run.chain)
        if run.grammar is not None:
            self._lib.llama_sampler_free(run.grammar)

    def _forget(self, seq: _Sequence) -> None:
        self._lib.llama_memory_seq_rm(self._memory, seq.seq_id, -1, -1)
        seq.tokens.clear()
        seq.key = None
        seq.busy = False


_MIN_BORROW = 16
"""Copy another sequence's cache only when it spares at least this many more tokens."""

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
"""``llama_token_data`` as a numpy record."""


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
