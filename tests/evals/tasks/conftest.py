"""Fixtures of the task tests (the harness lives in ``task_harness``)."""

from task_harness import check, drive

__all__ = ["check", "drive"]
