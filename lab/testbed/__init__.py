"""The testbed: small transformers trained here on a task's own episodes, in data regimes.

``redraft train TASK --regime R --out MODEL_DIR`` trains one (:func:`train`); the directory
it writes runs as ``hf/MODEL_DIR`` in ``redraft eval``. Regimes (:mod:`._regimes`):
``expert``, ``retry`` (a wrong answer, :data:`BACK_MARKER`, the right one), ``scratchpad``
and ``recovery`` (states holding earlier errors, targets that restore the truth). The
decisive experiment's task settings per scale are :data:`DECISIVE_TASK_OPTIONS`.
Training needs the ``train`` extra (torch, transformers, tokenizers, safetensors); nothing
here imports them until it trains.
"""

from redraft.lab.testbed._decisive import (
    DECISIVE_CALIBRATION,
    DECISIVE_TASK_OPTIONS,
    DECISIVE_TRAIN_OVERRIDES,
    decisive_options,
)
from redraft.lab.testbed._markers import BACK_MARKER
from redraft.lab.testbed._recipe import (
    RECIPE_FILE,
    SIZES,
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
from redraft.lab.testbed._train import train
from redraft.lab.testbed._wrong import WrongAnswers, sample_wrong_answers, weights_digest

__all__ = [
    "BACK_MARKER",
    "DECISIVE_CALIBRATION",
    "DECISIVE_TASK_OPTIONS",
    "DECISIVE_TRAIN_OVERRIDES",
    "RECIPE_FILE",
    "REGIMES",
    "SIZES",
    "TASK_SPECS",
    "Example",
    "LossPoint",
    "ModelSize",
    "Recipe",
    "Regime",
    "SizeName",
    "TaskSpec",
    "TrainConfig",
    "WrongAnswers",
    "decisive_options",
    "examples",
    "read_recipe",
    "sample_wrong_answers",
    "task_spec",
    "train",
    "training_seed",
    "weights_digest",
]
