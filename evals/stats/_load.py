"""Loading a run: its manifest and its event log, grouped into episodes.

The JSONL reading is the runner's shared reader (``redraft.evals._log``), reached only
through :func:`read_events`; everything downstream consumes :class:`RunData`, which tests and the
runner can also build straight from events with :meth:`RunData.from_events`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.evals import _log as shared_log
from redraft.evals._events import (
    EpisodeEndEvent,
    EpisodeStartEvent,
    Event,
    RoundEvent,
    StepEvent,
)
from redraft.evals._log import EVENTS_FILE, EventLogError
from redraft.evals._manifest import MANIFEST_FILE, manifest_config, read_manifest

__all__ = [
    "EpisodeLog",
    "EventLogError",
    "RunData",
    "load_run",
    "read_events",
]

_logger = logging.getLogger(__name__)


class EpisodeLog(BaseModel):
    """Every record of one episode, in log order."""

    model_config = ConfigDict(frozen=True)

    episode: int
    """The episode id."""
    start: EpisodeStartEvent | None = None
    """The ``episode_start`` record, if logged."""
    rounds: tuple[RoundEvent, ...] = ()
    """Every round of every step."""
    steps: tuple[StepEvent, ...] = ()
    """One record per committed step, ordered by step index."""
    end: EpisodeEndEvent | None = None
    """The ``episode_end`` record; None while the episode is unfinished."""

    @property
    def seed(self) -> int | None:
        """The episode's seed (``episode_start.seed``), if logged."""
        return self.start.seed if self.start is not None else None

    @property
    def finished(self) -> bool:
        """True once the episode logged its ``episode_end``."""
        return self.end is not None


class RunData(BaseModel):
    """One run as the statistics see it: a name, its config and its episodes."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The run's name (its directory name)."""
    config: dict[str, JsonValue] = Field(default_factory=dict)
    """The run's config as its manifest records it, read in today's field names (model,
    task, ..., and ``corrector``: critic, max_revisions, ...)."""
    manifest: dict[str, JsonValue] = Field(default_factory=dict)
    """The whole manifest, if any."""
    episodes: tuple[EpisodeLog, ...] = ()
    """Episodes that committed at least one step, finished or not, ordered by id. The
    statistics censor an unfinished one at its last committed step: dropping it would bias
    them (a lockstep runner finishes the episodes that stop at an early error first)."""
    unfinished: int = 0
    """Episodes started but not ended (a run still going, or killed)."""

    @property
    def critic(self) -> str | None:
        """The critic mode from the config, if recorded."""
        corrector = self.config.get("corrector")
        critic = corrector.get("critic") if isinstance(corrector, dict) else None
        return critic if isinstance(critic, str) else None

    @property
    def leaky(self) -> bool:
        """True when ground truth fed the loop (an upper bound).

        The manifest says so (derived from the feedback source), or the critic is ``oracle``.
        """
        return (
            self.manifest.get("leaky") is True
            or self.critic == "oracle"
            or self.config.get("leaky") is True
        )

    @classmethod
    def from_events(
        cls,
        events: Iterable[Event],
        *,
        name: str = "run",
        config: dict[str, JsonValue] | None = None,
        manifest: dict[str, JsonValue] | None = None,
    ) -> RunData:
        """Group records into episodes.

        An episode that logged a second ``episode_start`` (a resumed run that restarted it)
        keeps only the records of its last attempt. Episodes with no ``episode_end`` are
        counted in :attr:`unfinished`, and kept (to be censored) when they committed a step.
        """
        starts: dict[int, EpisodeStartEvent | None] = {}
        rounds: dict[int, list[RoundEvent]] = {}
        steps: dict[int, list[StepEvent]] = {}
        ends: dict[int, EpisodeEndEvent] = {}
        for event in events:
            ep = event.episode
            if isinstance(event, EpisodeStartEvent):
                if ep in starts or ep in ends or ep in steps:
                    _logger.info("episode %d restarted; keeping its last attempt", ep)
                    ends.pop(ep, None)
                starts[ep] = event
                rounds[ep] = []
                steps[ep] = []
            elif isinstance(event, RoundEvent):
                rounds.setdefault(ep, []).append(event)
            elif isinstance(event, StepEvent):
                steps.setdefault(ep, []).append(event)
            else:
                ends[ep] = event
        ids = sorted(set(starts) | set(rounds) | set(steps) | set(ends))
        episodes = tuple(
            EpisodeLog(
                episode=ep,
                start=starts.get(ep),
                rounds=tuple(rounds.get(ep, ())),
                steps=tuple(sorted(steps.get(ep, ()), key=lambda s: s.step)),
                end=ends.get(ep),
            )
            for ep in ids
            if ep in ends or steps.get(ep)
        )
        return cls(
            name=name,
            config=dict(config or {}),
            manifest=dict(manifest or {}),
            episodes=episodes,
            unfinished=sum(1 for ep in ids if ep not in ends),
        )


def read_events(path: Path) -> list[Event]:
    """Parse a run's ``events.jsonl`` with the shared log reader.

    A torn last line (a writer killed mid-record) is skipped with a warning; any other
    unreadable line is an error naming its line number.

    Raises:
        EventLogError: if the file is missing or a line other than the last is invalid.
    """
    if not Path(path).is_file():
        raise EventLogError(f"cannot read event log {path}: no such file")
    return shared_log.read_events(path)


def load_run(run_dir: Path) -> RunData:
    """Load a run directory: ``manifest.json`` (optional) and ``events.jsonl``.

    Raises:
        EventLogError: if the directory has no readable event log.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise EventLogError(f"run directory {run_dir} does not exist")
    # The manifest is optional here: a log alone is enough to rebuild a report. One that is
    # there must be a run's (a config of the right types), or the report would describe
    # something that never ran.
    manifest = read_manifest(run_dir) if (run_dir / MANIFEST_FILE).exists() else {}
    if manifest:
        manifest_config(manifest, run_dir)
    raw_config = manifest.get("config")
    config = dict(raw_config) if isinstance(raw_config, dict) else {}
    events = read_events(run_dir / EVENTS_FILE)
    run = RunData.from_events(
        events, name=run_dir.resolve().name, config=config, manifest=manifest
    )
    if run.unfinished:
        warnings.warn(
            f"{run_dir}: {run.unfinished} unfinished episode(s), censored at their last "
            "committed step",
            stacklevel=2,
        )
    return run
