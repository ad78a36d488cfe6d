"""Verifiers and scorers: verdicts, the protocols, the registries, built-in verifiers.

Usable with no LLM at all. Built on ``redraft.core`` (errors, costs, registries); nothing
here imports ``redraft.agent`` or ``redraft.evals``.
"""

from redraft.tools._context_type import accepts_context, context_type, describe_type
from redraft.tools._registry import register_verifier, verifiers
from redraft.tools._scorer import (
    AnswerContext,
    AnswerTruth,
    FormatChecking,
    Scorer,
    Turn,
    load_scorer,
    register_scorer,
    scorers,
    unscorable,
)
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
    "AnswerContext",
    "AnswerTruth",
    "Correctness",
    "FormatChecking",
    "FunctionVerifier",
    "Judgement",
    "Oracle",
    "SchemaVerifier",
    "Scorer",
    "Turn",
    "Verdict",
    "Verifier",
    "accepts_context",
    "context_type",
    "describe_type",
    "ensure_oracle",
    "ensure_verifier",
    "load_scorer",
    "oracle_as_verifier",
    "register_scorer",
    "register_verdict_code",
    "register_verifier",
    "safe_judge",
    "safe_verify",
    "scorers",
    "truncated_judgement",
    "unscorable",
    "verdict_codes",
    "verifier_as_oracle",
    "verifiers",
    "verify_sync",
]
