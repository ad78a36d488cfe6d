"""Evals: tasks, runner, event log, statistics, reports, command line."""
