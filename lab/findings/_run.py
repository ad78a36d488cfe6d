"""Running the findings grid: train, run through ``redraft grid``'s executor, analyse, report.

:func:`run_findings` trains what is missing, runs every run through
:func:`~redraft.evals._eval.run_grid` (one loaded model per grid, the same run order and seed
restarts as ``redraft grid``), analyses the decisive runs from their logs
(``decisive.json``), reports each exploratory group, records the machine and the costs, and
writes the page. Rerunning continues where it stopped: a trained model (its recipe present)
is not retrained, a finished run is not rerun.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from pydantic import JsonValue, ValidationError

from redraft.lab.findings._design import DECISIVE_CALIBRATION
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
    RunSpec,
    TrainSpec,
    decisive_dir,
    group_dir,
    plan,
    task_options,
)
from redraft.tools import BadInputError, ConstraintNotSupportedError

__all__ = ["MODEL_COST", "TRAINING_WALL", "run_findings", "train_models", "training_jobs",
           "training_threads"]


def _train_config(spec: TrainSpec, options: FindingsOptions) -> Any:
    """The ``TrainConfig`` of one model of the grid.

    Raises:
        BadInputError: the arm's settings do not make a valid config.
    """
    from redraft.lab.testbed import TrainConfig

    scale = SCALES[options.scale]
    representation, opts = task_options(options.scale, training=True)
    data: dict[str, Any] = {
        "task": TESTBED_TASK, "regime": spec.regime, "representation": representation,
        "task_options": opts, "size": scale.size, "steps": scale.train_steps,
        "minutes": None, "batch_size": scale.batch_size, "seed": spec.seed,
        "episode_steps": scale.episode_steps, "threads": training_threads(options),
        "device": scale.device, **spec.extra}
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(f"findings: training {spec.arm} (seed {spec.seed}): "
                            f"{exc.errors()[0]['msg']}") from exc


def _refuse_stale_source(out: Path, recipe: Any) -> None:
    """Refuse a kept model whose wrong answers came from a model retrained or deleted since.

    Raises:
        BadInputError: the sampled model has no weights now, or others than it had.
    """
    from redraft.lab.testbed import weights_digest

    wrong = recipe.wrong_answers
    if wrong is None:
        return
    now = weights_digest(Path(wrong.model))
    if now is None or (wrong.weights is not None and now != wrong.weights):
        raise BadInputError(
            f"{out}'s wrong answers were sampled from {wrong.model}, which has been "
            f"{'deleted' if now is None else 'retrained'} since: delete {out} and the runs "
            "made with it to retrain it from the model there now, or give another --work "
            "folder")


def _train(spec: TrainSpec, options: FindingsOptions, say: Callable[[str], None]) -> float:
    """Train one model unless its directory already holds one; the seconds it took."""
    from redraft.lab.testbed import read_recipe, train

    config = _train_config(spec, options)
    recipe = read_recipe(spec.out)  # None without a recipe file, or without the folder
    if recipe is not None:
        if recipe.config.model_dump(exclude={"threads", "device", "log_every"}) != \
                config.model_dump(exclude={"threads", "device", "log_every"}):
            raise BadInputError(
                f"{spec.out} holds a model trained with other settings than scale "
                f"{options.scale!r} and seed {spec.seed}: give another --work folder")
        outdated = recipe.outdated()
        if outdated is not None:
            raise BadInputError(f"{spec.out} is outdated: {outdated}; delete that folder and "
                                "the runs made with it to retrain it, or give another --work "
                                "folder")
        _refuse_stale_source(spec.out, recipe)
        say(f"findings: {spec.out} is trained ({recipe.steps_done} steps), kept")
        return float(recipe.seconds)
    if spec.out.exists():  # a half-written model directory from an interrupted run
        shutil.rmtree(spec.out)
    say(f"findings: training {spec.arm} seed {spec.seed} -> {spec.out}")
    recipe = train(config, spec.out, say=say)
    return float(recipe.seconds)


def training_jobs(options: FindingsOptions) -> int:
    """Models trained at once: ``options.jobs``, else one per CPU (CPU scale) or one (GPU).

    A micro model's step does not keep two threads busy (bench/train_jobs.py).
    """
    from redraft.agent.backends import cpus_available

    if options.jobs is not None:
        return options.jobs
    if SCALES[options.scale].device != "cpu":
        return 1
    return max(1, min(cpus_available(), _MAX_JOBS))


def training_threads(options: FindingsOptions) -> int:
    """Torch threads of each training process.

    ``options.threads``, else the CPUs shared out among the models trained at once.
    """
    from redraft.agent.backends import cpus_available

    if options.threads is not None:
        return options.threads
    return max(1, cpus_available() // training_jobs(options))


_MAX_JOBS = 8
"""Most models trained at once by default (each process holds torch: ~0.3 GB)."""
TRAINING_WALL = "train"
"""Costs key: wall-clock seconds of the training phase, summed over the calls that trained."""


def _train_in_worker(spec: TrainSpec, options: FindingsOptions) -> tuple[float, float]:
    """Train one model in a worker process: (training-loop seconds, whole-call seconds).

    The loss lines are not passed back (the recipe keeps the loss curve).
    """
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # bars interleave
    started = time.perf_counter()
    seconds = _train(spec, options, lambda _m: None)
    return seconds, time.perf_counter() - started


def _waits_for(spec: TrainSpec, pending: set[Path]) -> bool:
    """Whether ``spec`` samples a model of this grid that is not trained yet."""
    source = spec.extra.get("wrong_model")
    return isinstance(source, str) and Path(source) in pending


def train_models(trains: list[TrainSpec], options: FindingsOptions,
                 say: Callable[[str], None] = lambda _m: None) -> None:
    """Train ``trains`` as ``redraft findings`` does, keeping their costs in ``options.work``.

    ``options.jobs`` models train at once, experts first; models already written are kept.
    """
    _train_all(trains, options, _Costs(options.work / "costs.json"), say)


def _train_all(trains: list[TrainSpec], options: FindingsOptions, costs: _Costs,
               say: Callable[[str], None]) -> None:
    """Train what is missing, :func:`training_jobs` models at once.

    A model whose wrong answers are sampled from another model of the grid (a retry or
    recovery arm from its seed's expert) starts after that one is trained. With one job
    everything trains in this process, saying its loss lines; with more, each model trains
    in a spawned worker process (torch is not fork-safe) and only its start and end are
    said. Costs are kept per model as each ends, so an interrupted call keeps them.
    """
    from redraft.lab.testbed import read_recipe

    began = time.perf_counter()
    earlier = costs.items.get(TRAINING_WALL, 0.0)

    def keep(spec: TrainSpec, loop_seconds: float, call_seconds: float) -> None:
        key = f"{MODEL_COST}{spec.arm}-s{spec.seed}"
        if key in costs.items and call_seconds <= loop_seconds:
            return  # kept from the call that trained it
        # The whole call when it trained now: data, sampling a model's own mistakes, the
        # held-out check and writing the model, not only the training loop.
        costs.keep(key, max(loop_seconds, call_seconds))
        costs.keep(TRAINING_WALL, earlier + time.perf_counter() - began)

    jobs = training_jobs(options)
    if jobs == 1:
        for spec in trains:
            started = time.perf_counter()
            loop_seconds = _train(spec, options, say)
            keep(spec, loop_seconds, time.perf_counter() - started)
        return
    todo = list(trains)
    for spec in trains:  # kept models: said and costed here, no worker needed
        if read_recipe(spec.out) is not None:
            started = time.perf_counter()
            keep(spec, _train(spec, options, say), time.perf_counter() - started)
            todo.remove(spec)
    if not todo:
        return
    say(f"findings: training {len(todo)} model(s), {jobs} at once, "
        f"{training_threads(options)} torch thread(s) each")
    pending = {spec.out for spec in todo}
    sources = {Path(str(s.extra["wrong_model"])) for s in todo if "wrong_model" in s.extra}
    running: dict[Future[tuple[float, float]], TrainSpec] = {}
    with ProcessPoolExecutor(max_workers=jobs,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        while todo or running:
            ready = [s for s in todo if not _waits_for(s, pending)]
            # Models others wait for first (a seed's expert), so no job idles at the end.
            ready.sort(key=lambda s: s.out not in sources)
            for spec in ready:
                if len(running) >= jobs:
                    break
                todo.remove(spec)
                say(f"findings: training {spec.arm} seed {spec.seed} -> {spec.out}")
                running[pool.submit(_train_in_worker, spec, options)] = spec
            if not running:  # cannot happen: a grid's sources are its own experts
                raise BadInputError("findings: training order: "
                                    + ", ".join(str(s.out) for s in todo) + " wait for "
                                    "models never trained")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                spec = running.pop(future)
                loop_seconds, call_seconds = future.result()  # a worker's error ends all
                pending.discard(spec.out)
                keep(spec, loop_seconds, call_seconds)
                say(f"findings: trained {spec.arm} seed {spec.seed} "
                    f"({loop_seconds:.0f} s of training, {call_seconds:.0f} s in all)")


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


def _eval_config(spec: RunSpec) -> Any:
    from redraft.evals import EvalConfig, describe_validation_error, trained_defaults

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
            "arm": spec.arm, "regime": spec.regime, "seed": spec.seed,
            "parameters": recipe.parameters, "steps": recipe.steps_done,
            "batch_size": recipe.config.batch_size, "stopped_by": recipe.stopped_by,
            "seconds": round(recipe.seconds, 1),
            "episode_steps": recipe.config.episode_steps,
            "heldout_step_accuracy": recipe.heldout_step_accuracy,
        })
        wrong = recipe.wrong_answers
        if wrong is not None:
            rows[-1]["wrong_answers"] = {"temperature": wrong.temperature,
                                         "wrong": len(wrong.offsets), "sampled": wrong.sampled}
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
        old = {k: v for k, v in self.items.items() if k.startswith(f"{TRAINING_WALL}/")}
        if old:  # per-model keys of a work folder that trained one model at a time
            for key, seconds in old.items():
                del self.items[key]
                self.items[MODEL_COST + key.split("/", 1)[1]] = seconds
            self.items[TRAINING_WALL] = round(self.items.get(TRAINING_WALL, 0.0)
                                              + sum(old.values()), 1)

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
    from redraft.evals.report import SUMMARY_FILE, write_report
    from redraft.lab.findings._analysis import DECISIVE_FILE, analyze_decisive
    from redraft.lab.findings._machine import machine_record
    from redraft.lab.findings._page import write_page

    began = time.perf_counter()
    speak = say or (lambda _m: None)
    grid = plan(options)
    work, out = options.work, options.out
    work.mkdir(parents=True, exist_ok=True)
    (out / SUMMARIES_DIR).mkdir(parents=True, exist_ok=True)
    costs = _Costs(work / "costs.json")
    load_before = os.getloadavg()
    jobs: list[tuple[str, RunSpec, Path]] = [
        ("decisive", run.spec, decisive_dir(work, run)) for run in grid.decisive]
    jobs += [(group.name, spec, group_dir(work, group, spec))
             for group in grid.groups for spec in group.runs]
    for train_spec in grid.trains:  # before any training: a refusal then costs nothing
        _refuse_orphan_runs(train_spec, jobs)
    _train_all(grid.trains, options, costs, speak)
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
                                  jobs=training_jobs(options), load_before=load_before),
        "simulated": SIMULATED,
        "simulated_truth": SIMULATED_TRUTH,  # type: ignore[dict-item]
        "calibration": DECISIVE_CALIBRATION.get(options.scale)
        or DECISIVE_CALIBRATION.get("gpu"),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    page: Path = write_page(out)
    return page
