"""Evals: tasks, the vectorized runner, the event log, statistics, reports, command line.

Run an eval from Python with :func:`run_eval` (or :func:`arun_eval`)::

    from redraft.evals import EvalConfig, run_eval, read_events

    config = EvalConfig(task="addition", model="simulated/e=0.1,r=0.5", critic="tool",
                        max_revisions=2, episodes=100, max_steps=20)
    run_eval(config, "runs/addition-tool")      # rerun to resume
    events = read_events("runs/addition-tool")
"""

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
