"""The backend protocol: a batch of chat requests in, texts with usage and timings out."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from redraft.core import Cost, Settings

__all__ = [
    "Backend",
    "Constraint",
    "ConstraintKind",
    "FinishReason",
    "Generation",
    "GenerationRequest",
    "HintBoard",
    "HintReceiver",
    "Message",
    "Purpose",
    "SamplingParams",
    "SimulationHint",
]

Purpose = Literal["propose", "critique", "revise", "resample"]
"""Why a text is asked for: the first proposal, a self-critique, a revision that sees
feedback, or (critic ``resample``) a fresh draw from the original prompt in a revision's
place, which sees none."""
ConstraintKind = Literal["choice", "regex", "grammar"]
"""What a constraint restricts decoding to: one of a list (``choice``), a ``regex``, or a
``grammar`` (GBNF); a backend says which it can enforce in ``constraint_kinds``."""
FinishReason = Literal["stop", "length", "error", "content_filter", "other"]
"""Why generation ended: ``stop`` (end of text or a stop sequence), ``length`` (the token
limit cut it), ``error`` (the backend failed on it), ``content_filter`` (the server withheld
the output: a filter or refusal; the oracle judges it unknown), ``other``."""
_FINISH_ALIASES: dict[str, FinishReason] = {
    "stop": "stop", "eos": "stop", "end_turn": "stop", "stop_sequence": "stop",
    "length": "length", "max_tokens": "length", "max_length": "length",
    "error": "error", "abort": "error",
    "content_filter": "content_filter", "refusal": "content_filter",
}


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


class SamplingParams(Settings):
    """How to sample. Defaults are greedy and short: redraft steps are short answers."""

    temperature: float = Field(0.0, ge=0.0)
    """0 means greedy."""
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass."""
    max_tokens: int = Field(64, ge=1)
    """Upper bound on generated tokens."""
    seed: int | None = None
    """Per-request seed where the backend supports one."""
    stop: tuple[str, ...] = Field((), strict=False)
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


class HintBoard:
    """Simulation hints delivered out of band, keyed by the item id of a request.

    Ground truth must not travel in :class:`GenerationRequest` (every backend, plug-ins
    included, would see it). The runner posts each step's hint here, and only a backend
    that holds a board (the ``simulated`` one, see :class:`HintReceiver`) reads it.
    """

    def __init__(self) -> None:
        self._hints: dict[str, SimulationHint] = {}
        self._lock = threading.Lock()

    def post(self, hints: Mapping[str, SimulationHint]) -> None:
        """Make ``hints`` (item id → hint) available to the backend.

        Raises:
            ValueError: an item id already holds another hint (two runs sharing one
                simulated backend at once with the same item ids would mix their hints).
        """
        with self._lock:
            clash = [k for k, v in hints.items() if self._hints.get(k, v) != v]
            if clash:
                raise ValueError(
                    f"item id {clash[0]!r} already has another simulation hint: give each "
                    "concurrent run its own simulated backend"
                )
            self._hints.update(hints)

    def withdraw(self, item_ids: Iterable[str]) -> None:
        """Forget the hints of these items (their step is over)."""
        with self._lock:
            for key in item_ids:
                self._hints.pop(key, None)

    def get(self, item_id: str | None) -> SimulationHint | None:
        """The hint posted for ``item_id``, if any."""
        if item_id is None:
            return None
        with self._lock:
            return self._hints.get(item_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._hints)


@runtime_checkable
class HintReceiver(Protocol):
    """A backend that plays by simulation hints; it owns the board they are posted to."""

    hints: HintBoard
    """Where the runner posts each step's hint."""


class GenerationRequest(BaseModel):
    """One item of a backend batch. It never carries ground truth (no simulation hint)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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
    item_id: str | None = None
    """The corrector item this request serves (no ground truth: an id such as ``3/17``).
    A :class:`HintReceiver` looks its simulation hint up by it."""
    cache_key: str | None = None
    """Requests with the same key share a prompt prefix (e.g. one episode); backends may reuse
    their cache between them."""
    monologue: bool = False
    """The prompt asks the model to reason before it answers, ending with a marked answer line
    (the corrector's ``monologue`` setting). The prompt says so too; fakes play by it."""


class Generation(BaseModel):
    """One generated text with what it cost."""

    model_config = ConfigDict(frozen=True)

    text: str
    """The raw output."""
    usage: Cost = Field(default_factory=Cost)
    """Prompt tokens, completion tokens and seconds for this text."""
    finish_reason: FinishReason = "stop"
    """Why generation ended; providers' own names (``max_tokens``, ``eos``, ...) are mapped
    onto :data:`FinishReason`, anything else is ``other``."""

    @field_validator("finish_reason", mode="before")
    @classmethod
    def _normalise_finish(cls, value: object) -> str:
        if value is None:
            return "stop"
        return _FINISH_ALIASES.get(str(value).lower(), "other")
    reasoning: str | None = None
    """Reasoning the server returned apart from ``text`` (an OpenAI-compatible
    ``reasoning_content`` or ``reasoning`` field); None when it returned none. Reasoning
    written inline (``<think>`` blocks) stays in ``text``: see
    :func:`redraft.agent.extract_answer`."""
    reasoning_tokens: int | None = None
    """Of ``usage.completion_tokens``, how many the backend counted as reasoning (OpenAI
    ``completion_tokens_details.reasoning_tokens``); None when it did not say."""


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
