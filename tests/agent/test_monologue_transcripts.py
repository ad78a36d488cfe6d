"""Inner monologue through the corrector: per extraction path, what the verifier saw, what
the next request showed, and what the round record (the logged round) holds."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from redraft.agent import Correction, Item, RoundRecord
from redraft.agent._correct import arun_items
from redraft.agent._prompts import DEFAULT_MONOLOGUE_CRITIQUE_TEMPLATE, DEFAULT_MONOLOGUE_TEMPLATE
from redraft.agent.backends import Generation, Message, ScriptedBackend
from redraft.core import BadInputError, Cost
from redraft.tools import FunctionVerifier, Verdict

PROMPT = "What is 6*7? Answer with a number."
ITEM = Item(id="q", messages=(Message(role="user", content=PROMPT),))


class Recorder:
    """A verifier that accepts 42 and remembers every proposal it was shown."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.verifier = FunctionVerifier(self._check, name="is42")

    def _check(self, _: Any, proposal: str) -> Verdict:
        self.seen.append(proposal)
        if proposal.strip() == "42":
            return Verdict.accept()
        return Verdict.reject("wrong_value", f"{proposal.strip()!r} is not 6 times 7")


def run(outputs: list[Any], **config: Any) -> tuple[Correction, Recorder, ScriptedBackend]:
    backend = ScriptedBackend(outputs)
    recorder = Recorder()
    config.setdefault("critic", "tool")
    config.setdefault("max_revisions", 2)
    (result,) = asyncio.run(arun_items(backend, [ITEM], recorder.verifier, **config))
    backend.assert_done()
    return result, recorder, backend


def logged(record: RoundRecord) -> dict[str, Any]:
    """The record as the event log writes it."""
    data: dict[str, Any] = json.loads(record.model_dump_json())
    return data


def test_plain_output_is_the_answer() -> None:
    result, recorder, backend = run(["42"])
    assert recorder.seen == ["42"]
    record = logged(result.rounds[0])
    assert record["output"] == "42"
    assert (record["answer"], record["first_answer"], record["answers"]) == ("42", "42", 1)
    assert record["reasoning"] is None
    assert record["reasoning_usage"]["completion_tokens"] == 0
    assert backend.requests[0].messages[-1].content == PROMPT  # no monologue asked
    assert not backend.requests[0].monologue


def test_think_block_is_reasoning_and_left_out_of_the_revision_prompt() -> None:
    result, recorder, backend = run(
        [
            Generation(text="<think>6*7 is 6*6+6 = 41</think>41", usage=Cost(completion_tokens=12)),
            "<think>6*6 = 36, + 6 = 42</think>42",
        ]
    )
    assert recorder.seen == ["41", "42"]
    first = logged(result.rounds[0])
    assert first["output"] == "<think>6*7 is 6*6+6 = 41</think>41"
    assert first["answer"] == "41"
    assert first["reasoning"] == "6*7 is 6*6+6 = 41"
    assert 0 < first["reasoning_usage"]["completion_tokens"] < 12
    assert first["feedback"]["code"] == "wrong_value"
    revision = backend.requests[1].messages
    assert revision[1] == Message(role="assistant", content="41")
    assert backend.requests[1].previous == "41"
    assert result.rounds[1].answer == "42" and result.stop_reason == "accepted"


def test_reasoning_field_is_costed_with_the_servers_count() -> None:
    generation = Generation(
        text="42",
        reasoning="6 sevens: 7, 14, 21, 28, 35, 42.",
        reasoning_tokens=30,
        usage=Cost(completion_tokens=31),
    )
    result, recorder, _ = run([generation])
    assert recorder.seen == ["42"]
    record = logged(result.rounds[0])
    assert record["reasoning"] == "6 sevens: 7, 14, 21, 28, 35, 42."
    assert record["reasoning_usage"]["completion_tokens"] == 30
    assert record["usage"]["completion_tokens"] == 31  # usage is the whole generation


def test_monologue_asks_for_reasoning_and_the_marked_line_is_checked() -> None:
    result, recorder, backend = run(
        ["6*7: 6*7 = 42.\nANSWER: 42"], monologue=True, monologue_max_tokens=200
    )
    request = backend.requests[0]
    assert request.monologue
    assert request.params.max_tokens == 200
    assert request.messages[-1].content == f"{PROMPT}\n\n{DEFAULT_MONOLOGUE_TEMPLATE}"
    assert recorder.seen == ["42"]
    record = logged(result.rounds[0])
    assert record["answer"] == "42" and record["reasoning"] == "6*7: 6*7 = 42."


def test_an_item_refines_the_monologue_template() -> None:
    backend = ScriptedBackend(["x\nANSWER: 42"])
    item = ITEM.model_copy(update={"monologue_template": "Think, then write ANSWER: n."})
    asyncio.run(arun_items(backend, [item], Recorder().verifier, monologue=True))
    assert backend.requests[0].messages[-1].content == f"{PROMPT}\n\nThink, then write ANSWER: n."


@pytest.mark.parametrize(
    "output",
    [
        "6*7 = 41.\nANSWER: 41\nWait: 6*7 = 42.\nANSWER: 42",
        "41 [BACK] 42",
        "ANSWER: 41\n[BACK]\nANSWER: 42",
    ],
)
def test_a_correction_inside_one_generation(output: str) -> None:
    result, recorder, _ = run([output], monologue=True)
    assert recorder.seen == ["42"]  # only the last answer
    record = logged(result.rounds[0])
    assert (record["first_answer"], record["answer"], record["answers"]) == ("41", "42", 2)
    assert "41" in record["reasoning"]
    assert result.revisions == 0  # corrected inside the generation, not by a revision


def test_reasoning_without_an_answer_is_no_answer_and_the_verifier_is_not_asked() -> None:
    result, recorder, backend = run(
        ["Let me think.\n6*7 is six sevens.", "Six sevens.\nANSWER: 42"], monologue=True
    )
    assert recorder.seen == ["42"]  # round 0 had nothing to check
    first = logged(result.rounds[0])
    assert first["answer"] is None and first["first_answer"] is None
    assert first["reasoning"] == "Let me think.\n6*7 is six sevens."
    assert first["feedback"]["code"] == "no_answer"
    assert not first["truncated"]
    revision = backend.requests[1].messages
    assert "has no answer" in revision[-1].content
    assert revision[-1].content.endswith(DEFAULT_MONOLOGUE_TEMPLATE)
    assert result.stop_reason == "accepted"


def test_a_think_block_cut_at_the_token_limit_is_recorded_as_truncated() -> None:
    cut = Generation(
        text="<think>6*7: 6+6+6+6", finish_reason="length", usage=Cost(completion_tokens=64)
    )
    result, recorder, _ = run([cut, "42"])
    assert recorder.seen == ["42"]
    first = logged(result.rounds[0])
    assert first["truncated"] and first["answer"] is None
    assert first["feedback"]["code"] == "truncated"
    assert first["reasoning_usage"]["completion_tokens"] == 64


def test_critique_monologue_reads_only_the_verdict_line() -> None:
    # The reasoning says "correct" twice; the verdict line objects: not an approval.
    result, recorder, backend = run(
        [
            "6*7\nANSWER: 42",
            "Is 42 correct? 6*7 = 42 looks correct at first.\nVERDICT: INCORRECT: recheck",
            "6*7 again\nANSWER: 42",
            "Checked twice: wrong? No.\nVERDICT: CORRECT",
        ],
        critic="self",
        monologue=True,
    )
    critique_request = backend.requests[1]
    assert critique_request.purpose == "critique"
    assert critique_request.messages[-1].content == DEFAULT_MONOLOGUE_CRITIQUE_TEMPLATE
    assert critique_request.messages[-2].content == "6*7\nANSWER: 42"
    assert recorder.seen == []  # the self critic uses no tool
    assert [r.feedback.ok for r in result.rounds if r.feedback] == [False, True]
    assert result.rounds[0].feedback is not None
    assert result.rounds[0].feedback.code == "self_rejected"


def test_critique_monologue_without_a_verdict_line_does_not_approve() -> None:
    result, _, _ = run(
        ["ANSWER: 42", "It is correct, I am sure it is correct."],
        critic="self",
        monologue=True,
        max_revisions=0,
    )
    feedback = result.rounds[0].feedback
    assert feedback is not None and not feedback.ok


def test_a_jsonl_script_can_hold_whole_generations(tmp_path: Any) -> None:
    script = tmp_path / "script.jsonl"
    script.write_text(
        '{"text": "<think>6*7 = 6+6+", "finish_reason": "length"}\n'
        '{"text": "42", "reasoning": "six sevens"}\n'
    )
    backend = ScriptedBackend.from_spec(str(script))
    recorder = Recorder()
    (result,) = asyncio.run(arun_items(backend, [ITEM], recorder.verifier, max_revisions=1))
    assert recorder.seen == ["42"]
    assert [r.truncated for r in result.rounds] == [True, False]
    assert [r.reasoning for r in result.rounds] == ["6*7 = 6+6+", "six sevens"]


def test_constrained_decoding_leaves_no_room_for_a_monologue() -> None:
    with pytest.raises(BadInputError, match="no room for a monologue"):
        run([], critic="constrained", monologue=True)
