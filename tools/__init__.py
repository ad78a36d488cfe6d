"""Verifiers: verdicts, the verifier and oracle protocols, the registry, built-in verifiers.

Usable with no LLM at all. Nothing here imports ``redraft.agent`` or ``redraft.evals``.
"""

from redraft.tools._context_type import accepts_context, context_type
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
from redraft.tools._verdict import (
    LOG_CONTEXT,
    UNKNOWN_CODES,
    UNREADABLE_CODES,
    VERDICT_CODES,
    Correctness,
    Cost,
    Judgement,
    Verdict,
    register_verdict_code,
    truncated_judgement,
    verdict_codes,
)
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
    "LOG_CONTEXT",
    "UNKNOWN_CODES",
    "UNREADABLE_CODES",
    "VERDICT_CODES",
    "BadInputError",
    "ConstraintNotSupportedError",
    "Correctness",
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
    "accepts_context",
    "context_type",
    "ensure_oracle",
    "ensure_verifier",
    "oracle_as_verifier",
    "parse_options",
    "register_verdict_code",
    "register_verifier",
    "safe_judge",
    "safe_verify",
    "truncated_judgement",
    "verdict_codes",
    "verifier_as_oracle",
    "verifiers",
    "verify_sync",
]
