"""The exceptions redraft raises, shared by every package.

All derive from :class:`RedraftError`. :class:`BadInputError` marks what the user can fix
(a config, a name, a path); the command line turns it into exit status 2.
"""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "ConstraintNotSupportedError",
    "MissingDependencyError",
    "PluginLoadError",
    "RedraftError",
    "UnknownPluginError",
]


class RedraftError(Exception):
    """Base class of every error redraft raises on purpose."""


class BadInputError(RedraftError, ValueError):
    """Input the user can correct: a config, a name, a path, an option value."""


class UnknownPluginError(BadInputError, LookupError):
    """A verifier, backend or task name that no registry or entry point provides."""

    def __init__(self, kind: str, name: str, available: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.available = sorted(available)
        names = ", ".join(self.available) or "none"
        super().__init__(
            f"unknown {kind} {name!r}; available: {names} "
            f"(third-party {kind}s register through the 'redraft.{kind}s' entry point group)"
        )


class PluginLoadError(BadInputError, ImportError):
    """A registered verifier, backend or task that fails to load.

    Its module raised on import, or lacks the named attribute, or its factory raised when
    called (``stage="creating"``): a broken plug-in or built-in, named with the error it
    raised.
    """

    def __init__(
        self, kind: str, name: str, target: str, exc: BaseException, stage: str = "loading"
    ) -> None:
        self.kind = kind
        self.name = name
        self.target = target
        detail = " ".join(str(exc).split()) or type(exc).__name__
        self.reason = f"{type(exc).__name__}: {detail[:300]}"
        """What loading it raised, on one line."""
        super().__init__(
            f"{kind} {name!r} ({target}) is broken: {stage} it raised {self.reason}; fix or "
            "uninstall the package that provides it"
        )


class MissingDependencyError(RedraftError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, what: str, extra: str, cause: BaseException | None = None) -> None:
        detail = f" ({cause})" if cause is not None else ""
        super().__init__(
            f"{what} needs the '{extra}' extra: pip install 'redraft[{extra}]'{detail}"
        )
        self.extra = extra


class ConstraintNotSupportedError(BadInputError):
    """A backend was asked for constrained decoding of a kind it cannot do."""
