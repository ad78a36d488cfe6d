"""The testbed: small transformers trained here on a task's own episodes, in data regimes.

``redraft train TASK --regime R --out MODEL_DIR`` trains one (:func:`train`); the directory
it writes runs as ``hf/MODEL_DIR`` in ``redraft eval``. Regimes (:mod:`._regimes`):
``expert``, ``retry`` (a wrong answer, :data:`BACK_MARKER`, the right one), ``scratchpad``
and ``recovery`` (states holding earlier errors, targets that restore the truth). The
decisive experiment's task settings per scale are :data:`DECISIVE_TASK_OPTIONS`.
Training needs the ``train`` extra (torch, transformers, tokenizers, safetensors); nothing
here imports them until it trains.
"""

from redraft.lab.testbed._answers import (
    AnswerCodec,
    Committed,
    Temperature,
    TotalLogits,
    committed_right,
    draw_wrong_totals,
    matched_temperature,
    total_logits,
    total_probabilities,
)
from redraft.lab.testbed._data import CharCodec
from redraft.lab.testbed._decisive import (
    DECISIVE_CALIBRATION,
    DECISIVE_TASK_OPTIONS,
    DECISIVE_TRAIN_OVERRIDES,
    decisive_options,
)
from redraft.lab.testbed._deps import require_train
from redraft.lab.testbed._lockstep import Member, StackBatch, StackData, heldout_batch
from redraft.lab.testbed._markers import BACK_MARKER
from redraft.lab.testbed._recipe import (
    RECIPE_FILE,
    SIZES,
    ExpertDraws,
    HeldoutPoint,
    LossPoint,
    ModelSize,
    Recipe,
    SizeName,
    TrainConfig,
    read_recipe,
)
from redraft.lab.testbed._regimes import (
    REGIMES,
    TASK_SPECS,
    Example,
    Regime,
    TaskSpec,
    examples,
    task_spec,
    training_seed,
)
from redraft.lab.testbed._stack import StackedAdamW, StackedLlama
from redraft.lab.testbed._stack_train import (
    HELDOUT_SEED_OFFSET,
    StackOutcome,
    StackPlan,
    save_folder,
    train_stack,
)
from redraft.lab.testbed._threads import choose_wait_policy
from redraft.lab.testbed._tokenizer import END_TOKEN, build_tokenizer, render_chat
from redraft.lab.testbed._train import set_threads, train, versions
from redraft.lab.testbed._wrong import WrongAnswers, sample_wrong_answers, weights_digest

__all__ = [
    "BACK_MARKER",
    "DECISIVE_CALIBRATION",
    "DECISIVE_TASK_OPTIONS",
    "DECISIVE_TRAIN_OVERRIDES",
    "END_TOKEN",
    "HELDOUT_SEED_OFFSET",
    "RECIPE_FILE",
    "REGIMES",
    "SIZES",
    "TASK_SPECS",
    "AnswerCodec",
    "CharCodec",
    "Committed",
    "Example",
    "ExpertDraws",
    "HeldoutPoint",
    "LossPoint",
    "Member",
    "ModelSize",
    "Recipe",
    "Regime",
    "SizeName",
    "StackBatch",
    "StackData",
    "StackOutcome",
    "StackPlan",
    "StackedAdamW",
    "StackedLlama",
    "TaskSpec",
    "Temperature",
    "TotalLogits",
    "TrainConfig",
    "WrongAnswers",
    "build_tokenizer",
    "choose_wait_policy",
    "committed_right",
    "decisive_options",
    "draw_wrong_totals",
    "examples",
    "heldout_batch",
    "matched_temperature",
    "read_recipe",
    "render_chat",
    "require_train",
    "sample_wrong_answers",
    "save_folder",
    "set_threads",
    "task_spec",
    "total_logits",
    "total_probabilities",
    "train",
    "train_stack",
    "training_seed",
    "versions",
    "weights_digest",
]
