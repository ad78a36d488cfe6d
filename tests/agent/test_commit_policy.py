"""The commit policy: which round's answer a step commits, in every critic mode.

Each case is a scripted transcript, asserted whole: the requests the backend saw, every
round's output and each critic's verdict, the committed round and the oracle's outcome.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from redraft.agent import CommitPolicy, Correction, CriticMode, Item, ajudge_correction, correct
from redraft.agent._correct import arun_items
from redraft.agent._prompts import DEFAULT_CRITIQUE_TEMPLATE
from redraft.agent._records import CRITIC_MODES
from redraft.agent.backends import Constraint, Message, ScriptedBackend
from redraft.tools import FunctionVerifier, Judgement, Verdict, oracle_as_verifier


def is_42(_: Any, output: str) -> Verdict:
    if output.strip() == "42":
        return Verdict.accept()
    return Verdict.reject("wrong_value", f"{output.strip()!r} is not 6 times 7")


class Truth:
    """The oracle: 42 is right."""

    name = "truth"

    async def judge(self, context: Any, proposal: str) -> Judgement:
        if proposal.strip() == "42":
            return Judgement(local=Verdict.accept())
        return Judgement(local=Verdict.reject("wrong_value", f"{proposal!r} is not 42"))


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str) -> Message:
    return Message(role="assistant", content=text)


PROMPT = (user("What is 6*7? Answer with a number."),)
REVISE = "Your answer was checked and rejected:\n{}\nGive a corrected answer, in the same " \
    "format as asked."
CRITIQUE = (*PROMPT, assistant("{}"), user(DEFAULT_CRITIQUE_TEMPLATE))


def critique_of(answer: str) -> tuple[Message, ...]:
    return (*PROMPT, assistant(answer), user(DEFAULT_CRITIQUE_TEMPLATE))


def fix(after: str, message: str) -> tuple[Message, ...]:
    return (*PROMPT, assistant(after), user(REVISE.format(message)))


def code(verdict: Verdict | None) -> str | None:
    return None if verdict is None else verdict.code


def transcript(result: Correction) -> list[tuple[object, ...]]:
    """Every round: number, purpose, output, feedback, tool's and self critique's verdicts."""
    return [
        (r.round, r.purpose, r.output, code(r.feedback), code(r.tool_verdict),
         code(r.self_verdict))
        for r in result.rounds
    ]


def run(critic: CriticMode, policy: CommitPolicy, outputs: list[str]) -> tuple[
    Correction, ScriptedBackend
]:
    backend = ScriptedBackend(outputs)
    oracle = Truth()
    verifier: Any = FunctionVerifier(is_42, name="is42")
    if critic == "oracle":
        verifier = oracle_as_verifier(oracle)
    elif critic in ("none", "self"):
        verifier = None
    item = Item(id="q", messages=PROMPT,
                constraint=Constraint(kind="choice", choices=("41", "42", "43")))

    async def go() -> Correction:
        (result,) = await arun_items(backend, [item], verifier, critic=critic, max_revisions=1,
                                     commit_policy=policy)
        return await ajudge_correction(result, oracle, None)

    result = asyncio.run(go())
    backend.assert_done()
    return result, backend


# critic -> (script, requests the backend saw, rounds, stop reason)
SCRIPTS: dict[str, tuple[list[str], list[tuple[str, tuple[Message, ...]]],
                         list[tuple[object, ...]], str]] = {
    "none": (
        ["41"],
        [("propose", PROMPT)],
        [(0, "propose", "41", None, None, None)],
        "no_critic",
    ),
    "self": (
        ["41", "VERDICT: INCORRECT", "43", "VERDICT: INCORRECT"],
        [("propose", PROMPT), ("critique", critique_of("41")),
         ("revise", (*PROMPT, assistant("41"),
                     user(REVISE.format("Your own review judged the answer incorrect.")))),
         ("critique", critique_of("43"))],
        [(0, "propose", "41", "self_rejected", None, None),
         (1, "revise", "43", "self_rejected", None, None)],
        "rounds_exhausted",
    ),
    "tool": (
        ["41", "43"],
        [("propose", PROMPT), ("revise", fix("41", "'41' is not 6 times 7"))],
        [(0, "propose", "41", "wrong_value", None, None),
         (1, "revise", "43", "wrong_value", None, None)],
        "rounds_exhausted",
    ),
    # The case: the tool accepts 42, the self critique objects, and the revision 41
    # is rejected by the tool.
    "self+tool": (
        ["42", "VERDICT: INCORRECT", "41"],
        [("propose", PROMPT), ("critique", critique_of("42")),
         ("revise", (*PROMPT, assistant("42"),
                     user(REVISE.format("Your own review judged the answer incorrect."))))],
        [(0, "propose", "42", "self_rejected", "ok", "self_rejected"),
         (1, "revise", "41", "wrong_value", "wrong_value", None)],
        "rounds_exhausted",
    ),
    "resample": (
        ["41", "43"],
        [("propose", PROMPT), ("resample", PROMPT)],
        [(0, "propose", "41", "wrong_value", None, None),
         (1, "resample", "43", "wrong_value", None, None)],
        "rounds_exhausted",
    ),
    "constrained": (
        ["41", "42"],
        [("propose", PROMPT), ("revise", fix("41", "'41' is not 6 times 7"))],
        [(0, "propose", "41", "wrong_value", None, None),
         (1, "revise", "42", "ok", None, None)],
        "accepted",
    ),
    "oracle": (
        ["41", "42"],
        [("propose", PROMPT), ("revise", fix("41", "'41' is not 42"))],
        [(0, "propose", "41", "wrong_value", None, None),
         (1, "revise", "42", "ok", None, None)],
        "accepted",
    ),
}

# (critic, policy) -> (committed round, fallback, outcome)
COMMITS: dict[tuple[str, str], tuple[int, bool, str]] = {
    ("none", "last"): (0, False, "stayed_wrong"),
    ("none", "last_accepted"): (0, False, "stayed_wrong"),  # nothing to accept without a critic
    ("self", "last"): (1, False, "stayed_wrong"),
    ("self", "last_accepted"): (1, True, "stayed_wrong"),
    ("tool", "last"): (1, False, "stayed_wrong"),
    ("tool", "last_accepted"): (1, True, "stayed_wrong"),
    ("self+tool", "last"): (1, False, "harmed"),
    ("self+tool", "last_accepted"): (0, False, "kept_right"),
    ("resample", "last"): (1, False, "stayed_wrong"),
    ("resample", "last_accepted"): (1, True, "stayed_wrong"),
    ("constrained", "last"): (1, False, "recovered"),
    ("constrained", "last_accepted"): (1, False, "recovered"),
    ("oracle", "last"): (1, False, "recovered"),
    ("oracle", "last_accepted"): (1, False, "recovered"),
}


def test_every_critic_mode_has_a_script() -> None:
    assert set(SCRIPTS) == set(CRITIC_MODES)


@pytest.mark.parametrize("policy", ["last", "last_accepted"])
@pytest.mark.parametrize("critic", CRITIC_MODES)
def test_each_critic_mode_and_commit_policy(critic: CriticMode, policy: CommitPolicy) -> None:
    outputs, requests, rounds, stop = SCRIPTS[critic]
    result, backend = run(critic, policy, outputs)
    assert [(r.purpose, r.messages) for r in backend.requests] == requests
    assert transcript(result) == rounds
    assert result.stop_reason == stop
    committed_round, fallback, outcome = COMMITS[(critic, policy)]
    assert (result.commit_policy, result.committed_round, result.commit_fallback) == (
        policy, committed_round, fallback
    )
    assert result.committed_answer == result.rounds[committed_round].answer
    assert result.outcome == outcome


def test_the_tool_acceptance_is_committed_over_a_rejected_revision() -> None:
    # max_revisions=1: the tool accepts 42, the critique says INCORRECT, the tool rejects the
    # revision 41. Committing the last round turns a right answer into an error; the
    # default, last_accepted, keeps 42, and the log shows both critics' verdicts on it.
    def script() -> ScriptedBackend:
        return ScriptedBackend(["42", "VERDICT: INCORRECT", "41"])

    verifier = FunctionVerifier(is_42, name="is42")
    last = correct("What is 6*7?", verifier, model=script(), critic="self+tool",
                   max_revisions=1, oracle=Truth(), commit_policy="last")
    assert (last.committed_answer, last.outcome) == ("41", "harmed")
    kept = correct("What is 6*7?", verifier, model=script(), critic="self+tool",
                   max_revisions=1, oracle=Truth())
    assert kept.commit_policy == "last_accepted"
    assert (kept.committed_answer, kept.committed_output, kept.committed_round, kept.outcome) == (
        "42", "42", 0, "kept_right"
    )
    first = kept.rounds[0]
    assert first.tool_verdict is not None and first.tool_verdict.ok
    assert first.tool_verdict.source == "is42"
    assert first.self_verdict is not None and first.self_verdict.code == "self_rejected"
    assert first.feedback == first.self_verdict  # what the loop saw
