"""Backends: one small async protocol, selected by a ``"provider/model"`` string."""

from redraft.agent.backends._errors import BackendRejectedError, BackendUnavailableError
from redraft.agent.backends._protocol import (
    Backend,
    Constraint,
    ConstraintKind,
    Generation,
    GenerationRequest,
    Message,
    Purpose,
    SamplingParams,
    SimulationHint,
)
from redraft.agent.backends._registry import (
    backends,
    load_backend,
    register_backend,
    split_model_string,
)
from redraft.agent.backends.scripted import ScriptedBackend, ScriptExhaustedError
from redraft.agent.backends.simulated import SimulatedBackend, SimulationParams

__all__ = [
    "Backend",
    "BackendRejectedError",
    "BackendUnavailableError",
    "Constraint",
    "ConstraintKind",
    "Generation",
    "GenerationRequest",
    "Message",
    "Purpose",
    "SamplingParams",
    "ScriptExhaustedError",
    "ScriptedBackend",
    "SimulatedBackend",
    "SimulationHint",
    "SimulationParams",
    "backends",
    "load_backend",
    "register_backend",
    "split_model_string",
]
