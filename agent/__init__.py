"""The self-correcting graph: items, rounds, critic modes, backends.

Embed it with :func:`correct` / :func:`acorrect`, or build the graph with
:func:`build_corrector` and use it on its own or as a subgraph.
"""

from redraft.agent._answer import ANSWER_MARKER, EXTRACTOR_SOURCE, RETRY_MARKER
from redraft.agent._config import CorrectorConfig
from redraft.agent._correct import (
    DEFAULT_MODEL,
    RunningLoopError,
    acorrect,
    ajudge_correction,
    correct,
)
from redraft.agent._graph import (
    CorrectorInput,
    CorrectorOutput,
    CorrectorState,
    build_corrector,
    is_leaky,
)
from redraft.agent._monologue import judge_round
from redraft.agent._prompts import VERDICT_MARKER
from redraft.agent._records import (
    CommitPolicy,
    Correction,
    CriticMode,
    Item,
    Outcome,
    RevisionContext,
    RoundRecord,
    StopReason,
)

__all__ = [
    "ANSWER_MARKER",
    "DEFAULT_MODEL",
    "EXTRACTOR_SOURCE",
    "RETRY_MARKER",
    "VERDICT_MARKER",
    "CommitPolicy",
    "Correction",
    "CorrectorConfig",
    "CorrectorInput",
    "CorrectorOutput",
    "CorrectorState",
    "CriticMode",
    "Item",
    "Outcome",
    "RevisionContext",
    "RoundRecord",
    "RunningLoopError",
    "StopReason",
    "acorrect",
    "ajudge_correction",
    "build_corrector",
    "correct",
    "is_leaky",
    "judge_round",
]
