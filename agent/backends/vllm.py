"""The ``vllm`` backend: in-process vLLM for NVIDIA GPUs.

**Not run yet**: vLLM cannot be installed where this was written (no GPU). It is written
against vLLM's documented offline API (``vllm.LLM``, ``LLM.chat``, ``SamplingParams``,
``StructuredOutputsParams`` and, before vLLM 0.10.2, ``GuidedDecodingParams``); the parts that
do not need vLLM — request to chat and sampling keywords, constraint mapping, output to
:class:`~redraft.agent.backends._protocol.Generation` — are plain functions with tests.

Model string: ``vllm/HF_MODEL_ID_OR_PATH``. A whole batch (a round) goes to vLLM in one
``LLM.chat`` call with one ``SamplingParams`` per request; vLLM schedules it with continuous
batching and, with ``enable_prefix_caching`` (on by default here), reuses the key-value
cache of prompt prefixes shared across episodes and rounds. ``choice``, ``regex`` and
``grammar`` (GBNF/EBNF, as xgrammar reads it) constraints become structured outputs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, Self

from pydantic import Field

from redraft.agent.backends._common import (
    RequestSeeds,
    check_constraints,
    message_dicts,
    require,
    sampling_fields,
    share_seconds,
    with_seeds,
)
from redraft.agent.backends._protocol import (
    Constraint,
    ConstraintKind,
    Generation,
    GenerationRequest,
)
from redraft.core import BadInputError, Cost, Settings, parse_options

__all__ = [
    "VLLMBackend",
    "VLLMOptions",
    "make_sampling_params",
    "sampling_kwargs",
    "structured_kwargs",
    "to_generation",
]


class VLLMOptions(Settings):
    """How to start the vLLM engine (passed to ``vllm.LLM``)."""

    tensor_parallel_size: int = Field(1, ge=1)
    """GPUs to shard the model over."""
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0)
    """Share of GPU memory vLLM may take for weights and the key-value cache."""
    max_model_len: int | None = Field(None, ge=16)
    """Context length; ``None`` takes the model's."""
    enable_prefix_caching: bool = True
    """Reuse the key-value cache of shared prompt prefixes (episodes share their history)."""
    dtype: str = "auto"
    """Weight dtype (``auto``, ``bfloat16``, ``float16``...)."""
    seed: int = 0
    """Engine seed; mixed into the seed a sampled request without one gets (derived from
    what it is for, so a resumed run samples as the uninterrupted one did)."""
    engine_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further keyword arguments for ``vllm.LLM`` (e.g. ``quantization``)."""


class CompletionOutputLike(Protocol):
    """The fields redraft reads from a vLLM ``CompletionOutput``."""

    text: str
    token_ids: Sequence[int]
    finish_reason: str | None


class RequestOutputLike(Protocol):
    """The fields redraft reads from a vLLM ``RequestOutput``."""

    @property
    def prompt_token_ids(self) -> Sequence[int] | None: ...

    @property
    def outputs(self) -> Sequence[CompletionOutputLike]: ...


def sampling_kwargs(request: GenerationRequest) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for a request, constraint aside.

    Sampling is shaped by temperature and top-p only, as in every redraft backend.
    """
    return {"n": 1, **sampling_fields(request)}


def structured_kwargs(constraint: Constraint) -> dict[str, Any]:
    """Keyword arguments of ``StructuredOutputsParams`` (or ``GuidedDecodingParams``)."""
    if constraint.kind == "choice":
        return {"choice": list(constraint.choices)}
    if constraint.kind == "regex":
        return {"regex": constraint.pattern}
    return {"grammar": constraint.grammar}


def make_sampling_params(
    request: GenerationRequest, sampling_params: Any, structured: Any, field: str
) -> Any:
    """Build a ``SamplingParams`` for a request.

    Args:
        request: the request.
        sampling_params: the ``SamplingParams`` class.
        structured: the structured-output parameter class.
        field: the ``SamplingParams`` field it goes in (``structured_outputs`` in
            vLLM >= 0.10.2, ``guided_decoding`` before).
    """
    kwargs = sampling_kwargs(request)
    if request.constraint is not None:
        kwargs[field] = structured(**structured_kwargs(request.constraint))
    return sampling_params(**kwargs)


def to_generation(output: RequestOutputLike, seconds: float) -> Generation:
    """Map a vLLM ``RequestOutput`` (one completion) to a :class:`Generation`."""
    completion = output.outputs[0]
    return Generation(
        text=completion.text,
        usage=Cost(
            prompt_tokens=len(output.prompt_token_ids or ()),
            completion_tokens=len(completion.token_ids),
            seconds=seconds,
        ),
        finish_reason=completion.finish_reason or "stop",
    )


def _structured_api() -> tuple[Any, str]:
    """The structured-output class of the installed vLLM and its ``SamplingParams`` field."""
    module = require("vllm.sampling_params", "the vllm backend", "vllm")
    if hasattr(module, "StructuredOutputsParams"):
        return module.StructuredOutputsParams, "structured_outputs"
    return module.GuidedDecodingParams, "guided_decoding"


class VLLMBackend:
    """Generate with an in-process vLLM engine; see the module docstring.

    Args:
        model: a Hugging Face model id or a local path.
        name: the model string shown in records.
        options: engine options.

    Raises:
        MissingDependencyError: vLLM is not installed (extra ``vllm``).
    """

    constraint_kinds: frozenset[ConstraintKind] = frozenset({"choice", "regex", "grammar"})

    def __init__(
        self, model: str, *, name: str | None = None, options: VLLMOptions | None = None
    ) -> None:
        self._vllm: Any = require("vllm", "the vllm backend", "vllm")
        self.options = options or VLLMOptions()
        self.model = model
        self.name = name or f"vllm/{model}"
        opts = self.options
        self._llm: Any = self._vllm.LLM(
            model=model,
            tensor_parallel_size=opts.tensor_parallel_size,
            gpu_memory_utilization=opts.gpu_memory_utilization,
            max_model_len=opts.max_model_len,
            enable_prefix_caching=opts.enable_prefix_caching,
            dtype=opts.dtype,
            seed=opts.seed,
            **opts.engine_kwargs,
        )
        self._structured, self._structured_field = _structured_api()
        # The engine is driven from one thread; the event loop stays free meanwhile.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vllm")
        self._seeds = RequestSeeds(opts.seed)

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> Self:
        """Build from a model id or path, with :class:`VLLMOptions` as keywords.

        Raises:
            BadInputError: no model, or an unknown or invalid option.
            MissingDependencyError: vLLM is not installed.
        """
        if not spec:
            raise BadInputError("vllm/: name a model, e.g. vllm/Qwen/Qwen2.5-0.5B-Instruct")
        parsed = parse_options(VLLMOptions, options, f"vllm/{spec} backend")
        return cls(spec, name=f"vllm/{spec}", options=parsed)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate the whole batch in one ``LLM.chat`` call; one result per request, in order.

        Raises:
            ConstraintNotSupportedError: never for the three protocol kinds.
        """
        if not requests:
            return []
        check_constraints(self.name, self.constraint_kinds, requests)
        seeded = with_seeds(requests, self._seeds)  # here, in the order they were asked
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate_sync, seeded)

    def restart_seeds(self) -> None:
        """Draw unseeded requests' seeds from the start again, as a freshly loaded engine."""
        self._seeds.restart()

    def _generate_sync(self, requests: list[GenerationRequest]) -> list[Generation]:
        conversations = [message_dicts(r.messages) for r in requests]
        params = [
            make_sampling_params(
                r, self._vllm.SamplingParams, self._structured, self._structured_field
            )
            for r in requests
        ]
        started = time.perf_counter()
        outputs = self._llm.chat(conversations, sampling_params=params, use_tqdm=False)
        seconds = share_seconds(time.perf_counter() - started, len(requests))
        return [to_generation(output, seconds) for output in outputs]

    async def aclose(self) -> None:
        """Drop the engine and stop the worker thread (GPU memory is freed with the engine)."""
        self._llm = None
        self._executor.shutdown(wait=True)
