"""Backends: one small async protocol, selected by a ``"provider/model"`` string."""

from redraft.agent.backends._contention import cpus_available, sample_runnable
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
from redraft.agent.backends._secrets import (
    REDACTED,
    is_secret_option,
    public_options,
    secret_field,
    secret_names,
)
from redraft.agent.backends.scripted import (
    ScriptConstraintError,
    ScriptedBackend,
    ScriptExhaustedError,
)
from redraft.agent.backends.simulated import SimulatedBackend, SimulationParams

__all__ = [
    "REDACTED",
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
    "cpus_available",
    "is_secret_option",
    "load_backend",
    "public_options",
    "register_backend",
    "sample_runnable",
    "secret_field",
    "secret_names",
    "split_model_string",
]
