"""The optional ``train`` dependencies, imported only when used."""

from __future__ import annotations

import importlib
from types import ModuleType

from redraft.core import BadInputError

__all__ = ["TRAIN_EXTRA_HINT", "require_train"]

TRAIN_EXTRA_HINT = "pip install 'redraft[train]' (tested with torch==2.13.0)"
"""What to run when a training dependency is missing."""


def require_train(module: str) -> ModuleType:
    """Import a dependency of training.

    Raises:
        BadInputError: it is not installed (the fix is an install, so it is bad input).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BadInputError(
            f"training a testbed model needs {module.split('.')[0]}: {TRAIN_EXTRA_HINT} "
            f"({exc})"
        ) from exc
