"""The verifier registry: built-ins register by decorator, plug-ins by entry point."""

from __future__ import annotations

from redraft.core import Registry

__all__ = ["register_verifier", "verifiers"]

verifiers = Registry("verifier", "redraft.verifiers")
"""The verifier registry (entry point group ``redraft.verifiers``)."""

register_verifier = verifiers.register
"""Decorator registering a verifier factory under a name."""


def _register_builtins() -> None:
    # Built-in verifiers are imported on first use only (chess pulls python-chess in).
    for name, target in {
        "chess": "redraft.tools.chess:ChessVerifier",
        "addition": "redraft.tools.arithmetic:AdditionVerifier",
        "running_sum": "redraft.tools.arithmetic:RunningSumVerifier",
        "tracking": "redraft.tools.tracking:TrackingVerifier",
        "schema": "redraft.tools.schema:SchemaVerifier",
        # Format verifiers of the answer scorers (redraft.tools.formats, .code).
        "answer": "redraft.tools.formats:AnswerVerifier",
        "number": "redraft.tools.formats:NumberVerifier",
        "choice": "redraft.tools.formats:ChoiceVerifier",
        "regex": "redraft.tools.formats:RegexVerifier",
        "json": "redraft.tools.formats:JsonVerifier",
        "code": "redraft.tools.code:CodeVerifier",
    }.items():
        verifiers.add_lazy(name, target)


_register_builtins()
