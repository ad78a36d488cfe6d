"""Errors a backend raises when the model behind it cannot answer."""

from __future__ import annotations

from redraft.core import BadInputError, RedraftError

__all__ = ["BackendRejectedError", "BackendUnavailableError"]


class BackendUnavailableError(RedraftError):
    """A model server stayed unreachable or overloaded after every retry.

    Attributes:
        url: the base URL of the last failed attempt.
        reason: what went wrong there, e.g. ``APIConnectionError: Connection error.``.
        attempts: how many attempts were made in all.
    """

    def __init__(self, url: str, reason: str, attempts: int, seconds: float) -> None:
        self.url = url
        self.reason = reason
        self.attempts = attempts
        super().__init__(
            f"model server {url} unavailable after {attempts} attempts over {seconds:.1f} s: "
            f"{reason}"
        )


class BackendRejectedError(BadInputError):
    """A model server refused a request for a reason retrying cannot fix (HTTP 4xx).

    Typical causes: a wrong model name, a missing API key, a prompt longer than the context.
    """

    def __init__(self, url: str, status: int, detail: str) -> None:
        self.url = url
        self.status = status
        super().__init__(f"model server {url} rejected the request (HTTP {status}): {detail}")
