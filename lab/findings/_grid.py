"""The findings grid: what is trained and what is run, as a pure function of the options.

:func:`plan` gives the testbed models in their training phases (phase 1: every seed's
expert; phase 2: the arms that learn from the experts' mistakes, and the exploratory
scratchpad), all the seeds of a phase trained together as one stack; the **decisive runs**
(each model under the conditions that need a trajectory, in distribution) and the
exploratory report *groups* (critic modes on one expert, the embedded SmolLM2, the
simulated calibration). The primary outcomes are scored exactly from the models, not run
(:mod:`._scores`). Running the plan is :mod:`redraft.lab.findings._run`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from redraft.lab.findings._design import (
    ARMS,
    BASE,
    CONDITIONS,
    DECISIVE_CALIBRATION,
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
    "model_dir",
    "plan",
    "task_options",
]

META_FILE = "meta.json"
"""What the page needs besides the summaries: options, costs, trained models."""
MODEL_COST = "model/"
"""Costs key prefix (``WORK/costs.json``, the meta's ``costs``) of a training stack's
seconds (``model/phase-2-expert+recovery``: the phase, then the arms in the stack; a phase
trains in one stack, or two where some arms write longer answers)."""
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
    """Paired seeds: each trains every arm (the unit of every primary outcome)."""
    size: str
    """Testbed model size (``micro``, ``small``, ``medium``, ``large``)."""
    base_steps: int = Field(ge=1)
    """Optimizer steps of each seed's base model, from scratch (to convergence)."""
    base_lr: float = Field(gt=0)
    """The base's peak learning rate."""
    train_steps: int = Field(ge=1)
    """Optimizer steps of every arm's model from its base (equal examples per arm)."""
    lr: float = Field(gt=0)
    """The arms' peak learning rate."""
    learn_steps: int = Field(ge=1)
    """The most optimizer steps of an arm trained until learnt (the retry), from its base."""
    batch_size: int = Field(ge=1)
    """Training examples per optimizer step."""
    device: str | None
    """Torch device for training, scoring and the runs; None: CUDA when present, else CPU."""
    episode_steps: int = Field(ge=4)
    """Steps of training *and* evaluation episodes: every evaluated step is in
    distribution."""
    temperature: float = Field(gt=0)
    """The evaluation temperature: the main condition (from :data:`DECISIVE_CALIBRATION`,
    its one home)."""
    eval_every: int = Field(ge=1)
    """Training steps between held-out scorings (the learning curves)."""
    heldout_episodes: int = Field(ge=1)
    """Held-out episodes per seed on the learning curves."""
    eval_episodes: int = Field(ge=1)
    """Evaluation episodes of the shared constructed states (exact scores)."""
    error_sites: tuple[int, ...]
    """The 1-based steps at which a post-error state's wrong total is committed."""
    committed_states: int = Field(ge=0)
    """Clean states scored for the committed error with retries."""
    episodes: int = Field(ge=1)
    """Episodes per decisive run (per model and condition)."""
    eval_batch: int = Field(ge=1)
    """Episodes advanced together in a run."""
    arms: tuple[str, ...]
    """The arms trained at this scale."""
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


_PRIMARY_ARMS = ("expert", "retry", "recovery")
_ALL_ARMS = (*_PRIMARY_ARMS, "scratchpad")

def _temperature(scale: str) -> float:
    return float(DECISIVE_CALIBRATION[scale]["temperature"])


SCALES: dict[str, Scale] = {
    "tiny": Scale(seeds=2, size="micro", base_steps=4, base_lr=3e-3, train_steps=3, lr=1e-3,
                  learn_steps=6, batch_size=8, device="cpu", episode_steps=6,
                  temperature=_temperature("gpu"),
                  eval_every=2, heldout_episodes=1, eval_episodes=2, error_sites=(3,),
                  committed_states=4, episodes=2, eval_batch=8, arms=_ALL_ARMS, rounds=1,
                  critic_episodes=2, embedded_episodes=1, chess_steps=2, addition_steps=2,
                  simulated_episodes=8,
                  budget="a CPU rehearsal of the whole pipeline in seconds (the gpu preset's "
                  "code at tiny sizes); numbers meaningless"),
    "quick": Scale(seeds=8, size="micro", base_steps=4000, base_lr=7e-4, train_steps=3000,
                   lr=1e-3, learn_steps=8000, batch_size=32, device="cpu", episode_steps=24,
                   temperature=_temperature("quick"), eval_every=250, heldout_episodes=8,
                   eval_episodes=64, error_sites=(5, 11, 17), committed_states=512,
                   episodes=32, eval_batch=64, arms=_PRIMARY_ARMS, rounds=1,
                   critic_episodes=20, embedded_episodes=2, chess_steps=5, addition_steps=4,
                   simulated_episodes=100,
                   budget="2 CPU cores: 8 paired seeds, each a base model and 3 arms from it, "
                   "every phase's models trained at once in one stack"),
    "full": Scale(seeds=12, size="micro", base_steps=4000, base_lr=7e-4, train_steps=3000,
                  lr=1e-3, learn_steps=8000, batch_size=32, device="cpu", episode_steps=24,
                  temperature=_temperature("full"), eval_every=250, heldout_episodes=8,
                  eval_episodes=96, error_sites=(5, 11, 17), committed_states=768,
                  episodes=48, eval_batch=64, arms=_ALL_ARMS, rounds=2, critic_episodes=40,
                  embedded_episodes=4, chess_steps=10, addition_steps=6,
                  simulated_episodes=400,
                  budget="2 CPU cores: 12 paired seeds, each a base model, 3 arms and the "
                  "scratchpad from it"),
    "gpu": Scale(seeds=16, size="micro", base_steps=4000, base_lr=7e-4, train_steps=3000,
                 lr=1e-3, learn_steps=8000, batch_size=32, device="cuda", episode_steps=24,
                 temperature=_temperature("gpu"), eval_every=250, heldout_episodes=8,
                 eval_episodes=128, error_sites=(5, 11, 17), committed_states=1024,
                 episodes=64, eval_batch=128, arms=_ALL_ARMS, rounds=2, critic_episodes=64,
                 embedded_episodes=2, chess_steps=5, addition_steps=4, simulated_episodes=400,
                 budget="one H100/H200: 16 paired seeds, each a base model, 3 arms and the "
                 "scratchpad from it, every phase one stack on the GPU"),
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
    """Run the grid's trajectories on this model instead of training testbed models (one
    arm, ``expert``; no primary outcome: they are scored from a testbed model's logits)."""
    scale: ScaleName = "quick"
    """Grid sizes (:data:`SCALES`)."""
    seed: int = 0
    """Base seed: training seeds are ``seed .. seed + seeds - 1``; runs and the evaluation
    states use ``seed``."""
    embedded: bool = True
    """Include the SmolLM2 (llama.cpp) runs on chess and addition."""
    threads: int | None = Field(None, ge=1)
    """Torch CPU threads of the training stack; None: every CPU this process may use."""


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
    phase: int
    """Training phase (1: the seeds' bases, from scratch; 2: the arms, from their base)."""
    steps: int | None = None
    """Optimizer steps; None: the arm's budget (the scale's steps, or for a
    supervised-token budget as many steps as give the expert's supervised tokens)."""
    extra: dict[str, JsonValue] = Field(default_factory=dict)
    """The arm's settings (:class:`~redraft.lab.testbed.Member` fields)."""
    expert: Path | None = None
    """The model whose mistakes this one learns from (its seed's base)."""
    init: Path | None = None
    """The trained model this one starts from (its seed's base); None: fresh weights."""


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
    """Models to train, phase 1 first."""
    decisive: list[DecisiveRun]
    """The decisive runs (arms × seeds × conditions)."""
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
                "monologue": mono, **(given if isinstance(given, dict) else {}),
                "critic": critic, "max_revisions": k}
            fields = {k2: v for k2, v in base.items() if k2 != "corrector"}
            runs.append(_run(name, **fields, corrector=corrector))
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
    temperature = scale.temperature if condition.temperature == "eval" else 0.0
    sampling: dict[str, JsonValue] = {"temperature": temperature}
    return {"task": TESTBED_TASK, "model": model, "representation": representation,
            "task_options": options, "episodes": scale.episodes,
            "max_steps": scale.episode_steps, "seed": seed, "error_policy": "continue",
            "batch_size": scale.eval_batch,
            "corrector": {"critic": "none", "max_revisions": 0, "monologue": False,
                          "sampling": sampling}}


def _model_strings(options: FindingsOptions, scale: Scale) -> list[tuple[int, str]]:
    """With ``--model``: (seed, model) per seed of the single arm."""
    model = options.model or ""
    if model.startswith("simulated/"):
        return [(options.seed + i, f"{model},seed={options.seed + i}")
                for i in range(scale.seeds)]
    return [(options.seed, model)]


def model_dir(work: Path, arm: str, seed: int) -> Path:
    """Where the model of ``arm`` and ``seed`` is written."""
    return work / "models" / f"{arm}-s{seed}"


def plan(options: FindingsOptions) -> Plan:
    """The models to train, the decisive runs and the exploratory groups, for these options."""
    scale = SCALES[options.scale]
    seed = options.seed
    trains: list[TrainSpec] = []
    decisive: list[DecisiveRun] = []
    models: dict[tuple[str, int], str] = {}
    arms: dict[str, Arm] = {a.name: a for a in ARMS if a.name in scale.arms}
    if options.model is None:
        for i in range(scale.seeds):
            trains.append(TrainSpec(arm=BASE.name, regime=BASE.regime, seed=seed + i,
                                    out=model_dir(options.work, BASE.name, seed + i), phase=1))
        for arm in arms.values():
            for i in range(scale.seeds):
                out = model_dir(options.work, arm.name, seed + i)
                base = model_dir(options.work, BASE.name, seed + i)
                trains.append(TrainSpec(
                    arm=arm.name, regime=arm.regime, seed=seed + i, out=out, phase=2,
                    extra=dict(arm.train), init=base,
                    expert=base if arm.regime in ("retry", "recovery") else None))
                models[(arm.name, seed + i)] = f"hf/{out}"
    else:
        for s, model in _model_strings(options, scale):
            models[("expert", s)] = model
    for (arm_name, model_seed), model in models.items():
        for cname, condition in CONDITIONS.items():
            decisive.append(DecisiveRun(
                arm=arm_name, seed=model_seed, condition=cname,
                spec=RunSpec(name=f"{arm_name}-s{model_seed}-{cname}",
                             config=condition_config(options.scale, condition, model, seed))))
    groups: list[Group] = []
    common: dict[str, JsonValue] = {"seed": seed, "error_policy": "continue"}
    expert = models.get(("expert", seed)) or next(iter(models.values()))
    critics = condition_config(options.scale, CONDITIONS["free"], expert, seed)
    critics["episodes"] = scale.critic_episodes
    groups.append(Group(
        name="critics", title=f"one expert model ({expert}), temperature "
        f"{scale.temperature:g}, by critic mode: "
        "tool = verifier feedback, self = negative control (never trained to critique), "
        "resample = best-of-n with an exact verifier",
        runs=_critic_runs("", critics, ("none", "tool", "self", "resample"), scale.rounds)))
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
