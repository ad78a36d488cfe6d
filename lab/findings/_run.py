"""Running the findings grid: train, score, run through ``redraft grid``'s executor, analyse.

:func:`run_findings` trains what is missing, one phase at a time, every model of a phase in
one stack (:func:`~redraft.lab.testbed.train_stack`: phase 1 the seeds' experts, phase 2
the arms that learn from their mistakes); scores every model exactly on the shared states
(``scores.json``); runs every run that needs a trajectory through
:func:`~redraft.evals.run_grid` (one loaded model per grid, the same run order and seed
restarts as ``redraft grid``); analyses the primary outcomes (``decisive.json``); reports each
exploratory group; records the machine and the costs; and writes the page. Rerunning
continues where it stopped: a trained model (its recipe present, with this plan's
settings) is not retrained, finished scores and runs are kept.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import JsonValue, ValidationError

from redraft.core import BadInputError, ConstraintNotSupportedError
from redraft.lab.findings._analysis import LEARNT
from redraft.lab.findings._design import (
    BASE,
    DECISIVE_CALIBRATION,
    REGIME_ARMS,
    arm_named,
)
from redraft.lab.findings._grid import (
    META_FILE,
    MODEL_COST,
    SCALES,
    SIMULATED,
    SIMULATED_TRUTH,
    SUMMARIES_DIR,
    TESTBED_TASK,
    FindingsOptions,
    Group,
    Plan,
    RunSpec,
    TrainSpec,
    decisive_dir,
    group_dir,
    plan,
    task_options,
)

__all__ = ["MODEL_COST", "run_findings", "score_grid", "train_models", "training_threads"]

SCORES_COST = "scores"
"""Costs key of the exact scoring."""


def training_threads(options: FindingsOptions) -> int:
    """Torch threads of the training stack: ``options.threads``, else every CPU."""
    from redraft.agent.backends.contention import cpus_available

    return options.threads if options.threads is not None else cpus_available()


def _steps(spec: TrainSpec, options: FindingsOptions) -> int:
    """The spec's optimizer steps: its own, the scale's, or a supervised-token budget.

    Under a stopping rule (a base, an arm trained until learnt) it is the step cap.
    """
    scale = SCALES[options.scale]
    if spec.steps is not None:
        return spec.steps
    arm = arm_named(spec.arm)
    if arm.budget == "base":
        return scale.base_steps
    if arm.budget == "steps":
        return scale.train_steps
    if arm.budget == "until_learnt":
        return scale.learn_steps
    # As many supervised tokens as the expert's steps: the expert's answer is 10 tokens
    # ("total: NN" and the end), the scratchpad's 24 ("K=v; NN+v=S; " before it).
    return max(1, round(scale.train_steps * 10 / 24))


def _train_config(spec: TrainSpec, options: FindingsOptions) -> Any:
    """The ``TrainConfig`` recorded for one model of the grid.

    Raises:
        BadInputError: the arm's settings do not make a valid config.
    """
    from redraft.lab.testbed import TrainConfig

    scale = SCALES[options.scale]
    representation, opts = task_options(options.scale, training=True)
    extra = spec.extra
    data: dict[str, Any] = {
        "task": TESTBED_TASK, "regime": spec.regime, "representation": representation,
        "task_options": opts, "size": scale.size, "steps": _steps(spec, options),
        "minutes": None, "batch_size": scale.batch_size,
        "lr": scale.base_lr if spec.phase == 1 else scale.lr, "seed": spec.seed,
        "episode_steps": scale.episode_steps, "threads": training_threads(options),
        "device": _device(options), "retry_p": extra.get("retry_p", 0.0),
        "mask_wrong": extra.get("mask_wrong", False),
        "recovery_p": extra.get("error_p", 0.0)}
    if spec.expert is not None:
        data.update(wrong_source="expert", wrong_model=str(spec.expert),
                    wrong_temperature=scale.temperature)
    if spec.init is not None:
        data["init_model"] = str(spec.init)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(f"findings: training {spec.arm} (seed {spec.seed}): "
                            f"{exc.errors()[0]['msg']}") from exc


def _device(options: FindingsOptions) -> str:
    device = SCALES[options.scale].device
    if device is not None:
        return device
    from redraft.lab.testbed import require_train

    return "cuda" if require_train("torch").cuda.is_available() else "cpu"


_SAME = {"threads", "device", "log_every", "init_model", "wrong_model"}
"""Config fields that may differ between a kept model and this plan's (the folders of its
base may have moved with the work folder: their weights are compared instead)."""


def _kept(spec: TrainSpec, options: FindingsOptions) -> bool:
    """Whether ``spec.out`` holds this plan's model already.

    Raises:
        BadInputError: it holds a model trained with other settings, or one whose expert
            has been retrained or deleted since.
    """
    from redraft.lab.testbed import read_recipe, weights_digest

    recipe = read_recipe(spec.out)
    if recipe is None:
        return False
    config = _train_config(spec, options)
    had, wants = recipe.config.model_dump(exclude=_SAME), config.model_dump(exclude=_SAME)
    if had != wants:
        changed = ", ".join(f"{k} {had.get(k)!r} -> {wants.get(k)!r}"
                            for k in sorted(set(had) | set(wants)) if had.get(k) != wants.get(k))
        raise BadInputError(
            f"{spec.out} holds a model trained with other settings than scale "
            f"{options.scale!r} and seed {spec.seed} ({changed}): delete it and the runs "
            "made with it to retrain it, or give another --work folder")
    wrong = recipe.wrong_expert
    if spec.init is not None:
        now = weights_digest(spec.init)
        if now is None or now != recipe.init_weights:
            raise BadInputError(
                f"{spec.out} started from {spec.init}, which has been "
                f"{'deleted' if now is None else 'retrained'} since: delete {spec.out} and "
                "the runs made with it to retrain it, or give another --work folder")
    if spec.expert is not None and wrong is not None and wrong.weights != weights_digest(
            spec.expert):
        raise BadInputError(f"{spec.out} learnt from the mistakes of another {spec.expert}: "
                            "delete it and the runs made with it, or give another --work folder")
    return True


_WIDE = ("retry", "scratchpad")
"""Regimes whose answers are longer than a total (``[BACK]`` and a second total, or the
written computation)."""


def train_models(trains: list[TrainSpec], options: FindingsOptions,
                 say: Callable[[str], None] = lambda _m: None) -> None:
    """Train ``trains`` as ``redraft findings`` does, each phase in one stack; keep costs.

    Models already written (with these settings) are kept.
    """
    _train_all(trains, options, _Costs(options.work / "costs.json"), say)


def _train_all(trains: list[TrainSpec], options: FindingsOptions, costs: _Costs,
               say: Callable[[str], None]) -> None:
    for phase in sorted({s.phase for s in trains}):
        todo = [s for s in trains if s.phase == phase and not _kept(s, options)]
        for spec in trains:
            if spec.phase == phase and spec not in todo:
                say(f"findings: {spec.out} is trained, kept")
        # A stack pads every member's batch to its widest: the arms that write more per
        # step (a retry, a scratchpad) train in a stack of their own.
        for stack in ([s for s in todo if s.regime not in _WIDE],
                      [s for s in todo if s.regime in _WIDE]):
            if stack:
                started = time.perf_counter()
                _train_phase(stack, options, say)
                # One item per stack, named by its arms: retraining one stack (a changed
                # budget) replaces its own time and leaves the other's.
                arms = "+".join(sorted({s.arm for s in stack}))
                costs.keep(f"{MODEL_COST}phase-{phase}-{arms}", time.perf_counter() - started)


def _train_phase(todo: list[TrainSpec], options: FindingsOptions,
                 say: Callable[[str], None]) -> None:
    """Train the phase's missing models in one stack and write each model folder."""
    from redraft.lab.testbed import (
        SIZES,
        ExpertDraws,
        Member,
        Recipe,
        StackedLlama,
        StackPlan,
        choose_wait_policy,
        save_folder,
        train_stack,
        versions,
        weights_digest,
    )

    # Decide before the source models load torch, since OpenMP reads its wait policy once,
    # when torch loads: a call whose phase 1 was kept would otherwise spin on a busy machine.
    choose_wait_policy(training_threads(options))
    scale = SCALES[options.scale]
    representation, opts = task_options(options.scale, training=True)
    task_kwargs: dict[str, Any] = {**opts, "representation": representation}
    sources = sorted({p for s in todo for p in (s.expert, s.init) if p is not None})
    for folder in sources:
        if not (folder / "model.safetensors").is_file():
            raise BadInputError(f"findings: {folder} holds no trained base model: phase 1 "
                                "first")
    members = [Member(name=f"{s.arm}-s{s.seed}", regime=s.regime,  # type: ignore[arg-type]
                      seed=s.seed, retry_p=float(s.extra.get("retry_p", 0.0)),  # type: ignore[arg-type]
                      mask_wrong=bool(s.extra.get("mask_wrong", False)),
                      error_p=float(s.extra.get("error_p", 0.0)),  # type: ignore[arg-type]
                      expert=sources.index(s.expert) if s.expert is not None else None,
                      init=sources.index(s.init) if s.init is not None else None)
               for s in todo]
    device = _device(options)
    steps = tuple(_steps(s, options) for s in todo)
    base = todo[0].phase == 1
    # The bases train from scratch until they converge (a stopping rule, so a constant
    # learning rate); the arms train a fixed budget from them, cooling down, and an arm
    # trained until learnt stops by the same rule, cooling over its step cap.
    stops = tuple(LEARNT if arm_named(s.arm).until_learnt else None for s in todo)
    stack_plan = StackPlan(task=TESTBED_TASK, task_kwargs=task_kwargs, size=scale.size,  # type: ignore[arg-type]
                           steps=steps, batch_size=scale.batch_size,
                           episode_steps=scale.episode_steps,
                           lr=scale.base_lr if base else scale.lr,
                           schedule="constant" if base else "cosine",
                           member_stop=stops,
                           temperature=scale.temperature, eval_every=scale.eval_every,
                           heldout_episodes=scale.heldout_episodes, device=device,
                           threads=training_threads(options))
    say(f"findings: training {len(todo)} model(s) at once in one stack "
        f"({', '.join(m.name for m in members)})")
    source_stack = StackedLlama.load(sources, device) if sources else None
    for spec in todo:
        if spec.out.exists():  # a half-written folder of an interrupted call
            shutil.rmtree(spec.out)
    outcome = train_stack(members, stack_plan, experts=source_stack, init=source_stack,
                          say=say)
    parameters = sum(int(v[0].numel()) for v in outcome.stack.params.values())
    for k, spec in enumerate(todo):
        config = _train_config(spec, options)
        curve = outcome.heldout_curves[k]
        wrong = None
        if spec.expert is not None:
            wrong = ExpertDraws(model=str(spec.expert), weights=weights_digest(spec.expert),
                                temperature=scale.temperature)
        recipe = Recipe(
            task=TESTBED_TASK, task_options=task_kwargs, regime=spec.regime, config=config,
            size=SIZES[scale.size], parameters=parameters, steps_done=outcome.steps_done[k],
            stopped_by=outcome.stopped_by[k],
            examples_seen=outcome.steps_done[k] * scale.batch_size,
            tokens_seen=outcome.tokens[k], target_tokens_seen=outcome.targets[k],
            seconds=round(outcome.seconds, 2), device=device, threads=config.threads,
            loss_curve=outcome.loss_curves[k],
            heldout_step_accuracy=curve[-1].accuracy if curve else 0.0,
            heldout_steps=scale.heldout_episodes * scale.episode_steps,
            versions=versions(), data_wait_seconds=round(outcome.data_seconds, 3),
            producer_cpu_seconds=round(outcome.producer_seconds, 3), notes=outcome.notes,
            wrong_expert=wrong, heldout_curve=curve,
            init_weights=weights_digest(spec.init) if spec.init is not None else None,
            eval_temperature=scale.temperature,
            stacked_with=len(todo), wait_policy=outcome.wait_policy)
        save_folder(outcome, k, spec.out, recipe)
        say(f"findings: wrote {spec.out} (held-out accuracy {recipe.heldout_step_accuracy:.3f})")


def _refuse_orphan_runs(spec: TrainSpec, jobs: list[tuple[str, RunSpec, Path]]) -> None:
    """Refuse runs made with a model the work folder no longer holds.

    A resumed run is kept as it stands, so runs of a model since deleted (or half-written)
    would be reported as the retrained model's.

    Raises:
        BadInputError: such runs exist; names them.
    """
    from redraft.lab.testbed import read_recipe

    if read_recipe(spec.out) is not None:
        return
    model = f"hf/{spec.out}"
    stale = [where for _, run, where in jobs if run.config.get("model") == model
             and where.exists()]
    if stale:
        shown = ", ".join(str(p) for p in stale[:3]) + (" ..." if len(stale) > 3 else "")
        raise BadInputError(
            f"{len(stale)} run(s) made with {spec.out} exist, but it holds no trained model "
            f"now ({shown}): they came from a model since deleted, and a rerun would keep "
            "them as the new model's; delete them too, or give another --work folder")


def score_grid(grid: Plan, options: FindingsOptions, say: Callable[[str], None]) -> Any:
    """Every trained model's exact scores.

    Kept in ``WORK/scores.json`` while its models are unchanged.
    """
    from redraft.evals.tasks import load_task
    from redraft.lab.findings._scores import SCORES_FILE, Scores, score_models
    from redraft.lab.testbed import StackedLlama, choose_wait_policy, weights_digest

    scale = SCALES[options.scale]
    specs = [s for s in grid.trains]
    if not specs:
        return None
    digests = {str(s.out): weights_digest(s.out) for s in specs}
    path = options.work / SCORES_FILE
    if path.is_file():
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("digests") == digests:
            return Scores.model_validate(kept["scores"])
    choose_wait_policy(training_threads(options))
    from redraft.lab.testbed import require_train, set_threads

    set_threads(require_train("torch"), training_threads(options))
    say(f"findings: scoring {len(specs)} models exactly on the shared states")
    stack = StackedLlama.load([s.out for s in specs], _device(options))
    representation, opts = task_options(options.scale)
    task = load_task(TESTBED_TASK, representation=representation, **opts)
    experts = {s.seed: i for i, s in enumerate(specs) if s.arm == BASE.name}
    scores = score_models(
        stack, [(s.arm, s.seed) for s in specs], task=task, run_seed=options.seed,
        episodes=scale.eval_episodes, steps=scale.episode_steps, sites=scale.error_sites,
        temperature=scale.temperature, committed_states=scale.committed_states,
        expert_rows=experts, matched_arms=REGIME_ARMS)
    path.write_text(json.dumps({"digests": digests, "scores": scores.model_dump(mode="json")})
                    + "\n", encoding="utf-8")
    return scores


def _critic(spec: RunSpec) -> JsonValue:
    corrector = spec.config.get("corrector")
    return corrector.get("critic") if isinstance(corrector, dict) else None


def _eval_config(spec: RunSpec) -> Any:
    from redraft.core import describe_validation_error
    from redraft.evals import EvalConfig, trained_defaults

    data: dict[str, Any] = dict(spec.config)
    representation, options = trained_defaults(
        str(data["task"]), str(data["model"]), data.get("representation"),
        dict(data.get("task_options") or {}))
    data.update(representation=representation, task_options=options)
    try:
        return EvalConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(f"findings run {spec.name}: {describe_validation_error(exc)}") from exc


def _models_meta(trains: list[TrainSpec]) -> list[dict[str, JsonValue]]:
    from redraft.lab.testbed import read_recipe

    rows: list[dict[str, JsonValue]] = []
    for spec in trains:
        recipe = read_recipe(spec.out)
        if recipe is None:
            continue
        rows.append({
            "arm": spec.arm, "regime": spec.regime, "seed": spec.seed, "phase": spec.phase,
            "parameters": recipe.parameters, "steps": recipe.steps_done,
            "batch_size": recipe.config.batch_size, "stopped_by": recipe.stopped_by,
            "seconds": round(recipe.seconds, 1), "stacked_with": recipe.stacked_with,
            "episode_steps": recipe.config.episode_steps,
            "tokens": recipe.tokens_seen, "supervised_tokens": recipe.target_tokens_seen,
            "heldout_step_accuracy": recipe.heldout_step_accuracy,
            "curve": [[p.step, p.accuracy, p.error, p.loss] for p in recipe.heldout_curve],
            "wait_policy": recipe.wait_policy,
        })
    return rows


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
    from redraft.evals import run_grid

    by_model: dict[str, list[tuple[str, RunSpec, Path]]] = {}
    for job in jobs:
        by_model.setdefault(str(job[1].config["model"]), []).append(job)
    ran: set[Path] = set()
    skipped: list[JsonValue] = []
    for model, todo in by_model.items():
        batches = [[j for j in todo if _critic(j[1]) != "constrained"]]
        batches += [[j] for j in todo if _critic(j[1]) == "constrained"]
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
    """Train, score, run, analyse, report and write the page; return the page's path.

    Costs are measured per item and kept in ``WORK/costs.json``: an item done by an earlier
    (interrupted) call keeps the time it took then, so the page states what the whole grid
    cost, not what the last resume cost.
    """
    from redraft.evals.report import SUMMARY_FILE, write_report
    from redraft.lab.findings._analysis import DECISIVE_FILE, analyze_decisive
    from redraft.lab.findings._machine import machine_record
    from redraft.lab.findings._page import write_page
    from redraft.lab.findings._scores import SCORES_FILE

    began = time.perf_counter()
    speak = say or (lambda _m: None)
    grid = plan(options)
    work, out = options.work, options.out
    work.mkdir(parents=True, exist_ok=True)
    (out / SUMMARIES_DIR).mkdir(parents=True, exist_ok=True)
    costs = _Costs(work / "costs.json")
    load_before = _load_average()
    jobs: list[tuple[str, RunSpec, Path]] = [
        ("decisive", run.spec, decisive_dir(work, run)) for run in grid.decisive]
    jobs += [(group.name, spec, group_dir(work, group, spec))
             for group in grid.groups for spec in group.runs]
    for train_spec in grid.trains:  # before any training: a refusal then costs nothing
        _refuse_orphan_runs(train_spec, jobs)
    _train_all(grid.trains, options, costs, speak)
    started = time.perf_counter()
    scores = score_grid(grid, options, speak)
    if scores is not None:
        if SCORES_COST not in costs.items or time.perf_counter() - started > 1:
            costs.keep(SCORES_COST, time.perf_counter() - started)
        (out / SCORES_FILE).write_text(scores.model_dump_json() + "\n", encoding="utf-8")
    ran_now, skipped = _run_all(jobs, costs, speak)
    skipped_names = {(str(s["group"]), str(s["run"])) for s in skipped
                     if isinstance(s, dict)}
    started = time.perf_counter()
    decisive = analyze_decisive(grid, options, work, scores)
    (out / DECISIVE_FILE).write_text(decisive.model_dump_json(indent=None) + "\n",
                                     encoding="utf-8")
    costs.keep("analysis/decisive", time.perf_counter() - started)
    reported: list[Group] = []
    for group in grid.groups:
        dirs = [group_dir(work, group, spec) for spec in group.runs
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
        "machine": machine_record(threads=training_threads(options),
                                  wait_policy=_wait_policy(grid),
                                  load_before=load_before),
        "simulated": SIMULATED,
        "simulated_truth": SIMULATED_TRUTH,  # type: ignore[dict-item]
        "calibration": DECISIVE_CALIBRATION.get(options.scale)
        or DECISIVE_CALIBRATION.get("gpu"),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    page: Path = write_page(out)
    return page


def _wait_policy(grid: Plan) -> str | None:
    """How the training stacks' OpenMP threads waited (from the recipes), in one phrase."""
    from redraft.lab.testbed import read_recipe

    found = []
    for spec in grid.trains:
        recipe = read_recipe(spec.out)
        if recipe is not None and recipe.wait_policy and recipe.wait_policy not in found:
            found.append(recipe.wait_policy)
    return "; ".join(found) or None


def _load_average() -> tuple[float, float, float] | None:
    import os

    try:
        return os.getloadavg()
    except OSError:
        return None
