"""The task registry: built-ins lazily by module path, plug-ins by entry point."""

from __future__ import annotations

from typing import Any

from redraft.core import Registry
from redraft.evals.tasks._protocol import Task

__all__ = ["load_task", "register_task", "tasks"]

tasks = Registry("task", "redraft.tasks")
"""The task registry (entry point group ``redraft.tasks``)."""

register_task = tasks.register
"""Decorator registering a task factory ``f(**options) -> Task``."""

for _name, _target in {
    "chess": "redraft.evals.tasks.chess:ChessTask",
    "addition": "redraft.evals.tasks.addition:AdditionTask",
    "running_sum": "redraft.evals.tasks.running_sum:RunningSumTask",
    "tracking": "redraft.evals.tasks.tracking:TrackingTask",
    "dataset": "redraft.evals.tasks.dataset:DatasetTask",
}.items():
    tasks.add_lazy(_name, _target)


def load_task(name: str, **options: Any) -> Task:
    """Build a task by name with task-specific options (e.g. ``representation``)."""
    task = tasks.create(name, **options)
    if not isinstance(task, Task):
        raise TypeError(f"task factory {name!r} returned {task!r}, not a Task")
    return task
