"""Verdicts: what a feedback source or the oracle says about one proposal.

A verdict is never a bare bool: it carries a code from a closed (but extensible) set, a
message the agent can act on, an optional hint and evidence, and what it cost.
"""

from __future__ import annotations

import threading
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from redraft.core import Cost

__all__ = [
    "LOG_CONTEXT",
    "UNKNOWN_CODES",
    "UNREADABLE_CODES",
    "VERDICT_CODES",
    "Correctness",
    "Judgement",
    "Verdict",
    "register_verdict_code",
    "truncated_judgement",
    "verdict_codes",
]

Correctness = Literal["correct", "incorrect", "unknown"]
"""The oracle's judgement of an output: right, wrong, or unknown (the oracle failed or timed
out, or the output was cut off before it held a complete answer). Unknown is never wrong."""

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
    "oracle_error": "the oracle itself failed or timed out; the proposal was not judged",
    "no_answer": "the output holds reasoning but no answer",
    "truncated": "the output was cut off at the token limit before it held a complete answer",
    "withheld": "the server withheld the output (a content filter): not the model's answer",
    "critique_unreadable": "the self-critique ended in no verdict the parser could read",
    "unscorable": "the scorer cannot judge an answer against this target (the message says "
    "why): unknown, never wrong",
    "test_failed": "the program ran and a test failed",
    "runtime_error": "the program raised an error, or exited, before its tests finished",
    "time_limit": "the program ran past its time limit (CPU time or wall clock)",
    "resource_limit": "the program went past a memory, process, file-size or output limit",
    "forbidden": "the program tried what its sandbox does not allow (files outside its "
    "folder, the network, new processes)",
}
_codes_lock = threading.Lock()

UNKNOWN_CODES: frozenset[str] = frozenset(
    {"verifier_error", "oracle_error", "truncated", "withheld", "unscorable"}
)
"""Codes that mean "not checked": an oracle verdict with one of them is ``unknown``."""
UNREADABLE_CODES: frozenset[str] = frozenset({"unparseable", "invalid_syntax", "schema_error"})
"""Codes that mean "no complete answer was found": with a ``length`` finish they are
``truncated`` (the token limit cut the answer), not wrong."""

LOG_CONTEXT: dict[str, bool] = {"from_log": True}
"""Validation context for records read back from a log: verdict codes are checked where
verdicts are made, so a log written with a plug-in's own code loads without the plug-in."""


def verdict_codes() -> dict[str, str]:
    """A snapshot of the registered verdict codes and their meanings (for manifests)."""
    with _codes_lock:
        return dict(sorted(VERDICT_CODES.items()))


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
    def _known_code(cls, code: str, info: ValidationInfo) -> str:
        context = info.context if isinstance(info.context, dict) else {}
        if context.get("from_log"):
            # Read back from a log: the code was checked when the verdict was made, maybe
            # by a plug-in this process has not loaded.
            return code
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
    to an agent by accident. Its :attr:`correctness` is ``unknown`` when the oracle could not
    check the output (``oracle_error``) or the output was cut off (``truncated``).
    """

    model_config = ConfigDict(frozen=True)

    local: Verdict
    """Is this step's operation right given its own (possibly wrong) inputs?"""
    global_state: Verdict | None = None
    """Does the agent's state after this proposal match the true state? None if the task has
    no notion of global state distinct from the local one."""
    quality: float | None = None
    """Optional graded quality (e.g. centipawn loss of a legal chess move)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def correctness(self) -> Correctness:
        """Is this step's operation right given its own inputs: correct, incorrect, unknown."""
        return _correctness(self.local)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def global_correctness(self) -> Correctness | None:
        """Does the agent's state match the true state (None: no distinct global state)?

        Unknown whenever the local check is unknown: a failed oracle says nothing.
        """
        if self.global_state is None:
            return None
        if self.correctness == "unknown":
            return "unknown"
        return _correctness(self.global_state)


def _correctness(verdict: Verdict) -> Correctness:
    if verdict.code in UNKNOWN_CODES:
        return "unknown"
    return "correct" if verdict.ok else "incorrect"


def truncated_judgement(judgement: Judgement, finish_reason: str) -> Judgement:
    """Mark a judgement ``truncated`` (unknown) when a length cut left no complete answer.

    An output that stopped at the token limit and in which the oracle found no readable
    answer was not wrong: it was not finished. An output cut off that still holds a complete
    (readable) answer keeps its judgement.
    """
    local = judgement.local
    if finish_reason == "content_filter" and not local.ok:
        # The server withheld the text (content: null): there is no answer to score.
        withheld = Verdict.reject(
            "withheld", "the server withheld the output (finish_reason content_filter)",
            evidence={**local.evidence, "read_code": local.code}, source=local.source,
            cost=local.cost,
        )
        glob = judgement.global_state
        return judgement.model_copy(update={
            "local": withheld, "global_state": withheld if glob is not None else None,
        })
    if finish_reason != "length" or local.ok or local.code not in UNREADABLE_CODES:
        return judgement
    cut = Verdict.reject(
        "truncated",
        f"the output hit the token limit before a complete answer ({local.message})"[:2000],
        evidence={**local.evidence, "read_code": local.code},
        source=local.source,
        cost=local.cost,
    )
    glob = judgement.global_state
    if glob is not None and not glob.ok and glob.code in UNREADABLE_CODES:
        glob = cut
    return judgement.model_copy(update={"local": cut, "global_state": glob})
