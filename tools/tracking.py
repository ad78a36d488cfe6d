"""The object-tracking verifier and oracle (BIG-Bench shuffled objects, one swap per step).

Holders (Alice, Bob, ...) each hold one object; each step names two holders who swap. The
agent states who holds what, as ``Alice: ball, Bob: cup, Claire: hat``. The reader also takes
``Alice has the ball``, ``ball: Alice`` / ``the ball is with Alice``, or the objects listed in
holder order (noted as lenient). Local: the state follows from the agent's *own* previous
state and this swap. Global: it equals the true state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from redraft.core import Settings, parse_options
from redraft.tools._verdict import Judgement, Verdict

__all__ = [
    "TrackingContext",
    "TrackingOracle",
    "TrackingOracleConfig",
    "TrackingRead",
    "TrackingTruth",
    "TrackingVerifier",
    "TrackingVerifierConfig",
    "read_tracking",
    "tracking_answer",
]

ReadStatus = Literal["ok", "unparseable", "invalid_syntax", "illegal"]
_SEP = r"\s*(?::|=|->|→|-|–|\bhas\b|\bholds\b|\bnow\s+has\b|\bnow\s+holds\b|\bhas\s+got\b)\s*"
_REVERSE_SEP = r"\s*(?::|=|->|→|\bis\s+with\b|\bis\s+held\s+by\b|\bgoes\s+to\b|\bwith\b)\s*"
_ARTICLE = r"(?:(?:the|a|an)\s+)?"


def tracking_answer(holders: tuple[str, ...], state: tuple[str, ...]) -> str:
    """The canonical answer text: ``Alice: ball, Bob: cup``."""
    return ", ".join(f"{h}: {o}" for h, o in zip(holders, state, strict=True))


class TrackingContext(BaseModel):
    """One swap step, as the agent has it: the verifier's context (no true state)."""

    model_config = ConfigDict(frozen=True)

    holders: tuple[str, ...]
    """Who holds the objects (the positions)."""
    objects: tuple[str, ...]
    """The object names."""
    previous: tuple[str, ...]
    """The state the agent stated at the previous step (object held by each holder)."""
    swap: tuple[int, int]
    """The two holders (indices) who swap at this step."""

    def _apply(self, state: tuple[str, ...]) -> tuple[str, ...]:
        i, j = self.swap
        out = list(state)
        out[i], out[j] = out[j], out[i]
        return tuple(out)

    def expected(self) -> tuple[str, ...]:
        """The locally right state: the swap applied to the agent's own previous state."""
        return self._apply(self.previous)


class TrackingTruth(TrackingContext):
    """One swap step with the truth: the oracle's context."""

    true_previous: tuple[str, ...]
    """The true state before this step."""

    def truth(self) -> tuple[str, ...]:
        """The true state after this step."""
        return self._apply(self.true_previous)


@dataclass(frozen=True)
class TrackingRead:
    """What :func:`read_tracking` made of an answer."""

    status: ReadStatus
    """``ok`` or why no state could be taken."""
    message: str = ""
    """Why, phrased for the agent (empty when ``ok``)."""
    state: tuple[str, ...] = ()
    """The object held by each holder, when ``ok``."""
    notes: tuple[str, ...] = ()
    """What had to be normalised."""

    def evidence(self) -> dict[str, JsonValue]:
        """The machine-readable part of a verdict."""
        return {"read": list(self.state), "lenient": bool(self.notes),
                "normalised": list(self.notes)}


def _alternation(names: tuple[str, ...]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def read_tracking(
    text: str, holders: tuple[str, ...], objects: tuple[str, ...], *, strict: bool = False
) -> TrackingRead:
    """Read who holds what from an answer; never raises.

    With ``strict=True`` only the exact ``Holder: object, ...`` form is taken.
    """
    read = _read_tracking(text, holders, objects)
    if strict and read.status == "ok" and read.notes:
        fmt = tracking_answer(holders, read.state)
        return TrackingRead("invalid_syntax", f"read strictly, answer as '{fmt}' and nothing "
                            f"else; the answer was readable only leniently "
                            f"({'; '.join(read.notes)})", state=read.state, notes=read.notes)
    return read


def _read_tracking(text: str, holders: tuple[str, ...], objects: tuple[str, ...]) -> TrackingRead:
    fmt = f"answer as '{tracking_answer(holders, objects[:len(holders)])}'"
    hol, obj = _alternation(holders), _alternation(objects)
    by_lower_h = {h.lower(): h for h in holders}
    by_lower_o = {o.lower(): o for o in objects}
    found: dict[str, str] = {}
    notes: list[str] = []
    forward = re.compile(
        rf"\b(?P<h>{hol})\b{_SEP}{_ARTICLE}(?:(?P<o>{obj})\b|(?P<x>[A-Za-z][\w-]*))",
        re.IGNORECASE,
    )
    unknown: list[str] = []
    for m in forward.finditer(text):
        holder = by_lower_h[m["h"].lower()]
        if m["o"]:
            found[holder] = by_lower_o[m["o"].lower()]
        elif m["x"].lower() not in by_lower_h:
            unknown.append(m["x"])
    if not found:
        reverse = re.compile(rf"\b{_ARTICLE}(?P<o>{obj})\b{_REVERSE_SEP}(?P<h>{hol})\b",
                             re.IGNORECASE)
        for m in reverse.finditer(text):
            found[by_lower_h[m["h"].lower()]] = by_lower_o[m["o"].lower()]
        if found:
            notes.append("read 'object: holder' pairs")
    if not found and not unknown:
        listed = [by_lower_o[m.group(0).lower()]
                  for m in re.finditer(rf"\b(?:{obj})\b", text, re.IGNORECASE)]
        if len(listed) == len(holders):
            found = dict(zip(holders, listed, strict=True))
            notes.append("read a bare list of objects in holder order")
    if not found:
        if unknown:
            return TrackingRead("invalid_syntax", f"unknown object {unknown[0]!r}: the objects "
                                f"are {', '.join(objects)}; {fmt}")
        return TrackingRead("unparseable", f"no 'holder: object' pairs found; {fmt}")
    missing = [h for h in holders if h not in found]
    if missing:
        return TrackingRead("invalid_syntax", f"say what every holder holds; missing: "
                            f"{', '.join(missing)}; {fmt}", notes=tuple(notes))
    state = tuple(found[h] for h in holders)
    twice = sorted({o for o in state if state.count(o) > 1})
    if twice:
        who = [h for h, o in zip(holders, state, strict=True) if o == twice[0]]
        return TrackingRead(
            "illegal", f"the {twice[0]} cannot be with both {' and '.join(who)}: each object is "
            "in exactly one place, and swaps only exchange objects",
            state=state, notes=tuple(notes),
        )
    if not notes and text.strip().rstrip(".") != tracking_answer(holders, state):
        notes.append("pairs picked out of free text")
    return TrackingRead("ok", state=state, notes=tuple(notes))


class TrackingVerifierConfig(Settings):
    """Options of :class:`TrackingVerifier`."""

    reveal: bool = False
    """Put the right state in the hint of a ``wrong_value`` verdict."""
    strict: bool = False
    """Take only answers in the exact format; anything read leniently is ``invalid_syntax``."""


class TrackingOracleConfig(Settings):
    """Options of :class:`TrackingOracle`."""

    strict: bool = False
    """Judge only answers in the exact format; anything read leniently is ``invalid_syntax``."""


def _local(context: TrackingContext, read: TrackingRead, reveal: bool) -> Verdict:
    expected = context.expected()
    if read.state == expected:
        return Verdict.accept(evidence=read.evidence())
    i, j = context.swap
    off = [h for h, got, want in zip(context.holders, read.state, expected, strict=True)
           if got != want]
    message = (
        f"your state does not follow from your previous one "
        f"({tracking_answer(context.holders, context.previous)}) after {context.holders[i]} and "
        f"{context.holders[j]} swap: check {', '.join(off)}"
    )
    hint = tracking_answer(context.holders, expected) if reveal else None
    return Verdict.reject("wrong_value", message, hint=hint,
                          evidence={**read.evidence(), "off": list(off)})


class TrackingVerifier:
    """Feedback on one step of object tracking.

    Args:
        **options: see :class:`TrackingVerifierConfig`.
    """

    name = "tracking"

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(TrackingVerifierConfig, options, "tracking verifier")

    def check(self, context: TrackingContext, proposal: str) -> Verdict:
        """The verdict, synchronously."""
        read = read_tracking(proposal, context.holders, context.objects,
                             strict=self.config.strict)
        if read.status != "ok":
            return Verdict.reject(read.status, read.message, evidence=read.evidence())
        return _local(context, read, self.config.reveal)

    async def verify(self, context: TrackingContext, proposal: str) -> Verdict:
        """Check the stated state against the agent's previous state and this swap."""
        return self.check(context, proposal)


class TrackingOracle:
    """Ground truth for object tracking: the step (local) and the true state (global).

    Args:
        **options: see :class:`TrackingOracleConfig`.
    """

    name = "tracking"

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(TrackingOracleConfig, options, "tracking oracle")

    def judge_sync(self, context: TrackingTruth, proposal: str) -> Judgement:
        """The judgement, synchronously."""
        read = read_tracking(proposal, context.holders, context.objects,
                             strict=self.config.strict)
        if read.status != "ok":
            failed = Verdict.reject(read.status, read.message, evidence=read.evidence(),
                                    source=self.name)
            return Judgement(local=failed, global_state=failed)
        local = _local(context, read, reveal=False).model_copy(update={"source": self.name})
        truth = context.truth()
        if read.state == truth:
            global_state = Verdict.accept(source=self.name)
        else:
            global_state = Verdict.reject(
                "wrong_value",
                f"the state differs from the true {tracking_answer(context.holders, truth)}",
                evidence={"true": list(truth)}, source=self.name,
            )
        return Judgement(local=local, global_state=global_state)

    async def judge(self, context: TrackingTruth, proposal: str) -> Judgement:
        """Judge the stated state."""
        return self.judge_sync(context, proposal)
