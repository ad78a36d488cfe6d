"""Resuming a run: each unfinished episode continues from its last logged step.

An episode is deterministic given its seed and the answers committed to it, so its logged
steps replay into the state it had: the episode is rebuilt from its logged seed, and each
logged step's committed answer is committed again with the oracle's logged judgement of
it. Nothing is asked again (no backend, verifier or oracle call), so an interrupt costs at
most the rounds that were in flight.

The replay is checked against the log: every step must show the same prompt and give the
same action, forced flag, global label and task detail as it did. An episode that does
not replay so (a task that draws from outside its seed, such as Stockfish thinking for a
fixed time) is rerun from scratch instead, as is one whose log lacks a record the replay
needs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from redraft.agent.backends import Message
from redraft.evals._events import EpisodeStartEvent, RoundEvent, StepEvent
from redraft.evals._log import LogScan
from redraft.evals._runner import close_quietly, new_episode
from redraft.evals.tasks import EndReason, Episode, ErrorPolicy, StepResult, Task
from redraft.tools import Judgement

__all__ = ["LoggedEpisode", "LoggedStep", "Restored", "close_restored", "logged_episodes",
           "replay", "restore_unfinished"]


@dataclass(frozen=True)
class LoggedStep:
    """A step as the log holds it: its record, its first prompt, the committed judgement."""

    record: StepEvent
    prompt: tuple[Message, ...]
    """The messages of its round 0 (the task's prompt, as the corrector sent it)."""
    judgement: Judgement
    """The oracle's judgement of its committed round."""


@dataclass(frozen=True)
class LoggedEpisode:
    """An unfinished episode's start and whole steps, in step order."""

    id: int
    seed: int
    steps: tuple[LoggedStep, ...]


@dataclass
class Restored:
    """An unfinished episode replayed to its last logged step, ready to go on."""

    episode: Episode
    """The episode in the state its last logged step left it in."""
    steps: int
    """Steps already logged."""
    first_error_step: int | None
    """The first logged step whose committed answer was ``incorrect``."""
    end: EndReason | None
    """Set when the last logged step ended the episode and only its ``episode_end``
    record is missing (the run was stopped between the two)."""


def logged_episodes(scan: LogScan) -> tuple[dict[int, LoggedEpisode], set[int]]:
    """The unfinished episodes of a log that can continue, and those that cannot.

    An unfinished episode cannot continue when its log lacks what the replay needs: its
    ``episode_start`` (the seed), or the committed round of a logged step.
    """
    done = scan.finished()
    seeds: dict[int, int] = {}
    steps: defaultdict[int, list[StepEvent]] = defaultdict(list)
    rounds: dict[tuple[int, int, int], RoundEvent] = {}
    unfinished: set[int] = set()
    for event in scan.events:
        if event.episode in done:
            continue
        unfinished.add(event.episode)
        if isinstance(event, EpisodeStartEvent):
            seeds[event.episode] = event.seed
        elif isinstance(event, StepEvent):
            steps[event.episode].append(event)
        elif isinstance(event, RoundEvent):
            rounds[(event.episode, event.step, event.round)] = event
    logged: dict[int, LoggedEpisode] = {}
    broken: set[int] = set()
    for episode in sorted(unfinished):
        seed = seeds.get(episode)
        whole: list[LoggedStep] = []
        for record in sorted(steps[episode], key=lambda s: s.step):
            first = rounds.get((episode, record.step, 0))
            committed = rounds.get((episode, record.step, record.committed_round))
            if first is None or committed is None or committed.judgement is None:
                break
            whole.append(LoggedStep(record, first.messages, committed.judgement))
        if seed is None or len(whole) < len(steps[episode]):
            broken.add(episode)
            continue
        logged[episode] = LoggedEpisode(episode, seed, tuple(whole))
    return logged, broken


def _json(value: Mapping[str, JsonValue]) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _same_prompt(prompt: Sequence[Message], sent: Sequence[Message]) -> bool:
    """Is ``sent`` (a round 0's messages) the task's ``prompt``?

    The corrector may have appended its monologue request to the last user message, so
    each sent message must start with the prompt's.
    """
    return len(prompt) == len(sent) and all(
        p.role == s.role and s.content.startswith(p.content)
        for p, s in zip(prompt, sent, strict=True)
    )


def _same(result: StepResult, record: StepEvent) -> bool:
    """Does a replayed step do what the logged one did?"""
    if (result.action, result.forced) != (record.action, record.forced):
        return False
    glob = result.global_correctness
    if glob is not None and glob != record.global_correctness:
        return False
    return _json(result.info) == _json(record.info)


def replay(
    task: Task, logged: LoggedEpisode, *, max_steps: int, error_policy: ErrorPolicy
) -> Restored | None:
    """Rebuild an episode and commit its logged steps again; None if it does not replay.

    A task that raises while replaying, or whose step differs from the logged one, gives
    None: the caller reruns the episode from scratch.
    """
    episode = new_episode(task, logged.id, logged.seed, max_steps=max_steps,
                          error_policy=error_policy)
    end: EndReason | None = None
    first_error: int | None = None
    try:
        for index, step in enumerate(logged.steps):
            record = step.record
            if end is not None or episode.done or not episode.step == record.step == index:
                raise _Diverged
            # The same calls as the runner made: the prompt, then the commit.
            if not _same_prompt(episode.prompt().messages, step.prompt):
                raise _Diverged
            result = episode.commit(record.committed_answer, step.judgement)
            if not _same(result, record):
                raise _Diverged
            end = result.end
            if record.final == "incorrect" and first_error is None:
                first_error = record.step
        if end is None and episode.done:  # over without saying why: not a state to go on
            raise _Diverged
    except Exception:  # any failure to replay means: start it again
        close_quietly(episode)
        return None
    return Restored(episode, len(logged.steps), first_error, end)


class _Diverged(Exception):
    """The replay does not match the log."""


def restore_unfinished(
    task: Task, scan: LogScan, *, max_steps: int, error_policy: ErrorPolicy
) -> tuple[dict[int, Restored], set[int]]:
    """Replay every unfinished episode of a log.

    Returns:
        The episodes that continue (by id) and the ids of those to rerun from scratch.
    """
    logged, restart = logged_episodes(scan)
    restored: dict[int, Restored] = {}
    try:
        for episode, steps in logged.items():
            again = replay(task, steps, max_steps=max_steps, error_policy=error_policy)
            if again is None:
                restart.add(episode)
            else:
                restored[episode] = again
    except BaseException:
        close_restored(restored.values())
        raise
    return restored, restart


def close_restored(restored: Iterable[Restored]) -> None:
    """Release the episodes of restored states that will not run."""
    for state in restored:
        close_quietly(state.episode)
