"""The ``simulated`` backend: a task-aware policy with known error rates.

It is the ground truth that calibrates the statistics. Given a task's simulation hint (a
correct and some wrong answers for the step) it answers:

- **propose**: wrong with probability ``e_t = min(0.999, e·(1+growth)^t + selfcond·[an
  earlier committed error])``;
- **critique**: flags a wrong proposal with probability ``tpr`` and a right one with
  probability ``fpr`` (both 1 by default: the critic always asks for a revision, so that
  ``r`` and ``h`` are what a revision does);
- **revise**: turns a wrong proposal right with probability ``r`` (recovery) and a right one
  wrong with probability ``h`` (harm).

When a request asks for the inner monologue (``GenerationRequest.monologue``), proposals
and revisions write ``think_tokens`` tokens of reasoning, then a first answer drawn as above
(``think_e`` replaces ``e`` for proposals when given), then correct themselves inside the
same generation: a wrong first answer is followed by the right one with probability
``think_r`` (in-generation recovery), a right one by a wrong one with probability ``think_h``
(in-generation harm), each answer on a marked ``ANSWER:`` line. With probability
``think_none`` the generation is reasoning only, with no answer. Critiques reason, then end
with a marked ``VERDICT:`` line.

Model string: ``simulated/e=0.1,r=0.5,h=0.05[,growth=G][,selfcond=C][,tpr=T][,fpr=F][,seed=S]``
``[,think_e=E][,think_r=R][,think_h=H][,think_none=N][,think_tokens=T]``.
Draws are keyed by (seed, episode stream, step, purpose, request seed, draw count), so results
do not depend on how episodes are batched.

Hints reach it out of band: the runner posts each step's hint on :attr:`SimulatedBackend.hints`
keyed by item id, and requests carry only the item id. No other backend sees a hint.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from redraft.agent.backends._protocol import (
    ConstraintKind,
    Generation,
    GenerationRequest,
    HintBoard,
    SimulationHint,
)
from redraft.core import BadInputError, Cost

__all__ = ["SimulatedBackend", "SimulationParams"]

_REASONING = "Let me work through this step by step.\nI combine what the step gives me."
CORRECT_WORD = "VERDICT: CORRECT"
INCORRECT_WORD = "VERDICT: INCORRECT"


class SimulationParams(BaseModel):
    """The known truth a simulated run is measured against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    e: float = Field(0.1, ge=0.0, le=1.0)
    """Base per-step error probability of a first proposal."""
    r: float = Field(0.5, ge=0.0, le=1.0)
    """Recovery: P(a revision of a wrong proposal is right)."""
    h: float = Field(0.0, ge=0.0, le=1.0)
    """Harm: P(a revision of a right proposal is wrong)."""
    growth: float = Field(0.0, ge=-1.0)
    """Per-step relative hazard growth: ``e_t = e·(1+growth)^t``."""
    selfcond: float = Field(0.0, ge=0.0, le=1.0)
    """Extra error probability once the episode holds a committed error."""
    tpr: float = Field(1.0, ge=0.0, le=1.0)
    """P(self-critique flags a wrong proposal)."""
    fpr: float = Field(1.0, ge=0.0, le=1.0)
    """P(self-critique flags a right proposal)."""
    seed: int = 0
    """Base seed of every draw."""
    think_e: float | None = Field(None, ge=0.0, le=1.0)
    """With the monologue: base error probability of a proposal's first answer (None: ``e``)."""
    think_r: float = Field(0.0, ge=0.0, le=1.0)
    """With the monologue: P(a wrong first answer is followed by the right one)."""
    think_h: float = Field(0.0, ge=0.0, le=1.0)
    """With the monologue: P(a right first answer is followed by a wrong one)."""
    think_none: float = Field(0.0, ge=0.0, le=1.0)
    """With the monologue: P(the generation reasons and never answers)."""
    think_tokens: int = Field(32, ge=0)
    """With the monologue: reasoning tokens per generation."""

    def error_rate(self, step: int, prior_errors: int, *, monologue: bool = False) -> float:
        """The probability that a first proposal at ``step`` is wrong."""
        base = self.think_e if monologue and self.think_e is not None else self.e
        rate = base * (1.0 + self.growth) ** step
        if prior_errors:
            rate += self.selfcond
        return min(0.999, max(0.0, rate))


class SimulatedBackend:
    """Play a task with known ``e``, ``r``, ``h``; see the module docstring."""

    constraint_kinds: frozenset[ConstraintKind] = frozenset()

    def __init__(self, params: SimulationParams | None = None, *, name: str | None = None) -> None:
        self.params = params or SimulationParams()
        self.name = name or "simulated/" + ",".join(
            f"{k}={v}" for k, v in self.params.model_dump().items()
        )
        self._draws: defaultdict[tuple[object, ...], int] = defaultdict(int)
        self.calls = 0
        self.hints = HintBoard()
        """Where the runner posts each step's simulation hint, keyed by item id."""

    @classmethod
    def from_spec(cls, spec: str) -> SimulatedBackend:
        """Parse ``e=0.1,r=0.5,h=0.05,...``."""
        values: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep:
                raise BadInputError(f"simulated model {spec!r}: {part!r} is not KEY=VALUE")
            values[key.strip()] = value.strip()
        try:
            params = SimulationParams.model_validate(
                {
                    k: (int(v) if k in ("seed", "think_tokens") else float(v))
                    for k, v in values.items()
                }
            )
        except (ValueError, ValidationError) as exc:
            first = exc.errors()[0] if isinstance(exc, ValidationError) else None
            what = f"{first['loc'][0]}: {first['msg']}" if first else str(exc)
            raise BadInputError(
                f"simulated model {spec!r}: {what} (keys: e, r, h, growth, selfcond, tpr, fpr, "
                "seed, think_e, think_r, think_h, think_none, think_tokens)"
            ) from exc
        return cls(params, name=f"simulated/{spec}")

    def _rng(self, request: GenerationRequest, hint: SimulationHint) -> random.Random:
        key = (hint.stream, hint.step, request.purpose, request.params.seed)
        count = self._draws[key]
        self._draws[key] += 1
        digest = hashlib.blake2b(repr((self.params.seed, *key, count)).encode(), digest_size=8)
        return random.Random(int.from_bytes(digest.digest(), "big"))

    def _answer(self, request: GenerationRequest) -> tuple[str, int]:
        """The text for one request and how many tokens it took."""
        hint = self.hints.get(request.item_id)
        if hint is None:
            raise BadInputError(
                "the simulated backend needs a task that provides simulation hints "
                "(correct and wrong answers per step); use it through a redraft task, or "
                f"post a hint for item {request.item_id!r} on backend.hints"
            )
        if not hint.wrong:
            raise BadInputError("a simulation hint needs at least one wrong answer")
        rng = self._rng(request, hint)
        previous_right = request.previous is not None and request.previous.strip() == hint.correct
        p = self.params
        thinking = request.monologue
        if request.purpose == "critique":
            flag = rng.random() < (p.fpr if previous_right else p.tpr)
            if flag:
                verdict = f"The answer {request.previous!r} looks wrong.\n{INCORRECT_WORD}"
            else:
                verdict = CORRECT_WORD
            if thinking:
                return f"{_REASONING}\n{verdict}", p.think_tokens + 2
            return verdict, 1
        if request.purpose in ("propose", "resample"):  # a fresh draw either way
            rate = p.error_rate(hint.step, hint.prior_errors, monologue=thinking)
            wrong = rng.random() < rate
        else:  # revise
            wrong = rng.random() < p.h if previous_right else rng.random() >= p.r
        first = rng.choice(hint.wrong) if wrong else hint.correct
        if not thinking:
            return first, 1
        if rng.random() < p.think_none:
            return _REASONING, p.think_tokens
        lines = [_REASONING, f"ANSWER: {first}"]
        second: str | None = None
        if wrong and rng.random() < p.think_r:
            second = hint.correct
        elif not wrong and rng.random() < p.think_h:
            second = rng.choice(hint.wrong)
        if second is not None:
            lines += ["Wait, let me check that again.", f"ANSWER: {second}"]
        return "\n".join(lines), p.think_tokens + (2 if second is None else 4)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Answer each request per the policy in the module docstring."""
        self.calls += 1
        out = []
        for request in requests:
            text, tokens = self._answer(request)
            out.append(Generation(text=text, usage=Cost(completion_tokens=tokens)))
        return out

    async def aclose(self) -> None:
        """Nothing to release."""
