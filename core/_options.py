"""Options and settings validated into pydantic models, and their errors in one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from redraft.core._errors import BadInputError

__all__ = ["describe_validation_error", "parse_options"]

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


def describe_validation_error(
    exc: ValidationError,
    what: str = "config",
    name: Callable[[tuple[str | int, ...]], str] | None = None,
) -> str:
    """One line naming every invalid field and what is wrong with it.

    Args:
        exc: the error.
        what: what was validated, for the line's start and for errors of no one field.
        name: how the user knows the field at a location (a command-line flag as typed, a
            config file's field); default: the dotted field path.
    """
    parts = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = name(loc) if name is not None else ".".join(str(p) for p in loc)
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return f"invalid {what}: " + "; ".join(parts)
