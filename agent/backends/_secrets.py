"""Secret backend options: API keys and the like never reach a manifest, summary or log.

An option is secret when its name says so (``api_key``, ``token``, ``password``, ...) or
when the backend's options model marks the field with ``json_schema_extra={"secret": True}``
(see :func:`secret_field`). A backend exposes its options model as an ``options_model``
attribute of its factory, or of the class whose constructor the factory is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, Field

__all__ = ["REDACTED", "is_secret_option", "public_options", "secret_field", "secret_names"]

T = TypeVar("T")

REDACTED = "<secret>"
"""What :func:`public_options` may show in place of a secret (it drops them instead)."""

_SECRET_NAME = re.compile(
    r"(?:^|_)(?:api_?key|key|token|secret|password|passwd|credentials?|auth|bearer)(?:$|_)",
    re.IGNORECASE,
)


def secret_field(default: Any = None, **kwargs: Any) -> Any:
    """A pydantic field marked secret: left out of manifests, summaries and resume checks."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["secret"] = True
    return Field(default, json_schema_extra=extra, **kwargs)


def _options_model(provider: str) -> type[BaseModel] | None:
    from redraft.agent.backends._registry import backends

    try:
        factory = backends.get(provider)
    except Exception:  # an unknown or uninstalled provider: names alone decide
        return None
    for owner in (factory, getattr(factory, "__self__", None)):
        model = getattr(owner, "options_model", None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model
    return None


def secret_names(provider: str | None) -> frozenset[str]:
    """The option names the provider's options model marks secret."""
    model = _options_model(provider) if provider else None
    if model is None:
        return frozenset()
    marked = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("secret") is True:
            marked.add(name)
            if info.alias:
                marked.add(info.alias)
    return frozenset(marked)


def is_secret_option(name: str, marked: frozenset[str] = frozenset()) -> bool:
    """True for an option whose value must not be recorded."""
    return name in marked or _SECRET_NAME.search(name) is not None


def public_options(options: Mapping[str, T], provider: str | None = None) -> dict[str, T]:
    """``options`` without its secrets: what a manifest records and resume compares."""
    marked = secret_names(provider)
    return {k: v for k, v in options.items() if not is_secret_option(k, marked)}
