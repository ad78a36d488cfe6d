"""Reading a self-critique: did the model approve its own answer?"""

from __future__ import annotations

import re

from redraft.tools import Verdict

__all__ = ["parse_critique"]

_APPROVE = re.compile(r"\bCORRECT\b", re.IGNORECASE)
_OBJECT = re.compile(r"\b(INCORRECT|WRONG|NOT CORRECT|MISTAKE|ERROR)\b", re.IGNORECASE)


def parse_critique(text: str, source: str = "self") -> Verdict:
    """Turn a critique into a verdict.

    The answer is accepted only when the critique approves (says CORRECT) before raising
    any objection. A critique that neither approves nor objects does not approve: a critic
    that cannot confirm an answer asks for a revision.
    """
    approve = _APPROVE.search(text)
    objection = _OBJECT.search(text)
    if approve and (objection is None or approve.start() < objection.start()):
        return Verdict.accept(source=source)
    message = text.strip()[:1000] or "Your own review did not confirm the answer."
    return Verdict.reject("self_rejected", message, source=source)
