"""A model folder that says what it was trained on: its task and task options.

A folder holding :data:`MODEL_RECIPE_FILE` (``redraft train`` writes one; any model folder
may) declares the task it was trained on (``task``) and the task options of its training
episodes (``task_options``, ``representation`` among them). ``redraft eval`` then refuses
another task and takes the options not given as the eval's, so its episodes come from the
training distribution unless asked otherwise. Only these two fields are read here: the rest
of the file belongs to whoever wrote it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from redraft.core import BadInputError

__all__ = ["MODEL_RECIPE_FILE", "trained_defaults"]

MODEL_RECIPE_FILE = "redraft-recipe.json"
"""The file in a model folder that names the task it was trained on."""


def _trained_on(model_dir: Path) -> tuple[str, dict[str, Any]] | None:
    path = model_dir / MODEL_RECIPE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path} is not a readable model recipe: "
                            f"{' '.join(str(exc).split())[:200]}") from exc
    task = data.get("task") if isinstance(data, dict) else None
    options = data.get("task_options", {}) if isinstance(data, dict) else None
    if not isinstance(task, str) or not isinstance(options, dict):
        raise BadInputError(f"{path} is not a readable model recipe: it needs a 'task' name "
                            "and a 'task_options' object")
    return task, options


def trained_defaults(
    task: str, model: str | None, representation: str | None, task_options: dict[str, Any]
) -> tuple[str | None, dict[str, Any]]:
    """Check an eval's model against its task; the representation and task options to use.

    For ``hf/DIR`` where ``DIR`` holds :data:`MODEL_RECIPE_FILE`: the task must be the one
    trained on, and the representation and task options not given are the trained ones.
    Any other model passes unchanged.

    Raises:
        BadInputError: the model folder was trained on another task, or its recipe is
            unreadable.
    """
    unchanged = (representation, task_options)
    if not model or not model.startswith("hf/"):
        return unchanged
    model_dir = Path(model.removeprefix("hf/"))
    if not model_dir.is_dir():
        return unchanged
    trained = _trained_on(model_dir)
    if trained is None:
        return unchanged
    trained_task, options = trained
    if trained_task != task:
        raise BadInputError(
            f"{model_dir} is a testbed model trained on task {trained_task!r}, not {task!r}: "
            f"evaluate it with 'redraft eval {trained_task} ...' or train one with "
            f"'redraft train {task} ...'"
        )
    options = dict(options)
    trained_representation = options.pop("representation", None)
    if representation is None and isinstance(trained_representation, str):
        representation = trained_representation
    return representation, {**options, **task_options}
