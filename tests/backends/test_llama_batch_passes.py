"""The batched llama.cpp engine's bookkeeping of one pass, without a model.

llama.cpp refuses a context whose batch holds fewer outputs than it has sequences (an
assertion, n_outputs_max), and the backend's option check refuses ``n_batch < n_seq``
before that; so no model can show a run left out of a full pass. Its bookkeeping is
checked here on the pass alone: the library below only records what it is given.
"""

from __future__ import annotations

from typing import Any

from redraft.agent.backends._llama_batch import (
    BatchedDecoder,
    DecodeJob,
    SamplerSpec,
    _Run,
    _Sequence,
)


class _Batch:
    """The fields of a ``llama_batch`` that a pass fills."""

    def __init__(self, size: int) -> None:
        self.token = [0] * size
        self.pos = [0] * size
        self.n_seq_id = [0] * size
        self.seq_id = [[0] for _ in range(size)]
        self.logits = [0] * size
        self.n_tokens = 0


class _RecordingLib:
    """Stands in for ``llama_cpp`` in a pass: accepts every decode and remembers its size."""

    def __init__(self) -> None:
        self.decoded: list[int] = []

    def llama_model_get_vocab(self, model: Any) -> None:
        return None

    def llama_decode(self, ctx: Any, batch: _Batch) -> int:
        self.decoded.append(batch.n_tokens)
        return 0


def _decoder(lib: _RecordingLib, n_batch: int, n_seq: int) -> BatchedDecoder:
    decoder = BatchedDecoder(lib, None, n_ctx=64, n_seq=n_seq, n_batch=n_batch, n_threads=1,
                             n_threads_batch=1,
                             reuse_prefix=False, name="bookkeeping")
    decoder._ctx = object()
    decoder._batch = _Batch(n_batch)
    decoder._sequences = [_Sequence(seq_id=i) for i in range(n_seq)]
    return decoder


def _generating(decoder: BatchedDecoder, index: int, logits_at: int) -> _Run:
    job = DecodeJob(tokens=(1, 2), key=None, max_tokens=8, stop=(),
                    sampler=SamplerSpec(temperature=0.0, top_p=1.0, seed=0))
    seq = decoder._sequences[index]
    seq.tokens = [1, 2]
    return _Run(index=index, job=job, seq=seq, chain=None, grammar=None, pending=[7],
                reused=0, limit=8, logits_at=logits_at)


def test_a_run_left_out_of_a_full_pass_has_no_logits_to_sample() -> None:
    lib = _RecordingLib()
    decoder = _decoder(lib, n_batch=2, n_seq=4)
    # Four generating runs, each with its logits from the last pass (indices 0..3).
    runs = [_generating(decoder, i, logits_at=i) for i in range(4)]
    decoder._step(runs)
    assert lib.decoded == [2]
    # Two fit: their logits are this pass's 0 and 1. The two left out must not sample:
    # index 0 and 1 now hold the first two runs' logits, 2 and 3 nothing at all.
    assert [r.logits_at for r in runs] == [0, 1, -1, -1]
    assert [r.pending for r in runs] == [[], [], [7], [7]]
    assert [decoder._advance(r) for r in runs[2:]] == [None, None]  # they wait a pass
