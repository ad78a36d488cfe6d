"""Checking a run's arguments before it starts, so that bad input costs no model load.

:func:`check_run` does everything a run does before it loads its model or writes a record:
it builds the task and the feedback source, checks that the verifier can check the task's
contexts, that the backend exists and takes the options given, and that ``--out`` can hold
this run. A grid checks every run this way before the first one starts.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from redraft.agent.backends import backends, split_model_string
from redraft.core import BadInputError
from redraft.evals._config import EvalConfig
from redraft.evals._runner import close_quietly, episode_seed, new_episode
from redraft.evals.tasks import Task
from redraft.tools import (
    Oracle,
    Verifier,
    accepts_context,
    context_type,
    describe_type,
    oracle_as_verifier,
    verifiers,
)

__all__ = ["check_backend_options", "check_verifier", "feedback_source", "refuse_non_directory"]


def feedback_source(config: EvalConfig, task: Task, oracle: Oracle[Any]) -> Verifier[Any]:
    """The run's feedback source: the oracle, ``--verifier`` or the task's own verifier.

    The oracle (``critic='oracle'``, the leaky upper bound) is the run's own, ``oracle``.

    Raises:
        UnknownPluginError, PluginLoadError: no such verifier, or it fails to start.
        BadInputError: the verifier cannot check this task's contexts.
    """
    if config.corrector.critic == "oracle":  # the leaky upper bound: feedback from ground truth
        return oracle_as_verifier(oracle)
    if not config.verifier:
        return task.verifier()
    verifier: Verifier[Any] = verifiers.create(config.verifier)
    check_verifier(verifier, config, task)
    return verifier


def check_verifier(verifier: Verifier[Any], config: EvalConfig, task: Task) -> None:
    """Refuse a verifier that says which contexts it checks when the task gives another.

    The context is the first step's of the run's first episode.

    Raises:
        BadInputError: naming both types and what to do.
    """
    wanted = context_type(verifier)
    if wanted is None:
        return
    first = next(iter(config.episode_ids()), 0)
    episode = new_episode(task, first, episode_seed(config.seed, first),
                          max_steps=config.max_steps, error_policy=config.error_policy)
    try:
        if episode.done:
            return
        context = episode.prompt().context
    finally:
        close_quietly(episode)
    if not accepts_context(verifier, context):
        raise BadInputError(
            f"--verifier {config.verifier}: it checks {describe_type(wanted)} contexts, and "
            f"task {config.task!r} gives {type(context).__name__}: it cannot check this task; "
            f"leave --verifier out (the task's own verifier) or name one for {config.task} "
            "(redraft list)"
        )


def check_backend_options(config: EvalConfig) -> None:
    """Refuse an unknown provider, or options its factory does not take (exit 2)."""
    provider, spec = split_model_string(config.model)
    factory = backends.get(provider)
    options = config.model_options
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to check: the factory decides
        return
    try:
        signature.bind(spec, **options)
    except TypeError:
        takes = [
            name for name, param in list(signature.parameters.items())[1:]
            if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD)
        ]
        unknown = sorted(set(options) - set(takes))
        raise BadInputError(
            f"backend {provider!r} does not take the option(s) {', '.join(unknown)} "
            f"(--model-option / model_options); it takes: {', '.join(takes) or 'none'}"
        ) from None


def refuse_non_directory(out: Path) -> None:
    """Refuse an ``--out`` that is a file."""
    if out.exists() and not out.is_dir():
        raise BadInputError(f"output directory {out} is a file; choose another --out")
