"""Evals: tasks, the vectorized runner, the event log, statistics, reports, command line.

Run an eval from Python with :func:`run_eval` (or :func:`arun_eval`)::

    from redraft.agent import CorrectorConfig
    from redraft.evals import EvalConfig, run_eval, read_events

    config = EvalConfig(task="addition", model="simulated/e=0.1,r=0.5", episodes=100,
                        max_steps=20, corrector=CorrectorConfig(critic="tool", max_revisions=2))
    run_eval(config, "runs/addition-tool")      # rerun to resume
    events = read_events("runs/addition-tool")

Importing the package itself is cheap: each name below loads its module when first used, so
that the ``redraft`` command (:mod:`redraft.evals._console`) can handle Ctrl-C before the
heavy imports start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redraft.evals._config import EvalConfig, ShardSpec, read_config_file
    from redraft.evals._eval import RunResult, arun_eval, default_episodes, run_eval, run_grid
    from redraft.evals._events import (
        SCHEMA_VERSION,
        EpisodeEndEvent,
        EpisodeStartEvent,
        Event,
        RoundEvent,
        StepEvent,
    )
    from redraft.evals._log import EVENTS_FILE, EventLogError, read_events
    from redraft.evals._manifest import MANIFEST_FILE, file_sha256, read_manifest
    from redraft.evals._progress import RunObserver
    from redraft.evals._shards import merge_runs
    from redraft.evals._trained import MODEL_RECIPE_FILE, trained_defaults

__all__ = [
    "EVENTS_FILE",
    "MANIFEST_FILE",
    "MODEL_RECIPE_FILE",
    "SCHEMA_VERSION",
    "EpisodeEndEvent",
    "EpisodeStartEvent",
    "EvalConfig",
    "Event",
    "EventLogError",
    "RoundEvent",
    "RunObserver",
    "RunResult",
    "ShardSpec",
    "StepEvent",
    "arun_eval",
    "default_episodes",
    "file_sha256",
    "merge_runs",
    "read_config_file",
    "read_events",
    "read_manifest",
    "run_eval",
    "run_grid",
    "trained_defaults",
]

_HOMES = ("_config", "_eval", "_events", "_log", "_manifest", "_progress", "_shards", "_trained")
"""The modules the names above come from (each lists them in its ``__all__``)."""


def __getattr__(name: str) -> Any:
    if name in __all__:
        for home in _HOMES:
            module = importlib.import_module(f"{__name__}.{home}")
            if name in module.__all__:
                value = getattr(module, name)
                globals()[name] = value  # once loaded, an ordinary attribute
                return value
    elif not name.startswith("__"):
        # A subpackage (redraft.evals.tasks, .report, .stats, ...), as an eager import of
        # the modules above once made it available.
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
