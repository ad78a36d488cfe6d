"""The core every redraft package builds on: errors, costs, plug-in registries, settings.

Nothing here knows about verifiers, agents or evals; ``redraft.tools``, ``redraft.agent`` and
``redraft.evals`` import it, and it imports none of them.
"""

from redraft.core._cost import Cost
from redraft.core._errors import (
    BadInputError,
    ConstraintNotSupportedError,
    MissingDependencyError,
    PluginLoadError,
    RedraftError,
    UnknownPluginError,
)
from redraft.core._options import describe_validation_error, parse_options
from redraft.core._registry import Registry
from redraft.core._settings import Settings

__all__ = [
    "BadInputError",
    "ConstraintNotSupportedError",
    "Cost",
    "MissingDependencyError",
    "PluginLoadError",
    "RedraftError",
    "Registry",
    "Settings",
    "UnknownPluginError",
    "describe_validation_error",
    "parse_options",
]
