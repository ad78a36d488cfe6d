"""Settings models: frozen, strictly typed, and readable under their fields' old names.

Every configuration redraft records (the corrector's, an eval run's, sampling) is a
:class:`Settings`. Old field names are translated in one place, :meth:`Settings.migrate`,
called where data enters: a model's own validation (a caller's keyword arguments), a config
file as it is read, a manifest as it is read. Each translation says so once, in one notice.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["Settings"]


class Settings(BaseModel):
    """A frozen settings model that refuses unknown fields and loose types.

    ``True`` is not an integer here and ``"3"`` is not a number (``episodes: true`` in a
    YAML file is refused, not read as 1); a float field takes an integer. Fields that hold
    sequences say ``strict=False`` so that JSON and YAML lists are read.

    A subclass lists its old field names in :attr:`renamed`; they are read as today's with
    one notice (see :meth:`migrate`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    renamed: ClassVar[Mapping[str, str]] = {}
    """Old field name -> today's. A dotted target (``corrector.critic``) moves the value into
    a nested settings field."""

    @classmethod
    def migrate(
        cls, data: Mapping[str, Any], *, notify: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """``data`` in today's field names, nested settings included.

        Each old name (:attr:`renamed` of this class and of the settings it nests) is
        replaced by its new one, with the same value. When any was, ``notify`` gets one line
        naming them all; without ``notify`` that line is a ``DeprecationWarning`` pointing at
        the caller.

        Raises:
            ValueError: an old name and its new one both given (which value is meant is not
                clear); the message names both.
        """
        moved: list[tuple[str, str]] = []
        result = _migrate(cls, dict(data), "", moved)
        if moved:
            notice = "old setting names read as today's: " + ", ".join(
                f"{old} -> {new}" for old, new in moved
            ) + " (same values and meanings; write the new names)"
            if notify is None:
                warnings.warn(notice, DeprecationWarning, stacklevel=_caller_level())
            else:
                notify(notice)
        return result

    def merged(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` applied (old names read as :meth:`migrate` does).

        Raises:
            pydantic.ValidationError: a change is not a valid value, or not a field.
        """
        return self.model_validate({**dict(self), **self.migrate(changes)})

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        # A caller's keyword arguments enter here; files and manifests were migrated as they
        # were read, so they hold no old name by now.
        return cls.migrate(data) if isinstance(data, Mapping) else data


def _migrate(
    cls: type[Settings], data: dict[str, Any], prefix: str, moved: list[tuple[str, str]]
) -> dict[str, Any]:
    """``data`` of ``cls`` in today's names; each (old, new) path is appended to ``moved``."""
    for old, new in cls.renamed.items():
        if old not in data:
            continue
        value = data.pop(old)
        *parents, leaf = new.split(".")
        target = data
        for name in parents:
            nested = target.get(name)
            if isinstance(nested, BaseModel):  # a settings object given: what it was told
                nested = {key: getattr(nested, key) for key in nested.model_fields_set}
            elif not isinstance(nested, Mapping):
                nested = {}
            target[name] = target = dict(nested)
        if leaf in target:
            rival: str | None = new
        else:
            rival = next((other for other in data if cls.renamed.get(other) == new), None)
        if rival is not None:
            raise ValueError(f"{prefix}{old} is an old name of {prefix}{new}: give "
                             f"{prefix}{new} only (not both {prefix}{old} and {prefix}{rival})")
        target[leaf] = value
        moved.append((prefix + old, prefix + new))
    for name, field in cls.model_fields.items():
        nested_cls = field.annotation
        value = data.get(name)
        if isinstance(value, Mapping) and isinstance(nested_cls, type) and issubclass(
            nested_cls, Settings
        ):
            data[name] = _migrate(nested_cls, dict(value), f"{prefix}{name}.", moved)
    return data


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside redraft and pydantic."""
    level = 1
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(("redraft.", "pydantic", "pydantic_core")):
            return level
        frame = frame.f_back
        level += 1
    return level
