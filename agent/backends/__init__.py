"""Backends: one small async protocol, selected by a ``"provider/model"`` string."""

from redraft.agent.backends._errors import BackendRejectedError, BackendUnavailableError
from redraft.agent.backends._protocol import (
    Backend,
    Constraint,
    ConstraintKind,
    FinishReason,
    Generation,
    GenerationRequest,
    HintBoard,
    HintReceiver,
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
from redraft.agent.backends._secrets import public_options, secret_field
from redraft.agent.backends.scripted import (
    ScriptConstraintError,
    ScriptedBackend,
    ScriptExhaustedError,
)
from redraft.agent.backends.simulated import SimulatedBackend, SimulationParams

__all__ = [
    "Backend",
    "BackendRejectedError",
    "BackendUnavailableError",
    "Constraint",
    "ConstraintKind",
    "FinishReason",
    "Generation",
    "GenerationRequest",
    "HintBoard",
    "HintReceiver",
    "Message",
    "Purpose",
    "SamplingParams",
    "ScriptConstraintError",
    "ScriptExhaustedError",
    "ScriptedBackend",
    "SimulatedBackend",
    "SimulationHint",
    "SimulationParams",
    "backends",
    "load_backend",
    "public_options",
    "register_backend",
    "secret_field",
    "split_model_string",
]
