"""Verifiers: verdicts, the verifier and oracle protocols, the registry, built-in verifiers.

Usable with no LLM at all. Built on ``redraft.core`` (errors, costs, registries); nothing
here imports ``redraft.agent`` or ``redraft.evals``.
"""

from redraft.tools._registry import register_verifier, verifiers
from redraft.tools._verdict import (
    LOG_CONTEXT,
    UNKNOWN_CODES,
    UNREADABLE_CODES,
    VERDICT_CODES,
    Correctness,
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
    "Correctness",
    "FunctionVerifier",
    "Judgement",
    "LeakyOracleVerifier",
    "Oracle",
    "SchemaVerifier",
    "Verdict",
    "Verifier",
    "VerifierAsOracle",
    "VerifierTimeoutError",
    "ensure_oracle",
    "ensure_verifier",
    "oracle_as_verifier",
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
