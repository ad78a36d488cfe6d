"""The findings grid: what is trained, which runs make up each report group, and running it.

A *group* is a set of runs reported together (their ``summary.json`` compares every run with
the group's first one). The grid at a scale is a pure function of the options
(:func:`plan`); :func:`run_findings` trains the testbed models it needs, runs (or resumes)
every run with the ordinary eval machinery, writes each group's report, copies the
summaries into the output folder and writes the page. Rerunning continues where it stopped:
a trained model (its recipe present) is not retrained, a finished run is not rerun.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from redraft.tools import BadInputError, ConstraintNotSupportedError

__all__ = [
    "META_FILE",
    "SCALES",
    "SUMMARIES_DIR",
    "FindingsOptions",
    "Group",
    "RunSpec",
    "Scale",
    "ScaleName",
    "TrainSpec",
    "plan",
    "run_findings",
]

META_FILE = "meta.json"
"""What the page needs besides the summaries: options, costs, trained models."""
SUMMARIES_DIR = "summaries"
"""Folder (inside the output folder) of one compact ``summary.json`` per group."""

ScaleName = Literal["quick", "full"]
TESTBED_TASK = "running_sum"
REGIMES = ("expert", "retry", "scratchpad")
SIMULATED = "simulated/e=0.1,r=0.5,h=0.05,tpr=0.8,fpr=0.1,think_e=0.2,think_r=0.5"
"""The calibration policy: every rate it plants is known."""
SIMULATED_TRUTH: dict[str, float] = {
    "e_raw": 0.1, "self critic TPR": 0.8, "self critic FPR": 0.1,
}
"""The rates planted in :data:`SIMULATED` (monologue: first answer wrong 0.2, fixed 0.5)."""
EMBEDDED = "llamacpp/smollm2"
_HAND_NOTES = ("wall_clock", "cost_machine")
"""``meta.json`` keys the command does not measure itself: whole-process timings from
``/usr/bin/time`` and a description of the machine's load, kept across reruns."""


class Scale(BaseModel):
    """Sizes of one scale of the grid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train_steps: int = Field(ge=1)
    """Optimizer steps per testbed model."""
    train_minutes: float | None = Field(gt=0)
    """Training time cap per testbed model; None: none, so every regime trains for the same
    steps (a cap on a busy machine gave retry 682 steps and scratchpad 872 in one run)."""
    train_episode_steps: int = Field(ge=1)
    """Length of the training episodes."""
    episodes: int = Field(ge=1)
    """Held-out episodes per testbed (or ``--model``) run."""
    rounds: int = Field(ge=0)
    """Revision budget of every critic mode (equal budgets: resample gets the same)."""
    embedded_episodes: int = Field(ge=1)
    """Episodes per embedded-model (SmolLM2) run."""
    chess_steps: int = Field(ge=1)
    """Agent moves per chess game (censoring)."""
    addition_steps: int = Field(ge=1)
    """Digits per addition episode."""
    simulated_episodes: int = Field(ge=1)
    """Episodes per simulated (calibration) run."""


SCALES: dict[str, Scale] = {
    "quick": Scale(train_steps=900, train_minutes=None, train_episode_steps=20, episodes=40,
                   rounds=1, embedded_episodes=2, chess_steps=5, addition_steps=4,
                   simulated_episodes=100),
    "full": Scale(train_steps=2000, train_minutes=None, train_episode_steps=20, episodes=200,
                  rounds=2, embedded_episodes=6, chess_steps=15, addition_steps=6,
                  simulated_episodes=400),
}
"""``quick``: 8.7 minutes from scratch measured on the project's shared 2-core machine at
load 2-5 (22 minutes at load 10 with a time-capped training). ``full``: not measured;
scaled from the quick run's per-item times, 30-70 minutes there depending on load (the
SmolLM2 runs grow with episodes × moves and are kept small)."""


class FindingsOptions(BaseModel):
    """What ``redraft findings`` was asked for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out: Path
    """Folder of the figures, summaries and meta; the page is written beside it as
    ``OUT.md`` (``docs/findings`` → ``docs/findings.md``)."""
    work: Path = Path("runs/findings")
    """Models, run directories (large event logs) and full reports."""
    model: str | None = None
    """Run the grid on this model instead of training testbed models."""
    scale: ScaleName = "quick"
    """Grid sizes (:data:`SCALES`)."""
    seed: int = 0
    """Run and training seed."""
    embedded: bool = True
    """Include the SmolLM2 (llama.cpp) runs on chess and addition."""
    threads: int = Field(2, ge=1)
    """Torch CPU threads for training."""


class TrainSpec(BaseModel):
    """One testbed model to train."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    regime: str
    """Data regime."""
    out: Path
    """Model directory."""


class RunSpec(BaseModel):
    """One run of a group: an ``EvalConfig``'s fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Run directory name (also the run's name in the report)."""
    config: dict[str, JsonValue]
    """``EvalConfig`` fields."""


class Group(BaseModel):
    """Runs reported together; the first is the baseline of the comparison."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Group name (its summary is ``summaries/NAME.json``)."""
    title: str
    """What the group measures, for the page."""
    runs: list[RunSpec]
    """The group's runs, baseline first."""


def _run(name: str, **config: JsonValue) -> RunSpec:
    return RunSpec(name=name, config=config)


def _critic_runs(prefix: str, base: dict[str, JsonValue], critics: tuple[str, ...],
                 rounds: int, monologue: tuple[bool, ...] = (False,)) -> list[RunSpec]:
    runs = []
    for mono in monologue:
        for critic in critics:
            k = 0 if critic == "none" else rounds
            name = f"{prefix}{critic}-k{k}" + ("-monologue" if mono else "")
            corrector: dict[str, JsonValue] = {"monologue": mono}
            runs.append(_run(name, **base, critic=critic, max_rounds=k, corrector=corrector))
    return runs


def plan(options: FindingsOptions) -> tuple[list[TrainSpec], list[Group]]:
    """The models to train and the report groups, for these options."""
    scale = SCALES[options.scale]
    seed = options.seed
    held_out = 2 * scale.train_episode_steps  # held-out episodes twice the training length
    critics = ("none", "tool", "self", "resample")
    trains: list[TrainSpec] = []
    groups: list[Group] = []
    common: dict[str, JsonValue] = {"seed": seed, "error_policy": "continue"}
    if options.model is None:
        models = {r: options.work / "models" / f"{TESTBED_TASK}-{r}" for r in REGIMES}
        trains = [TrainSpec(regime=r, out=path) for r, path in models.items()]
        for regime, path in models.items():
            base = {**common, "task": TESTBED_TASK, "model": f"hf/{path}",
                    "episodes": scale.episodes, "max_steps": held_out}
            groups.append(Group(
                name=f"testbed-{regime}",
                title=f"testbed model trained on {regime} data, by critic mode",
                runs=_critic_runs(f"{regime}-", base, critics, scale.rounds)))
        groups.append(Group(
            name="regimes",
            title="testbed data regimes without correction (critic none)",
            runs=[_run(f"{r}-none-k0", **common, task=TESTBED_TASK, model=f"hf/{path}",
                       episodes=scale.episodes, max_steps=held_out, critic="none",
                       max_rounds=0, corrector={"monologue": False})
                  for r, path in models.items()]))
    else:
        base = {**common, "task": TESTBED_TASK, "model": options.model,
                "episodes": scale.episodes, "max_steps": held_out}
        groups.append(Group(
            name="model-running_sum", title=f"{options.model} on running_sum, by critic mode",
            runs=_critic_runs("", base, critics, scale.rounds, (False, True))))
    embedded = options.model or (EMBEDDED if options.embedded else None)
    if embedded is not None:
        label = "model" if options.model else "smollm2"
        chess = {**common, "task": "chess", "model": embedded, "representation": "legal",
                 "opponent": "random", "episodes": scale.embedded_episodes,
                 "max_steps": scale.chess_steps}
        groups.append(Group(
            name=f"{label}-chess", title=f"{embedded} on chess (legal moves listed, random "
            "opponent)", runs=_critic_runs("", chess, ("none", "tool", "constrained"),
                                           scale.rounds)))
        addition = {**common, "task": "addition", "model": embedded,
                    "episodes": scale.embedded_episodes, "max_steps": scale.addition_steps}
        groups.append(Group(
            name=f"{label}-addition", title=f"{embedded} on long addition",
            runs=_critic_runs("", addition, ("none", "tool", "self"), scale.rounds)))
    sim = {**common, "task": TESTBED_TASK, "model": SIMULATED,
           "episodes": scale.simulated_episodes, "max_steps": held_out}
    groups.append(Group(
        name="simulated", title="simulated policy with planted rates (calibration)",
        runs=_critic_runs("", sim, ("none", "tool", "self", "resample"), scale.rounds,
                          (False, True))))
    return trains, groups


# -- running -------------------------------------------------------------------------------


def _train(spec: TrainSpec, options: FindingsOptions, say: Callable[[str], None]) -> float:
    """Train one model unless its directory already holds one; the seconds it took."""
    from redraft.evals.testbed import TrainConfig, read_recipe, train

    scale = SCALES[options.scale]
    config = TrainConfig(task=TESTBED_TASK, regime=spec.regime,
                         steps=scale.train_steps, minutes=scale.train_minutes,
                         episode_steps=scale.train_episode_steps, seed=options.seed,
                         threads=options.threads)
    recipe = read_recipe(spec.out) if spec.out.is_dir() else None
    if recipe is not None:
        fields = ("regime", "steps", "minutes", "episode_steps", "seed")
        if any(getattr(recipe.config, f) != getattr(config, f) for f in fields):
            raise BadInputError(
                f"{spec.out} holds a model trained with other settings than scale "
                f"{options.scale!r} and seed {options.seed}: give another --work folder")
        say(f"findings: {spec.out} is trained ({recipe.steps_done} steps), kept")
        return float(recipe.seconds)
    if spec.out.exists():  # a half-written model directory from an interrupted run
        for child in sorted(spec.out.iterdir()):
            child.unlink()
        spec.out.rmdir()
    say(f"findings: training {spec.regime} -> {spec.out}")
    recipe = train(config, spec.out, say=say)
    return float(recipe.seconds)


def _eval_config(spec: RunSpec) -> Any:
    from redraft.evals._config import EvalConfig, describe_validation_error
    from redraft.evals.testbed import eval_defaults

    data: dict[str, Any] = dict(spec.config)
    representation, task_options = eval_defaults(
        str(data["task"]), str(data["model"]), data.get("representation"),
        dict(data.get("task_options") or {}))
    data.update(representation=representation, task_options=task_options)
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
            "regime": spec.regime, "parameters": recipe.parameters,
            "steps": recipe.steps_done, "stopped_by": recipe.stopped_by,
            "seconds": round(recipe.seconds, 1),
            "episode_steps": recipe.config.episode_steps,
            "heldout_step_accuracy": recipe.heldout_step_accuracy,
        })
    return rows


def _run_dir(work: Path, group: Group, spec: RunSpec) -> Path:
    """Where a run lives; the regimes group reuses the testbed groups' ``none`` runs."""
    if group.name == "regimes" or group.name.startswith("testbed-"):
        return work / "runs" / "testbed" / spec.name
    return work / "runs" / group.name / spec.name


def _compact_summary(source: Path, target: Path) -> None:
    """Copy a summary without indentation (same data, about a third of the bytes)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    target.write_text(json.dumps(data, separators=(",", ":"), allow_nan=False) + "\n",
                      encoding="utf-8")


def run_findings(options: FindingsOptions, *, say: Callable[[str], None] | None = None,
                 command: str | None = None) -> Path:
    """Train, run, report and write the page; return the page's path.

    Costs are measured per item and kept in ``WORK/costs.json``: an item done by an earlier
    (interrupted) call keeps the time it took then, so the page states what the whole grid
    cost, not what the last resume cost.
    """
    from redraft.evals._eval import run_eval
    from redraft.evals.findings._page import write_page
    from redraft.evals.report import SUMMARY_FILE, write_report

    speak = say or (lambda _m: None)
    trains, groups = plan(options)
    work, out = options.work, options.out
    work.mkdir(parents=True, exist_ok=True)
    (out / SUMMARIES_DIR).mkdir(parents=True, exist_ok=True)
    costs_path = work / "costs.json"
    costs: dict[str, float] = (json.loads(costs_path.read_text(encoding="utf-8"))
                               if costs_path.is_file() else {})

    def keep(key: str, seconds: float) -> None:
        costs[key] = round(seconds, 1)
        costs_path.write_text(json.dumps(costs, indent=1, sort_keys=True) + "\n",
                              encoding="utf-8")

    for train_spec in trains:
        keep(f"train/{train_spec.regime}", _train(train_spec, options, speak))
    done: dict[str, Path] = {}
    skipped: list[JsonValue] = []
    reported: list[Group] = []
    ran_now: set[Path] = set()
    for group in groups:
        for spec in group.runs:
            run_dir = _run_dir(work, group, spec)
            key = f"run/{run_dir.relative_to(work / 'runs')}"
            if key in done:
                continue
            speak(f"findings: {group.name}: {spec.name}")
            started = time.perf_counter()
            try:
                result = run_eval(_eval_config(spec), run_dir)
            except ConstraintNotSupportedError as exc:
                # constrained decoding where the backend has none: not applicable, said so.
                skipped.append({"group": group.name, "run": spec.name, "reason": str(exc)})
                speak(f"findings: {group.name}/{spec.name} skipped: {exc}")
                continue
            if result.ran or key not in costs:
                keep(key, time.perf_counter() - started)
                ran_now.add(run_dir)
            done[key] = run_dir
    for group in groups:
        dirs = [_run_dir(work, group, spec) for spec in group.runs
                if f"run/{_run_dir(work, group, spec).relative_to(work / 'runs')}" in done]
        if not dirs:
            continue
        reported.append(group)
        speak(f"findings: report {group.name}")
        started = time.perf_counter()
        write_report(dirs, work / "reports" / group.name)
        if ran_now.intersection(dirs) or f"report/{group.name}" not in costs:
            # A resume that ran nothing new keeps the first report's time.
            keep(f"report/{group.name}", time.perf_counter() - started)
        _compact_summary(work / "reports" / group.name / SUMMARY_FILE,
                         out / SUMMARIES_DIR / f"{group.name}.json")
    meta: dict[str, JsonValue] = {
        "command": command or "redraft findings",
        "scale": options.scale,
        "scale_sizes": SCALES[options.scale].model_dump(),
        "seed": options.seed,
        "model": options.model,
        "groups": [{"name": g.name, "title": g.title} for g in reported],
        "models": _models_meta(trains),  # type: ignore[dict-item]
        "costs": costs,  # type: ignore[dict-item]
        "skipped": skipped,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores visible",
        "simulated": SIMULATED,
        "simulated_truth": SIMULATED_TRUTH,  # type: ignore[dict-item]
    }
    meta_path = out / META_FILE
    if meta_path.is_file():  # notes added by hand (whole-process timings) outlive a rerun
        before = json.loads(meta_path.read_text(encoding="utf-8"))
        if before.get("scale") == options.scale and before.get("model") == options.model:
            meta.update({k: before[k] for k in _HAND_NOTES if k in before})
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    page: Path = write_page(out)
    return page
