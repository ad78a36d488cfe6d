"""Tasks: the episodic environments evals run.

Write your own with the protocol (:class:`Task`, :class:`Episode`, :class:`StepPrompt`,
:class:`StepResult`) and the episode helper (:class:`EpisodeBase`: step counting, the error
policy, the end rules; :class:`ConfiguredTask`: options validated into a pydantic model);
register it under the ``redraft.tasks`` entry point group. A task over a list of records
implements :class:`IndexedTask` (episode ``i`` is record ``i``); :class:`DescribedTask`
records its data's provenance in the run's manifest.
"""

from redraft.evals.tasks._episode import (
    ClosingMixin,
    ConfiguredTask,
    EpisodeBase,
    EpisodeFinishedError,
)
from redraft.evals.tasks._protocol import (
    DescribedTask,
    EndReason,
    Episode,
    ErrorPolicy,
    IndexedTask,
    StepPrompt,
    StepResult,
    Task,
)
from redraft.evals.tasks._registry import load_task, register_task, tasks

__all__ = [
    "ClosingMixin",
    "ConfiguredTask",
    "DescribedTask",
    "EndReason",
    "Episode",
    "EpisodeBase",
    "EpisodeFinishedError",
    "ErrorPolicy",
    "IndexedTask",
    "StepPrompt",
    "StepResult",
    "Task",
    "load_task",
    "register_task",
    "tasks",
]
