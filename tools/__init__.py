"""Verifiers: verdicts, the verifier and oracle protocols, the registry, built-in verifiers.

Usable with no LLM at all. Nothing here imports ``redraft.agent`` or ``redraft.evals``.
"""

from redraft.tools._errors import (
    BadInputError,
    ConstraintNotSupportedError,
    MissingDependencyError,
    PluginLoadError,
    RedraftError,
    UnknownPluginError,
)
from redraft.tools._options import parse_options
from redraft.tools._registry import Registry, register_verifier, verifiers
from redraft.tools._verdict import VERDICT_CODES, Cost, Judgement, Verdict, register_verdict_code
from redraft.tools._verifier import (
    FunctionVerifier,
    LeakyOracleVerifier,
    Oracle,
    Verifier,
    VerifierAsOracle,
    VerifierTimeoutError,
    ensure_oracle,
    ensure_verifier,
    oracle_as_verifier,
    safe_judge,
    safe_verify,
    verifier_as_oracle,
    verify_sync,
)
from redraft.tools.schema import SchemaVerifier

__all__ = [
    "VERDICT_CODES",
    "BadInputError",
    "ConstraintNotSupportedError",
    "Cost",
    "FunctionVerifier",
    "Judgement",
    "LeakyOracleVerifier",
    "MissingDependencyError",
    "Oracle",
    "PluginLoadError",
    "RedraftError",
    "Registry",
    "SchemaVerifier",
    "UnknownPluginError",
    "Verdict",
    "Verifier",
    "VerifierAsOracle",
    "VerifierTimeoutError",
    "ensure_oracle",
    "ensure_verifier",
    "oracle_as_verifier",
    "parse_options",
    "register_verdict_code",
    "register_verifier",
    "safe_judge",
    "safe_verify",
    "verifier_as_oracle",
    "verifiers",
    "verify_sync",
]
