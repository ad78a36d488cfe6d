"""The in-generation correction marker the ``retry`` regime teaches."""

from __future__ import annotations

from redraft.agent import RETRY_MARKER

__all__ = ["BACK_MARKER"]

BACK_MARKER = RETRY_MARKER
"""``[BACK]``: written after an answer the model takes back, before the answer it commits
instead (Ye et al. 2024). The same constant as the answer extractor's
(:data:`redraft.agent.RETRY_MARKER`), which records the first answer as the in-generation
proposal and commits the last."""
