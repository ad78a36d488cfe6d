"""Sample transcripts: what a step's outcome is called, and the link to its run's log.

The page itself shows them (``templates/report.html.j2``).
"""

from __future__ import annotations

import os
from pathlib import Path

from redraft.evals.report._profile import Transcript

__all__ = ["kind_words", "log_href"]

_KIND_WORDS = {
    "recovered": "recovered: round 0 wrong, committed answer right",
    "stayed_wrong": "stayed wrong after revision",
    "harmed": "harmed: round 0 right, committed answer wrong",
    "kept_right": "right from round 0",
    "unknown": "not fully judged",
}
_UNREVISED_WORDS = {
    "stayed_wrong": "wrong at round 0 and not revised",
    "kept_right": "right at round 0 and not revised",
}
"""A step that ended at round 0 (no critic, or accepted at once) had no revision to speak of."""


def kind_words(t: Transcript) -> str:
    """What correction did at the step, in words that fit the rounds it actually had."""
    if len(t.rounds) <= 1 and t.kind in _UNREVISED_WORDS:
        return _UNREVISED_WORDS[t.kind]
    return _KIND_WORDS[t.kind]


def log_href(log: str | None, base: Path | None) -> str | None:
    """A link to a run's log from the report directory ``base`` (absolute without one)."""
    if log is None:
        return None
    path = Path(log)
    if base is None:
        return path.resolve().as_uri()
    return Path(os.path.relpath(path.resolve(), Path(base).resolve())).as_posix()
