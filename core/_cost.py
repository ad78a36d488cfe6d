"""What producing something cost: tokens and seconds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Cost"]


class Cost(BaseModel):
    """What producing a verdict or a generation cost."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    """Tokens read (prompt side)."""
    completion_tokens: int = 0
    """Tokens generated."""
    seconds: float = 0.0
    """Wall-clock seconds spent."""

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=self.seconds + other.seconds,
        )
