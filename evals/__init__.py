"""Evals: tasks, the vectorized runner, the event log, statistics, reports, command line.

Run an eval from Python with :func:`run_eval` (or :func:`arun_eval`)::

    from redraft.evals import EvalConfig, run_eval, read_events

    config = EvalConfig(task="addition", model="simulated/e=0.1,r=0.5", critic="tool",
                        max_revisions=2, episodes=100, max_steps=20)
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
    from redraft.evals._config import (
        EXECUTION_FIELDS,
        ConfigFileError,
        EvalConfig,
        ShardSpec,
        describe_validation_error,
        read_config_file,
    )
    from redraft.evals._eval import (
        RunResult,
        arun_eval,
        default_episodes,
        load_eval_task,
        run_eval,
        run_grid,
    )
    from redraft.evals._events import (
        SCHEMA_VERSION,
        EpisodeEndEvent,
        EpisodeStartEvent,
        Event,
        RoundEvent,
        StepEvent,
        parse_event,
    )
    from redraft.evals._log import (
        EVENTS_FILE,
        EventLogError,
        EventWriter,
        LogScan,
        keep_finished,
        read_events,
        scan_events,
    )
    from redraft.evals._manifest import MANIFEST_FILE, file_sha256, read_manifest
    from redraft.evals._progress import ProgressBar, RunObserver
    from redraft.evals._runner import (
        CorrectorResultError,
        EventSink,
        LockstepRunner,
        TaskProtocolError,
        episode_seed,
    )
    from redraft.evals._shards import merge_runs
    from redraft.evals._trained import MODEL_RECIPE_FILE, trained_defaults

__all__ = [
    "EVENTS_FILE",
    "EXECUTION_FIELDS",
    "MANIFEST_FILE",
    "MODEL_RECIPE_FILE",
    "SCHEMA_VERSION",
    "ConfigFileError",
    "CorrectorResultError",
    "EpisodeEndEvent",
    "EpisodeStartEvent",
    "EvalConfig",
    "Event",
    "EventLogError",
    "EventSink",
    "EventWriter",
    "LockstepRunner",
    "LogScan",
    "ProgressBar",
    "RoundEvent",
    "RunObserver",
    "RunResult",
    "ShardSpec",
    "StepEvent",
    "TaskProtocolError",
    "arun_eval",
    "default_episodes",
    "describe_validation_error",
    "episode_seed",
    "file_sha256",
    "keep_finished",
    "load_eval_task",
    "merge_runs",
    "parse_event",
    "read_config_file",
    "read_events",
    "read_manifest",
    "run_eval",
    "run_grid",
    "scan_events",
    "trained_defaults",
]

_HOMES = ("_config", "_eval", "_events", "_log", "_manifest", "_progress", "_runner", "_shards",
          "_trained")
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
