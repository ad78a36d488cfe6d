"""Format verifiers: feedback on an answer's form, from what the agent was shown.

Each checks only what a scorer needs of an answer (a number, a letter, JSON, a pattern's
match, a short answer) against the verifier context (:class:`~redraft.tools.AnswerContext`:
the question, the choices), never the target, so its feedback leaks nothing. Each answer
scorer of :mod:`redraft.tools.answers` names its own (``format_verifier()``), built with the
same reading, so the feedback never rejects an answer the scorer would judge right.
"""

from __future__ import annotations

import re

from redraft.core import BadInputError
from redraft.tools._readers import read_choice, read_number
from redraft.tools._verdict import Verdict
from redraft.tools.schema import extract_json

__all__ = ["AnswerVerifier", "ChoiceVerifier", "JsonVerifier", "NumberVerifier", "RegexVerifier"]

MARKER_HINT = "End your reply with a line 'ANSWER: <your answer>'."
"""How every format verifier asks for the answer line."""


class AnswerVerifier:
    """Feedback on an answer's form alone: there is one, and it is short.

    Args:
        max_chars: the longest answer taken (a paragraph is rarely the short answer asked).
    """

    def __init__(self, max_chars: int = 300) -> None:
        if max_chars < 1:
            raise BadInputError(f"answer verifier: max_chars must be at least 1, not {max_chars}")
        self.max_chars = max_chars
        self.name = "answer"

    async def verify(self, context: object, proposal: str) -> Verdict:
        """Accept any non-empty answer of at most ``max_chars`` characters."""
        text = proposal.strip()
        if not text:
            return Verdict.reject("unparseable", f"Your answer is empty. {MARKER_HINT}")
        if len(text) > self.max_chars:
            return Verdict.reject(
                "invalid_syntax",
                f"Your answer is {len(text)} characters long; give only the short answer "
                f"(at most {self.max_chars} characters). {MARKER_HINT}",
            )
        return Verdict.accept()


class NumberVerifier:
    r"""Feedback on an answer that must give a number.

    Args:
        strict: the answer must be one number (or one marked by ``####``, ``\boxed{}`` or
            "answer is"); a number picked out of prose is ``invalid_syntax``.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.name = "number"

    async def verify(self, context: object, proposal: str) -> Verdict:
        """Accept an answer :func:`read_number` reads a number from."""
        read = read_number(proposal)
        if read.value is None:
            why = f" ({', '.join(read.notes)})" if read.notes else ""
            return Verdict.reject(
                "unparseable", f"No number found in your answer{why}. {MARKER_HINT}")
        if self.strict and read.how == "last":
            return Verdict.reject(
                "invalid_syntax", f"Give the number alone, not in a sentence. {MARKER_HINT}",
                evidence={"read": read.text, "lenient": True})
        return Verdict.accept(evidence={"read": read.text, "lenient": read.how == "last",
                                        "normalised": list(read.notes)})


def _choices(context: object) -> tuple[str, ...]:
    choices = getattr(context, "choices", ())
    return tuple(choices) if isinstance(choices, tuple | list) else ()


def span(letters: tuple[str, ...]) -> str:
    """The letters as a range for a message: ``A-D``, ``A or B``."""
    return f"{letters[0]}-{letters[-1]}" if len(letters) > 2 else " or ".join(letters)


class ChoiceVerifier:
    """Feedback on a multiple-choice answer: one letter that names a choice.

    Args:
        strict: take only the letter itself (``B``, ``(B)``, ``B. text``, "answer is B"):
            a letter found in prose, or a choice's text, is ``invalid_syntax``.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.name = "choice"

    async def verify(self, context: object, proposal: str) -> Verdict:
        """Accept an answer :func:`read_choice` reads one valid letter from."""
        choices = _choices(context)
        if not choices:
            return Verdict.reject("verifier_error", "the choice verifier got no choices")
        letters = tuple(chr(ord("A") + i) for i in range(len(choices)))
        read = read_choice(proposal, choices)
        if read.status == "illegal":
            return Verdict.reject(
                "illegal", f"{read.letter} is not one of the choices; answer with one letter, "
                f"{span(letters)}.")
        if read.status == "ambiguous":
            return Verdict.reject(
                "ambiguous", f"Your answer names several choices ({', '.join(read.found)}); "
                "give exactly one letter.")
        if read.status == "unparseable":
            return Verdict.reject(
                "unparseable", f"Answer with the letter of one choice, {span(letters)}. "
                f"{MARKER_HINT}")
        if self.strict and read.notes:
            return Verdict.reject(
                "invalid_syntax", f"Give the letter alone ({span(letters)}), not in a sentence "
                f"or as the choice's text. {MARKER_HINT}")
        return Verdict.accept(evidence={"read": read.letter, "lenient": bool(read.notes),
                                        "normalised": list(read.notes)})


def compile_pattern(pattern: str, what: str) -> re.Pattern[str]:
    """The compiled pattern; a bad one is a :class:`BadInputError` naming ``what``."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise BadInputError(
            f"{what}: pattern {pattern!r} is not a regular expression: {exc}") from None


def extract_match(compiled: re.Pattern[str], text: str) -> str | None:
    """The pattern's last match in ``text`` (its first group, if it has groups), or None."""
    matches = list(compiled.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    return last.group(1) if compiled.groups else last.group(0)


class RegexVerifier:
    """Feedback on an answer that must match a pattern.

    Args:
        pattern: a regular expression; the answer must contain a match.
    """

    def __init__(self, pattern: str | None = None) -> None:
        if not pattern:
            raise BadInputError("the regex verifier needs pattern=REGEX")
        self.pattern = pattern
        self._compiled = compile_pattern(pattern, "regex verifier")
        self.name = "regex"

    async def verify(self, context: object, proposal: str) -> Verdict:
        """Accept an answer in which the pattern finds a match."""
        found = extract_match(self._compiled, proposal)
        if found is None:
            return Verdict.reject(
                "unparseable", f"No answer in the required form (matching {self.pattern}).")
        return Verdict.accept(evidence={"read": found})


class JsonVerifier:
    """Feedback on an answer that must hold one JSON value.

    Args:
        strict: the whole answer must be the JSON value (no fence, no prose around it).
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.name = "json"

    async def verify(self, context: object, proposal: str) -> Verdict:
        """Accept an answer that holds JSON (whole, fenced, or in prose)."""
        try:
            _, where = extract_json(proposal)
        except ValueError as exc:
            return Verdict.reject("unparseable", f"{exc}; reply with one JSON value")
        if self.strict and where != "whole":
            return Verdict.reject("invalid_syntax",
                                  "Reply with the JSON value alone, no fence or prose around it.")
        return Verdict.accept(evidence={"found": where, "lenient": where != "whole"})
