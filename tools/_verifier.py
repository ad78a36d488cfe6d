"""The verifier and oracle protocols, and the explicit adapters between them.

A *verifier* is a feedback source the agent may see. An *oracle* is ground truth used for
measurement only. They have different method names and result types, so a type checker
refuses one where the other is expected; :func:`ensure_verifier` and :func:`ensure_oracle`
repeat the check at run time for untyped callers.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from redraft.tools._verdict import Judgement, Verdict

__all__ = [
    "FunctionVerifier",
    "LeakyOracleVerifier",
    "Oracle",
    "Verifier",
    "VerifierAsOracle",
    "ensure_oracle",
    "ensure_verifier",
    "oracle_as_verifier",
    "safe_judge",
    "safe_verify",
    "verifier_as_oracle",
    "verify_sync",
]

C = TypeVar("C")
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


def _failure(source: str, exc: BaseException, started: float) -> Verdict:
    from redraft.tools._verdict import Cost

    return Verdict.reject(
        "verifier_error",
        f"{source} failed: {type(exc).__name__}: {exc}"[:2000],
        source=source,
        cost=Cost(seconds=time.perf_counter() - started),
        evidence={"exception": type(exc).__name__},
    )


async def safe_verify(verifier: Verifier[Any], context: Any, proposal: str) -> Verdict:
    """Run a verifier; a crash becomes a ``verifier_error`` verdict, never an acceptance."""
    started = time.perf_counter()
    try:
        verdict = await verifier.verify(context, proposal)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"returned {type(verdict).__name__}, not Verdict")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return _failure(verifier.name, exc, started)
    return verdict if verdict.source else verdict.model_copy(update={"source": verifier.name})


async def safe_judge(oracle: Oracle[Any], context: Any, proposal: str) -> Judgement:
    """Run an oracle; a crash becomes a ``verifier_error`` judgement, never a correct one."""
    started = time.perf_counter()
    try:
        judgement = await oracle.judge(context, proposal)
        if not isinstance(judgement, Judgement):
            raise TypeError(f"returned {type(judgement).__name__}, not Judgement")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return Judgement(local=_failure(oracle.name, exc, started))
    return judgement


def verify_sync(verifier: Verifier[C], context: C, proposal: str) -> Verdict:
    """Synchronous convenience: run ``verifier.verify`` to completion.

    Must not be called from inside a running event loop; use ``await verifier.verify``.
    """
    return asyncio.run(verifier.verify(context, proposal))
