"""The verifier and oracle protocols, and the explicit adapters between them.

A *verifier* is a feedback source the agent may see. An *oracle* is ground truth used for
measurement only. They have different method names and result types, so a type checker
refuses one where the other is expected; :func:`ensure_verifier` and :func:`ensure_oracle`
repeat the check at run time for untyped callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from redraft.tools._verdict import Judgement, Verdict

__all__ = [
    "FunctionVerifier",
    "LeakyOracleVerifier",
    "Oracle",
    "Verifier",
    "VerifierAsOracle",
    "VerifierTimeoutError",
    "ensure_oracle",
    "ensure_verifier",
    "oracle_as_verifier",
    "safe_judge",
    "safe_verify",
    "verifier_as_oracle",
    "verify_sync",
]

C = TypeVar("C")
T = TypeVar("T")
C_contra = TypeVar("C_contra", contravariant=True)


@runtime_checkable
class Verifier(Protocol[C_contra]):
    """A feedback source: checks a proposal in a context and says why it is wrong."""

    name: str

    async def verify(self, context: C_contra, proposal: str) -> Verdict:
        """Check ``proposal`` (the raw model output) in ``context``."""
        ...


@runtime_checkable
class Oracle(Protocol[C_contra]):
    """Ground truth for measurement: judges a proposal locally and globally."""

    name: str

    async def judge(self, context: C_contra, proposal: str) -> Judgement:
        """Judge ``proposal`` (the raw model output) in ``context``."""
        ...


def ensure_verifier(obj: object) -> None:
    """Raise ``TypeError`` unless ``obj`` is a verifier (and not an oracle)."""
    if isinstance(obj, Oracle) and not isinstance(obj, Verifier):
        raise TypeError(
            f"{obj!r} is an oracle (ground truth), not a verifier; feeding it to the loop "
            "leaks the answer. Use critic='oracle' (labelled leaky) or "
            "redraft.tools.oracle_as_verifier() explicitly."
        )
    if not isinstance(obj, Verifier):
        raise TypeError(f"{obj!r} is not a verifier: it needs a 'name' and 'async verify()'")


def ensure_oracle(obj: object) -> None:
    """Raise ``TypeError`` unless ``obj`` is an oracle."""
    if isinstance(obj, Verifier) and not isinstance(obj, Oracle):
        raise TypeError(
            f"{obj!r} is a verifier, not an oracle; wrap it with "
            "redraft.tools.verifier_as_oracle() if it really is ground truth."
        )
    if not isinstance(obj, Oracle):
        raise TypeError(f"{obj!r} is not an oracle: it needs a 'name' and 'async judge()'")


class LeakyOracleVerifier(Generic[C]):
    """An oracle presented as a verifier: the leaky upper bound (``critic='oracle'``)."""

    leaky = True

    def __init__(self, oracle: Oracle[C]) -> None:
        ensure_oracle(oracle)
        self.oracle = oracle
        self.name = f"oracle:{oracle.name}"

    async def verify(self, context: C, proposal: str) -> Verdict:
        """Return the oracle's local verdict as feedback."""
        judgement = await self.oracle.judge(context, proposal)
        return judgement.local.model_copy(update={"source": self.name})


class VerifierAsOracle(Generic[C]):
    """A verifier that really is ground truth (e.g. schema validation) used as the oracle."""

    def __init__(self, verifier: Verifier[C]) -> None:
        ensure_verifier(verifier)
        self.verifier = verifier
        self.name = f"verifier:{verifier.name}"

    async def judge(self, context: C, proposal: str) -> Judgement:
        """Judge by the verifier's verdict; there is no separate global state."""
        return Judgement(local=await self.verifier.verify(context, proposal))


def oracle_as_verifier(oracle: Oracle[C]) -> LeakyOracleVerifier[C]:
    """Explicitly let ground truth feed the loop. Results are labelled leaky."""
    return LeakyOracleVerifier(oracle)


def verifier_as_oracle(verifier: Verifier[C]) -> VerifierAsOracle[C]:
    """Explicitly declare that a verifier is ground truth, for measurement."""
    return VerifierAsOracle(verifier)


class FunctionVerifier(Generic[C]):
    """A verifier made from a plain (sync or async) function ``f(context, proposal)``."""

    def __init__(
        self,
        fn: Callable[[C, str], Verdict] | Callable[[C, str], Awaitable[Verdict]],
        name: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")

    async def verify(self, context: C, proposal: str) -> Verdict:
        """Call the function and await its result if needed."""
        result = self.fn(context, proposal)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Verdict):
            raise TypeError(f"verifier {self.name!r} returned {type(result).__name__}, not Verdict")
        return result


def _failure(
    source: str, exc: BaseException, started: float, why: str = "failed",
    code: str = "verifier_error",
) -> Verdict:
    from redraft.core import Cost

    return Verdict.reject(
        code,
        f"{source} {why}: {type(exc).__name__}: {exc}"[:2000],
        source=source,
        cost=Cost(seconds=time.perf_counter() - started),
        evidence={"exception": type(exc).__name__},
    )


class VerifierTimeoutError(TimeoutError):
    """A verifier or oracle call ran past its time limit (``verify_timeout_s``)."""


class _Raised:
    """An exception a verifier raised, carried back as a value.

    ``SystemExit``, ``KeyboardInterrupt`` and other ``BaseException`` subclasses raised by a
    verifier would otherwise stop the verifier thread's event loop (asyncio re-raises them
    out of ``run_forever``); carried as a value they become a ``verifier_error`` verdict.
    """

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Call:
    """One bounded call in flight: what to run, where its result goes."""

    __slots__ = ("call", "caller", "task", "waiter")

    def __init__(
        self,
        call: Callable[[], Awaitable[Any]],
        caller: asyncio.AbstractEventLoop,
        waiter: asyncio.Future[Any],
    ) -> None:
        self.call = call
        self.caller = caller
        self.waiter = waiter
        self.task: asyncio.Task[Any] | None = None


class _VerifierThread:
    """A daemon thread running its own event loop, where bounded verifier calls run.

    A verifier that blocks (``time.sleep`` inside ``async def verify``, a stuck subprocess)
    blocks this loop, not the caller's, so the caller's time limit still fires. After a
    timeout the thread is retired and later calls get a fresh one: a blocked thread is left
    to finish (or not) on its own, and being a daemon it never holds the process open.

    Calls cross the thread boundary in bursts: a batch of verifications wakes the thread
    once and is answered with one wake-up of the caller per burst of results, since a
    wake-up per call cost more than a built-in verifier's whole check.
    """

    _lock = threading.Lock()
    _current: _VerifierThread | None = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._box_lock = threading.Lock()
        self._inbox: list[_Call] = []
        self._outbox: dict[asyncio.AbstractEventLoop, list[tuple[_Call, Any]]] = {}
        self.thread = threading.Thread(target=self._run, name="redraft-verifier", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.loop.run_forever()
        self.loop.close()

    @classmethod
    def get(cls) -> _VerifierThread:
        with cls._lock:
            if cls._current is None or not cls._current.thread.is_alive():
                cls._current = cls()
            return cls._current

    @classmethod
    def retire(cls, worker: _VerifierThread) -> None:
        with cls._lock:
            if cls._current is worker:
                cls._current = None
        # A responsive loop stops once the calls it holds are done; a blocked one never
        # gets to this.
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            worker.loop.call_soon_threadsafe(worker._stop_when_idle)

    def _stop_when_idle(self) -> None:
        self.loop.create_task(_stop_when_idle())

    # -- caller side ---------------------------------------------------------------------

    def submit(self, job: _Call) -> None:
        with self._box_lock:
            self._inbox.append(job)
            wake = len(self._inbox) == 1
        if wake:
            self.loop.call_soon_threadsafe(self._start_all)

    def cancel(self, job: _Call) -> None:
        def cancel() -> None:
            if job.task is not None:
                job.task.cancel()

        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self.loop.call_soon_threadsafe(cancel)

    def _deliver(self, caller: asyncio.AbstractEventLoop) -> None:
        with self._box_lock:
            done = self._outbox.pop(caller, [])
        for job, result in done:
            # Not ``if not done(): set_result``: asyncio.Runner's SIGINT handler cancels the
            # run at whatever bytecode the main thread is on, between the two included.
            with contextlib.suppress(asyncio.InvalidStateError):
                job.waiter.set_result(result)

    # -- worker side ---------------------------------------------------------------------

    def _start_all(self) -> None:
        with self._box_lock:
            jobs, self._inbox = self._inbox, []
        for job in jobs:
            if job.waiter.cancelled():  # read across threads: at worst the call runs once
                continue
            job.task = self.loop.create_task(_capture(job.call))
            job.task.add_done_callback(functools.partial(self._finished, job))

    def _finished(self, job: _Call, task: asyncio.Task[Any]) -> None:
        cancelled = _Raised(RuntimeError("the verifier call was cancelled"))
        result = cancelled if task.cancelled() else task.result()
        with self._box_lock:
            box = self._outbox.setdefault(job.caller, [])
            box.append((job, result))
            wake = len(box) == 1
        if wake:
            with contextlib.suppress(RuntimeError):  # the caller's loop has closed
                job.caller.call_soon_threadsafe(self._deliver, job.caller)


async def _stop_when_idle() -> None:
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    while any(task is not me for task in asyncio.all_tasks(loop)):
        await asyncio.sleep(0.05)
    loop.stop()


async def _capture(call: Callable[[], Awaitable[T]]) -> T | _Raised:
    try:
        return await call()
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return _Raised(exc)


def _expire(waiter: asyncio.Future[Any]) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):  # answered or cancelled (see _deliver)
        waiter.set_exception(VerifierTimeoutError())


async def _bounded(call: Callable[[], Awaitable[T]], timeout_s: float | None) -> T:
    """Await ``call()``; with a limit, on the verifier thread and at most ``timeout_s``.

    Raises:
        VerifierTimeoutError: the call ran past ``timeout_s``.
        BaseException: whatever the call raised (``SystemExit`` included, as a value
            carried back from the verifier thread).
    """
    result: Any
    if timeout_s is None:
        result = await _capture(call)
    else:
        worker = _VerifierThread.get()
        loop = asyncio.get_running_loop()
        job = _Call(call, loop, loop.create_future())
        timer = loop.call_later(timeout_s, _expire, job.waiter)
        worker.submit(job)
        try:
            result = await job.waiter
        except VerifierTimeoutError:
            worker.cancel(job)
            _VerifierThread.retire(worker)
            raise VerifierTimeoutError(f"no answer after {timeout_s:g} s") from None
        except asyncio.CancelledError:
            worker.cancel(job)
            raise
        finally:
            timer.cancel()
    if isinstance(result, _Raised):
        raise result.exc
    return cast(T, result)


Checked = TypeVar("Checked", Verdict, Judgement)


def _checked(result: object, kind: type[Checked]) -> Checked:
    """``result``, re-validated as ``kind``.

    A forged verdict or judgement (built with ``model_construct``, a subclass that skips
    checks, ``ok=True`` with a rejecting code) is an error, not an acceptance.
    """
    if not isinstance(result, kind):
        raise TypeError(f"returned {type(result).__name__}, not {kind.__name__}")
    try:
        return kind.model_validate(result.model_dump())
    except Exception as exc:
        name = kind.__name__.lower()
        raise TypeError(f"returned an invalid {name}: {' '.join(str(exc).split())}") from None


def _recorded(exc: BaseException, timeout_s: float | None) -> bool:
    """Whether a verifier's exception becomes a ``verifier_error`` rather than propagating.

    Everything but cancellation is recorded. Without a time limit the verifier runs in the
    caller's thread, where a ``KeyboardInterrupt`` may be the user's Ctrl-C: that one stops
    the run (which resumes later); on the verifier thread no signal can land, so there a
    ``KeyboardInterrupt`` is the verifier's own doing and is recorded like any failure.
    """
    if isinstance(exc, asyncio.CancelledError):
        return False
    return not (isinstance(exc, KeyboardInterrupt) and timeout_s is None)


async def safe_verify(
    verifier: Verifier[Any], context: Any, proposal: str, *, timeout_s: float | None = None
) -> Verdict:
    """Run a verifier; any failure becomes a ``verifier_error`` verdict, never an acceptance.

    Args:
        verifier: the feedback source.
        context: what it may see.
        proposal: the raw output to check.
        timeout_s: the most seconds the call may take, or None for no limit. With a limit
            the verifier runs on a verifier thread (its own event loop), so that a verifier
            that blocks instead of awaiting is bounded too.

    A crash (any exception, ``SystemExit`` included), a timeout, and a result that is not a
    valid :class:`Verdict` are all ``verifier_error``.
    """
    started = time.perf_counter()
    try:
        verdict = _checked(
            await _bounded(lambda: verifier.verify(context, proposal), timeout_s), Verdict
        )
    except VerifierTimeoutError as exc:
        return _failure(verifier.name, exc, started, why="timed out")
    except BaseException as exc:
        if not _recorded(exc, timeout_s):
            raise
        return _failure(verifier.name, exc, started)
    return verdict if verdict.source else verdict.model_copy(update={"source": verifier.name})


async def safe_judge(
    oracle: Oracle[Any], context: Any, proposal: str, *, timeout_s: float | None = None
) -> Judgement:
    """Run an oracle; any failure becomes an ``oracle_error`` judgement.

    Failures are as for :func:`safe_verify`; measurement counts such a judgement as unknown,
    never as right or wrong.
    """
    started = time.perf_counter()
    try:
        return _checked(
            await _bounded(lambda: oracle.judge(context, proposal), timeout_s), Judgement
        )
    except VerifierTimeoutError as exc:
        return Judgement(local=_failure(oracle.name, exc, started, why="timed out",
                                        code="oracle_error"))
    except BaseException as exc:
        if not _recorded(exc, timeout_s):
            raise
        return Judgement(local=_failure(oracle.name, exc, started, code="oracle_error"))


def verify_sync(verifier: Verifier[C], context: C, proposal: str) -> Verdict:
    """Synchronous convenience: run ``verifier.verify`` to completion.

    Must not be called from inside a running event loop; use ``await verifier.verify``.
    """
    return asyncio.run(verifier.verify(context, proposal))
