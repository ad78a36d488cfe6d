"""A conformance suite every verifier (built-in or third-party) can run against itself.

Use it from pytest by subclassing :class:`VerifierConformance`::

    class TestMyVerifier(VerifierConformance):
        def make_verifier(self): return MyVerifier()
        def accepted_cases(self): return [(ctx, "good answer")]
        def rejected_cases(self): return [(ctx, "bad answer", "wrong_value")]

or call :func:`check_verifier` directly; it raises ``ConformanceError`` on the first breach.
Oracles have :func:`check_oracle`: the same checks on their judgements (registered codes,
garbage survived without an error, the expected correct / incorrect labels, determinism).
Answer scorers have :func:`check_scorer` (and the :class:`ScorerConformance` mix-in): the
oracle checks, plus targets vetted before a run (:meth:`~redraft.tools.Scorer.target_problem`),
an ``unknown`` that always says why, and a format verifier that accepts every right answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from pydantic import JsonValue

from redraft.tools._scorer import AnswerContext, AnswerTruth, FormatChecking, Scorer
from redraft.tools._verdict import (
    UNKNOWN_CODES,
    VERDICT_CODES,
    Correctness,
    Judgement,
    Verdict,
)
from redraft.tools._verifier import Oracle, Verifier, ensure_oracle, ensure_verifier

__all__ = [
    "GARBAGE",
    "ConformanceError",
    "ScorerConformance",
    "VerifierConformance",
    "check_oracle",
    "check_scorer",
    "check_verifier",
]

GARBAGE: tuple[str, ...] = (
    "",
    "   \n\t ",
    "\x00\x01\x02\x1b[31m",
    "🙂" * 50,
    "null",
    "{\"answer\": [1, 2, {\"x\": null}]}",
    "<script>alert(1)</script>",
    "I cannot answer that.",
    "9" * 5000,
    "lorem ipsum " * 20000,
)
"""Outputs every verifier and oracle must survive without raising: empty, whitespace, control
bytes, unicode, enormous output, JSON and markup noise."""


class ConformanceError(AssertionError):
    """A verifier broke the verifier contract."""


def _check_verdict(verifier: Verifier[Any], verdict: object, what: str) -> Verdict:
    if not isinstance(verdict, Verdict):
        raise ConformanceError(f"{verifier.name}: {what} returned {type(verdict).__name__}")
    if verdict.code not in VERDICT_CODES:
        raise ConformanceError(f"{verifier.name}: {what} used unregistered code {verdict.code!r}")
    if not verdict.ok and not verdict.message.strip():
        raise ConformanceError(f"{verifier.name}: {what} rejected without a message")
    try:
        json.dumps(verdict.model_dump(mode="json"))
    except (TypeError, ValueError) as exc:
        raise ConformanceError(f"{verifier.name}: {what} verdict is not JSON-able: {exc}") from exc
    if len(verdict.message) > 20000:
        raise ConformanceError(f"{verifier.name}: {what} message is over 20000 characters")
    return verdict


async def _acheck(
    verifier: Verifier[Any],
    accepted: Sequence[tuple[Any, str]],
    rejected: Sequence[tuple[Any, str, str | None]],
    garbage_context: Any,
) -> None:
    ensure_verifier(verifier)
    if not isinstance(verifier.name, str) or not verifier.name:
        raise ConformanceError("a verifier needs a non-empty string name")
    for context, proposal in accepted:
        verdict = _check_verdict(verifier, await verifier.verify(context, proposal), repr(proposal))
        if not verdict.ok:
            raise ConformanceError(f"{verifier.name}: rejected valid {proposal!r}: {verdict}")
    for context, proposal, code in rejected:
        verdict = _check_verdict(verifier, await verifier.verify(context, proposal), repr(proposal))
        if verdict.ok:
            raise ConformanceError(f"{verifier.name}: accepted invalid {proposal!r}")
        if code is not None and verdict.code != code:
            raise ConformanceError(
                f"{verifier.name}: {proposal!r} gave code {verdict.code!r}, expected {code!r}"
            )
    for junk in GARBAGE:
        try:
            verdict = await verifier.verify(garbage_context, junk)
        except Exception as exc:
            raise ConformanceError(
                f"{verifier.name}: raised {type(exc).__name__} on garbage {junk[:40]!r}"
            ) from exc
        _check_verdict(verifier, verdict, f"garbage {junk[:40]!r}")
        if verdict.ok and junk.strip() == "":
            raise ConformanceError(f"{verifier.name}: accepted an empty output")
    # Deterministic, and safe to call concurrently on one instance.
    cases: list[tuple[Any, str]] = [(c, p) for c, p in accepted] + [
        (c, p) for c, p, _ in rejected
    ]
    first = [await verifier.verify(c, p) for c, p in cases]
    again = await asyncio.gather(*(verifier.verify(c, p) for c, p in cases))
    for (_, proposal), a, b in zip(cases, first, again, strict=True):
        if (a.ok, a.code) != (b.ok, b.code):
            raise ConformanceError(f"{verifier.name}: {proposal!r} is judged differently twice")


def check_verifier(
    verifier: Verifier[Any],
    accepted: Sequence[tuple[Any, str]],
    rejected: Sequence[tuple[Any, str, str | None]],
    garbage_context: Any = None,
) -> None:
    """Check the verifier contract; raise :class:`ConformanceError` on the first breach.

    Args:
        verifier: the verifier under test.
        accepted: ``(context, proposal)`` pairs it must accept.
        rejected: ``(context, proposal, code)`` triples it must reject, with that code
            (``None`` accepts any rejecting code).
        garbage_context: the context in which :data:`GARBAGE` outputs are checked; defaults
            to the first case's context.
    """
    if garbage_context is None:
        pool = [c for c, _ in accepted] + [c for c, _, _ in rejected]
        if not pool:
            raise ConformanceError("give at least one accepted or rejected case")
        garbage_context = pool[0]
    asyncio.run(_acheck(verifier, accepted, rejected, garbage_context))


class VerifierConformance:
    """Pytest mix-in: subclass it as ``TestSomething`` and fill in the three methods."""

    def make_verifier(self) -> Verifier[Any]:
        """The verifier under test."""
        raise NotImplementedError

    def accepted_cases(self) -> Sequence[tuple[Any, str]]:
        """``(context, proposal)`` pairs the verifier must accept."""
        raise NotImplementedError

    def rejected_cases(self) -> Sequence[tuple[Any, str, str | None]]:
        """``(context, proposal, expected_code)`` triples the verifier must reject."""
        raise NotImplementedError

    def test_conformance(self) -> None:
        """The whole contract in one test."""
        check_verifier(self.make_verifier(), self.accepted_cases(), self.rejected_cases())

    def test_is_not_an_oracle(self) -> None:
        """A verifier is not usable as ground truth without an explicit adapter."""
        from redraft.tools._verifier import Oracle

        verifier = self.make_verifier()
        if isinstance(verifier, Oracle):
            raise ConformanceError(f"{verifier.name} also implements judge(): split it")


def _check_judgement(oracle: Oracle[Any], judgement: object, what: str) -> Judgement:
    if not isinstance(judgement, Judgement):
        raise ConformanceError(f"{oracle.name}: {what} returned {type(judgement).__name__}")
    for verdict in (judgement.local, judgement.global_state):
        if verdict is None:
            continue
        if verdict.code not in VERDICT_CODES:
            raise ConformanceError(f"{oracle.name}: {what} used unregistered code {verdict.code!r}")
        if verdict.code == "verifier_error":
            raise ConformanceError(
                f"{oracle.name}: {what} reported its own failure as a judgement; raise instead "
                "(the runner records a crash as unknown)"
            )
    try:
        json.dumps(judgement.model_dump(mode="json"))
    except (TypeError, ValueError) as exc:
        raise ConformanceError(f"{oracle.name}: {what} judgement is not JSON-able: {exc}") from exc
    return judgement


async def _acheck_oracle(
    oracle: Oracle[Any], cases: Sequence[tuple[Any, str, Correctness]], garbage_context: Any
) -> None:
    ensure_oracle(oracle)
    if not isinstance(oracle.name, str) or not oracle.name:
        raise ConformanceError("an oracle needs a non-empty string name")
    for context, proposal, expected in cases:
        judgement = _check_judgement(oracle, await oracle.judge(context, proposal), repr(proposal))
        if judgement.correctness != expected:
            raise ConformanceError(
                f"{oracle.name}: judged {proposal!r} {judgement.correctness}, expected {expected}"
            )
    for junk in GARBAGE:
        try:
            judgement = await oracle.judge(garbage_context, junk)
        except Exception as exc:
            raise ConformanceError(
                f"{oracle.name}: raised {type(exc).__name__} on garbage {junk[:40]!r}: an "
                "unreadable output is an incorrect answer, not an oracle failure"
            ) from exc
        _check_judgement(oracle, judgement, f"garbage {junk[:40]!r}")
        if judgement.correctness == "correct" and junk.strip() == "":
            raise ConformanceError(f"{oracle.name}: judged an empty output correct")
    again = await asyncio.gather(*(oracle.judge(c, p) for c, p, _ in cases))
    for (_, proposal, expected), judgement in zip(cases, again, strict=True):
        if judgement.correctness != expected:
            raise ConformanceError(f"{oracle.name}: {proposal!r} is judged differently twice")


def check_oracle(
    oracle: Oracle[Any],
    cases: Sequence[tuple[Any, str, Correctness]],
    garbage_context: Any = None,
) -> None:
    """Check the oracle contract; raise :class:`ConformanceError` on the first breach.

    Args:
        oracle: the oracle under test.
        cases: ``(oracle context, proposal, expected correctness)`` triples.
        garbage_context: the context in which :data:`GARBAGE` outputs are judged; defaults
            to the first case's.
    """
    if not cases:
        raise ConformanceError("give at least one case")
    context = cases[0][0] if garbage_context is None else garbage_context
    asyncio.run(_acheck_oracle(oracle, cases, context))


def _visible(truth: AnswerTruth) -> AnswerContext:
    return AnswerContext(**truth.model_dump(exclude={"target"}))


def _unknown_says_why(scorer: Scorer, judgement: Judgement, what: str) -> None:
    if judgement.correctness != "unknown":
        return
    local = judgement.local
    if local.code not in UNKNOWN_CODES or not local.message.strip():
        raise ConformanceError(
            f"{scorer.name}: {what} is unknown without saying why (code {local.code!r}, "
            f"message {local.message!r}); use redraft.tools.unscorable(name, why)"
        )


async def _acheck_scorer(
    scorer: Scorer,
    cases: Sequence[tuple[AnswerTruth, str, Correctness]],
    bad_targets: Sequence[tuple[JsonValue, AnswerContext]],
) -> None:
    if not isinstance(scorer, Scorer):
        raise ConformanceError(
            f"{scorer!r} is not a scorer: it needs a name, async judge(context, answer) and "
            "target_problem(target, context)"
        )
    for truth, proposal, _ in cases:
        problem = scorer.target_problem(truth.target, _visible(truth))
        if problem is not None:
            raise ConformanceError(
                f"{scorer.name}: refused the target {truth.target!r} of a case it must score: "
                f"{problem}"
            )
        judgement = await scorer.judge(truth, proposal)
        _unknown_says_why(scorer, judgement, repr(proposal))
    for target, context in bad_targets:
        problem = scorer.target_problem(target, context)
        if not isinstance(problem, str) or not problem.strip():
            raise ConformanceError(
                f"{scorer.name}: target_problem accepted {target!r}, a target it cannot score"
            )
        truth = AnswerTruth(**context.model_dump(), target=target)
        judgement = _check_judgement(scorer, await scorer.judge(truth, "42"), repr(target))
        if judgement.correctness != "unknown":
            raise ConformanceError(
                f"{scorer.name}: judged an answer against the unscorable target {target!r} "
                f"{judgement.correctness}; it must be unknown, saying why"
            )
        _unknown_says_why(scorer, judgement, f"the target {target!r}")
    if isinstance(scorer, FormatChecking):
        verifier = scorer.format_verifier()
        ensure_verifier(verifier)
        for truth, proposal, expected in cases:
            if expected != "correct":
                continue
            verdict = _check_verdict(verifier, await verifier.verify(_visible(truth), proposal),
                                     repr(proposal))
            if not verdict.ok:
                raise ConformanceError(
                    f"{scorer.name}: its format verifier {verifier.name!r} rejected "
                    f"{proposal!r}, an answer the scorer judges correct ({verdict.message})"
                )
        for junk in GARBAGE:
            try:
                verdict = await verifier.verify(_visible(cases[0][0]), junk)
            except Exception as exc:
                raise ConformanceError(
                    f"{verifier.name}: raised {type(exc).__name__} on garbage {junk[:40]!r}"
                ) from exc
            _check_verdict(verifier, verdict, f"garbage {junk[:40]!r}")
    for junk in GARBAGE:
        judgement = await scorer.judge(cases[0][0], junk)
        _unknown_says_why(scorer, judgement, f"garbage {junk[:40]!r}")


def check_scorer(
    scorer: Scorer,
    cases: Sequence[tuple[AnswerTruth, str, Correctness]],
    bad_targets: Sequence[tuple[JsonValue, AnswerContext]] = (),
) -> None:
    """Check the scorer contract; raise :class:`ConformanceError` on the first breach.

    Everything :func:`check_oracle` checks, and: the scorer accepts every case's target
    (``target_problem`` is None) and refuses each of ``bad_targets`` with a reason; judged
    against a refused target an answer is ``unknown``, and every ``unknown`` says why (an
    unknown code and a message); a scorer with a format verifier has one that accepts
    every answer the scorer judges correct and survives garbage.

    Args:
        scorer: the scorer under test.
        cases: ``(oracle context, answer, expected correctness)`` triples.
        bad_targets: ``(target, verifier context)`` pairs the scorer cannot score.
    """
    if not cases:
        raise ConformanceError("give at least one case")
    check_oracle(scorer, cases)
    asyncio.run(_acheck_scorer(scorer, cases, bad_targets))


class ScorerConformance:
    """Pytest mix-in: subclass it as ``TestSomething`` and fill in the methods."""

    def make_scorer(self) -> Scorer:
        """The scorer under test."""
        raise NotImplementedError

    def cases(self) -> Sequence[tuple[AnswerTruth, str, Correctness]]:
        """``(oracle context, answer, expected correctness)`` triples."""
        raise NotImplementedError

    def bad_targets(self) -> Sequence[tuple[JsonValue, AnswerContext]]:
        """``(target, verifier context)`` pairs the scorer cannot score (default none)."""
        return ()

    def test_conformance(self) -> None:
        """The whole contract in one test."""
        check_scorer(self.make_scorer(), self.cases(), self.bad_targets())
