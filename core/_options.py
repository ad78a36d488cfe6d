"""Keyword options of plug-ins (verifiers, backends, tasks), validated into a pydantic config."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from redraft.core._errors import BadInputError

__all__ = ["parse_options"]

M = TypeVar("M", bound=BaseModel)


def parse_options(config: type[M], options: dict[str, Any], what: str) -> M:
    """Build ``config`` from keyword ``options``.

    Raises:
        BadInputError: naming the first bad option and the options ``what`` accepts.
    """
    try:
        return config.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        known = ", ".join(sorted(config.model_fields))
        raise BadInputError(
            f"{what} option {where}: {first['msg']} (options: {known})"
        ) from None
