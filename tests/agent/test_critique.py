"""The self-critique parser on real phrasings: an objection is never read as approval.

``accept``: the critique approves; ``reject``: it objects (``self_rejected``);
``unreadable``: no verdict can be read (``critique_unreadable``, never an acceptance).
The proposal under review is ``total: 41`` unless a case says otherwise.
"""

from __future__ import annotations

import pytest

from redraft.agent._critique import parse_critique
from redraft.agent._prompts import DEFAULT_CRITIQUE_TEMPLATE

PROPOSAL = "total: 41"

CASES: list[tuple[str, str]] = [
    # The format asked for: a verdict line decides.
    ("VERDICT: CORRECT", "accept"),
    ("VERDICT: INCORRECT", "reject"),
    ("I added 12 and 29 to get 41.\nVERDICT: CORRECT", "accept"),
    ("The previous total was 30 and 30 + 12 = 42, not 41.\nVERDICT: INCORRECT", "reject"),
    ("**Verdict:** Correct", "accept"),
    ("Final verdict - wrong", "reject"),
    ("verdict: not correct", "reject"),
    ("Is it wrong? No: 29 + 12 = 41.\nVERDICT: CORRECT", "accept"),
    ("It looks right at first.\nVERDICT: INCORRECT", "reject"),
    ("VERDICT: CORRECT\n... on second thought\nVERDICT: INCORRECT", "reject"),
    # Approvals in prose.
    ("CORRECT", "accept"),
    ("Correct.", "accept"),
    ("The answer is correct.", "accept"),
    ("Yes, that's right.", "accept"),
    ("Looks good to me.", "accept"),
    ("I checked the arithmetic and found no mistakes.", "accept"),
    ("There is nothing wrong with the answer.", "accept"),
    ("The answer is 41.", "accept"),
    ("The correct answer is 41.", "accept"),
    ("It checks out: 29 + 12 = 41.", "accept"),
    ("No errors found; the total is accurate.", "accept"),
    # Objections in prose, including the ones the old parser read as approval.
    ("INCORRECT: the carry is missing", "reject"),
    ("That isn't correct, it should be 42.", "reject"),
    ("That isn't correct, it should be 41.", "reject"),
    ("The correct answer is 42.", "reject"),
    ("The answer is 42.", "reject"),
    ("Correct answer: 42", "reject"),
    ("It should be 42.", "reject"),
    ("This is not right.", "reject"),
    ("Wrong. 29 + 12 = 42.", "reject"),
    ("Correct, but the total is off by one.", "reject"),
    ("The reasoning is correct but the final sum has an error.", "reject"),
    ("I made a mistake in the addition.", "reject"),
    ("The answer is incorrect; the total should be 42.", "reject"),
    ("Not quite: I dropped the value of B.", "reject"),
    ("The total doesn't look right to me.", "reject"),
    ("I miscalculated the sum.", "reject"),
    ("The answer needs to be fixed.", "reject"),
    ("No, that's wrong.", "reject"),
    ("Not correct.", "reject"),
    # Hedges, off-topic replies and empty critiques: no verdict.
    ("I'm not sure.", "unreadable"),
    ("It might be correct, but I cannot verify it.", "unreadable"),
    ("Probably correct.", "unreadable"),
    ("Hard to say without the table.", "unreadable"),
    ("Maybe.", "unreadable"),
    ("", "unreadable"),
    ("   ", "unreadable"),
    ("Let me think about this step by step.", "unreadable"),
    ("The table has ten keys.", "unreadable"),
    ("I think it is right.", "unreadable"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_critique_phrasings(text: str, expected: str) -> None:
    verdict = parse_critique(text, proposal=PROPOSAL)
    got = "accept" if verdict.ok else (
        "reject" if verdict.code == "self_rejected" else "unreadable"
    )
    assert got == expected, (text, verdict)
    if expected == "unreadable":
        assert verdict.code == "critique_unreadable"
    assert verdict.source == "self"


def test_the_table_is_large_and_balanced() -> None:
    kinds = [expected for _, expected in CASES]
    assert len(CASES) >= 40
    assert min(kinds.count("accept"), kinds.count("reject"), kinds.count("unreadable")) >= 10


def test_a_correction_needs_the_proposal_to_be_read() -> None:
    # Without the proposal, "the answer is X" cannot be told from an approval.
    assert parse_critique("The correct answer is 41.").code == "critique_unreadable"
    # Multi-part answers compare as word sequences.
    assert parse_critique("The answer is digit 7, carry 1.", proposal="digit 7, carry 1").ok
    verdict = parse_critique("The answer is digit 7, carry 0.", proposal="digit 7, carry 1")
    assert verdict.code == "self_rejected"


def test_objection_message_is_the_reasoning_not_the_verdict_line() -> None:
    verdict = parse_critique("30 + 12 = 42, not 41.\nVERDICT: INCORRECT", proposal=PROPOSAL)
    assert verdict.message == "30 + 12 = 42, not 41."
    bare = parse_critique("VERDICT: INCORRECT", proposal=PROPOSAL)
    assert bare.message == "Your own review judged the answer incorrect."


def test_the_template_asks_for_the_verdict_line() -> None:
    assert "VERDICT: CORRECT" in DEFAULT_CRITIQUE_TEMPLATE
    assert "VERDICT: INCORRECT" in DEFAULT_CRITIQUE_TEMPLATE
