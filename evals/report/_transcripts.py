"""Sample transcripts as HTML: prompt, rounds, feedback and judgement, with log line links."""

from __future__ import annotations

import html
import os
from pathlib import Path

from redraft.evals.report._profile import RunProfile, Transcript

__all__ = ["kind_words", "transcripts_html"]

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


def _esc(text: object) -> str:
    return html.escape(str(text))


def _href(log: str | None, base: Path | None) -> str | None:
    if log is None:
        return None
    path = Path(log)
    if base is None:
        return path.resolve().as_uri()
    return Path(os.path.relpath(path.resolve(), Path(base).resolve())).as_posix()


def _line(href: str | None, line: int | None) -> str:
    if line is None:
        return ""
    label = f"events.jsonl line {line}"
    if href is None:
        return f' <span class="line">({label})</span>'
    return f' <span class="line">(<a href="{_esc(href)}">{label}</a>)</span>'


def _one(t: Transcript, href: str | None) -> str:
    rounds = []
    for r in t.rounds:
        name = "proposal" if r.round == 0 else f"revision {r.round}"
        feedback = (f'<div class="fb">critic: {_esc(r.feedback)}</div>'
                    if r.feedback is not None else '<div class="fb">critic: (none)</div>')
        judged = (f'<div class="judge">oracle: {_esc(r.judgement)}</div>'
                  if r.judgement is not None else "")
        answer = (f"<div>answer read from it: <code>{_esc(r.answer)}</code></div>"
                  if r.answer is not None else "")
        rounds.append(
            f'<div class="round"><b>round {r.round} ({name})</b>{_line(href, r.line)}'
            f"<pre>{_esc(r.output)}</pre>{answer}{feedback}{judged}</div>"
        )
    return (
        f'<div class="transcript"><b>episode {t.episode}, step {t.step}</b>: '
        f"{_esc(kind_words(t))}; stopped: {_esc(t.stop_reason)}"
        f"{_line(href, t.step_line)}"
        f'<div class="round">prompt (last message):<pre>{_esc(t.prompt)}</pre></div>'
        f"{''.join(rounds)}</div>"
    )


def transcripts_html(profile: RunProfile, base: Path | None = None) -> str:
    """One run's sample transcripts; ``base`` is the report directory (links are relative)."""
    if not profile.transcripts:
        return f"<h3>{_esc(profile.name)}</h3><p>No steps to show.</p>"
    href = _href(profile.log, base)
    source = "" if profile.log is None else f" (log: <code>{_esc(profile.log)}</code>)"
    body = "".join(_one(t, href) for t in profile.transcripts)
    return f"<h3>{_esc(profile.name)}{source}</h3>{body}"
