"""Backends by model string: ``"provider/model"``, imported lazily.

Built-in providers are registered as ``module:factory`` paths so that optional dependencies
(llama-cpp-python, openai, vllm, torch) are imported only when used. Third parties register
through the ``redraft.backends`` entry point group. A factory takes the part of the model
string after the first ``/`` as ``spec`` plus keyword options, and returns a
:class:`~redraft.agent.backends.Backend`.
"""

from __future__ import annotations

from typing import Any

from redraft.agent.backends._protocol import Backend
from redraft.core import BadInputError, Registry

__all__ = ["backends", "load_backend", "register_backend", "split_model_string"]

backends = Registry("backend", "redraft.backends")
"""The backend registry (entry point group ``redraft.backends``)."""

register_backend = backends.register
"""Decorator registering a backend factory ``f(spec: str, **options) -> Backend``."""

for _name, _target in {
    "scripted": "redraft.agent.backends.scripted:ScriptedBackend.from_spec",
    "simulated": "redraft.agent.backends.simulated:SimulatedBackend.from_spec",
    "llamacpp": "redraft.agent.backends.llamacpp:LlamaCppBackend.from_spec",
    "openai": "redraft.agent.backends.openai:OpenAIBackend.from_spec",
    "vllm": "redraft.agent.backends.vllm:VLLMBackend.from_spec",
    "hf": "redraft.agent.backends.hf:HFBackend.from_spec",
}.items():
    backends.add_lazy(_name, _target)


def split_model_string(model: str) -> tuple[str, str]:
    """Split ``"provider/model"`` into its two parts.

    Raises:
        BadInputError: if there is no provider part.
    """
    provider, sep, spec = model.partition("/")
    if not sep or not provider:
        raise BadInputError(
            f"model {model!r} must look like PROVIDER/MODEL, e.g. 'llamacpp/smollm2', "
            "'openai/NAME@http://127.0.0.1:8000/v1' or 'simulated/e=0.1,r=0.5,h=0.05'"
        )
    return provider, spec


def load_backend(model: str, **options: Any) -> Backend:
    """Build the backend a model string names.

    Raises:
        BadInputError: malformed model string.
        UnknownPluginError: no provider of that name.
        MissingDependencyError: the provider's optional dependency is not installed.
    """
    provider, spec = split_model_string(model)
    backend = backends.get(provider)(spec, **options)
    if not isinstance(backend, Backend):
        raise TypeError(f"backend factory for {provider!r} returned {backend!r}, not a Backend")
    return backend
