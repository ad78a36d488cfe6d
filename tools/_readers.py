"""Reading answers to dataset questions: numbers, choice letters, normalised text.

Every reader runs in time linear in its input and never raises; it reports what it read and
which liberties it took (``notes``, recorded as the verdict's ``normalised`` evidence), so a
report can count the answers read leniently.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from pydantic import JsonValue

__all__ = [
    "ChoiceRead",
    "NumberRead",
    "TextNormalisation",
    "normalise_text",
    "number_target",
    "read_choice",
    "read_number",
]

_SIGNS = "-−–"
# A number as people write one: -1,234.5, $12, 3/4, 50%. Each part is a single repetition
# of a fixed class, so matching is linear; a word character on either side rejects it
# (x2, 3rd, v1.2 read as nothing rather than as a wrong number).
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−–])?[$€£]?(?P<whole>\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
    r"(?:\.(?P<dec>\d+))?(?:/(?P<den>\d+))?(?P<pct>%)?(?!\w)(?!\.\d)"
)
_GSM8K = re.compile(r"####[ \t]*(?P<rest>[^\n]*)")
_BOXED = re.compile(r"\\boxed\{(?P<rest>[^{}\n]*)\}")
_KEYED = re.compile(r"\banswer\b(?:[ \t]*(?:is|:|=|\*))+[ \t]*(?P<rest>[^\n]*)", re.IGNORECASE)
_MAX_DIGITS = 60


@dataclass(frozen=True)
class NumberRead:
    """A number read from text, or why none was."""

    value: Fraction | None
    """The number read (exact: ``0.1`` is one tenth), or None."""
    text: str = ""
    """How it was written."""
    how: Literal["whole", "marked", "last", "none"] = "none"
    """The whole answer was the number; a marker (``####``, ``\\boxed{}``, "answer is")
    named it; or it is the last number in the text."""
    notes: tuple[str, ...] = ()
    """The liberties taken (thousands separators, a currency or percent sign, ...)."""


def _tokens(text: str) -> list[re.Match[str]]:
    return list(_NUMBER.finditer(text))


def _value(match: re.Match[str]) -> tuple[Fraction | None, tuple[str, ...]]:
    whole, dec, den = match["whole"], match["dec"], match["den"]
    if len(whole) + len(dec or "") + len(den or "") > _MAX_DIGITS:
        return None, ("too many digits",)
    notes: list[str] = []
    if "," in whole:
        notes.append("thousands separators")
    value = Fraction(whole.replace(",", "") + (f".{dec}" if dec else ""))
    if den is not None:
        if int(den) == 0:
            return None, ("division by zero",)
        value /= int(den)
    if match["sign"]:
        value = -value
    if match.group(0).lstrip(_SIGNS)[:1] in "$€£":
        notes.append("currency sign")
    if match["pct"]:
        notes.append("percent sign")
    return value, tuple(notes)


def read_number(text: str) -> NumberRead:
    r"""The number an answer gives.

    Read, in order: an answer that is one number; the number after the last ``####``
    (GSM8K's marker), in the last ``\boxed{}`` or after the last "answer is"/"answer:";
    else the last number in the text (noted as lenient).
    """
    stripped = text.strip().rstrip(".").strip()
    only = _NUMBER.fullmatch(stripped)
    if only is not None:
        value, notes = _value(only)
        return NumberRead(value, only.group(0), "whole" if value is not None else "none", notes)
    for marker in (_GSM8K, _BOXED, _KEYED):
        marks = list(marker.finditer(text))
        if marks:
            found = _tokens(marks[-1]["rest"])
            if found:
                value, notes = _value(found[0])
                if value is not None:
                    return NumberRead(value, found[0].group(0), "marked", notes)
    found = _tokens(text)
    if not found:
        return NumberRead(None)
    value, notes = _value(found[-1])
    if value is None:
        return NumberRead(None, found[-1].group(0), "none", notes)
    return NumberRead(value, found[-1].group(0), "last", ("last number in the text", *notes))


def number_target(target: JsonValue) -> Fraction | str:
    """A numeric target as an exact number, or why it is not one.

    Numbers are taken as they are (floats by their shortest decimal form, so ``0.1`` is one
    tenth); strings must hold one number (``"1,234"``, ``"3/4"``, ``"-2.5"``), or end in a
    GSM8K line ``#### N``.
    """
    if isinstance(target, bool):
        return f"{target!r} is a boolean, not a number"
    if isinstance(target, int):
        return Fraction(target)
    if isinstance(target, float):
        if not math.isfinite(target):
            return f"{target!r} is not a finite number"
        return Fraction(repr(target))
    if isinstance(target, str):
        text = target
        gsm = list(_GSM8K.finditer(text))
        if gsm:
            text = gsm[-1]["rest"]
        match = _NUMBER.fullmatch(text.strip())
        if match is not None:
            value, notes = _value(match)
            if value is not None:
                return value
            return f"{target[:60]!r} is not a usable number ({', '.join(notes)})"
        return f"{target[:60]!r} is not a number"
    return f"a {_kind(target)} is not a number"


def _kind(value: JsonValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "JSON object"
    return type(value).__name__


@dataclass(frozen=True)
class ChoiceRead:
    """A choice letter read from an answer, or why none was."""

    status: Literal["ok", "unparseable", "illegal", "ambiguous"]
    """``ok``; or no letter; a letter that names no choice; several different letters."""
    letter: str | None = None
    """The letter read (``ok``), or the offending one (``illegal``)."""
    notes: tuple[str, ...] = ()
    """The liberties taken (a letter found in prose, the choice's text instead of its
    letter)."""
    found: tuple[str, ...] = ()
    """Every distinct letter found (``ambiguous``)."""


# "B", "(B)", "B.", "B)", "**B**", "B: Paris", "B. Paris", "b)"; not "A bird" (an article).
_LEAD = re.compile(r"^[\s*_`(\[]*(?P<letter>[A-Za-z])(?:[)\].:]|[*_`]*\s*$)")
_ANSWER_IS = re.compile(
    # One star per repetition, none in the class after it: a row of stars splits one way.
    r"\b(?:answer|choice|option)\b(?:[ \t]*(?:is|:|=|\*))+[ \t]*[(\[_`]*(?P<letter>[A-Z])\b"
)
_LONE = re.compile(r"(?<![A-Za-z'])\(?(?P<letter>[A-Z])\)?(?![A-Za-z'])")


def read_choice(text: str, choices: tuple[str, ...]) -> ChoiceRead:
    """The choice an answer picks, as a letter (A for the first of ``choices``).

    Read, in order: an answer that starts with the letter (``B``, ``(B)``, ``B. Paris``);
    "answer is B"; an answer that is one choice's text (noted); the one capital letter among
    the choices' letters standing alone in the text (noted). Several different letters are
    ``ambiguous``; a letter past the last choice is ``illegal``.
    """
    letters = tuple(chr(ord("A") + i) for i in range(len(choices)))
    stripped = text.strip()
    lead = _LEAD.match(stripped)
    if lead is not None:
        letter = lead["letter"].upper()
        notes = () if letter == lead["letter"] else ("lowercase letter",)
        if letter in letters:
            return ChoiceRead("ok", letter, notes)
        if len(stripped.strip("*_`()[].: ")) == 1:
            return ChoiceRead("illegal", letter)
    keyed = list(_ANSWER_IS.finditer(text))
    if keyed:
        letter = keyed[-1]["letter"]
        return ChoiceRead("ok", letter) if letter in letters else ChoiceRead("illegal", letter)
    plain = normalise_text(stripped, TextNormalisation())
    by_text = [letters[i] for i, c in enumerate(choices)
               if normalise_text(c, TextNormalisation()) == plain]
    if plain and len(by_text) == 1:
        return ChoiceRead("ok", by_text[0], ("the choice's text, not its letter",))
    lone = list(dict.fromkeys(m["letter"] for m in _LONE.finditer(text)
                              if m["letter"] in letters and m["letter"] not in "AI"))
    # "A" and "I" are words too: taken alone only when they are the sole candidate written
    # as a label, e.g. "(A)".
    labelled = list(dict.fromkeys(m["letter"] for m in re.finditer(r"\((?P<letter>[AI])\)", text)
                                  if m["letter"] in letters))
    found = list(dict.fromkeys([*lone, *labelled]))
    if len(found) == 1:
        return ChoiceRead("ok", found[0], ("letter found in prose",))
    if len(found) > 1:
        return ChoiceRead("ambiguous", None, found=tuple(sorted(found)))
    return ChoiceRead("unparseable")


@dataclass(frozen=True)
class TextNormalisation:
    """How :func:`normalise_text` evens out two texts before they are compared."""

    case_sensitive: bool = False
    """Keep upper and lower case apart."""
    strip_punctuation: bool = True
    """Drop punctuation (Unicode category P) and symbols like ``$``."""
    collapse_whitespace: bool = True
    """Turn every run of whitespace into one space, and trim the ends."""
    strip_articles: bool = False
    """Drop the English articles a, an, the (SQuAD's normalisation)."""


_ARTICLES = re.compile(r"\b(?:a|an|the)\b", re.IGNORECASE)


def normalise_text(text: str, how: TextNormalisation) -> str:
    """``text`` in the form two answers are compared in (Unicode NFKC first)."""
    text = unicodedata.normalize("NFKC", text)
    if not how.case_sensitive:
        text = text.casefold()
    if how.strip_punctuation:
        # Dropped, not spaced (SQuAD's rule): "U.S.A." is "USA", "don't" is "dont".
        text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PS")
    if how.strip_articles:
        text = _ARTICLES.sub(" ", text)
    if how.collapse_whitespace:
        text = " ".join(text.split())
    return text
