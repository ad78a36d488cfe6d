"""The corrector graph, driven by the scripted backend: transcripts, modes, budgets."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from redraft.agent import (
    Correction,
    CorrectorConfig,
    Item,
    RunningLoopError,
    acorrect,
    ajudge_correction,
    build_corrector,
    correct,
)
from redraft.agent._correct import arun_items
from redraft.agent._prompts import DEFAULT_CRITIQUE_TEMPLATE
from redraft.agent.backends import Constraint, Message, SamplingParams, ScriptedBackend
from redraft.core import BadInputError, ConstraintNotSupportedError
from redraft.tools import FunctionVerifier, Judgement, Oracle, Verdict, oracle_as_verifier

SECRET = "ORACLE-SECRET-7f3a"


def is_42(_: Any, output: str) -> Verdict:
    if output.strip() == "42":
        return Verdict.accept()
    return Verdict.reject("wrong_value", f"{output.strip()!r} is not 6 times 7", hint="Multiply.")


class SecretOracle:
    """Ground truth whose messages carry a sentinel, to detect leaks into prompts."""

    name = "secret"

    async def judge(self, context: Any, proposal: str) -> Judgement:
        ok = proposal.strip() == "42"
        verdict = Verdict.accept() if ok else Verdict.reject("wrong_value", f"{SECRET}: no")
        return Judgement(local=verdict)


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str) -> Message:
    return Message(role="assistant", content=text)


ITEM = Item(id="q", messages=(user("What is 6*7? Answer with a number."),))


def run(
    backend: ScriptedBackend,
    items: list[Item] | None = None,
    oracle: Oracle[Any] | None = None,
    **kw: Any,
) -> list[Correction]:
    """Correct, then judge every round with ``oracle`` outside the graph (as the runner does).

    With ``critic='oracle'`` the verifier is built from the oracle (the leaky upper bound).
    """
    verifier = kw.pop("verifier", FunctionVerifier(is_42))
    if kw.get("critic") == "oracle" and oracle is not None:
        verifier = oracle_as_verifier(oracle)

    async def go() -> list[Correction]:
        results = await arun_items(backend, items or [ITEM], verifier, **kw)
        if oracle is None:
            return results
        return [await ajudge_correction(r, oracle, None) for r in results]

    return asyncio.run(go())


def test_two_round_correction_full_transcript() -> None:
    # Round 0: the tool rejects. Round 1: the tool accepts but the self-critique objects.
    # Round 2: both accept.
    backend = ScriptedBackend(["41", "42.", "INCORRECT: keep only the digits", "42", "CORRECT"])
    verifier = FunctionVerifier(
        lambda _, out: is_42(None, out.rstrip(".")), name="is42"
    )
    (result,) = run(
        backend, verifier=verifier, oracle=SecretOracle(), critic="self+tool", max_revisions=2,
        critique_verdict="free",
    )
    backend.assert_done()
    prompt = ITEM.messages
    fix_41 = "Your answer was checked and rejected:\n'41' is not 6 times 7\nMultiply.\n"
    fix_41 += "Give a corrected answer, in the same format as asked."
    fix_digits = "Your answer was checked and rejected:\nINCORRECT: keep only the digits\n"
    fix_digits += "Give a corrected answer, in the same format as asked."
    seen = [(r.purpose, r.messages) for r in backend.requests]
    assert seen == [
        ("propose", prompt),
        ("revise", (*prompt, assistant("41"), user(fix_41))),
        # The critic sees the original request and the current answer only (fresh eyes).
        ("critique", (*prompt, assistant("42."), user(DEFAULT_CRITIQUE_TEMPLATE))),
        ("revise", (*prompt, assistant("41"), user(fix_41), assistant("42."), user(fix_digits))),
        ("critique", (*prompt, assistant("42"), user(DEFAULT_CRITIQUE_TEMPLATE))),
    ]
    r0, r1, r2 = result.rounds
    assert (r0.output, r0.feedback and r0.feedback.code, r0.critique) == ("41", "wrong_value", None)
    assert (r1.output, r1.feedback and r1.feedback.code) == ("42.", "self_rejected")
    assert r1.critique == "INCORRECT: keep only the digits"
    assert (r2.output, r2.feedback and r2.feedback.ok, r2.critique) == ("42", True, "CORRECT")
    assert [r.judgement and r.judgement.correctness for r in result.rounds] == [
        "incorrect", "incorrect", "correct"
    ]
    assert result.committed_output == "42"
    assert (result.initial, result.final) == ("incorrect", "correct")
    assert result.stop_reason == "accepted"
    assert result.outcome == "recovered"
    assert result.revisions == 2
    assert not result.leaky


def test_self_critique_breaking_a_right_answer_is_harm() -> None:
    backend = ScriptedBackend(["42", "VERDICT: INCORRECT", "41", "VERDICT: CORRECT"])
    (result,) = run(backend, verifier=None, oracle=SecretOracle(), critic="self", max_revisions=1)
    backend.assert_done()
    # The critique is decoded as a choice of the two verdict lines where the backend can.
    assert backend.requests[1].constraint == Constraint(
        kind="choice", choices=("VERDICT: CORRECT", "VERDICT: INCORRECT")
    )
    assert result.initial == "correct"
    assert result.final == "incorrect"
    assert result.outcome == "harmed"
    assert result.committed_output == "41"


@pytest.mark.parametrize("critic", ["none", "self", "tool", "self+tool", "resample", "oracle"])
def test_oracle_never_reaches_the_backend_except_in_oracle_mode(critic: str) -> None:
    script = ["7", "VERDICT: INCORRECT", "8", "VERDICT: INCORRECT", "9", "VERDICT: INCORRECT"]
    backend = ScriptedBackend(script * 2)
    (result,) = run(backend, oracle=SecretOracle(), critic=critic, max_revisions=2,
                    repeat_limit=None)
    prompts = "\n".join(m.content for r in backend.requests for m in r.messages)
    assert all(r.judgement is not None for r in result.rounds)
    if critic == "oracle":
        assert SECRET in prompts
        assert result.leaky
    else:
        assert SECRET not in prompts
        assert not result.leaky


def test_batch_of_256_costs_one_backend_call_per_node_per_round() -> None:
    items = [Item(id=str(i), messages=(user(f"item {i}"),)) for i in range(256)]
    # Even items are right at once, items divisible by 3 need a second revision.
    answers: dict[str, list[str]] = {
        str(i): (["42"] if i % 2 == 0 else ["1", "2", "42"] if i % 3 == 0 else ["1", "42"])
        for i in range(256)
    }

    def answer(request: Any) -> str:
        item_text = request.messages[0].content.split()[-1]
        return answers[item_text].pop(0)

    backend = ScriptedBackend([answer] * 10_000)
    results = run(backend, items, critic="tool", max_revisions=3)
    assert backend.calls == 3  # propose, revise, revise
    assert [r.item_id for r in results] == [str(i) for i in range(256)]
    assert {r.committed_output for r in results} == {"42"}
    # 43 odd multiples of 3 need two revisions, the other 85 odd items one.
    assert sum(r.revisions for r in results) == 2 * 43 + 85
    assert all(not answers[k] for k in answers)


def test_verifier_that_raises_is_a_verifier_failure_not_acceptance() -> None:
    def broken(_: Any, __: str) -> Verdict:
        raise RuntimeError("verifier database is down")

    backend = ScriptedBackend(["41"])
    (result,) = run(backend, verifier=FunctionVerifier(broken), critic="tool")
    feedback = result.rounds[0].feedback
    assert feedback is not None and not feedback.ok
    assert feedback.code == "verifier_error"
    assert "verifier database is down" in feedback.message
    assert result.stop_reason == "verifier_failed"


def test_an_oracle_cannot_be_passed_as_the_verifier() -> None:
    with pytest.raises(TypeError, match="oracle"):
        build_corrector(ScriptedBackend(), SecretOracle())  # type: ignore[arg-type]
    # The graph holds no oracle at all.
    with pytest.raises(BadInputError, match="unknown corrector option"):
        build_corrector(ScriptedBackend(), oracle=SecretOracle())
    # The explicit adapter is allowed, and labels the results leaky whatever the mode.
    leaky = build_corrector(ScriptedBackend(["42"]), oracle_as_verifier(SecretOracle()))
    (result,) = leaky.invoke({"items": [ITEM]})["results"]
    assert result.leaky and result.critic == "tool"


def test_repeated_error_stops_early_and_max_revisions_counts_revisions() -> None:
    backend = ScriptedBackend(["41", "41", "41"])
    (result,) = run(backend, critic="tool", max_revisions=5, repeat_limit=2)
    assert result.stop_reason == "repeated_error"
    assert result.revisions == 1
    backend = ScriptedBackend(["1", "2", "3"])
    (result,) = run(backend, critic="tool", max_revisions=2)
    assert result.stop_reason == "rounds_exhausted"
    assert [r.round for r in result.rounds] == [0, 1, 2]


def test_the_old_name_max_rounds_is_read_as_max_revisions() -> None:
    # Callers written before the rename keep their meaning (max_rounds counted revisions),
    # with one DeprecationWarning.
    backend = ScriptedBackend(["1", "2", "3"])
    with pytest.warns(DeprecationWarning, match="max_rounds -> max_revisions") as caught:
        (result,) = run(backend, critic="tool", max_rounds=1, repeat_limit=None)
    assert len(caught) == 1
    assert [r.round for r in result.rounds] == [0, 1]
    assert result.stop_reason == "rounds_exhausted" and len(backend.requests) == 2
    with pytest.warns(DeprecationWarning):
        assert CorrectorConfig(max_rounds=3).max_revisions == 3  # type: ignore[call-arg]
        assert CorrectorConfig.model_validate({"max_rounds": 0}).max_revisions == 0
    with pytest.raises(BadInputError, match="max_rounds is an old name of max_revisions"):
        build_corrector(ScriptedBackend(), FunctionVerifier(is_42), max_rounds=1,
                        max_revisions=2)
    with pytest.raises(ValueError, match="give max_revisions only"):
        CorrectorConfig.model_validate({"max_rounds": 1, "max_revisions": 1})


def test_revision_context_last_shows_only_the_last_round() -> None:
    backend = ScriptedBackend(["1", "2", "42"])
    run(backend, critic="tool", max_revisions=2, revision_context="last")
    last = backend.requests[-1].messages
    assert [m.content for m in last if m.role == "assistant"] == ["2"]
    assert len(last) == 3


def test_resample_draws_fresh_samples_from_the_original_prompt() -> None:
    backend = ScriptedBackend(["1", "1", "42"])
    config = CorrectorConfig(critic="resample", max_revisions=2, sampling=SamplingParams(seed=5))
    (result,) = run(backend, config=config)
    assert result.committed_output == "42"
    assert [r.messages for r in backend.requests] == [ITEM.messages] * 3
    # Each draw after the first stands in for a revision and is named so; it sees nothing
    # of the earlier draws.
    assert [(r.purpose, r.previous) for r in backend.requests] == [
        ("propose", None), ("resample", None), ("resample", None)
    ]
    assert [r.purpose for r in result.rounds] == ["propose", "resample", "resample"]
    assert [r.params.temperature for r in backend.requests] == [0.0, 0.7, 0.7]
    assert [r.params.seed for r in backend.requests] == [5, 6, 7]
    assert result.stop_reason == "accepted"  # repeats do not stop resampling


def test_constrained_mode_passes_the_constraint_and_checks_the_backend() -> None:
    item = ITEM.model_copy(update={"constraint": Constraint(kind="choice", choices=("41", "42"))})
    backend = ScriptedBackend(["42"])
    (result,) = run(backend, [item], critic="constrained")
    assert backend.requests[0].constraint == item.constraint
    assert result.stop_reason == "accepted"
    no_choice = ScriptedBackend(["42"], constraint_kinds=frozenset())
    with pytest.raises(ConstraintNotSupportedError, match="choice"):
        run(no_choice, [item], critic="constrained")
    with pytest.raises(BadInputError, match="constraint"):
        run(ScriptedBackend(["42"]), [ITEM], critic="constrained")


def test_an_items_stop_ends_its_answers_not_its_critiques_nor_a_monologue() -> None:
    item = ITEM.model_copy(update={"stop": ("\n",)})
    sampling = SamplingParams(stop=("END",))
    backend = ScriptedBackend(["41", "VERDICT: INCORRECT", "42", "VERDICT: CORRECT"])
    run(backend, [item], critic="self", max_revisions=1, sampling=sampling)
    stops = [(r.purpose, r.params.stop) for r in backend.requests]
    assert stops == [("propose", ("END", "\n")), ("critique", ("END",)),
                     ("revise", ("END", "\n")), ("critique", ("END",))]
    thinking = ScriptedBackend(["ANSWER: 42"])
    run(thinking, [item], critic="tool", monologue=True)
    assert thinking.requests[0].params.stop == ()


def test_none_mode_never_revises() -> None:
    backend = ScriptedBackend(["41"])
    (result,) = run(backend, critic="none", max_revisions=3, oracle=SecretOracle())
    assert result.stop_reason == "no_critic"
    # None never uses the budget, whatever it says.
    assert (result.revisions, len(backend.requests)) == (0, 1)
    assert result.outcome == "stayed_wrong"


def test_modes_that_need_a_source_say_so() -> None:
    with pytest.raises(BadInputError, match="needs a verifier"):
        build_corrector(ScriptedBackend(), critic="tool")
    with pytest.raises(BadInputError, match="oracle_as_verifier"):
        build_corrector(ScriptedBackend(), critic="oracle")
    with pytest.raises(BadInputError, match="ground truth"):
        build_corrector(ScriptedBackend(), FunctionVerifier(is_42), critic="oracle")


def test_sync_invoke_and_use_as_a_subgraph() -> None:
    corrector = build_corrector(ScriptedBackend(["41", "42"]), FunctionVerifier(is_42))

    class Parent(TypedDict, total=False):
        items: list[Item]
        results: list[Correction]
        summary: str

    def summarise(state: Parent) -> Parent:
        return {"summary": ",".join(r.committed_output for r in state["results"])}

    parent = StateGraph(Parent)
    parent.add_node("correct", corrector)
    parent.add_node("summarise", summarise)
    parent.add_edge(START, "correct")
    parent.add_edge("correct", "summarise")
    parent.add_edge("summarise", END)
    out = parent.compile().invoke({"items": [ITEM]})
    assert out["summary"] == "42"


def test_correct_inside_a_running_loop_says_to_await_acorrect() -> None:
    async def inside() -> Correction:
        return correct("What is 6*7?", FunctionVerifier(is_42), model=ScriptedBackend(["42"]))

    async def awaited() -> Correction:
        return await acorrect("What is 6*7?", FunctionVerifier(is_42),
                              model=ScriptedBackend(["42"]))

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(RunningLoopError) as caught:
            asyncio.run(inside())
        gc.collect()  # an un-awaited coroutine warns when it is collected
    message = str(caught.value)
    assert "await acorrect(...)" in message and "\n" not in message
    assert not [w for w in seen if "never awaited" in str(w.message)], seen
    assert asyncio.run(awaited()).stop_reason == "accepted"


def test_unknown_or_invalid_options_are_bad_input() -> None:
    with pytest.raises(BadInputError, match=r"unknown corrector option\(s\) max_tokens"):
        build_corrector(ScriptedBackend(), FunctionVerifier(is_42), max_tokens=3)
    with pytest.raises(BadInputError, match="max_revisions"):
        build_corrector(ScriptedBackend(), FunctionVerifier(is_42), max_revisions=-1)
    with pytest.raises(BadInputError, match="critic"):
        build_corrector(ScriptedBackend(), FunctionVerifier(is_42), critic="psychic")


def test_oracle_mode_feedback_comes_from_the_oracle_and_measurement_from_outside() -> None:
    class Counting(SecretOracle):
        calls = 0

        async def judge(self, context: Any, proposal: str) -> Judgement:
            Counting.calls += 1
            return await super().judge(context, proposal)

    (result,) = run(ScriptedBackend(["1", "42"]), oracle=Counting(), critic="oracle")
    # Twice as feedback inside the graph, twice as the measurement after it.
    assert Counting.calls == 4
    assert [r.feedback and r.feedback.source for r in result.rounds] == ["oracle:secret"] * 2
    assert [r.judgement and r.judgement.correctness for r in result.rounds] == [
        "incorrect", "correct"
    ]
    assert result.leaky and result.stop_reason == "accepted"


def test_one_corrector_serves_many_event_loops_with_more_items_than_its_limit() -> None:
    # A semaphore made on the first loop and reused on the next failed once more than
    # verify_concurrency verifications waited; the limits are now made per invocation.
    async def slow(_: Any, output: str) -> Verdict:
        await asyncio.sleep(0)
        return is_42(None, output)

    corrector = build_corrector(
        ScriptedBackend(["41", "42"] * 300), FunctionVerifier(slow), verify_concurrency=4
    )
    items = [Item(id=str(i), messages=(user(f"item {i}"),)) for i in range(150)]
    for _ in range(2):  # each asyncio.run is a new event loop
        state = asyncio.run(corrector.ainvoke({"items": items}))
        assert len(state["results"]) == 150


def test_synchronous_correctors_leak_no_threads() -> None:
    import threading

    build_corrector(ScriptedBackend(["42"]), FunctionVerifier(is_42)).invoke({"items": [ITEM]})
    before = threading.active_count()
    for _ in range(12):
        corrector = build_corrector(ScriptedBackend(["41", "42"]), FunctionVerifier(is_42))
        (result,) = corrector.invoke({"items": [ITEM]})["results"]
        assert result.committed_output == "42"
    # Every synchronous corrector runs on the one shared loop thread: none are added.
    assert threading.active_count() <= before
    assert sum(t.name == "redraft-corrector-loop" for t in threading.enumerate()) == 1


def test_correct_judges_after_the_graph_and_builds_the_leaky_verifier_for_oracle_mode() -> None:
    from redraft.agent import correct

    result = correct("What is 6*7?", FunctionVerifier(is_42), oracle=SecretOracle(),
                     model=ScriptedBackend(["41", "42"]))
    assert (result.initial, result.final, result.leaky) == ("incorrect", "correct", False)
    backend = ScriptedBackend(["41", "42"])
    leaky = correct("What is 6*7?", oracle=SecretOracle(), model=backend, critic="oracle")
    assert leaky.leaky and leaky.final == "correct"
    assert SECRET in backend.requests[-1].messages[-1].content
    with pytest.raises(ValueError, match="hint"):
        Item(id="x", messages=(), hint="the answer")  # type: ignore[call-arg]
