"""The findings grid: what is trained, what is run, and running it.

The grid at a scale is a pure function of the options (:func:`plan`): the testbed models
(every arm of :data:`~redraft.evals.findings._design.ARMS`, several training seeds each,
equal steps and batch), the **decisive runs** (each model under its conditions, in
distribution) and the exploratory report *groups* (critic modes on one expert model, the
embedded SmolLM2, the simulated calibration). :func:`run_findings` trains what is missing,
runs every run through ``redraft grid``'s executor (:func:`~redraft.evals._eval.run_grid`:
one loaded model per grid, the same run order and seed restarts), analyses the decisive
runs from their logs (``decisive.json``), reports each group, and writes the page.
Rerunning continues where it stopped: a trained model (its recipe present) is not retrained,
a finished run is not rerun.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from redraft.evals.findings._design import (
    ARMS,
    CONDITIONS,
    DECISIVE_CALIBRATION,
    DECISIVE_TASK_OPTIONS,
    Arm,
    Condition,
)
from redraft.tools import BadInputError, ConstraintNotSupportedError

__all__ = [
    "META_FILE",
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
    "plan",
    "run_findings",
    "task_options",
]

META_FILE = "meta.json"
"""What the page needs besides the summaries: options, costs, trained models."""
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
    "quick": Scale(seeds=3, size="micro", train_steps=400, batch_size=64, device="cpu",
                   episode_steps=24, episodes=30, eval_batch=64, plant_step=8,
                   plant_window=4, rounds=1, critic_episodes=20, embedded_episodes=2,
                   chess_steps=5, addition_steps=4, simulated_episodes=100,
                   budget="2 CPU cores, at most ~25 minutes from scratch"),
    "full": Scale(seeds=5, size="micro", train_steps=1500, batch_size=64, device="cpu",
                  episode_steps=32, episodes=100, eval_batch=64, plant_step=12,
                  plant_window=4, rounds=2, critic_episodes=60, embedded_episodes=6,
                  chess_steps=15, addition_steps=6, simulated_episodes=400,
                  budget="2 CPU cores, about an hour on an idle machine (estimated from "
                  "per-item times of the quick scale's pieces, not measured)"),
    "gpu": Scale(seeds=5, size="small", train_steps=600, batch_size=256, device="cuda",
                 episode_steps=32, episodes=96, eval_batch=96, plant_step=12,
                 plant_window=4, rounds=2, critic_episodes=96, embedded_episodes=2,
                 chess_steps=5, addition_steps=4, simulated_episodes=400,
                 budget="one H200, at most ~6 minutes for the whole grid (sized, not yet "
                 "measured)"),
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
    threads: int = Field(2, ge=1)
    """Torch CPU threads for training."""


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
            runs.append(_run(name, **fields, critic=critic, max_rounds=k, corrector=corrector))
    return runs


def task_options(scale_name: str) -> tuple[str, dict[str, JsonValue]]:
    """The decisive task's representation and other options at a scale."""
    # ``tiny`` rehearses the ``gpu`` preset at tiny sizes: the same task unless it has its own.
    chosen = DECISIVE_TASK_OPTIONS.get(scale_name) or DECISIVE_TASK_OPTIONS["gpu"]
    options = dict(chosen)
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
            "critic": "none", "max_rounds": 0, "batch_size": scale.eval_batch,
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
        if key not in ("critic", "max_rounds")}
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


# -- running -------------------------------------------------------------------------------


def _train(spec: TrainSpec, options: FindingsOptions, say: Callable[[str], None]) -> float:
    """Train one model unless its directory already holds one; the seconds it took."""
    from redraft.evals.testbed import TrainConfig, read_recipe, train

    scale = SCALES[options.scale]
    representation, opts = task_options(options.scale)
    data: dict[str, Any] = {
        "task": TESTBED_TASK, "regime": spec.regime, "representation": representation,
        "task_options": opts, "size": scale.size, "steps": scale.train_steps,
        "minutes": None, "batch_size": scale.batch_size, "seed": spec.seed,
        "episode_steps": scale.episode_steps, "threads": options.threads,
        "device": scale.device, **spec.extra}
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(f"findings: training {spec.arm} (seed {spec.seed}): "
                            f"{exc.errors()[0]['msg']}") from exc
    recipe = read_recipe(spec.out) if spec.out.is_dir() else None
    if recipe is not None:
        if recipe.config.model_dump(exclude={"threads", "device", "log_every"}) != \
                config.model_dump(exclude={"threads", "device", "log_every"}):
            raise BadInputError(
                f"{spec.out} holds a model trained with other settings than scale "
                f"{options.scale!r} and seed {spec.seed}: give another --work folder")
        say(f"findings: {spec.out} is trained ({recipe.steps_done} steps), kept")
        return float(recipe.seconds)
    if spec.out.exists():  # a half-written model directory from an interrupted run
        shutil.rmtree(spec.out)
    say(f"findings: training {spec.arm} seed {spec.seed} -> {spec.out}")
    recipe = train(config, spec.out, say=say)
    return float(recipe.seconds)


def _eval_config(spec: RunSpec) -> Any:
    from redraft.evals._config import EvalConfig, describe_validation_error
    from redraft.evals.testbed import eval_defaults

    data: dict[str, Any] = dict(spec.config)
    representation, options = eval_defaults(
        str(data["task"]), str(data["model"]), data.get("representation"),
        dict(data.get("task_options") or {}))
    data.update(representation=representation, task_options=options)
    try:
        return EvalConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(f"findings run {spec.name}: {describe_validation_error(exc)}") from exc


def _models_meta(trains: list[TrainSpec]) -> list[dict[str, JsonValue]]:
    from redraft.evals.testbed import read_recipe

    rows: list[dict[str, JsonValue]] = []
    for spec in trains:
        recipe = read_recipe(spec.out)
        if recipe is None:
            continue
        rows.append({
            "arm": spec.arm, "regime": spec.regime, "seed": spec.seed,
            "parameters": recipe.parameters, "steps": recipe.steps_done,
            "batch_size": recipe.config.batch_size, "stopped_by": recipe.stopped_by,
            "seconds": round(recipe.seconds, 1),
            "episode_steps": recipe.config.episode_steps,
            "heldout_step_accuracy": recipe.heldout_step_accuracy,
        })
    return rows


def decisive_dir(work: Path, run: DecisiveRun) -> Path:
    """Where a decisive run lives."""
    return work / "runs" / "decisive" / run.spec.name


def _group_dir(work: Path, group: Group, spec: RunSpec) -> Path:
    return work / "runs" / group.name / spec.name


def _compact_summary(source: Path, target: Path) -> None:
    """Copy a summary without indentation (same data, about a third of the bytes)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    target.write_text(json.dumps(data, separators=(",", ":"), allow_nan=False) + "\n",
                      encoding="utf-8")


class _Costs:
    """Seconds per item, kept in ``WORK/costs.json`` across interrupted calls."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: dict[str, float] = (json.loads(path.read_text(encoding="utf-8"))
                                        if path.is_file() else {})

    def keep(self, key: str, seconds: float) -> None:
        self.items[key] = round(seconds, 1)
        self.path.write_text(json.dumps(self.items, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")


def _announcer(batch: list[tuple[str, RunSpec, Path]],
               say: Callable[[str], None]) -> Callable[[int], None]:
    def announce(index: int) -> None:
        say(f"findings: {batch[index][0]}: {batch[index][1].name}")

    return announce


def _run_all(jobs: list[tuple[str, RunSpec, Path]], costs: _Costs,
             say: Callable[[str], None]) -> tuple[set[Path], list[JsonValue]]:
    """Run every job through ``redraft grid``'s executor, one grid per model.

    A grid shares one loaded local model, runs the revising runs first and restarts the
    sampler's seeds per run (:func:`~redraft.evals._eval.run_grid`). A constrained run the
    backend cannot serve is skipped and said so. Returns the run directories that ran now
    and the skipped runs.
    """
    from redraft.evals._eval import run_grid

    by_model: dict[str, list[tuple[str, RunSpec, Path]]] = {}
    for job in jobs:
        by_model.setdefault(str(job[1].config["model"]), []).append(job)
    ran: set[Path] = set()
    skipped: list[JsonValue] = []
    for model, todo in by_model.items():
        batches = [[j for j in todo if j[1].config.get("critic") != "constrained"]]
        batches += [[j] for j in todo if j[1].config.get("critic") == "constrained"]
        for batch in batches:
            if not batch:
                continue
            configs = [(_eval_config(spec), path, ()) for _, spec, path in batch]
            started = time.perf_counter()
            say(f"findings: {len(batch)} run(s) on {model}")
            try:
                results = run_grid(configs, on_start=_announcer(batch, say))
            except ConstraintNotSupportedError as exc:
                phase, spec, _ = batch[0]
                skipped.append({"group": phase, "run": spec.name, "reason": str(exc)})
                say(f"findings: {phase}/{spec.name} skipped: {exc}")
                continue
            phase = "+".join(dict.fromkeys(job[0] for job in batch))  # shared by phases
            key = f"grid/{phase}/{model}" + ("/constrained" if len(batches) > 1 and
                                             batch is not batches[0] else "")
            if any(r.ran for r in results) or key not in costs.items:
                costs.keep(key, time.perf_counter() - started)
            for result, (_, _, path) in zip(results, batch, strict=True):
                if result.ran:
                    ran.add(path)
    return ran, skipped


def run_findings(options: FindingsOptions, *, say: Callable[[str], None] | None = None,
                 command: str | None = None) -> Path:
    """Train, run, analyse, report and write the page; return the page's path.

    Costs are measured per item and kept in ``WORK/costs.json``: an item done by an earlier
    (interrupted) call keeps the time it took then, so the page states what the whole grid
    cost, not what the last resume cost.
    """
    from redraft.evals.findings._analysis import DECISIVE_FILE, analyze_decisive
    from redraft.evals.findings._machine import machine_record
    from redraft.evals.findings._page import write_page
    from redraft.evals.report import SUMMARY_FILE, write_report

    began = time.perf_counter()
    speak = say or (lambda _m: None)
    grid = plan(options)
    work, out = options.work, options.out
    work.mkdir(parents=True, exist_ok=True)
    (out / SUMMARIES_DIR).mkdir(parents=True, exist_ok=True)
    costs = _Costs(work / "costs.json")
    load_before = os.getloadavg()
    for train_spec in grid.trains:
        key = f"train/{train_spec.arm}-s{train_spec.seed}"
        started = time.perf_counter()
        loop_seconds = _train(train_spec, options, speak)
        if key not in costs.items or time.perf_counter() - started > loop_seconds:
            # The whole call when it trained now: data, sampling a model's own mistakes,
            # the held-out check and writing the model, not only the training loop.
            costs.keep(key, max(loop_seconds, time.perf_counter() - started))
    jobs: list[tuple[str, RunSpec, Path]] = [
        ("decisive", run.spec, decisive_dir(work, run)) for run in grid.decisive]
    jobs += [(group.name, spec, _group_dir(work, group, spec))
             for group in grid.groups for spec in group.runs]
    ran_now, skipped = _run_all(jobs, costs, speak)
    skipped_names = {(str(s["group"]), str(s["run"])) for s in skipped
                     if isinstance(s, dict)}
    started = time.perf_counter()
    decisive = analyze_decisive(grid, options, work)
    (out / DECISIVE_FILE).write_text(decisive.model_dump_json(indent=None) + "\n",
                                     encoding="utf-8")
    costs.keep("analysis/decisive", time.perf_counter() - started)
    reported: list[Group] = []
    for group in grid.groups:
        dirs = [_group_dir(work, group, spec) for spec in group.runs
                if (group.name, spec.name) not in skipped_names]
        if not dirs:
            continue
        reported.append(group)
        speak(f"findings: report {group.name}")
        started = time.perf_counter()
        write_report(dirs, work / "reports" / group.name)
        if ran_now.intersection(dirs) or f"report/{group.name}" not in costs.items:
            costs.keep(f"report/{group.name}", time.perf_counter() - started)
        _compact_summary(work / "reports" / group.name / SUMMARY_FILE,
                         out / SUMMARIES_DIR / f"{group.name}.json")
    meta: dict[str, JsonValue] = {
        "command": command or "redraft findings",
        "scale": options.scale,
        "scale_sizes": SCALES[options.scale].model_dump(),
        "seed": options.seed,
        "model": options.model,
        "groups": [{"name": g.name, "title": g.title} for g in reported],
        "models": _models_meta(grid.trains),  # type: ignore[dict-item]
        "costs": costs.items,  # type: ignore[dict-item]
        "this_call_seconds": round(time.perf_counter() - began, 1),
        "skipped": skipped,
        "machine": machine_record(threads=options.threads, load_before=load_before),
        "simulated": SIMULATED,
        "simulated_truth": SIMULATED_TRUTH,  # type: ignore[dict-item]
        "calibration": DECISIVE_CALIBRATION.get(options.scale)
        or DECISIVE_CALIBRATION.get("gpu"),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    page: Path = write_page(out)
    return page
