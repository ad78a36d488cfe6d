"""The in-generation correction marker the ``retry`` regime teaches."""

from __future__ import annotations

__all__ = ["BACK_MARKER"]

BACK_MARKER = "[BACK]"
"""Written after an answer the model takes back, before the answer it commits instead
(Ye et al. 2024, "Physics of Language Models 2.2"). The committed answer is the last one;
the task readers take the last ``total:`` / ``digit, carry`` marker, so they read it."""
