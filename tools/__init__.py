"""Verifiers: verdicts, the verifier and oracle protocols, the registry, built-in verifiers.

Usable with no LLM at all. Built on ``redraft.core`` (errors, costs, registries); nothing
here imports ``redraft.agent`` or ``redraft.evals``.
"""

from redraft.tools._registry import register_verifier, verifiers
from redraft.tools._verdict import (
    LOG_CONTEXT,
    Correctness,
    Judgement,
    Verdict,
    register_verdict_code,
    truncated_judgement,
    verdict_codes,
)
from redraft.tools._verifier import (
    FunctionVerifier,
    Oracle,
    Verifier,
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
    "Correctness",
    "FunctionVerifier",
    "Judgement",
    "Oracle",
    "SchemaVerifier",
    "Verdict",
    "Verifier",
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
