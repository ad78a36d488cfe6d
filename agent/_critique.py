"""Reading a self-critique: did the model approve its own answer, object, or say nothing clear?

The critique template asks for a last line ``VERDICT: CORRECT`` or ``VERDICT: INCORRECT``
(decoding is constrained to exactly those two lines where the backend can). The parser's
rules, in order:

1. **A verdict line decides.** The last line of the form ``VERDICT: CORRECT`` /
   ``VERDICT: INCORRECT`` (any case, markdown stripped; also ``Final verdict - wrong``,
   ``VERDICT: NOT CORRECT``) is the verdict, whatever the text before it says: it is the
   format asked for, and reasoning may weigh objections it then dismisses.
2. Otherwise the prose is read, and **an objection always wins**: any objection makes the
   verdict a rejection, even beside approving words ("Correct, but the carry is wrong").
   Objections are negated approvals ("isn't correct", "not right"), error words
   ("incorrect", "wrong", "mistake", "error", "miscalculated", "off by"), and corrections
   ("should be X", "the correct answer is X", "the answer is X") naming an answer that
   differs from the proposal. A correction that names the proposal's own answer ("The
   answer is 41." when the proposal says ``total: 41``) is an approval. Negated error
   words ("no mistakes", "nothing wrong", "not wrong") are approvals.
3. **Hedges are not approvals.** Uncertainty ("I'm not sure", "might be", "cannot verify",
   "probably", "hard to say") without an objection gives ``critique_unreadable``.
4. Approvals ("correct", "right", "looks good", "yes", "accurate", "no mistakes") with no
   objection and no hedge accept.
5. Anything else (empty, off-topic, a correction when the proposal is unknown) is
   ``critique_unreadable``: its own code, never an acceptance. Like a rejection it asks for
   a revision, but the statistics count it as no verdict, not as a flag.
"""

from __future__ import annotations

import re

from redraft.tools import Verdict

__all__ = ["CRITIQUE_VERDICTS", "parse_critique"]

CRITIQUE_VERDICTS = ("VERDICT: CORRECT", "VERDICT: INCORRECT")
"""The two verdict lines; the choice a constrained critique decodes into."""

_MARKUP = re.compile(r"[*_`#>]+")
_VERDICT_LINE = re.compile(
    r"^\s*(?:final\s+|my\s+)?verdict\s*(?::|-|–|=|is)?\s*"
    r"(?P<neg>not\s+|in)?(?P<word>correct|right|wrong|accepted|rejected|valid|invalid|"
    r"approved?|yes|no)\b",
    re.IGNORECASE | re.MULTILINE,
)
_REJECT_WORDS = {"wrong", "rejected", "invalid", "no"}

_NEGATED_APPROVAL = re.compile(
    r"\b(?:not|isn'?t|is\s+not|wasn'?t|was\s+not|aren'?t|are\s+not|doesn'?t\s+look|"
    r"does\s+not\s+look|doesn'?t\s+seem|does\s+not\s+seem|hardly|far\s+from|never)\s+"
    r"(?:quite\s+|entirely\s+|fully\s+|completely\s+|totally\s+|exactly\s+|actually\s+)?"
    r"(?:correct|right|accurate|valid|ok(?:ay)?|good)\b",
    re.IGNORECASE,
)
_NEGATED_ERROR = re.compile(
    r"\b(?:no|not\s+any|without\s+(?:any\s+)?|nothing|zero|free\s+of|isn'?t|is\s+not|not)\s+"
    r"(?:obvious\s+|apparent\s+|visible\s+)?"
    r"(?:mistakes?|errors?|issues?|problems?|wrong|incorrect|flaws?)\b"
    r"|\bnothing\s+(?:is\s+)?wrong\b|\bnothing\s+to\s+(?:fix|correct)\b",
    re.IGNORECASE,
)
_ERROR_WORDS = re.compile(
    r"\b(?:incorrect|wrong|mistaken|mistakes?|errors?|erroneous|miscalculat\w*|"
    r"off\s+by|inaccurate|invalid|illegal|flawed|not\s+quite|typo|"
    r"needs?\s+(?:to\s+be\s+)?(?:fix|fixed|fixing|correct(?:ed|ion)|revis\w*|chang\w*))\b",
    re.IGNORECASE,
)
# "the correct answer is X", "the answer should be X", "it should be X", "answer: X".
_STATED = re.compile(
    r"(?:\b(?:the\s+)?(?:correct|right|true|actual|real)\s+"
    r"(?:answer|result|value|total|sum|move|state|digit|carry)\s*(?:is|would\s+be|should\s+be|"
    r"=|:)\s*"
    r"|\b(?:the\s+)?(?:answer|result|total|sum)\s+(?:is|should\s+be|would\s+be|must\s+be|=|:)\s*"
    r"|\b(?:it|this|that)\s+should\s+(?:have\s+been|be)\s*"
    r"|\bshould\s+(?:have\s+been|be)\s*"
    r"|\binstead\s+of\s+[^,.;]+,\s*(?:it\s+is|use)\s*)"
    r"(?P<x>[^\n.;!?]*(?:\.\d+[^\n.;!?]*)*)",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:not\s+(?:entirely\s+|completely\s+|fully\s+|100%\s+)?(?:sure|certain)|unsure|"
    r"uncertain|can'?t\s+(?:verify|tell|be\s+sure|confirm)|cannot\s+(?:verify|tell|be\s+sure|"
    r"confirm)|unable\s+to\s+(?:verify|confirm|check)|don'?t\s+know|do\s+not\s+know|"
    r"hard\s+to\s+(?:say|tell)|difficult\s+to\s+(?:say|tell)|probably|possibly|perhaps|maybe|"
    r"might\s+(?:be|not)|may\s+(?:be|not)|could\s+be|i\s+(?:think|guess|believe|suspect)|"
    r"not\s+(?:able|possible)\s+to\s+(?:say|tell|verify))\b",
    re.IGNORECASE,
)
_APPROVAL = re.compile(
    r"\b(?:correct|right|accurate|valid|verified|confirmed|looks\s+good|all\s+good|"
    r"checks\s+out|is\s+fine|yes|approved?|agree|no\s+changes?\s+needed|nothing\s+to\s+change|"
    r"well\s+done|spot\s+on|good)\b",
    re.IGNORECASE,
)
_ASSESSMENT = re.compile(
    r"^(?:not\s+|quite\s+|also\s+|still\s+|indeed\s+|now\s+)*(?:correct|right|wrong|incorrect|"
    r"fine|accurate|inaccurate|valid|invalid|ok(?:ay)?|good|bad|off|mistaken|true|false|"
    r"unclear|uncertain)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+(?:[.,:][0-9]+)*", re.IGNORECASE)


def _tokens(text: str) -> list[str]:
    return [t.lower().replace(",", "") for t in _WORD.findall(text)]


def _same_answer(stated: str, proposal: str) -> bool:
    """True when ``stated`` names the proposal's own answer.

    Equal word sequences, or one contained in the other as whole words ("41" in
    "total: 41"; "digit 7, carry 1" in "The answer is digit 7, carry 1").
    """
    a, b = _tokens(stated), _tokens(proposal)
    if not a or not b:
        return False
    if len(a) > len(b):
        a, b = b, a
    return any(b[i : i + len(a)] == a for i in range(len(b) - len(a) + 1))


def _verdict_line(text: str) -> bool | None:
    """The last verdict line's decision: True approve, False object, None no such line."""
    matches = list(_VERDICT_LINE.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    word = last["word"].lower()
    negated = last["neg"] is not None
    approve = word not in _REJECT_WORDS
    return approve != negated


def _reject(code: str, message: str, source: str, reason: str, text: str) -> Verdict:
    return Verdict.reject(code, message, source=source, evidence={"read": reason,
                                                                   "critique": text[:1000]})


def parse_critique(text: str, source: str = "self", proposal: str | None = None) -> Verdict:
    """Turn a self-critique into a verdict (rules in the module docstring).

    Args:
        text: the critique as generated.
        source: the verdict's source name.
        proposal: the output being critiqued; a correction naming an answer is an
            objection only if that answer differs from this one.

    Returns:
        ``ok`` (approval), ``self_rejected`` (objection) or ``critique_unreadable``.
    """
    clean = _MARKUP.sub("", text).replace("’", "'").strip()
    reasons = _VERDICT_LINE.sub("", clean).strip()
    objection_message = reasons[:1000] or "Your own review judged the answer incorrect."
    unreadable_message = (
        "Your own review of the answer gave no clear verdict; check the answer again."
    )
    decided = _verdict_line(clean)
    if decided is True:
        return Verdict.accept(source=source, evidence={"read": "verdict_line"})
    if decided is False:
        return _reject("self_rejected", objection_message, source, "verdict_line", text)
    if not clean:
        return _reject("critique_unreadable", unreadable_message, source, "empty", text)

    prose = clean
    stated_differs = False
    stated_same = False
    stated_unknown = False
    for match in _STATED.finditer(prose):
        stated = match["x"].strip()
        if not stated or _ASSESSMENT.match(stated):  # "the answer is correct" judges
            continue
        if proposal is None:
            stated_unknown = True
        elif _same_answer(stated, proposal):
            stated_same = True
        else:
            stated_differs = True
    # Phrases that quote an answer must not count as approving words ("correct answer").
    prose = _STATED.sub(
        lambda m: m.group(0) if _ASSESSMENT.match(m["x"].strip()) else " ", prose
    )
    if _NEGATED_APPROVAL.search(prose):
        return _reject("self_rejected", objection_message, source, "negated_approval", text)
    negated_errors = bool(_NEGATED_ERROR.search(prose))
    prose = _NEGATED_ERROR.sub(" ", prose)
    if _ERROR_WORDS.search(prose):
        return _reject("self_rejected", objection_message, source, "error_word", text)
    if stated_differs:
        return _reject("self_rejected", objection_message, source, "different_answer", text)
    if _HEDGE.search(prose):
        return _reject("critique_unreadable", unreadable_message, source, "hedge", text)
    if stated_unknown and not stated_same:
        return _reject("critique_unreadable", unreadable_message, source,
                       "answer_without_proposal", text)
    if stated_same or negated_errors or _APPROVAL.search(prose):
        return Verdict.accept(source=source, evidence={"read": "approval"})
    return _reject("critique_unreadable", unreadable_message, source, "no_verdict", text)
