"""Whether this CPU runs a GGUF file's own quantized kernels, asked of a child process once.

Some llama.cpp builds die of SIGSEGV, with no message, on the first matrix product of a
quantized model on some CPUs: the embedded SmolLM2's Q4_1 did on an Intel Xeon with
AVX-512 BF16/FP16, while its 32-bit copy ran (issue 21). Inside a run that would end the
process silently, so before ``weights=native`` loads a file, a child process loads it and
decodes a few tokens. The child's outcome is kept under
``$XDG_CACHE_HOME/redraft/llamacpp-probe``, keyed by the file, the CPU's feature flags,
llama-cpp-python's version and build (its libraries' sizes and times) and the GPU offload:
only the first native load of a file on a machine pays for the child (1.9 s for SmolLM2 on
a busy 2-core machine, 0.8 s of it importing llama_cpp; a cached answer takes milliseconds).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from redraft.agent.backends._common import cache_folder, source_digest
from redraft.core import BadInputError

__all__ = ["CRASH_FOR_TESTS_ENV", "ProbeOutcome", "check_native_weights", "probe_key"]

CRASH_FOR_TESTS_ENV = "_REDRAFT_PROBE_CRASH_FOR_TESTS"
"""Tests only: a probe child that sees this variable kills itself with SIGSEGV before it
loads anything, as a child would on a CPU whose kernels crash."""

PROBE_TIMEOUT_S = 300.0
"""A child still running after this long is killed, and the load goes ahead undecided."""

# The child imports llama_cpp only (not redraft, which would add langgraph and more). The prompt is
# long enough for a multi-row matrix product (prompt evaluation), then one-token products.
_CHILD_CODE = f"""
import os, signal, sys
if os.environ.get({CRASH_FOR_TESTS_ENV!r}):
    os.kill(os.getpid(), signal.SIGSEGV)
import llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=128, n_threads=int(sys.argv[2]),
                      n_gpu_layers=int(sys.argv[3]), verbose=False)
llm.create_completion("Add the numbers one by one and write each running total: 3, 4, 5, 6, 7.",
                      max_tokens=4, temperature=0.0)
"""


class ProbeOutcome(BaseModel):
    """What a probe child did with a model file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    crashed: bool
    """The child was killed by a signal while loading or decoding."""
    signal: str | None = None
    """The signal's name, when it crashed (``SIGSEGV``, ``SIGILL``, ``SIGABRT``, ...)."""


def check_native_weights(
    model_path: Path, name: str, *, n_threads: int, n_gpu_layers: int = 0
) -> None:
    """Refuse ``weights=native`` for a file whose quantized kernels crash on this CPU.

    Runs the probe child the first time a key is seen and remembers its outcome. A child
    that fails without a signal (a file llama.cpp cannot read) or does not finish decides
    nothing: the load goes ahead and reports its own error.

    Raises:
        BadInputError: the probe child died of a signal, now or on an earlier probe.
    """
    record = cache_folder("llamacpp-probe") / f"{probe_key(model_path, n_gpu_layers)}.json"
    outcome = _read(record)
    if outcome is None:
        outcome = _probe(model_path, n_threads, n_gpu_layers)
        if outcome is None:
            return
        _write(record, outcome)
    if outcome.crashed:
        raise BadInputError(
            f"{name}: weights=native crashes llama.cpp on this CPU (a test load of "
            f"{model_path.name} died of {outcome.signal}); use weights=f32 (the default) or "
            f"see the README's install notes (remembered in {record})"
        )


def probe_key(model_path: Path, n_gpu_layers: int = 0) -> str:
    """The file, the CPU's feature flags, llama-cpp-python's build and the GPU offload."""
    parts = [source_digest(model_path), _cpu_flags(), _llama_cpp_build(), str(n_gpu_layers)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _cpu_flags() -> str:
    """The CPU's model and feature flags (Linux), else what :mod:`platform` knows."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    lines = text.splitlines()
    wanted = [next((ln for ln in lines if ln.startswith(k)), "") for k in ("model name", "flags")]
    return "\n".join(wanted) if any(wanted) else f"{platform.machine()} {platform.processor()}"


def _llama_cpp_build() -> str:
    """llama-cpp-python's version and its compiled libraries' names, sizes and times.

    So a rebuild of the same version (other ``CMAKE_ARGS``) is probed again.
    """
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        version = "unknown"
    spec = importlib.util.find_spec("llama_cpp")
    folders = [Path(p) / "lib" for p in (spec.submodule_search_locations or [])] if spec else []
    libraries = sorted(f for folder in folders if folder.is_dir() for f in folder.iterdir())
    stamps = [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in libraries]
    return " ".join([version, *stamps])


def _probe(model_path: Path, n_threads: int, n_gpu_layers: int) -> ProbeOutcome | None:
    argv = [sys.executable, "-c", _CHILD_CODE, str(model_path), str(n_threads), str(n_gpu_layers)]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode < 0:
        return ProbeOutcome(crashed=True, signal=_signal_name(-done.returncode))
    return ProbeOutcome(crashed=False) if done.returncode == 0 else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _read(record: Path) -> ProbeOutcome | None:
    try:
        return ProbeOutcome.model_validate(json.loads(record.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):  # none yet, or unreadable: probe again
        return None


def _write(record: Path, outcome: ProbeOutcome) -> None:
    """Keep the outcome, written beside its name and renamed.

    A cache that cannot be written only means that the next load probes again.
    """
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(prefix=f".{record.name}-", dir=record.parent)
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(outcome.model_dump_json())
        Path(partial).replace(record)
    except OSError:
        pass
    finally:
        Path(partial).unlink(missing_ok=True)
