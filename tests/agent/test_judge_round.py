"""Judging a round: the oracle sees the answer alone, and a self-corrected first answer."""

from __future__ import annotations

import asyncio
from typing import Any

from redraft.agent import RoundRecord, correct, judge_round
from redraft.agent.backends import Generation, ScriptedBackend
from redraft.tools import Judgement, Verdict


class Counting:
    """Right answer 42; the agent's state is 'global' right unless the answer is empty."""

    name = "counting-oracle"

    def __init__(self, delay: float = 0.0) -> None:
        self.seen: list[str] = []
        self.delay = delay

    async def judge(self, context: Any, proposal: str) -> Judgement:
        self.seen.append(proposal)
        if self.delay:
            await asyncio.sleep(self.delay)
        if proposal == "42":
            return Judgement(local=Verdict.accept(), global_state=Verdict.accept())
        code = "unparseable" if not proposal else "wrong_value"
        verdict = Verdict.reject(code, f"{proposal!r} is not 42")
        return Judgement(local=verdict, global_state=verdict)


def record(**fields: Any) -> RoundRecord:
    return RoundRecord(round=0, purpose="propose", messages=(), **fields)


def test_the_oracle_sees_the_answer_and_the_first_answer() -> None:
    oracle = Counting()
    rec = record(output="ANSWER: 41\nno\nANSWER: 42", answer="42", first_answer="41", answers=2)
    judgement, first = asyncio.run(judge_round(oracle, None, rec))
    assert oracle.seen == ["42", "41"]
    assert judgement.correctness == "correct"
    assert first is not None and first.correctness == "incorrect"


def test_one_answer_is_judged_once() -> None:
    oracle = Counting()
    judgement, first = asyncio.run(
        judge_round(oracle, None, record(output="x\nANSWER: 41", answer="41", first_answer="41"))
    )
    assert oracle.seen == ["41"] and first is None
    assert judgement.correctness == "incorrect"


def test_no_answer_is_incorrect_with_its_own_code_and_keeps_the_global_state() -> None:
    oracle = Counting()
    judgement, first = asyncio.run(judge_round(oracle, None, record(output="hmm\nhmm")))
    assert oracle.seen == [""]
    assert judgement.local.code == "no_answer" and judgement.correctness == "incorrect"
    assert judgement.global_correctness == "incorrect"
    assert first is None


def test_a_cut_generation_without_an_answer_is_unknown() -> None:
    rec = record(output="<think>hm", finish_reason="length", truncated=True)
    judgement, _ = asyncio.run(judge_round(Counting(), None, rec))
    assert judgement.local.code == "truncated"
    assert judgement.correctness == "unknown" and judgement.global_correctness == "unknown"


def test_a_slow_oracle_is_unknown() -> None:
    rec = record(output="42", answer="42", first_answer="42")
    judgement, _ = asyncio.run(judge_round(Counting(delay=1.0), None, rec, timeout_s=0.05))
    assert judgement.local.code == "oracle_error" and judgement.correctness == "unknown"


def test_correct_with_an_oracle_judges_both_answers() -> None:
    model = ScriptedBackend([Generation(text="41 [BACK] 42")])
    oracle = Counting()
    result = correct("6*7?", model=model, critic="none", oracle=oracle)
    (rec,) = result.rounds
    assert oracle.seen == ["42", "41"]
    assert rec.judgement is not None and rec.judgement.correctness == "correct"
    assert rec.first_judgement is not None and rec.first_judgement.correctness == "incorrect"
    assert result.committed_answer == "42" and result.committed_output == "41 [BACK] 42"


def test_an_answer_cut_at_the_token_limit_is_unknown_whatever_it_reads_as() -> None:
    # 123 cut after "ANSWER: 12": the reader finds "12", which is not the model's answer.
    wrong = record(output="ANSWER: 12", answer="12", first_answer="12", answers=1,
                   finish_reason="length", truncated=True)
    judgement, _ = asyncio.run(judge_round(Counting(), None, wrong))
    assert judgement.local.code == "truncated"
    assert judgement.local.evidence["read_code"] == "wrong_value"
    assert judgement.correctness == "unknown" and judgement.global_correctness == "unknown"
    # A cut answer that happens to read as right is not counted as right either.
    lucky = record(output="ANSWER: 42", answer="42", first_answer="42", answers=1,
                   finish_reason="length", truncated=True)
    judgement, _ = asyncio.run(judge_round(Counting(), None, lucky))
    assert judgement.local.code == "truncated" and judgement.correctness == "unknown"


def test_a_complete_answer_before_the_limit_keeps_its_judgement() -> None:
    # Cut later, in reasoning after a complete answer: the answer is the model's.
    rec = record(output="ANSWER: 41\nbecause", answer="41", first_answer="41", answers=1,
                 finish_reason="length", truncated=False)
    judgement, _ = asyncio.run(judge_round(Counting(), None, rec))
    assert judgement.local.code == "wrong_value" and judgement.correctness == "incorrect"
