"""What a testbed model is trained with (its config) and how it was trained (its recipe).

The recipe is written into the model directory as :data:`RECIPE_FILE`, next to the config,
the weights and the tokenizer, so that an eval can tell which task and representation the
model was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from redraft.core import BadInputError
from redraft.evals import MODEL_RECIPE_FILE
from redraft.lab.testbed._markers import BACK_MARKER
from redraft.lab.testbed._regimes import Regime
from redraft.lab.testbed._wrong import WrongAnswers

__all__ = [
    "RECIPE_FILE",
    "SIZES",
    "ExpertDraws",
    "HeldoutPoint",
    "LossPoint",
    "ModelSize",
    "Recipe",
    "SizeName",
    "TrainConfig",
    "read_recipe",
]

RECIPE_FILE = MODEL_RECIPE_FILE
"""The recipe's file name inside a model directory: the framework reads its ``task`` and
``task_options`` (:func:`redraft.evals.trained_defaults`)."""

SizeName = Literal["micro", "small", "medium", "large"]
"""Named model sizes: ``micro`` the CPU default, ``small`` a 4-layer CPU size, the rest for
GPUs."""


class ModelSize(BaseModel):
    """The shape of a decoder-only transformer (a Llama config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hidden: int = Field(ge=8)
    """Width of the residual stream."""
    layers: int = Field(ge=1)
    """Transformer blocks."""
    heads: int = Field(ge=1)
    """Attention heads (``hidden`` must be a multiple)."""
    ffn: int = Field(ge=8)
    """Width of the feed-forward layer."""


SIZES: dict[str, ModelSize] = {
    "micro": ModelSize(hidden=64, layers=2, heads=2, ffn=256),
    "small": ModelSize(hidden=128, layers=4, heads=4, ffn=512),
    "medium": ModelSize(hidden=256, layers=6, heads=8, ffn=1024),
    "large": ModelSize(hidden=512, layers=8, heads=8, ffn=2048),
}
"""``micro`` ~0.1M parameters, ``small`` ~0.8M, ``medium`` ~4.8M, ``large`` ~25M."""


class TrainConfig(BaseModel):
    """What ``redraft train`` trains."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    """The task whose episodes give the training text."""
    regime: Regime = "expert"
    """The data regime."""
    representation: str | None = None
    """The task's prompt representation; None: the testbed's default for the task (one
    where each step's computation is local, e.g. ``shown`` for running_sum)."""
    task_options: dict[str, JsonValue] = Field(default_factory=dict)
    """Further task options (e.g. ``digits`` for addition)."""
    size: SizeName = "micro"
    """The model size: ``micro`` reached 92% right held-out steps in 930 steps of 64 on a
    busy 2-core machine (4 minutes); larger sizes want more steps than 2 CPU cores give in
    minutes."""
    steps: int = Field(2000, ge=1)
    """Optimizer steps (training stops earlier when ``minutes`` run out)."""
    minutes: float | None = Field(9.0, gt=0)
    """Wall-clock budget of the training loop; None: none. The learning rate decays with
    whichever of steps or time is further along, so a slow machine still ends cooled down."""
    batch_size: int = Field(64, ge=1)
    """Examples (steps) per optimizer step."""
    lr: float = Field(3e-3, gt=0)
    """Peak learning rate (AdamW, linear warm-up, cosine decay to a tenth)."""
    seed: int = 0
    """Fixes the weights' initialisation, the episodes and the regime's draws."""
    episode_steps: int = Field(20, ge=1)
    """The step limit of training episodes: evals on longer ones test length generalisation."""
    retry_p: float = Field(0.2, ge=0.0, le=0.5)
    """``retry``: the share of steps that show a wrong answer and the marker first (Ye et
    al. found 0.5 best)."""
    mask_wrong: bool = False
    """``retry``: leave the wrong answers out of the loss, not the marker after them (Ye et
    al. found it unneeded)."""
    wrong_source: Literal["offset", "model", "expert"] = "offset"
    """Where wrong answers (retry's, and the earlier errors of ``recovery_p``) come from:
    ``offset``, the right total ±1..10; ``model``, the offsets of the wrong totals that
    ``wrong_model`` wrote when sampled at temperature 1 on expert states of this task (the
    recipe records them); ``expert``, at every state that needs one, a wrong total drawn
    from ``wrong_model``'s own answer distribution at that state (conditioned on being
    wrong, at ``wrong_temperature``): the findings' stacked training only."""
    wrong_temperature: float | None = Field(None, gt=0)
    """``wrong_source="expert"``: the temperature of the draws (the evaluation's)."""
    init_model: str | None = None
    """A trained model directory of the same size to start from (None: fresh weights
    initialised from ``seed``)."""
    wrong_model: str | None = None
    """With ``wrong_source="model"``: the trained model directory whose mistakes are used."""
    recovery_p: float = Field(0.0, ge=0.0, le=0.5)
    """The share of training steps committed wrong, so that later states hold earlier
    errors; ``recovery`` needs it above 0 and trains those states to restore the truth."""
    threads: int = Field(2, ge=1)
    """Torch CPU threads."""
    device: str | None = None
    """Torch device; None: ``cuda`` when available, else ``cpu``."""
    log_every: int = Field(50, ge=1)
    """Record the training loss every this many steps (the only host synchronisation)."""
    tokens: int | None = Field(None, ge=1)
    """Token budget (prompts and answers, padding excluded); training stops at whichever of
    ``steps``, ``tokens`` and ``minutes`` comes first. Compare regimes at equal steps or
    tokens, never at equal time."""
    compile: Literal["auto", "on", "off"] = "auto"
    """``torch.compile`` the training loss: ``auto`` compiles on CUDA only (on 2 CPU cores
    compiling took minutes and gained nothing); a compile that fails falls back to eager,
    noted in the recipe."""
    data_workers: int | None = Field(None, ge=0, le=8)
    """Processes generating examples; None: 0 on CPU (a background thread does it), up to 6
    on CUDA, where one Python process cannot feed the device."""
    bucket: bool = False
    """Batch examples of similar length together (less padding, but a batch's examples are
    then alike, e.g. retry answers together)."""

    @model_validator(mode="after")
    def _wrong_source_named(self) -> TrainConfig:
        if (self.wrong_source != "offset") != (self.wrong_model is not None):
            raise ValueError("wrong_source=model and wrong_model go together: name the model "
                             "directory whose mistakes to use, or leave both out")
        return self

    def task_kwargs(
        self, default_representation: str, default_options: dict[str, JsonValue]
    ) -> dict[str, Any]:
        """The options the task factory gets: the testbed's defaults, then those given."""
        if "representation" in self.task_options:
            raise BadInputError("give the representation with --representation, not as a "
                                "task option")
        if self.task_options.get("teacher_force"):
            raise BadInputError("teacher_force is an eval option (episodes go on from the "
                                "truth); train without it and give it to redraft eval")
        return {**default_options, **self.task_options,
                "representation": self.representation or default_representation}


class LossPoint(BaseModel):
    """The mean training loss over the last logging interval."""

    model_config = ConfigDict(frozen=True)

    step: int
    """Optimizer steps done."""
    seconds: float
    """Training time so far."""
    loss: float
    """Mean cross-entropy per target token."""


class ExpertDraws(BaseModel):
    """Where a model's wrong totals came from with ``wrong_source="expert"``."""

    model_config = ConfigDict(frozen=True)

    model: str
    """The expert's model directory."""
    weights: str | None
    """SHA-256 of its weights file when drawn from (a retrained expert has others)."""
    temperature: float
    """The temperature of the draws."""


class HeldoutPoint(BaseModel):
    """Scores on held-out clean states during training: one point of a learning curve."""

    model_config = ConfigDict(frozen=True)

    step: int
    """Optimizer steps done."""
    loss: float
    """Mean cross-entropy per target token."""
    accuracy: float
    """Share of states whose exact target is the greedy output (every token the argmax)."""
    error: float
    """One minus the mean probability of writing exactly the target at the evaluation
    temperature (:attr:`Recipe.eval_temperature`)."""


class Recipe(BaseModel):
    """How a testbed model was made: written as :data:`RECIPE_FILE` in its directory."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 2
    """Bumped when fields change meaning. 2: ``mask_wrong`` leaves the wrong answer out of
    the loss, not the marker after it (schema 1 left out both, so its masked retry models
    never learnt to write the marker)."""
    task: str
    """The task trained on."""
    task_options: dict[str, JsonValue]
    """The task options trained on, representation included."""
    regime: str
    """The data regime."""
    config: TrainConfig
    """The training config as given."""
    size: ModelSize
    """The model shape."""
    parameters: int
    """Trainable parameters."""
    steps_done: int
    """Optimizer steps run."""
    stopped_by: Literal["steps", "time", "tokens", "converged"]
    """Which budget ended training: a ``time`` stop means this model saw less than the
    others of its comparison; ``converged``: a stopping rule on its held-out accuracy."""
    examples_seen: int
    """Training examples (steps of episodes) seen."""
    tokens_seen: int
    """Tokens fed to the model (prompts and answers, padding excluded)."""
    target_tokens_seen: int
    """Tokens the loss was taken on."""
    seconds: float
    """Wall-clock time of the training loop."""
    device: str
    """Where it trained."""
    threads: int
    """Torch CPU threads."""
    loss_curve: list[LossPoint]
    """The training loss over time."""
    heldout_step_accuracy: float
    """Share of held-out steps (expert states) whose greedy output is exactly the right
    answer (read from one teacher-forced pass): a quick check, not the eval."""
    heldout_steps: int
    """Held-out steps in that check."""
    versions: dict[str, str]
    """Versions of redraft, torch, transformers, tokenizers and Python."""
    precision: str = "float32"
    """The training arithmetic: ``float32``, or ``bfloat16`` autocast (CUDA)."""
    compiled: bool = False
    """Whether the loss ran under ``torch.compile``."""
    data_wait_seconds: float = 0.0
    """Training-loop time spent waiting for a batch (the pipeline's share of step time)."""
    producer_cpu_seconds: float = 0.0
    """CPU time of the background batching thread (worker processes not counted)."""
    notes: list[str] = Field(default_factory=list)
    """What went differently than configured (e.g. a compile that failed)."""
    wrong_answers: WrongAnswers | None = None
    """With ``wrong_source="model"``: what sampling ``wrong_model`` gave (the offsets the
    wrong answers were drawn from)."""
    init_weights: str | None = None
    """SHA-256 of the weights file of ``config.init_model`` when training started."""
    wrong_expert: ExpertDraws | None = None
    """With ``wrong_source="expert"``: the expert whose answer distribution the wrong totals
    were drawn from, state by state."""
    heldout_curve: list[HeldoutPoint] = Field(default_factory=list)
    """Held-out scores during training (stacked training): whether the model converged."""
    eval_temperature: float | None = None
    """The temperature of :attr:`heldout_curve`'s error (stacked training)."""
    stacked_with: int | None = None
    """Models trained in the same stack, this one included (None: trained alone)."""
    wait_policy: str | None = None
    """How torch's OpenMP threads waited (chosen by the machine's load)."""

    def outdated(self) -> str | None:
        """Why a model made with this recipe is not what its config now trains, or None."""
        if self.schema_version < 2 and self.config.regime == "retry" and self.config.mask_wrong:
            return (f"it was trained when mask_wrong also left the {BACK_MARKER} marker out of "
                    "the loss (recipe schema 1), so it never learnt to take an answer back")
        return None


def read_recipe(model_dir: Path) -> Recipe | None:
    """The recipe of a testbed model directory; None if it has none.

    Raises:
        BadInputError: the recipe is unreadable.
    """
    path = Path(model_dir) / RECIPE_FILE
    if not path.is_file():
        return None
    try:
        return Recipe.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise BadInputError(f"{path} is not a readable testbed recipe: "
                            f"{' '.join(str(exc).split())[:200]}") from exc
