"""Tasks: the episodic environments evals run."""

from redraft.evals.tasks._protocol import (
    EndReason,
    Episode,
    ErrorPolicy,
    StepPrompt,
    StepResult,
    Task,
)
from redraft.evals.tasks._registry import load_task, register_task, tasks

__all__ = [
    "EndReason",
    "Episode",
    "ErrorPolicy",
    "StepPrompt",
    "StepResult",
    "Task",
    "load_task",
    "register_task",
    "tasks",
]
