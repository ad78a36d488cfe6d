"""Finding whole numbers in free text: ``1,234``, ``-5``, ``−5``; never raises."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_DIGITS", "NumberToken", "find_numbers"]

MAX_DIGITS = 15
"""Longer digit runs are reported as ``too_long`` rather than converted."""

_NUMBER_RE = re.compile(
    r"(?<![\w.])(?<!\d,)(?P<sign>[-−–](?=\d))?(?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?!\w|,\d|\.\d)"
)


@dataclass(frozen=True)
class NumberToken:
    """A number found in text."""

    text: str
    """As written."""
    start: int
    """Offset of the token in the text."""
    end: int
    """Offset just past the token."""
    value: int | None
    """The whole value; None when fractional or too long."""
    fractional: bool = False
    """Written with a fractional part (``12.5``)."""
    too_long: bool = False
    """More than :data:`MAX_DIGITS` digits."""
    grouped: bool = False
    """Written with thousands separators (``1,234``)."""


def find_numbers(text: str) -> list[NumberToken]:
    """Every number in ``text``, in order."""
    found = []
    for m in _NUMBER_RE.finditer(text):
        digits = m["digits"].replace(",", "")
        frac = m["frac"] is not None
        too_long = len(digits) > MAX_DIGITS
        value = None
        if not frac and not too_long:
            value = int(digits) * (-1 if m["sign"] else 1)
        found.append(NumberToken(
            text=m.group(0), start=m.start(), end=m.end(), value=value, fractional=frac,
            too_long=too_long, grouped="," in m["digits"],
        ))
    return found
