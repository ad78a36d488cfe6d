"""The backend protocol: a batch of chat requests in, texts with usage and timings out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redraft.tools import Cost

__all__ = [
    "Backend",
    "Constraint",
    "ConstraintKind",
    "Generation",
    "GenerationRequest",
    "Message",
    "Purpose",
    "SamplingParams",
    "SimulationHint",
]

Purpose = Literal["propose", "critique", "revise"]
ConstraintKind = Literal["choice", "regex", "grammar"]


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    """Who speaks."""
    content: str
    """What is said."""


class Constraint(BaseModel):
    """Restrict decoding to valid outputs (the ``constrained`` critic mode)."""

    model_config = ConfigDict(frozen=True)

    kind: ConstraintKind
    """``choice``: one of ``choices``; ``regex``: matches ``pattern``; ``grammar``: GBNF."""
    choices: tuple[str, ...] = ()
    """The allowed outputs, for ``choice``."""
    pattern: str | None = None
    """A regular expression, for ``regex``."""
    grammar: str | None = None
    """A GBNF grammar (llama.cpp syntax), for ``grammar``."""

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice constraint needs at least one choice")
        if self.kind == "regex" and not self.pattern:
            raise ValueError("a regex constraint needs a pattern")
        if self.kind == "grammar" and not self.grammar:
            raise ValueError("a grammar constraint needs a grammar")
        return self


class SamplingParams(BaseModel):
    """How to sample. Defaults are greedy and short: redraft steps are short answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.0, ge=0.0)
    """0 means greedy."""
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass."""
    max_tokens: int = Field(64, ge=1)
    """Upper bound on generated tokens."""
    seed: int | None = None
    """Per-request seed where the backend supports one."""
    stop: tuple[str, ...] = ()
    """Stop sequences."""


class SimulationHint(BaseModel):
    """What the ``simulated`` backend needs to play a task with known error rates.

    Filled by a task's simulated-policy hooks. Real backends ignore it; it is never
    rendered into a prompt.
    """

    model_config = ConfigDict(frozen=True)

    correct: str
    """A correct answer for this step."""
    wrong: tuple[str, ...]
    """Wrong answers to choose from (at least one)."""
    step: int = 0
    """The step index, for hazard growth."""
    stream: str = ""
    """Identifies the episode, so that random draws are reproducible per episode."""
    prior_errors: int = 0
    """Committed errors so far in the episode, for self-conditioning."""


class GenerationRequest(BaseModel):
    """One item of a backend batch."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[Message, ...]
    """The chat so far."""
    params: SamplingParams = Field(default_factory=SamplingParams)
    """Sampling parameters."""
    constraint: Constraint | None = None
    """Optional decoding constraint."""
    purpose: Purpose = "propose"
    """Why this text is asked for (fakes and logs use it)."""
    previous: str | None = None
    """The proposal being critiqued or revised, if any (for fakes; prompts carry it too)."""
    hint: SimulationHint | None = None
    """Only for the ``simulated`` backend."""
    cache_key: str | None = None
    """Requests with the same key share a prompt prefix (e.g. one episode); backends may reuse
    their cache between them."""


class Generation(BaseModel):
    """One generated text with what it cost."""

    model_config = ConfigDict(frozen=True)

    text: str
    """The raw output."""
    usage: Cost = Field(default_factory=Cost)
    """Prompt tokens, completion tokens and seconds for this text."""
    finish_reason: str = "stop"
    """Why generation ended (``stop``, ``length``, ...)."""


@runtime_checkable
class Backend(Protocol):
    """Generates a batch of texts. Implementations must return one result per request, in order."""

    name: str
    """The model string it was built from, e.g. ``llamacpp/smollm2``."""
    constraint_kinds: frozenset[ConstraintKind]
    """Which constraint kinds it can enforce while decoding (empty: none)."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one text per request, in order."""
        ...

    async def aclose(self) -> None:
        """Release models, connections and processes."""
        ...
