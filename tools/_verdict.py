"""Verdicts: what a feedback source or the oracle says about one proposal.

A verdict is never a bare bool: it carries a code from a closed (but extensible) set, a
message the agent can act on, an optional hint and evidence, and what it cost.
"""

from __future__ import annotations

import threading
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

__all__ = [
    "VERDICT_CODES",
    "Cost",
    "Judgement",
    "Verdict",
    "register_verdict_code",
]

#: The known verdict codes and what each means. Extend with :func:`register_verdict_code`.
VERDICT_CODES: dict[str, str] = {
    "ok": "the proposal is accepted",
    "unparseable": "no answer could be extracted from the output",
    "invalid_syntax": "an answer was found but it is not well-formed",
    "illegal": "a well-formed answer that the rules forbid in this state",
    "ambiguous": "the answer matches more than one valid action",
    "wrong_value": "a well-formed, allowed answer with the wrong value",
    "schema_error": "the output does not validate against the required schema",
    "self_rejected": "the model's own critique found a problem",
    "blunder": "a legal answer that loses too much value (quality oracle)",
    "verifier_error": "the verifier itself failed; the proposal was not checked",
    "no_answer": "the output holds reasoning but no answer",
    "truncated": "the output was cut at the token limit before its answer was complete",
}
_codes_lock = threading.Lock()


def register_verdict_code(code: str, meaning: str) -> None:
    """Add a verdict code to the closed set (idempotent for the same meaning).

    Raises:
        ValueError: if the code is not a lowercase identifier, or is already registered
            with another meaning.
    """
    if not code.replace("_", "").isalnum() or code != code.lower():
        raise ValueError(f"verdict code {code!r} must be a lowercase identifier like 'off_by_one'")
    with _codes_lock:
        known = VERDICT_CODES.get(code)
        if known is not None and known != meaning:
            raise ValueError(f"verdict code {code!r} is already registered as {known!r}")
        VERDICT_CODES[code] = meaning


class Cost(BaseModel):
    """What producing a verdict or a generation cost."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    """Tokens read (prompt side)."""
    completion_tokens: int = 0
    """Tokens generated."""
    seconds: float = 0.0
    """Wall-clock seconds spent."""

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=self.seconds + other.seconds,
        )


class Verdict(BaseModel):
    """The typed result of checking one proposal."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    """True when the proposal is accepted; then ``code`` is ``"ok"``."""
    code: str
    """One of :data:`VERDICT_CODES`, e.g. ``illegal`` or ``unparseable``."""
    message: str = ""
    """What is wrong, phrased for the agent; empty only for accepted proposals."""
    hint: str | None = None
    """Optional help towards a fix (e.g. the list of legal moves)."""
    evidence: dict[str, JsonValue] = Field(default_factory=dict)
    """Machine-readable detail (parsed answer, expected value, ...)."""
    cost: Cost = Field(default_factory=Cost)
    """What checking cost."""
    source: str = ""
    """Name of the verifier, critic or oracle that produced the verdict."""

    @field_validator("code")
    @classmethod
    def _known_code(cls, code: str) -> str:
        if code not in VERDICT_CODES:
            raise ValueError(
                f"unknown verdict code {code!r}; register it with "
                f"redraft.tools.register_verdict_code (known: {', '.join(sorted(VERDICT_CODES))})"
            )
        return code

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ok != (self.code == "ok"):
            raise ValueError(f"a verdict with ok={self.ok} cannot have code {self.code!r}")
        if not self.ok and not self.message:
            raise ValueError("a rejecting verdict needs a message saying what is wrong")
        return self

    @classmethod
    def accept(cls, message: str = "", **fields: Any) -> Verdict:
        """An accepting verdict."""
        return cls(ok=True, code="ok", message=message, **fields)

    @classmethod
    def reject(cls, code: str, message: str, **fields: Any) -> Verdict:
        """A rejecting verdict with a code and a message for the agent."""
        return cls(ok=False, code=code, message=message, **fields)

    def feedback(self) -> str:
        """The text an agent is shown: the message, then the hint if any."""
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class Judgement(BaseModel):
    """The oracle's ground truth on one proposal: for measurement, never for the loop.

    A different type from :class:`Verdict` on purpose, so that ground truth cannot be fed
    to an agent by accident.
    """

    model_config = ConfigDict(frozen=True)

    local: Verdict
    """Is this step's operation right given its own (possibly wrong) inputs?"""
    global_state: Verdict | None = None
    """Does the agent's state after this proposal match the true state? None if the task has
    no notion of global state distinct from the local one."""
    quality: float | None = None
    """Optional graded quality (e.g. centipawn loss of a legal chess move)."""

    @property
    def ok(self) -> bool:
        """True when the proposal is locally right."""
        return self.local.ok
