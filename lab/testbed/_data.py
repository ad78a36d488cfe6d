"""The training data pipeline: examples generated, encoded and batched ahead of the step.

Encoding is a table lookup (:class:`CharCodec`): the testbed tokenizer maps each character
to one id and the special tokens to ids of their own, so a whole batch encodes with numpy,
and the result equals the ``transformers`` tokenizer's ids (a test checks it).

Examples come from :func:`~._regimes.examples` in :data:`SHARDS` independent streams, each
seeded from the training seed; chunk ``c`` of :data:`CHUNK` examples is the next chunk of
stream ``c % SHARDS``. The sequence of chunks therefore depends on the seed alone, not on
how many worker processes produce them, so a run reproduces on any machine. A background
thread (:class:`Batches`) turns chunks into shuffled batches of padded numpy arrays while the
device trains on the previous ones.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from redraft.lab.testbed._regimes import Example, Regime, examples
from redraft.lab.testbed._tokenizer import (
    END_TOKEN,
    PAD_TOKEN,
    UNK_TOKEN,
    render_chat,
    vocabulary,
)
from redraft.lab.testbed._wrong import WrongAnswers

__all__ = ["CHUNK", "SHARDS", "Batch", "Batches", "CharCodec", "Chunk", "Prefetcher", "shard_seed"]

SHARDS = 8
"""Independent example streams (fixed, so the data does not depend on the worker count)."""
CHUNK = 256
"""Examples per chunk: the unit a stream produces and a worker sends."""
_SENTINEL_BASE = 0xE000
"""Special tokens are swapped for private-use characters before the lookup."""
IGNORE = -100
"""The label of a position the loss skips."""


class _Stopped(Exception):
    """The pipeline was closed while waiting for a worker."""


class CharCodec:
    """The testbed tokenizer as a lookup table: text to ids with numpy.

    Equal to ``build_tokenizer()(text, add_special_tokens=False)["input_ids"]``: printable
    ASCII and newline map to their ids, the special tokens (``<pad>``, ``<end>``, ``<unk>``
    and the marker) to theirs wherever they occur in the text, anything else to ``<unk>``.
    """

    def __init__(self) -> None:
        vocab = vocabulary()
        self.pad = vocab[PAD_TOKEN]
        self.end = vocab[END_TOKEN]
        self.unk = vocab[UNK_TOKEN]
        self.specials = [t for t in vocab if len(t) > 1]
        size = _SENTINEL_BASE + len(self.specials)
        table = np.full(size, self.unk, dtype=np.int32)
        for token, i in vocab.items():
            if len(token) == 1:
                table[ord(token)] = i
        self._sentinels = {}
        for k, token in enumerate(self.specials):
            table[_SENTINEL_BASE + k] = vocab[token]
            self._sentinels[token] = chr(_SENTINEL_BASE + k)
        self._table = table
        self._private = {chr(_SENTINEL_BASE + k) for k in range(len(self.specials))}

    def encode(self, text: str) -> NDArray[np.int32]:
        """The ids of ``text``."""
        if any(c in text for c in self._private):
            # The text holds a character we use as a sentinel: encode the slow, exact way.
            return self._encode_split(text)
        for token, sentinel in self._sentinels.items():
            if token in text:
                text = text.replace(token, sentinel)
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return self._table[np.minimum(points, len(self._table) - 1)]

    def _encode_split(self, text: str) -> NDArray[np.int32]:
        out: list[int] = []
        i = 0
        while i < len(text):
            token = next((t for t in self.specials if text.startswith(t, i)), None)
            if token is not None:
                out.append(int(self._table[ord(self._sentinels[token])]))
                i += len(token)
                continue
            point = ord(text[i])
            out.append(int(self._table[point]) if point < 128 else self.unk)
            i += 1
        return np.asarray(out, dtype=np.int32)


@dataclass(frozen=True)
class Chunk:
    """Encoded examples: their tokens end to end, each one's length and loss start."""

    tokens: NDArray[np.int16]
    """Every example's ids (prompt, answer, end token), concatenated."""
    lengths: NDArray[np.int32]
    """Tokens per example."""
    heads: NDArray[np.int32]
    """Tokens per example that the loss skips (the prompt, and a masked wrong answer)."""


def encode_examples(codec: CharCodec, batch: Sequence[Example], mask_wrong: bool) -> Chunk:
    """Encode examples as the training loop sees them: loss on the answer and end token."""
    parts: list[NDArray[np.int32]] = []
    lengths = np.empty(len(batch), dtype=np.int32)
    heads = np.empty(len(batch), dtype=np.int32)
    for i, example in enumerate(batch):
        prompt = codec.encode(render_chat(example.messages))
        skipped = example.wrong_answer if mask_wrong else 0
        wrong = codec.encode(example.target[:skipped])
        rest = codec.encode(example.target[skipped:] + END_TOKEN)
        parts += [prompt, wrong, rest]
        heads[i] = len(prompt) + len(wrong)
        lengths[i] = heads[i] + len(rest)
    return Chunk(np.concatenate(parts).astype(np.int16), lengths, heads)


def shard_seed(seed: int, shard: int) -> int:
    """The seed of example stream ``shard`` of a run seeded ``seed``."""
    digest = hashlib.blake2b(f"testbed-shard:{seed}:{shard}".encode(), digest_size=6).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class Source:
    """What the example streams need, picklable for worker processes."""

    task: str
    """Task name."""
    task_kwargs: dict[str, Any]
    """Its factory options (representation included)."""
    regime: Regime
    """The data regime."""
    seed: int
    """The run's training seed."""
    episode_steps: int
    """Steps per training episode."""
    retry_p: float
    """``retry``: share of wrong-first steps."""
    mask_wrong: bool
    """Leave wrong answers out of the loss."""
    recovery_p: float = 0.0
    """Share of steps committed wrong first, so later states hold earlier errors."""
    wrong_answers: WrongAnswers | None = None
    """Wrong answers drawn from a model's own mistakes; None: the task's fixed offsets."""

    def chunks(self, shards: Sequence[int]) -> Iterator[tuple[int, Chunk]]:
        """``(shard, chunk)`` for the given streams, round-robin, without end."""
        from redraft.evals.tasks import load_task

        task = load_task(self.task, **self.task_kwargs)
        codec = CharCodec()
        streams = {
            k: examples(task, self.regime, seed=shard_seed(self.seed, k),
                        episode_steps=self.episode_steps, retry_p=self.retry_p,
                        recovery_p=self.recovery_p, wrong_answers=self.wrong_answers)
            for k in shards
        }
        while True:
            for k in shards:
                stream = streams[k]
                batch = [next(stream) for _ in range(CHUNK)]
                yield k, encode_examples(codec, batch, self.mask_wrong)


def _worker(source: Source, shards: list[int], out: Any, stop: Any) -> None:
    """Produce chunks of some streams into ``out`` until ``stop`` is set."""
    for _, chunk in source.chunks(shards):
        while not stop.is_set():
            try:
                out.put(chunk, timeout=0.2)
                break
            except queue.Full:
                continue
        if stop.is_set():
            return


@dataclass(frozen=True)
class Batch:
    """One optimizer step's examples as arrays (right-padded)."""

    ids: NDArray[np.int64]
    """Token ids, ``(batch, width)``, padded with ``<pad>`` on the right."""
    labels: NDArray[np.int64]
    """The next-token targets, ``(batch, width)``: the id at ``t + 1`` where position ``t``
    predicts an answer token, else :data:`IGNORE`."""
    tokens: int
    """Tokens in the batch (padding excluded)."""
    targets: int
    """Tokens the loss is taken on."""


def collate(chunk: Chunk, order: NDArray[np.int64], pad: int, multiple: int = 1) -> Batch:
    """The examples ``order`` of ``chunk`` as one right-padded batch, with vector ops.

    The width is rounded up to a multiple of ``multiple`` (few distinct shapes for a
    compiled step).
    """
    starts = np.concatenate([[0], np.cumsum(chunk.lengths)[:-1]]).astype(np.int64)
    lengths = chunk.lengths[order].astype(np.int64)
    heads = chunk.heads[order].astype(np.int64)
    width = -(-int(lengths.max()) // multiple) * multiple
    rows = np.repeat(np.arange(len(order)), lengths)
    cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    source = np.repeat(starts[order], lengths) + cols
    ids = np.full((len(order), width), pad, dtype=np.int64)
    ids[rows, cols] = chunk.tokens[source]
    labels = np.full((len(order), width), IGNORE, dtype=np.int64)
    # Position t predicts token t + 1: the targets are the tokens at heads..length-1.
    target = cols >= np.repeat(heads, lengths)
    labels[rows[target], cols[target] - 1] = ids[rows[target], cols[target]]
    return Batch(ids, labels, int(lengths.sum()), int((lengths - heads).sum()))


def _concat(chunks: Sequence[Chunk]) -> Chunk:
    return Chunk(np.concatenate([c.tokens for c in chunks]),
                 np.concatenate([c.lengths for c in chunks]),
                 np.concatenate([c.heads for c in chunks]))


class Prefetcher:
    """Items made ahead by a background thread and handed out in order by iteration.

    A subclass makes its items in :meth:`_make` and hands each to :meth:`_hand`; an
    exception raised there reaches the consumer at its next ``next()``. :meth:`close` stops
    the thread (a producer blocked on a full queue is unblocked).
    """

    def __init__(self, *, ahead: int, name: str) -> None:
        self._ready: queue.Queue[Any] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _start(self) -> None:
        self._thread.start()

    def _make(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        try:
            self._make()
        except _Stopped:
            return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._ready.put(exc)

    def _hand(self, item: Any) -> None:
        """Queue ``item`` for the consumer, waiting while the queue is full (until closed)."""
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        item = self._ready.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self, timeout: float = 5) -> None:
        """Stop the thread."""
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._ready.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=timeout)


class Batches(Prefetcher):
    """Shuffled batches made ahead by a background thread (and optional worker processes).

    Each pool of ``pool_batches`` batches is drawn from consecutive chunks and shuffled with
    a generator seeded by the run's seed; with ``bucket`` the pool is sorted by length
    first, so a batch pads less, and the batches go out in shuffled order.

    Args:
        source: the example streams.
        batch_size: examples per batch.
        workers: processes generating examples; 0: the background thread does it.
        pool_batches: batches per shuffle pool.
        bucket: make batches of similar lengths.
        ahead: batches kept ready.
        prepare: applied to each batch in the background thread (e.g. to make pinned
            tensors); the iterator yields what it returns.
        multiple: pad each batch's width to a multiple of this.
    """

    def __init__(
        self,
        source: Source,
        batch_size: int,
        *,
        workers: int = 0,
        pool_batches: int = 16,
        bucket: bool = False,
        ahead: int = 8,
        prepare: Callable[[Batch], Any] | None = None,
        multiple: int = 1,
    ) -> None:
        self.source = source
        self.batch_size = batch_size
        self.pool_batches = pool_batches
        self.bucket = bucket
        self.pad = CharCodec().pad
        self.workers = workers
        self.prepare = prepare
        self.multiple = multiple
        self.producer_seconds = 0.0
        """CPU time the background thread spent making batches (generating examples too, unless
        worker processes do; those are not counted)."""
        super().__init__(ahead=ahead, name="testbed-data")
        self._procs: list[Any] = []
        self._start()

    def _chunks(self) -> Iterator[Chunk]:
        if self.workers <= 0:
            for _, chunk in self.source.chunks(range(SHARDS)):
                yield chunk
            return
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        assigned = [[k for k in range(SHARDS) if k % self.workers == w]
                    for w in range(self.workers)]
        outs = [context.Queue(maxsize=4) for _ in assigned]
        for shards, out in zip(assigned, outs, strict=True):
            proc = context.Process(target=_worker, args=(self.source, shards, out, stop),
                                   daemon=True)
            proc.start()
            self._procs.append(proc)
        self._proc_stop = stop
        while True:
            for k in range(SHARDS):
                yield self._get(outs[k % self.workers], self._procs[k % self.workers])

    def _get(self, out: Any, proc: Any) -> Chunk:
        while not self._stop.is_set():
            try:
                chunk: Chunk = out.get(timeout=0.5)
                return chunk
            except queue.Empty:
                if not proc.is_alive():
                    raise RuntimeError(f"a testbed data worker died (exit code {proc.exitcode})"
                                       ) from None
        raise _Stopped

    def _make(self) -> None:
        rng = np.random.default_rng(shard_seed(self.source.seed, -1))
        chunks = self._chunks()
        pending: list[Chunk] = []
        held = 0
        pool_size = self.pool_batches * self.batch_size
        while not self._stop.is_set():
            started = time.thread_time()
            while held < pool_size:
                chunk = next(chunks)
                pending.append(chunk)
                held += len(chunk.lengths)
            pool = _concat(pending)
            order = rng.permutation(len(pool.lengths))[:pool_size]
            rest = np.setdiff1d(np.arange(len(pool.lengths)), order)
            if self.bucket:
                order = order[np.argsort(pool.lengths[order], kind="stable")]
            batches = order.reshape(self.pool_batches, self.batch_size)
            made: list[Any] = [collate(pool, batches[i], self.pad, self.multiple)
                               for i in rng.permutation(self.pool_batches)]
            if self.prepare is not None:
                made = [self.prepare(batch) for batch in made]
            pending = [Chunk(*_take(pool, rest))] if len(rest) else []
            held = len(rest)
            self.producer_seconds += time.thread_time() - started
            for batch in made:
                self._hand(batch)

    def close(self, timeout: float = 5) -> None:
        """Stop the thread and the worker processes."""
        stop = getattr(self, "_proc_stop", None)
        if stop is not None:
            stop.set()
        super().close(timeout)
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def _take(pool: Chunk, keep: NDArray[np.int64]) -> tuple[Any, Any, Any]:
    """The examples ``keep`` of ``pool`` as a chunk's fields."""
    starts = np.concatenate([[0], np.cumsum(pool.lengths)[:-1]]).astype(np.int64)
    lengths = pool.lengths[keep].astype(np.int64)
    cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    source = np.repeat(starts[keep], lengths) + cols
    return pool.tokens[source], pool.lengths[keep], pool.heads[keep]
