"""Verdicts, the verifier/oracle split, the registry and the conformance suite itself."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from redraft.core import Registry, UnknownPluginError
from redraft.tools import (
    Judgement,
    Verdict,
    ensure_oracle,
    ensure_verifier,
    oracle_as_verifier,
    register_verdict_code,
    safe_judge,
    safe_verify,
    verifier_as_oracle,
    verifiers,
    verify_sync,
)
from redraft.tools.conformance import ConformanceError, VerifierConformance, check_verifier


class Even:
    """A tiny verifier: the output must be an even integer."""

    name = "even"

    async def verify(self, context: Any, proposal: str) -> Verdict:
        text = proposal.strip()
        if not text.lstrip("-").isdigit() or len(text) > 100:
            return Verdict.reject("unparseable", "Answer with an integer and nothing else.")
        if int(text) % 2:
            return Verdict.reject("wrong_value", f"{text} is odd; the answer must be even.")
        return Verdict.accept()


class TestEvenConforms(VerifierConformance):
    def make_verifier(self) -> Even:
        return Even()

    def accepted_cases(self) -> list[tuple[Any, str]]:
        return [(None, "4"), (None, " -10 ")]

    def rejected_cases(self) -> list[tuple[Any, str, str | None]]:
        return [(None, "3", "wrong_value"), (None, "four", "unparseable")]


def test_verdict_codes_are_a_closed_set_that_can_be_extended() -> None:
    with pytest.raises(ValidationError, match="unknown verdict code"):
        Verdict.reject("off_by_one", "one too many")
    register_verdict_code("off_by_one", "the value is one away from the right one")
    assert Verdict.reject("off_by_one", "one too many").code == "off_by_one"
    with pytest.raises(ValueError, match="already registered"):
        register_verdict_code("off_by_one", "something else")


def test_verdict_consistency() -> None:
    with pytest.raises(ValidationError):
        Verdict(ok=True, code="illegal", message="x")
    with pytest.raises(ValidationError, match="needs a message"):
        Verdict(ok=False, code="illegal")
    verdict = Verdict.reject("illegal", "Nf6 is not legal here.", hint="Legal: e4 d4")
    assert verdict.feedback() == "Nf6 is not legal here.\nLegal: e4 d4"
    assert Verdict.model_validate_json(verdict.model_dump_json()) == verdict


def test_verifier_and_oracle_are_distinct_types() -> None:
    class Truth:
        name = "truth"

        async def judge(self, context: Any, proposal: str) -> Judgement:
            return Judgement(local=Verdict.accept())

    with pytest.raises(TypeError, match="is an oracle"):
        ensure_verifier(Truth())
    with pytest.raises(TypeError, match="is a verifier"):
        ensure_oracle(Even())
    leaky = oracle_as_verifier(Truth())
    assert leaky.leaky and leaky.name == "oracle:truth"
    ensure_verifier(leaky)
    ensure_oracle(verifier_as_oracle(Even()))
    assert verify_sync(leaky, None, "x").ok


def test_safe_wrappers_turn_crashes_into_failures() -> None:
    import asyncio

    class Crashing:
        name = "crashing"

        async def verify(self, context: Any, proposal: str) -> Verdict:
            raise KeyError("boom")

        async def judge(self, context: Any, proposal: str) -> Judgement:
            raise KeyError("boom")

    verdict = asyncio.run(safe_verify(Crashing(), None, "x"))
    assert (verdict.ok, verdict.code, verdict.source) == (False, "verifier_error", "crashing")
    judgement = asyncio.run(safe_judge(Crashing(), None, "x"))
    # A crashed oracle says nothing: unknown, never incorrect.
    assert judgement.local.code == "oracle_error" and judgement.correctness == "unknown"


def test_conformance_suite_catches_a_verifier_that_raises_on_garbage() -> None:
    class Fragile(Even):
        async def verify(self, context: Any, proposal: str) -> Verdict:
            if int(proposal) % 2 == 0:
                return Verdict.accept()
            return Verdict.reject("wrong_value", "odd")

    with pytest.raises(ConformanceError, match="raised ValueError on garbage"):
        check_verifier(Fragile(), [(None, "2")], [(None, "3", "wrong_value")])


def test_conformance_suite_catches_an_accepting_verifier() -> None:
    class Lenient(Even):
        async def verify(self, context: Any, proposal: str) -> Verdict:
            return Verdict.accept()

    with pytest.raises(ConformanceError, match="accepted invalid"):
        check_verifier(Lenient(), [(None, "2")], [(None, "3", None)])


def test_registry_names_unknown_plugins_helpfully() -> None:
    registry = Registry("widget", "redraft.widgets-test")

    @registry.register("spoon")
    def make_spoon() -> str:
        return "spoon"

    assert registry.create("spoon") == "spoon"
    with pytest.raises(UnknownPluginError, match=r"unknown widget 'fork'; available: spoon"):
        registry.get("fork")
    assert {"chess", "addition", "schema"} <= set(verifiers.names())


def test_oracle_conformance_on_the_built_in_oracles() -> None:
    from redraft.tools.arithmetic import (
        AdditionContext,
        AdditionOracle,
        RunningSumOracle,
        RunningSumTruth,
    )
    from redraft.tools.conformance import ConformanceError, check_oracle
    from redraft.tools.tracking import TrackingOracle, TrackingTruth

    units = AdditionContext(a="57", b="68", column=0)
    check_oracle(AdditionOracle(), [(units, "digit 5, carry 1", "correct"),
                                    (units, "digit 4, carry 1", "incorrect")])
    total = RunningSumTruth(keys=("A",), values=(3,), previous=10, true_previous=10)
    check_oracle(RunningSumOracle(), [(total, "total: 13", "correct"),
                                      (total, "total: 12", "incorrect")])
    swap = TrackingTruth(holders=("Alice", "Bob"), objects=("ball", "cup"),
                         previous=("ball", "cup"), true_previous=("ball", "cup"), swap=(0, 1))
    check_oracle(TrackingOracle(), [(swap, "Alice: cup, Bob: ball", "correct"),
                                    (swap, "Alice: ball, Bob: cup", "incorrect")])

    class Fragile:
        name = "fragile"

        async def judge(self, context: Any, proposal: str) -> Judgement:
            return Judgement(local=Verdict.accept() if int(proposal) == 1 else
                             Verdict.reject("wrong_value", "not one"))

    with pytest.raises(ConformanceError, match="raised ValueError on garbage"):
        check_oracle(Fragile(), [(None, "1", "correct"), (None, "2", "incorrect")])
