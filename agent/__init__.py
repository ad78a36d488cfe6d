"""The self-correcting graph: items, rounds, critic modes, backends."""

from redraft.agent._records import (
    CRITIC_MODES,
    Correction,
    CriticMode,
    Item,
    Outcome,
    RetryContext,
    RoundRecord,
    StopReason,
)

__all__ = [
    "CRITIC_MODES",
    "Correction",
    "CriticMode",
    "Item",
    "Outcome",
    "RetryContext",
    "RoundRecord",
    "StopReason",
]
