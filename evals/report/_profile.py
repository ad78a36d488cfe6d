"""What a run was and how its steps went, read from its log: the facts beside the statistics.

A :class:`RunProfile` holds a run's settings (model, task, representation, verifier, critic
mode, rounds, error policy), why its steps stopped revising, how many of its answers the
oracle could only read leniently, and a few sample transcripts with the log lines they come
from. The statistics say how often the agent was wrong; the profile says what it was doing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.evals._events import RoundEvent, StepEvent
from redraft.evals.report._settings import setting
from redraft.evals.stats import EpisodeLog, RunData

__all__ = [
    "LenientReading",
    "RunProfile",
    "Transcript",
    "TranscriptRound",
    "profile_run",
    "run_setting",
]

MAX_TRANSCRIPTS = 3
"""Sample transcripts per run."""
_MAX_TEXT = 600
"""Characters of a prompt or output shown in a transcript (the log holds all of it)."""

Kind = Literal["recovered", "harmed", "stayed_wrong", "kept_right", "unknown"]


def _correct(step: StepEvent, which: Literal["initial", "final"]) -> bool | None:
    """The oracle's label of round 0 or of the committed answer (None: unknown)."""
    value = step.initial if which == "initial" else step.final
    return None if value == "unknown" else value == "correct"


def _revisions(step: StepEvent) -> int:
    return step.revisions


def _kind(step: StepEvent) -> Kind:
    first, last = _correct(step, "initial"), _correct(step, "final")
    if first is None or last is None:
        return "unknown"
    if first:
        return "kept_right" if last else "harmed"
    return "recovered" if last else "stayed_wrong"


def run_setting(config: dict[str, JsonValue], name: str) -> str:
    """One setting of a run in words (``representation`` None is the task's default)."""
    if name == "repeat_limit":
        corrector = config.get("corrector")
        limit = corrector.get("repeat_limit", 2) if isinstance(corrector, dict) else 2
        return "never" if limit is None else str(limit)
    value = setting(config, name)
    if value is None:
        return {"representation": "task default", "verifier": "task's own",
                "opponent": "task default"}.get(name, "–")
    return str(value)


class LenientReading(BaseModel):
    """How many answers the oracle read only by taking some liberty with their form.

    Built-in readers record ``lenient`` and ``normalised`` in their verdict evidence (a move
    picked out of prose, a lowercase piece letter, a column sum read as digit and carry).
    """

    model_config = ConfigDict(frozen=True)

    recorded: int = 0
    """Committed answers whose judgement says whether the reading was lenient."""
    lenient: int = 0
    """Of those, read leniently."""
    correct: int = 0
    """Committed answers judged correct (with the lenient flag recorded)."""
    correct_lenient: int = 0
    """Of those, read leniently."""
    recovered: int = 0
    """Steps recovered by revision (round 0 wrong, committed right), flag recorded."""
    recovered_lenient: int = 0
    """Of those, the committed answer was read leniently."""
    notes: dict[str, int] = Field(default_factory=dict)
    """How often each kind of liberty was taken (the reader's notes, numbers stripped)."""


class TranscriptRound(BaseModel):
    """One round of a sample step."""

    model_config = ConfigDict(frozen=True)

    round: int
    """0 for the proposal, then revisions."""
    output: str
    """The model's output (shortened)."""
    answer: str | None = None
    """The answer extracted from the output (after any reasoning), when it differs from it."""
    feedback: str | None
    """What the critic said (code: message), None without feedback."""
    judgement: str | None
    """What the oracle said (code: message, lenient reading noted), None if not judged."""
    line: int | None
    """Line of this round's record in ``events.jsonl``."""


class Transcript(BaseModel):
    """One sample step: the prompt, every round, the oracle's view and the log lines."""

    model_config = ConfigDict(frozen=True)

    episode: int
    """Episode id."""
    step: int
    """Step index as logged."""
    kind: Kind
    """What correction did at this step."""
    prompt: str
    """The last prompt message of round 0 (shortened)."""
    rounds: list[TranscriptRound]
    """Every round in order."""
    stop_reason: str
    """Why the rounds ended."""
    step_line: int | None
    """Line of the step record in ``events.jsonl``."""


class RunProfile(BaseModel):
    """A run's settings, stop reasons, lenient readings and sample transcripts."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The run's label."""
    settings: dict[str, str]
    """Model, task, representation, verifier, critic mode, rounds, error policy, ..."""
    steps: int
    """Committed steps in finished episodes."""
    stop_reasons: dict[str, int]
    """Steps by why their rounds ended (``accepted``, ``repeated_error``, ...)."""
    stopped_early: int
    """Steps that stopped on a rejection with revisions left (``repeated_error``)."""
    revisions: dict[int, int]
    """Steps by how many revisions they made."""
    unknown_final: int
    """Committed answers the oracle could not judge (unknown: left out of rates)."""
    unknown_reasons: dict[str, int] = Field(default_factory=dict)
    """Those by the oracle's verdict code (``truncated``: cut at the token limit,
    ``oracle_error``: the oracle failed)."""
    lenient: LenientReading
    """Answers read only leniently."""
    transcripts: list[Transcript]
    """A few sample steps, revised ones first."""
    task_info: dict[str, str] = Field(default_factory=dict)
    """Where the task's episodes came from, one line per entry of the manifest's
    ``task_info`` (a dataset's file and hash, its scorer, the sandbox's isolation)."""
    log: str | None
    """The event log's path, when known (transcripts cite its lines)."""


def _short(text: str, limit: int = _MAX_TEXT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _verdict_text(verdict: Any) -> str | None:
    if verdict is None:
        return None
    message = f": {verdict.message}" if verdict.message else ""
    return f"{verdict.code}{message}"


def _evidence(record: RoundEvent | None) -> dict[str, JsonValue]:
    if record is None or record.judgement is None:
        return {}
    return dict(record.judgement.local.evidence)


def _note_kind(note: str) -> str:
    # Notes name the token ("move 'Nf3' picked out of free text"); group by their shape.
    words = [w for w in note.split() if not any(c in w for c in "'\"0123456789")]
    return " ".join(words)


def _line_numbers(log: Path) -> dict[tuple[str, int, int, int], int]:
    """``(kind, episode, step, round) -> line`` (the last occurrence: restarts win)."""
    lines: dict[tuple[str, int, int, int], int] = {}
    with open(log, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # a torn last line; the loader already warned
            if isinstance(record, dict):
                key = (str(record.get("kind")), int(record.get("episode", -1)),
                       int(record.get("step", -1)), int(record.get("round", -1)))
                lines[key] = number
    return lines


def _transcript(
    episode: EpisodeLog, step: StepEvent, lines: dict[tuple[str, int, int, int], int]
) -> Transcript:
    rounds = sorted((r for r in episode.rounds if r.step == step.step), key=lambda r: r.round)
    prompt = ""
    if rounds and rounds[0].messages:
        prompt = _short(rounds[0].messages[-1].content)
    shown = []
    for record in rounds:
        judged = None
        if record.judgement is not None:
            judged = f"{record.judgement.correctness} ({_verdict_text(record.judgement.local)})"
        evidence = _evidence(record)
        if judged is not None and evidence.get("lenient") is True:
            notes = evidence.get("normalised")
            listed = "; ".join(str(n) for n in notes) if isinstance(notes, list) else ""
            judged += f"; read leniently: {listed}" if listed else "; read leniently"
        shown.append(TranscriptRound(
            round=record.round, output=_short(record.output),
            answer=(None if record.answer is None or record.answer.strip() == record.output.strip()
                    else _short(record.answer, 200)),
            feedback=_verdict_text(record.feedback), judgement=judged,
            line=lines.get(("round", episode.episode, step.step, record.round)),
        ))
    return Transcript(
        episode=episode.episode, step=step.step, kind=_kind(step), prompt=prompt, rounds=shown,
        stop_reason=str(step.stop_reason),
        step_line=lines.get(("step", episode.episode, step.step, step.round)),
    )


def _samples(run: RunData) -> list[tuple[EpisodeLog, StepEvent]]:
    """Revised steps first, one of each outcome (recovered, stayed wrong, harmed), then any."""
    order: dict[Kind, int] = {"recovered": 0, "stayed_wrong": 1, "harmed": 2, "kept_right": 3,
                              "unknown": 4}
    best: dict[tuple[bool, Kind], tuple[EpisodeLog, StepEvent]] = {}
    for episode in run.episodes:
        for step in episode.steps:
            key = (_revisions(step) > 0, _kind(step))
            best.setdefault(key, (episode, step))
    ranked = sorted(best.items(), key=lambda kv: (not kv[0][0], order[kv[0][1]]))
    return [pair for _, pair in ranked[:MAX_TRANSCRIPTS]]


def _task_info(manifest: dict[str, JsonValue]) -> dict[str, str]:
    info = manifest.get("task_info")
    if not isinstance(info, dict):
        return {}
    lines = {}
    for key, value in info.items():
        summary = value.get("summary") if isinstance(value, dict) else None
        lines[key] = summary if isinstance(summary, str) and summary else str(value)[:300]
    return lines


def profile_run(run: RunData, log: Path | None = None) -> RunProfile:
    """Profile a run; with its ``events.jsonl`` path, transcripts cite log line numbers."""
    stops: Counter[str] = Counter()
    revisions: Counter[int] = Counter()
    notes: Counter[str] = Counter()
    unknown_codes: Counter[str] = Counter()
    counts = Counter[str]()
    early = unknown = steps = 0
    max_revisions = setting(run.config, "max_revisions")
    for episode in run.episodes:
        committed = {(r.step, r.round): r for r in episode.rounds}
        for step in episode.steps:
            steps += 1
            stops[str(step.stop_reason)] += 1
            made = _revisions(step)
            revisions[made] += 1
            if step.stop_reason == "repeated_error" and (
                not isinstance(max_revisions, int) or made < max_revisions
            ):
                early += 1
            final = _correct(step, "final")
            record = committed.get((step.step, step.committed_round))
            if final is None:
                unknown += 1
                judged = record.judgement if record is not None else None
                unknown_codes[judged.local.code if judged is not None else "not judged"] += 1
            evidence = _evidence(record)
            lenient = evidence.get("lenient")
            if not isinstance(lenient, bool):
                continue
            counts["recorded"] += 1
            counts["lenient"] += lenient
            if final:
                counts["correct"] += 1
                counts["correct_lenient"] += lenient
            if _kind(step) == "recovered":
                counts["recovered"] += 1
                counts["recovered_lenient"] += lenient
            listed = evidence.get("normalised")
            if lenient and isinstance(listed, list):
                notes.update({_note_kind(str(n)) for n in listed})
    lines = _line_numbers(log) if log is not None and log.is_file() else {}
    settings = {
        name: run_setting(run.config, name)
        for name in ("model", "task", "representation", "verifier", "critic", "max_revisions",
                     "repeat_limit", "error_policy", "episodes", "max_steps", "seed")
    }
    return RunProfile(
        name=run.name,
        settings=settings,
        steps=steps,
        stop_reasons=dict(stops.most_common()),
        stopped_early=early,
        revisions=dict(sorted(revisions.items())),
        unknown_final=unknown,
        unknown_reasons=dict(unknown_codes.most_common()),
        lenient=LenientReading(**counts, notes=dict(notes.most_common(6))),
        transcripts=[_transcript(ep, step, lines) for ep, step in _samples(run)],
        task_info=_task_info(run.manifest),
        log=str(log) if log is not None else None,
    )
