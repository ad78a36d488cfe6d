"""The findings grid: what is trained and what is run, as a pure function of the options.

:func:`plan` gives the testbed models (every arm of
:data:`~redraft.lab.findings._design.ARMS`, several training seeds each, equal steps and
batch), the **decisive runs** (each model under its conditions, in distribution) and the
exploratory report *groups* (critic modes on one expert model, the embedded SmolLM2, the
simulated calibration). Running it is :mod:`redraft.lab.findings._run`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.lab.findings._design import (
    ARMS,
    CONDITIONS,
    DECISIVE_TASK_OPTIONS,
    DECISIVE_TRAIN_OVERRIDES,
    Arm,
    Condition,
)

__all__ = [
    "META_FILE",
    "MODEL_COST",
    "SCALES",
    "SUMMARIES_DIR",
    "DecisiveRun",
    "FindingsOptions",
    "Group",
    "Plan",
    "RunSpec",
    "Scale",
    "ScaleName",
    "TrainSpec",
    "condition_config",
    "decisive_dir",
    "group_dir",
    "plan",
    "task_options",
]

META_FILE = "meta.json"
"""What the page needs besides the summaries: options, costs, trained models."""
MODEL_COST = "model/"
"""Costs key prefix (``WORK/costs.json``, the meta's ``costs``): seconds of one model's
training, overlapping when several train at once, so the page leaves them out of its total."""
SUMMARIES_DIR = "summaries"
"""Folder (inside the output folder) of one compact ``summary.json`` per group."""

ScaleName = Literal["tiny", "quick", "full", "gpu"]
TESTBED_TASK = "running_sum"
SIMULATED = "simulated/e=0.1,r=0.5,h=0.05,tpr=0.8,fpr=0.1,think_e=0.2,think_r=0.5"
"""The calibration policy: every rate it plants is known."""
SIMULATED_TRUTH: dict[str, float] = {
    "e_raw": 0.1, "self critic TPR": 0.8, "self critic FPR": 0.1,
}
"""The rates planted in :data:`SIMULATED` (monologue: first answer wrong 0.2, fixed 0.5)."""
EMBEDDED = "llamacpp/smollm2"


class Scale(BaseModel):
    """Sizes of one scale of the grid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seeds: int = Field(ge=1)
    """Trained models (training seeds) per arm: the unit of every regime comparison."""
    size: str
    """Testbed model size (``micro``, ``small``, ``medium``, ``large``)."""
    train_steps: int = Field(ge=1)
    """Optimizer steps per model: every arm trains the same steps of the same batch (equal
    examples; no time cap, which on a busy machine gave regimes unequal steps)."""
    batch_size: int = Field(ge=1)
    """Training examples per optimizer step."""
    device: str | None
    """Torch device for training and the testbed runs; None: CUDA when present, else CPU."""
    episode_steps: int = Field(ge=2)
    """Steps of training *and* evaluation episodes: every evaluated step is in
    distribution."""
    episodes: int = Field(ge=1)
    """Episodes per decisive run (per model and condition)."""
    eval_batch: int = Field(ge=1)
    """Episodes advanced together in a run."""
    plant_step: int = Field(ge=1)
    """The (1-based) step whose shown total is replaced by a planted wrong one."""
    plant_window: int = Field(ge=1)
    """Steps after the plant over which its effect is measured."""
    rounds: int = Field(ge=0)
    """Revision budget of the critic-mode runs (exploratory section)."""
    critic_episodes: int = Field(ge=1)
    """Episodes per critic-mode run (one expert model)."""
    embedded_episodes: int = Field(ge=1)
    """Episodes per embedded-model (SmolLM2) run."""
    chess_steps: int = Field(ge=1)
    """Agent moves per chess game (censoring)."""
    addition_steps: int = Field(ge=1)
    """Digits per addition episode."""
    simulated_episodes: int = Field(ge=1)
    """Episodes per simulated (calibration) run."""
    budget: str
    """What the scale is sized for (the page states the measured cost beside it)."""


SCALES: dict[str, Scale] = {
    "tiny": Scale(seeds=2, size="micro", train_steps=3, batch_size=8, device="cpu",
                  episode_steps=6, episodes=4, eval_batch=8, plant_step=2, plant_window=2,
                  rounds=1, critic_episodes=3, embedded_episodes=1, chess_steps=2,
                  addition_steps=2, simulated_episodes=8,
                  budget="a CPU rehearsal of the whole pipeline in seconds; numbers "
                  "meaningless"),
    # DECISIVE_CALIBRATION["quick"]: every micro seed tried had learnt the task by 3000
    # steps of 32 (the learning turn falls between 1000 and 3000 depending on the seed).
    "quick": Scale(seeds=3, size="micro", train_steps=3000, batch_size=32, device="cpu",
                   episode_steps=24, episodes=30, eval_batch=64, plant_step=8,
                   plant_window=4, rounds=1, critic_episodes=20, embedded_episodes=2,
                   chess_steps=5, addition_steps=4, simulated_episodes=100,
                   budget="2 CPU cores; 15 micro models of 3000 steps of 32, two at once "
                   "(about 2.5 minutes each on one thread), then the runs: 18.5 minutes on "
                   "idle cores from scratch (2026-12-05; this run's own cost is under "
                   "Setup)"),
    "full": Scale(seeds=5, size="micro", train_steps=3000, batch_size=64, device="cpu",
                  episode_steps=32, episodes=100, eval_batch=64, plant_step=12,
                  plant_window=4, rounds=2, critic_episodes=60, embedded_episodes=6,
                  chess_steps=15, addition_steps=6, simulated_episodes=400,
                  budget="2 CPU cores, about 70 minutes on an idle machine (partly "
                  "measured, 2026-12-05: 15 of the 25 models trained in 32 minutes, "
                  "3.4-5.0 minutes each two at once, so about 54 for all; the runs, about "
                  "5x the quick scale's 2.6 minutes, estimated)"),
    "gpu": Scale(seeds=5, size="small", train_steps=600, batch_size=256, device="cuda",
                 episode_steps=32, episodes=96, eval_batch=96, plant_step=12,
                 plant_window=4, rounds=2, critic_episodes=96, embedded_episodes=2,
                 chess_steps=5, addition_steps=4, simulated_episodes=400,
                 budget="one H200; estimated, not measured: about 33 minutes with one "
                 "model at a time (25 models × ~35 s of training; 105 runs × 32 batched "
                 "steps × ~0.3 s of host-bound decoding), 4x the issue's 8 minutes: see "
                 "docs/testbed.md"),
}
"""The grid's sizes. ``tiny`` is the CPU rehearsal of the ``gpu`` preset run by the tests."""


class FindingsOptions(BaseModel):
    """What ``redraft findings`` was asked for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out: Path
    """Folder of the figures, summaries and meta; the page is written beside it as
    ``OUT.md`` (``docs/findings`` → ``docs/findings.md``)."""
    work: Path = Path("runs/findings")
    """Models, run directories (large event logs) and full reports."""
    model: str | None = None
    """Run the grid on this model instead of training testbed models (one arm, ``expert``;
    a ``simulated/...`` model gets one seed per scale seed, any other model one)."""
    scale: ScaleName = "quick"
    """Grid sizes (:data:`SCALES`)."""
    seed: int = 0
    """Base seed: training seeds are ``seed .. seed + seeds - 1``; runs use ``seed``."""
    embedded: bool = True
    """Include the SmolLM2 (llama.cpp) runs on chess and addition."""
    threads: int | None = Field(None, ge=1)
    """Torch CPU threads of each training process; None: the CPUs shared out among the
    models trained at once (:func:`~redraft.lab.findings._run.training_threads`)."""
    jobs: int | None = Field(None, ge=1)
    """Models trained at once, each in its own process; None: one per CPU on a CPU scale
    (at most 8), one on a GPU (:func:`~redraft.lab.findings._run.training_jobs`)."""


class TrainSpec(BaseModel):
    """One testbed model to train."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    arm: str
    """The arm (data regime as trained)."""
    regime: str
    """Testbed regime."""
    seed: int
    """Training seed."""
    out: Path
    """Model directory."""
    extra: dict[str, JsonValue] = Field(default_factory=dict)
    """``TrainConfig`` fields beyond the scale's (the arm's settings)."""


class RunSpec(BaseModel):
    """One run of a group: an ``EvalConfig``'s fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Run directory name (also the run's name in the report)."""
    config: dict[str, JsonValue]
    """``EvalConfig`` fields."""


class DecisiveRun(BaseModel):
    """One run of the decisive grid: a trained model (arm, seed) under one condition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    arm: str
    """The arm."""
    seed: int
    """The model's training seed."""
    condition: str
    """The condition (:data:`CONDITIONS`)."""
    spec: RunSpec
    """The run itself."""


class Group(BaseModel):
    """Runs reported together; the first is the baseline of the comparison."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Group name (its summary is ``summaries/NAME.json``)."""
    title: str
    """What the group measures, for the page."""
    runs: list[RunSpec]
    """The group's runs, baseline first."""


class Plan(BaseModel):
    """Everything a scale trains and runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trains: list[TrainSpec]
    """Models to train, each arm's expert of a seed before the arms that use its mistakes."""
    decisive: list[DecisiveRun]
    """The decisive grid (arms × seeds × conditions)."""
    groups: list[Group]
    """Exploratory groups, reported with ``redraft report``."""


def _run(name: str, **config: JsonValue) -> RunSpec:
    return RunSpec(name=name, config=config)


def _critic_runs(prefix: str, base: dict[str, JsonValue], critics: tuple[str, ...],
                 rounds: int, monologue: tuple[bool, ...] = (False,)) -> list[RunSpec]:
    runs = []
    for mono in monologue:
        for critic in critics:
            k = 0 if critic == "none" else rounds
            name = f"{prefix}{critic}-k{k}" + ("-monologue" if mono else "")
            given = base.get("corrector")
            corrector: dict[str, JsonValue] = {
                "monologue": mono, **(given if isinstance(given, dict) else {})}
            fields = {k2: v for k2, v in base.items() if k2 != "corrector"}
            runs.append(_run(name, **fields, critic=critic, max_revisions=k, corrector=corrector))
    return runs


def task_options(scale_name: str, *, training: bool = False,
                 ) -> tuple[str, dict[str, JsonValue]]:
    """The decisive task's representation and other options at a scale.

    ``training``: with :data:`DECISIVE_TRAIN_OVERRIDES` (the mixed starts models learn from).
    """
    # ``tiny`` rehearses the ``gpu`` preset at tiny sizes: the same task unless it has its own.
    chosen = DECISIVE_TASK_OPTIONS.get(scale_name) or DECISIVE_TASK_OPTIONS["gpu"]
    options = {**chosen, **(DECISIVE_TRAIN_OVERRIDES if training else {})}
    representation = str(options.pop("representation", "recent"))
    return representation, options


def condition_config(scale_name: str, condition: Condition, model: str,
                     seed: int) -> dict[str, JsonValue]:
    """The ``EvalConfig`` fields of one decisive run (critic none, ``continue`` policy)."""
    scale = SCALES[scale_name]
    representation, options = task_options(scale_name)
    if condition.teacher_force:
        options["teacher_force"] = True
    if condition.plant:
        options["plant_errors"] = [scale.plant_step - 1]  # the task counts steps from 0
    if not condition.checkpoints:
        options["checkpoint_every"] = None
    sampling: dict[str, JsonValue] = {"temperature": condition.temperature}
    return {"task": TESTBED_TASK, "model": model, "representation": representation,
            "task_options": options, "episodes": scale.episodes,
            "max_steps": scale.episode_steps, "seed": seed, "error_policy": "continue",
            "critic": "none", "max_revisions": 0, "batch_size": scale.eval_batch,
            "corrector": {"monologue": False, "sampling": sampling}}


def _model_strings(options: FindingsOptions, scale: Scale) -> list[tuple[int, str]]:
    """With ``--model``: (seed, model) per seed of the single arm."""
    model = options.model or ""
    if model.startswith("simulated/"):
        return [(options.seed + i, f"{model},seed={options.seed + i}")
                for i in range(scale.seeds)]
    return [(options.seed, model)]


def plan(options: FindingsOptions) -> Plan:
    """The models to train, the decisive runs and the exploratory groups, for these options."""
    scale = SCALES[options.scale]
    seed = options.seed
    trains: list[TrainSpec] = []
    decisive: list[DecisiveRun] = []
    models: dict[tuple[str, int], str] = {}
    if options.model is None:
        for i in range(scale.seeds):
            for arm in ARMS:
                out = options.work / "models" / f"{arm.name}-s{seed + i}"
                extra = dict(arm.train)
                if extra.get("wrong_source") == "model":
                    extra["wrong_model"] = str(options.work / "models" / f"expert-s{seed + i}")
                trains.append(TrainSpec(arm=arm.name, regime=arm.regime, seed=seed + i,
                                        out=out, extra=extra))
                models[(arm.name, seed + i)] = f"hf/{out}"
    else:
        for s, model in _model_strings(options, scale):
            models[("expert", s)] = model
    arms: dict[str, Arm] = {a.name: a for a in ARMS}
    for (arm_name, model_seed), model in models.items():
        for cname in arms[arm_name].conditions:
            condition = CONDITIONS[cname]
            decisive.append(DecisiveRun(
                arm=arm_name, seed=model_seed, condition=cname,
                spec=RunSpec(name=f"{arm_name}-s{model_seed}-{cname}",
                             config=condition_config(options.scale, condition, model, seed))))
    groups: list[Group] = []
    common: dict[str, JsonValue] = {"seed": seed, "error_policy": "continue"}
    expert = models.get(("expert", seed)) or next(iter(models.values()))
    base = {key: value for key, value in condition_config(
        options.scale, CONDITIONS["free-t1"], expert, seed).items()
        if key not in ("critic", "max_revisions")}
    base["episodes"] = scale.critic_episodes
    groups.append(Group(
        name="critics", title=f"one expert model ({expert}), temperature 1, by critic mode: "
        "tool = verifier feedback, self = negative control (never trained to critique), "
        "resample = best-of-n with an exact verifier",
        runs=_critic_runs("", base, ("none", "tool", "self", "resample"), scale.rounds)))
    if options.embedded:
        chess = {**common, "task": "chess", "model": EMBEDDED, "representation": "legal",
                 "opponent": "random", "episodes": scale.embedded_episodes,
                 "max_steps": scale.chess_steps}
        groups.append(Group(
            name="smollm2-chess", title=f"{EMBEDDED} on chess (legal moves listed, random "
            "opponent); constrained = decoding restricted to legal moves (prevention)",
            runs=_critic_runs("", chess, ("none", "tool", "constrained"), scale.rounds)))
        addition = {**common, "task": "addition", "model": EMBEDDED,
                    "episodes": scale.embedded_episodes, "max_steps": scale.addition_steps}
        groups.append(Group(
            name="smollm2-addition", title=f"{EMBEDDED} on long addition",
            runs=_critic_runs("", addition, ("none", "tool", "self"), scale.rounds)))
    sim = {**common, "task": TESTBED_TASK, "model": SIMULATED,
           "episodes": scale.simulated_episodes, "max_steps": scale.episode_steps}
    groups.append(Group(
        name="simulated", title="simulated policy with planted rates (calibration)",
        runs=_critic_runs("", sim, ("none", "tool", "self", "resample"), scale.rounds,
                          (False, True))))
    return Plan(trains=trains, decisive=decisive, groups=groups)


def decisive_dir(work: Path, run: DecisiveRun) -> Path:
    """Where a decisive run lives."""
    return work / "runs" / "decisive" / run.spec.name


def group_dir(work: Path, group: Group, spec: RunSpec) -> Path:
    """Where a run of an exploratory group lives."""
    return work / "runs" / group.name / spec.name
