"""The self-correcting graph: items, rounds, critic modes, backends.

Embed it with :func:`correct` / :func:`acorrect`, or build the graph with
:func:`build_corrector` and use it on its own or as a subgraph.
"""

from redraft.agent._answer import (
    ANSWER_MARKER,
    EXTRACTOR_SOURCE,
    RETRY_MARKER,
    AnswerPath,
    ExtractedAnswer,
    extract_answer,
    marked_values,
    missing_answer_verdict,
    strip_think,
)
from redraft.agent._config import (
    MAX_REVISIONS_LIMIT,
    RENAMED_OPTIONS,
    CorrectorConfig,
    rename_options,
)
from redraft.agent._correct import (
    DEFAULT_MODEL,
    RunningLoopError,
    acorrect,
    ajudge_correction,
    arun_items,
    correct,
)
from redraft.agent._critique import parse_critique
from redraft.agent._graph import (
    CorrectorInput,
    CorrectorOutput,
    CorrectorState,
    build_corrector,
    is_leaky,
)
from redraft.agent._monologue import judge_round
from redraft.agent._prompts import (
    DEFAULT_CRITIQUE_TEMPLATE,
    DEFAULT_MONOLOGUE_CRITIQUE_TEMPLATE,
    DEFAULT_MONOLOGUE_TEMPLATE,
    DEFAULT_REVISE_TEMPLATE,
    VERDICT_MARKER,
)
from redraft.agent._records import (
    COMMIT_POLICIES,
    CRITIC_MODES,
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
    "COMMIT_POLICIES",
    "CRITIC_MODES",
    "DEFAULT_CRITIQUE_TEMPLATE",
    "DEFAULT_MODEL",
    "DEFAULT_MONOLOGUE_CRITIQUE_TEMPLATE",
    "DEFAULT_MONOLOGUE_TEMPLATE",
    "DEFAULT_REVISE_TEMPLATE",
    "EXTRACTOR_SOURCE",
    "MAX_REVISIONS_LIMIT",
    "RENAMED_OPTIONS",
    "RETRY_MARKER",
    "VERDICT_MARKER",
    "AnswerPath",
    "CommitPolicy",
    "Correction",
    "CorrectorConfig",
    "CorrectorInput",
    "CorrectorOutput",
    "CorrectorState",
    "CriticMode",
    "ExtractedAnswer",
    "Item",
    "Outcome",
    "RevisionContext",
    "RoundRecord",
    "RunningLoopError",
    "StopReason",
    "acorrect",
    "ajudge_correction",
    "arun_items",
    "build_corrector",
    "correct",
    "extract_answer",
    "is_leaky",
    "judge_round",
    "marked_values",
    "missing_answer_verdict",
    "parse_critique",
    "rename_options",
    "strip_think",
]
