"""Registries of named factories: built-ins register by decorator, plug-ins by entry point.

One :class:`Registry` per kind of plug-in (verifiers in ``redraft.tools``, backends in
``redraft.agent.backends``, tasks and commands in ``redraft.evals``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, TypeVar

from redraft.core._errors import (
    MissingDependencyError,
    PluginLoadError,
    RedraftError,
    UnknownPluginError,
)

__all__ = ["Registry"]

F = TypeVar("F", bound=Callable[..., Any])


class Registry:
    """Named factories of one kind, from decorators, lazy module paths and entry points.

    Args:
        kind: what is registered ("verifier", "backend", "task"); used in error messages.
        group: the entry point group third parties register in.
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._factories: dict[str, Callable[..., Any]] = {}
        self._lazy: dict[str, str] = {}
        self._plugins_loaded = False
        self._lock = threading.Lock()

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: register ``factory`` under ``name``."""

        def decorate(factory: F) -> F:
            self.add(name, factory)
            return factory

        return decorate

    def add(self, name: str, factory: Callable[..., Any]) -> None:
        """Register a factory under ``name`` (re-registering the same object is allowed)."""
        with self._lock:
            known = self._factories.get(name)
            if known is not None and known is not factory and _qualname(known) != _qualname(
                factory
            ):
                raise ValueError(f"{self.kind} {name!r} is already registered by {known!r}")
            self._factories[name] = factory

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``"module:attribute"`` to import only when ``name`` is first used."""
        self._lazy[name] = target

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._factories and ep.name not in self._lazy:
                self._lazy[ep.name] = ep.value

    def names(self) -> list[str]:
        """Every name available: registered, lazy built-ins and entry points."""
        self._load_plugins()
        return sorted(set(self._factories) | set(self._lazy))

    def origin(self, name: str) -> str:
        """Where ``name`` comes from (a module path), for listings."""
        self._load_plugins()
        if name in self._factories:
            return _qualname(self._factories[name])
        return self._lazy.get(name, "?")

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered under ``name``.

        Raises:
            UnknownPluginError: if no registry entry or entry point provides ``name``.
        """
        factory = self._factories.get(name)
        if factory is not None:
            return factory
        self._load_plugins()
        target = self._lazy.get(name)
        if target is None:
            raise UnknownPluginError(self.kind, name, self.names())
        module_name, _, attribute = target.partition(":")
        try:
            module = import_module(module_name)
            factory = self._factories.get(name)  # the import may have registered it
            if factory is None:
                obj: Any = module
                for part in attribute.split(".") if attribute else []:
                    obj = getattr(obj, part)
                factory = obj
        except MissingDependencyError:
            raise
        except Exception as exc:  # a plug-in's import can raise anything
            raise PluginLoadError(self.kind, name, target, exc) from exc
        if not callable(factory):
            raise PluginLoadError(
                self.kind, name, target, TypeError(f"{target} is not callable")
            )
        self._factories[name] = factory
        return factory

    def problem(self, name: str) -> PluginLoadError | None:
        """The error loading ``name`` raises when it is broken, or None when it loads."""
        try:
            self.get(name)
        except PluginLoadError as exc:
            return exc
        except (MissingDependencyError, UnknownPluginError):
            return None  # not broken: an optional dependency is missing, or no such name
        return None

    def create(self, name: str, /, **options: Any) -> Any:
        """Build the object registered under ``name`` with ``options``.

        Raises:
            UnknownPluginError: no such name.
            PluginLoadError: it fails to import, or its factory raised something other than
                a :class:`RedraftError` (a ``TypeError`` when options were given is left to
                the caller, who can name the options it rejected).
        """
        factory = self.get(name)
        try:
            return factory(**options)
        except RedraftError:
            raise
        except TypeError as exc:
            if options:
                raise
            raise PluginLoadError(self.kind, name, self.origin(name), exc, "creating") from exc
        except Exception as exc:  # a plug-in's constructor can raise anything
            raise PluginLoadError(self.kind, name, self.origin(name), exc, "creating") from exc


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"
