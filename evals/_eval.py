"""Run an eval into a run directory: new, or resumed where it stopped.

:func:`arun_eval` ties the pieces together: it builds the task, the feedback source and the
backend, opens the run directory (writing the manifest of a new run, or checking a resumed
run's config against it and replaying its unfinished episodes to their last logged step),
then lets the :class:`~redraft.evals._runner.LockstepRunner` append the rest to the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from redraft.agent import build_corrector, is_leaky
from redraft.agent.backends import (
    Backend,
    HintReceiver,
    load_backend,
    split_model_string,
)
from redraft.core import BadInputError
from redraft.evals._config import EvalConfig
from redraft.evals._events import Event, StepEvent
from redraft.evals._log import (
    EVENTS_FILE,
    EventLogError,
    EventWriter,
    keep_whole_steps,
    remove_stale_temporaries,
    scan_events,
    write_error,
)
from redraft.evals._manifest import (
    MANIFEST_FILE,
    build_manifest,
    check_provenance,
    check_resumable,
    model_file,
    read_manifest,
    write_manifest,
)
from redraft.evals._preflight import (
    check_backend_options,
    feedback_source,
    refuse_non_directory,
)
from redraft.evals._progress import RunObserver
from redraft.evals._resume import Restored, close_restored, restore_unfinished
from redraft.evals._runner import LockstepRunner, close_quietly
from redraft.evals.tasks import DescribedTask, IndexedTask, Task, load_task, tasks

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: runs there are not locked
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_FILE",
    "RunResult",
    "arun_eval",
    "arun_grid",
    "check_run",
    "default_episodes",
    "grid_order",
    "load_eval_task",
    "run_eval",
    "run_grid",
]

LOCK_FILE = ".lock"
"""Held (``flock``) by the process writing a run directory."""


class RunResult(BaseModel):
    """What one call of :func:`run_eval` did."""

    model_config = ConfigDict(frozen=True)

    run_dir: Path
    """The run directory."""
    episodes: int
    """Finished episodes in the log now."""
    ran: int
    """Episodes this call ran (the rest were finished before: a resume)."""
    resumed: bool
    """The run directory held this run already."""
    steps: int
    """Steps this call ran."""
    seconds: float
    """Wall-clock time of this call."""
    continued: int = 0
    """Unfinished episodes this call continued from their last logged step (a resume)."""
    kept_steps: int = 0
    """Steps of those episodes kept from the log, not run again."""


def load_eval_task(config: EvalConfig) -> Task:
    """Build the config's task with its options.

    Raises:
        UnknownPluginError: no task of that name.
        BadInputError: the task rejects an option or does not support the error policy.
    """
    kwargs = config.task_kwargs()
    try:
        task = load_task(config.task, **kwargs)
    except TypeError as exc:
        raise BadInputError(
            f"task {config.task!r} rejected its options {sorted(kwargs)}: {exc}"
        ) from exc
    if config.error_policy not in task.error_policies:
        close_quietly(task)
        raise BadInputError(
            f"task {config.task!r} does not support error policy {config.error_policy!r} "
            f"(it supports: {', '.join(task.error_policies)})"
        )
    if (isinstance(task, IndexedTask) and "episodes" in config.model_fields_set
            and config.episodes > len(task)):
        size = len(task)
        close_quietly(task)
        raise BadInputError(
            f"task {config.task!r} holds {size} episodes (records), and episode i is record "
            f"i: --episodes {config.episodes} asks for more; leave --episodes out to run each "
            f"once, or pass at most {size}"
        )
    return task


def default_episodes(config: EvalConfig) -> int | None:
    """How many episodes a run of ``config``'s task holds when none are asked for.

    An :class:`~redraft.evals.tasks.IndexedTask` (a dataset) runs each record once: its
    size. None for other tasks (:class:`EvalConfig`'s default stands).
    """
    factory = tasks.get(config.task)
    if isinstance(factory, type) and not hasattr(factory, "new_episode_at"):
        return None  # a task class that is not indexed: no need to build one (an engine)
    task = load_eval_task(config.model_copy(update={"episodes": 1}))
    try:
        return len(task) if isinstance(task, IndexedTask) else None
    finally:
        close_quietly(task)


def _provenance(task: Task) -> dict[str, Any] | None:
    return task.provenance() if isinstance(task, DescribedTask) else None


class _Tee:
    """Log every record, then show it to the observers; count steps."""

    def __init__(self, writer: EventWriter, observers: Sequence[RunObserver]) -> None:
        self.writer = writer
        self.observers = observers
        self.steps = 0
        self.ended = 0

    def write(self, event: Event) -> None:
        self.writer.write(event)
        if isinstance(event, StepEvent):
            self.steps += 1
        elif event.kind == "episode_end":
            self.ended += 1
        for observer in self.observers:
            observer.write(event)

    def sync(self) -> None:
        self.writer.sync()


def _existing_run(out: Path, config: EvalConfig) -> dict[str, Any] | None:
    """The manifest of the run already in ``out`` (None if new), checked against ``config``.

    Called with the run directory's lock held, before the model loads, so that a refused
    resume or a bad directory costs no model load.
    """
    if not (out / MANIFEST_FILE).exists():
        events = out / EVENTS_FILE
        if events.exists() and events.stat().st_size:
            raise BadInputError(
                f"{out} holds an {EVENTS_FILE} but no {MANIFEST_FILE}; it is not a run this "
                "command can resume: choose another --out"
            )
        return None
    manifest = read_manifest(out)
    check_resumable(manifest, config, out)
    return manifest


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Create ``out`` and hold its lock: two processes appending to one log would mix it.

    The lock (``flock`` on ``out/.lock``) is released when the process ends, however it ends.
    A directory this call created and that holds nothing but the lock when the block fails
    (a backend that does not load, a refused option) is removed again.
    """
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(out, exc, _NEW_FIX, "output directory ") from exc
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BadInputError(
                    f"another redraft process is writing to {out}; wait for it to finish "
                    "(rerun the command then to resume) or stop it"
                ) from None
        try:
            yield
        except BaseException:
            if created:  # only the lock holder cleans up
                _remove_if_only_lock(out)
            raise
    finally:
        os.close(fd)


def _remove_if_only_lock(out: Path) -> None:
    with contextlib.suppress(OSError):
        if [p.name for p in out.iterdir()] == [LOCK_FILE]:
            (out / LOCK_FILE).unlink()
            out.rmdir()


def _load_backend(config: EvalConfig) -> Backend:
    """Load the config's backend, refusing options its factory does not take (exit 2)."""
    check_backend_options(config)
    return load_backend(config.model, **config.model_options)


def episodes_of(config: EvalConfig, task: Task) -> EvalConfig:
    """``config`` with the episodes its run holds.

    A dataset task (an :class:`~redraft.evals.tasks.IndexedTask`) given no ``episodes`` runs
    each record once, from Python as from the command line (the config's default, 20, would
    ask for records a small dataset lacks, or leave most of a large one out).
    """
    if isinstance(task, IndexedTask) and "episodes" not in config.model_fields_set:
        return config.model_copy(update={"episodes": len(task)})
    return config


def check_run(config: EvalConfig, out: Path) -> None:
    """Check a run's arguments without running it or loading its model.

    The task and its options, the feedback source (and that it can check the task's
    contexts), the backend's provider and options, and that ``out`` is new or holds this
    run (see :mod:`~redraft.evals._preflight`).

    Raises:
        BadInputError: naming what to fix.
    """
    out = Path(out)
    task = load_eval_task(config)
    config = episodes_of(config, task)
    try:
        feedback_source(config, task, task.oracle())
    finally:
        close_quietly(task)
    check_backend_options(config)
    refuse_non_directory(out)
    if out.is_dir():
        _existing_run(out, config)


def _create_run(out: Path, config: EvalConfig, backend: Backend, *, leaky: bool,
                task_info: dict[str, Any] | None) -> None:
    provider, _ = split_model_string(config.model)
    if (out / MANIFEST_FILE).exists():  # re-check after the model load, as a second guard
        raise BadInputError(
            f"another process created a run in {out} meanwhile; rerun to resume it"
        )
    try:
        write_manifest(out, build_manifest(config, backend, provider, leaky=leaky,
                                           task_info=task_info))
        (out / EVENTS_FILE).touch()
    except OSError as exc:
        raise write_error(out, exc, _NEW_FIX, "output directory ") from exc


def _reopen_run(
    out: Path, config: EvalConfig, manifest: dict[str, Any], backend: Backend, task: Task
) -> tuple[set[int], dict[int, Restored]]:
    """Check the model file, keep the log's whole steps; the finished ids and the rest.

    Each unfinished episode is replayed to its last logged step (returned by id, to go on
    from there); one that does not replay is dropped from the log, to rerun from scratch.
    The rounds of steps in flight are dropped.
    """
    recorded = (manifest.get("backend") or {}).get("model_file") or {}
    current = model_file(backend) or {}
    if recorded.get("sha256") != current.get("sha256"):
        raise BadInputError(
            f"{out} was run with model file {recorded.get('path')} (sha256 "
            f"{recorded.get('sha256')}); the model now resolves to {current.get('path')} "
            f"(sha256 {current.get('sha256')}): choose another --out"
        )
    scan = scan_events(out)
    ids = config.episode_ids()
    extra = {e.episode for e in scan.events if e.episode not in ids}
    if extra:
        raise EventLogError(
            f"{out}/{EVENTS_FILE} holds episodes outside this run: {sorted(extra)[:10]}"
        )
    restored, restart = restore_unfinished(
        task, scan, max_steps=config.max_steps, error_policy=config.error_policy
    )
    try:
        done = keep_whole_steps(scan, restart).finished()
    except BaseException as exc:
        close_restored(restored.values())
        if isinstance(exc, OSError):
            raise write_error(out / EVENTS_FILE, exc, _RESUME_FIX) from exc
        raise
    now = datetime.now(UTC).isoformat(timespec="seconds")
    resumed = list(manifest.get("resumed_at") or [])
    resumed.append(now)
    updated = {**manifest, "resumed_at": resumed}
    recorded = dict(manifest.get("config") or {})
    if recorded.get("episodes") != config.episodes:  # extended (check_resumable allowed it)
        extended = list(manifest.get("extended") or [])
        extended.append({"at": now, "episodes": [recorded.get("episodes"), config.episodes]})
        updated.update(config={**recorded, "episodes": config.episodes}, extended=extended)
    try:
        write_manifest(out, updated)
    except BaseException as exc:
        close_restored(restored.values())
        if isinstance(exc, OSError):
            raise write_error(out / MANIFEST_FILE, exc, _RESUME_FIX) from exc
        raise
    return done, restored


_NEW_FIX = "choose a writable --out"
_RESUME_FIX = "make it writable to resume the run there, or choose another --out"


async def arun_eval(
    config: EvalConfig,
    out: Path,
    *,
    backend: Backend | None = None,
    observers: Sequence[RunObserver] = (),
) -> RunResult:
    """Run (or resume) an eval into the run directory ``out``.

    Every whole step already in ``out`` is kept: finished episodes stay as they are, and an
    unfinished one continues from its last logged step (replayed into the task's state; one
    that does not replay is rerun from scratch). So a run killed at any moment ends, once
    resumed, with exactly its episodes, as an uninterrupted run would have them, and loses
    only the rounds that were in flight.

    Args:
        config: what to run.
        out: the run directory (created if needed).
        backend: a backend object to use instead of loading ``config.model`` (it is not
            closed here); its ``name`` is recorded.
        observers: see every record as it is logged (e.g. a progress bar).

    Raises:
        BadInputError: an unknown task, backend or verifier, invalid options, an
            unwritable ``out``, or an ``out`` holding a run with another config.
        EventLogError: the existing log is corrupt in the middle.
    """
    started = time.perf_counter()
    out = Path(out)
    async with contextlib.AsyncExitStack() as stack:
        task = load_eval_task(config)
        stack.callback(close_quietly, task)
        config = episodes_of(config, task)
        oracle = task.oracle()
        verifier = feedback_source(config, task, oracle)
        leaky = is_leaky(verifier)
        if backend is None:
            check_backend_options(config)  # an unknown provider or option: fail early
        refuse_non_directory(out)
        # The lock comes before the manifest is read and is held to the end: two processes
        # given the same fresh --out would otherwise both see "no run here", both create it
        # and both run every episode into one log.
        stack.enter_context(_exclusive(out))
        remove_stale_temporaries(out)
        manifest = _existing_run(out, config)
        task_info = _provenance(task)
        if manifest is not None:
            check_provenance(manifest, task_info, out)
        if backend is None:
            backend = _load_backend(config)
            stack.push_async_callback(backend.aclose)
        restored: dict[int, Restored] = {}
        if manifest is None:
            _create_run(out, config, backend, leaky=leaky, task_info=task_info)
            done: set[int] = set()
        else:
            done, restored = _reopen_run(out, config, manifest, backend, task)
        # Whatever the runner does not take over is released (it takes them as they join).
        stack.callback(lambda: close_restored(restored.values()))
        corrector = build_corrector(backend, verifier, config=config.corrector)
        ids = config.episode_ids()
        # Unfinished episodes first, in id order, then the rest: the batches an
        # uninterrupted run would have had.
        going_on = set(restored)  # the runner empties ``restored`` as they join
        todo = itertools.chain(
            sorted(going_on), (i for i in ids if i not in done and i not in going_on)
        )
        continued = len(restored)
        kept_steps = sum(state.steps for state in restored.values())
        for observer in observers:
            observer.start(len(ids), len(done))
            stack.callback(observer.finish)
        try:
            writer = stack.enter_context(EventWriter(out))
        except OSError as exc:
            raise write_error(out / EVENTS_FILE, exc, _RESUME_FIX) from exc
        tee = _Tee(writer, observers)
        runner = LockstepRunner(
            task,
            corrector,
            tee,
            seed=config.seed,
            max_steps=config.max_steps,
            error_policy=config.error_policy,
            batch_size=config.batch_size,
            oracle=oracle,
            hints=backend.hints if isinstance(backend, HintReceiver) else None,
            leaky=leaky,
        )
        await runner.run(todo, restored)
    return RunResult(
        run_dir=out,
        episodes=len(done) + tee.ended,
        ran=tee.ended,
        resumed=manifest is not None,
        steps=tee.steps,
        seconds=time.perf_counter() - started,
        continued=continued,
        kept_steps=kept_steps,
    )


def run_eval(
    config: EvalConfig,
    out: Path,
    *,
    backend: Backend | None = None,
    observers: Sequence[RunObserver] = (),
) -> RunResult:
    """Synchronous :func:`arun_eval`; call it where no event loop is running."""
    return asyncio.run(arun_eval(config, out, backend=backend, observers=observers))


SHARED_PROVIDERS = frozenset({"llamacpp", "hf", "vllm"})
"""Providers whose loaded model a grid's runs share: a local model holds nothing between
requests but its weights and caches of its own computations. (``simulated`` and ``scripted``
keep per-run state; remote ``openai`` models cost nothing to open.)"""


def grid_order(configs: Sequence[EvalConfig]) -> list[int]:
    """The order a grid runs its configs in: larger revision budgets first, else as given.

    With a shared model that remembers deterministic requests (``llamacpp``), a run without
    revisions then finds most of its proposals already computed by the runs with
    revisions, whose first rounds ask exactly the same until their trajectories part.
    The order changes no answer a deterministic backend gives, only when it is computed.
    """
    return sorted(range(len(configs)), key=lambda i: -configs[i].corrector.max_revisions)


async def arun_grid(
    runs: Sequence[tuple[EvalConfig, Path, Sequence[RunObserver]]],
    *,
    on_start: Callable[[int], None] | None = None,
) -> list[RunResult]:
    """Run (or resume) several evals in :func:`grid_order`; results in the order given.

    Every run's arguments are checked (:func:`check_run`) before the first one starts.

    When every run uses the same model and options of a :data:`SHARED_PROVIDERS`
    provider, the model is loaded once and shared (its memo of deterministic requests
    with it); otherwise each run loads its own, as :func:`arun_eval` does.

    Args:
        runs: each run's config, run directory and observers.
        on_start: called with a run's index (into ``runs``) just before it starts.
    """
    configs = [config for config, _, _ in runs]
    # Every run's arguments first: a grid does not stop at its third run over a typo.
    for config, out, _ in runs:
        check_run(config, out)
    results: list[RunResult | None] = [None] * len(runs)
    async with contextlib.AsyncExitStack() as stack:
        backend: Backend | None = None
        if configs and _shareable(configs):
            backend = _load_backend(configs[0])
            stack.push_async_callback(backend.aclose)
        for index in grid_order(configs):
            if on_start is not None:
                on_start(index)
            config, out, observers = runs[index]
            # Each run draws unseeded samples as it would alone, whatever ran before it.
            restart = getattr(backend, "restart_seeds", None)
            if callable(restart):
                restart()
            results[index] = await arun_eval(config, out, backend=backend, observers=observers)
    return [result for result in results if result is not None]


def run_grid(
    runs: Sequence[tuple[EvalConfig, Path, Sequence[RunObserver]]],
    *,
    on_start: Callable[[int], None] | None = None,
) -> list[RunResult]:
    """Synchronous :func:`arun_grid`; call it where no event loop is running."""
    return asyncio.run(arun_grid(runs, on_start=on_start))


def _shareable(configs: Sequence[EvalConfig]) -> bool:
    first = configs[0]
    if split_model_string(first.model)[0] not in SHARED_PROVIDERS:
        return False
    return all(
        c.model == first.model and c.model_options == first.model_options for c in configs
    )
