"""The corrector: a LangGraph ``StateGraph`` over a batch of items.

``propose`` → ``verify`` → (``revise`` → ``verify``)* → ``finish``. Each node handles every
item waiting for it with one backend call, so a batch of 256 items costs one graph step per
round. Items move in lockstep: after ``verify`` an item is either done or waiting to be
revised, so every unfinished item is always at the same node. The router only reads the
critic's feedback and the round count. The graph holds no oracle: measurement happens after
it returns (the runner, or ``correct`` given an oracle, judges every round).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Literal, TypedDict, TypeVar

from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, ConfigDict, ValidationError

from redraft.agent._answer import EXTRACTOR_SOURCE, missing_answer_verdict
from redraft.agent._config import CorrectorConfig
from redraft.agent._critique import CRITIQUE_VERDICTS
from redraft.agent._monologue import (
    answer_fields,
    critique_verdict,
    visible_output,
    with_instruction,
)
from redraft.agent._records import Correction, Item, RoundRecord, StopReason
from redraft.agent.backends import (
    Backend,
    Constraint,
    GenerationRequest,
    Message,
    Purpose,
    SamplingParams,
)
from redraft.core import BadInputError, ConstraintNotSupportedError, describe_validation_error
from redraft.tools import Verdict, Verifier, ensure_verifier, safe_verify

__all__ = [
    "CorrectorInput",
    "CorrectorOutput",
    "CorrectorState",
    "build_corrector",
    "is_leaky",
]

T = TypeVar("T")
Status = Literal["verify", "revise", "done"]
_NEEDS_VERIFIER = ("tool", "self+tool", "resample", "constrained", "oracle")


def is_leaky(verifier: object) -> bool:
    """True when a feedback source carries ground truth (it says ``leaky = True``).

    :class:`~redraft.tools.LeakyOracleVerifier` (what ``oracle_as_verifier`` builds) does;
    a plug-in verifier that peeks at the truth should too. Leakiness follows the source,
    whatever the critic mode is called.
    """
    return getattr(verifier, "leaky", False) is True


class _Work(BaseModel):
    """One item's progress through the graph."""

    model_config = ConfigDict(frozen=True)

    item: Item
    rounds: tuple[RoundRecord, ...]
    status: Status
    stop_reason: StopReason | None = None


class CorrectorInput(TypedDict):
    """What the graph takes: the batch."""

    items: list[Item]


class CorrectorOutput(TypedDict):
    """What the graph returns: one correction per item, in input order."""

    results: list[Correction]


class CorrectorState(TypedDict, total=False):
    """The graph's state."""

    items: list[Item]
    work: list[_Work]
    results: list[Correction]


class _LoopThread:
    """One event loop in a daemon thread, for the synchronous ``invoke`` path.

    Backends with async clients (HTTP pools) are bound to the loop they first ran on, so all
    synchronous calls share one loop instead of making a new one each time. There is one
    such thread per process (started on the first synchronous call, see :data:`_SYNC_LOOP`),
    not one per corrector: building and invoking many correctors leaks no threads or loops.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, daemon=True, name="redraft-corrector-loop"
                ).start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result()


_SYNC_LOOP = _LoopThread()
"""The loop every synchronously invoked corrector runs its nodes on."""


def _node(
    loop: _LoopThread, afunc: Callable[[CorrectorState], Awaitable[CorrectorState]]
) -> RunnableLambda[CorrectorState, CorrectorState]:
    async def run_async(state: CorrectorState) -> CorrectorState:
        return await afunc(state)

    def run_sync(state: CorrectorState) -> CorrectorState:
        return loop.run(run_async(state))

    return RunnableLambda(run_sync, afunc=run_async, name=getattr(afunc, "__name__", None))


class _Corrector:
    """The node functions, closed over the backend, the critics and the config."""

    def __init__(
        self,
        backend: Backend,
        verifier: Verifier[Any] | None,
        config: CorrectorConfig,
    ) -> None:
        self.backend = backend
        self.config = config
        self.verifier = verifier
        self.leaky = is_leaky(verifier)
        # A monologue critique reasons before its verdict line: no choice constraint then.
        self._critique_choice = (
            config.critique_verdict == "choice"
            and "choice" in backend.constraint_kinds
            and not config.monologue
        )

    # -- helpers -----------------------------------------------------------------------

    def _params(self, round_: int, resample: bool) -> SamplingParams:
        params = self.config.sampling
        update: dict[str, Any] = {}
        if self.config.monologue and self.config.monologue_max_tokens is not None:
            update["max_tokens"] = self.config.monologue_max_tokens
        if params.seed is not None:
            update["seed"] = params.seed + round_
        if resample and round_ > 0 and params.temperature == 0.0:
            update["temperature"] = self.config.resample_temperature
        return params.model_copy(update=update) if update else params

    def _request(
        self, work: _Work, messages: tuple[Message, ...], purpose: Purpose, round_: int
    ) -> GenerationRequest:
        item = work.item
        constraint = None
        if self.config.critic == "constrained" and purpose != "critique":
            constraint = item.constraint
            if constraint is None:
                raise BadInputError(
                    f"critic 'constrained' needs items with a constraint; item {item.id!r} has "
                    "none (the task must list its valid answers)"
                )
            if constraint.kind not in self.backend.constraint_kinds:
                raise ConstraintNotSupportedError(
                    f"backend {self.backend.name!r} cannot enforce {constraint.kind!r} "
                    f"constraints (it supports: {sorted(self.backend.constraint_kinds) or 'none'})"
                )
        if purpose == "critique" and self._critique_choice:
            constraint = Constraint(kind="choice", choices=CRITIQUE_VERDICTS)
        previous = None
        if work.rounds and purpose not in ("propose", "resample"):  # draws see no answer
            last = work.rounds[-1]
            previous = last.answer if last.answer is not None else last.output
        params = self._params(round_, self.config.critic == "resample")
        if item.stop and purpose != "critique" and not self.config.monologue:
            extra = tuple(s for s in item.stop if s not in params.stop)
            params = params.model_copy(update={"stop": params.stop + extra})
        return GenerationRequest(
            messages=messages,
            params=params,
            constraint=constraint,
            purpose=purpose,
            previous=previous,
            item_id=item.id,
            cache_key=item.cache_key,
            monologue=self.config.monologue,
        )

    def _ask(self, work: _Work, messages: tuple[Message, ...]) -> tuple[Message, ...]:
        """Add the monologue request to a proposal or revision prompt when it is on."""
        if not self.config.monologue:
            return messages
        template = work.item.monologue_template or self.config.monologue_template
        return with_instruction(messages, template)

    async def _verify_all(
        self, verifier: Verifier[Any], pairs: Sequence[tuple[Any, str]]
    ) -> list[Verdict]:
        # A semaphore per call: one bound to an earlier event loop would fail on this one
        # once more than ``verify_concurrency`` calls wait.
        semaphore = asyncio.Semaphore(self.config.verify_concurrency)
        timeout = self.config.verify_timeout_s

        async def bounded(context: Any, output: str) -> Verdict:
            async with semaphore:
                return await safe_verify(verifier, context, output, timeout_s=timeout)

        return list(await asyncio.gather(*(bounded(c, out) for c, out in pairs)))

    def _critique_template(self) -> str:
        if self.config.monologue:
            return self.config.monologue_critique_template
        return self.config.critique_template

    def _revision_messages(self, work: _Work) -> tuple[Message, ...]:
        if self.config.critic == "resample":
            return self._ask(work, work.item.messages)
        history = work.rounds if self.config.revision_context == "full" else work.rounds[-1:]
        messages = list(work.item.messages)
        for record in history:
            feedback = record.feedback
            text = feedback.feedback() if feedback is not None else ""
            messages.append(Message(role="assistant", content=visible_output(record.output)))
            messages.append(
                Message(role="user", content=self.config.revise_template.format(feedback=text))
            )
        return self._ask(work, tuple(messages))

    def _repeated(self, rounds: Sequence[RoundRecord]) -> bool:
        limit = self.config.repeat_limit
        if limit is None or self.config.critic == "resample" or len(rounds) < limit:
            return False
        keys = {
            (r.feedback.code, r.feedback.message) if r.feedback is not None else None
            for r in rounds[-limit:]
        }
        return len(keys) == 1 and None not in keys

    def _decide(self, work: _Work) -> _Work:
        record = work.rounds[-1]
        feedback = record.feedback
        reason: StopReason | None = None
        if self.config.critic == "none" or feedback is None:
            reason = "no_critic"
        elif feedback.ok:
            reason = "accepted"
        elif feedback.code == "verifier_error":
            reason = "verifier_failed"
        elif record.round >= self.config.max_revisions:
            reason = "rounds_exhausted"
        elif self._repeated(work.rounds):
            reason = "repeated_error"
        if reason is None:
            return work.model_copy(update={"status": "revise"})
        return work.model_copy(update={"status": "done", "stop_reason": reason})

    # -- nodes -------------------------------------------------------------------------

    async def propose(self, state: CorrectorState) -> CorrectorState:
        items = list(state.get("items") or [])
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise BadInputError("item ids must be unique within a batch")
        work = [_Work(item=item, rounds=(), status="verify") for item in items]
        requests = [self._request(w, self._ask(w, w.item.messages), "propose", 0) for w in work]
        generations = await self.backend.generate(requests) if requests else []
        if len(generations) != len(requests):
            raise RuntimeError(
                f"backend {self.backend.name!r} returned {len(generations)} texts for "
                f"{len(requests)} requests"
            )
        work = [
            w.model_copy(
                update={
                    "rounds": (
                        RoundRecord(
                            round=0,
                            purpose="propose",
                            messages=r.messages,
                            **answer_fields(g, monologue=self.config.monologue),
                        ),
                    )
                }
            )
            for w, r, g in zip(work, requests, generations, strict=True)
        ]
        return {"work": work}

    async def verify(self, state: CorrectorState) -> CorrectorState:
        work = list(state["work"])
        pending = [i for i, w in enumerate(work) if w.status == "verify"]
        # Only the answer is checked; an output without one gets its verdict unasked.
        records = [work[i].rounds[-1] for i in pending]
        answered = [j for j, r in enumerate(records) if r.answer is not None]
        outputs = [(work[pending[j]].item.context, records[j].answer or "") for j in answered]
        missing = {
            j: missing_answer_verdict(truncated=r.truncated, source=EXTRACTOR_SOURCE)
            for j, r in enumerate(records)
            if r.answer is None
        }
        feedback: list[Verdict | None] = [None] * len(pending)
        critiques: dict[int, tuple[str, Any]] = {}
        apart: dict[int, dict[str, Verdict]] = {j: {} for j in range(len(pending))}
        critic = self.config.critic
        if critic not in ("none", "self"):
            if self.verifier is None:  # guarded in build_corrector
                raise BadInputError(f"critic {critic!r} needs a verifier")
            verdicts = await self._verify_all(self.verifier, outputs)
            for j, verdict in zip(answered, verdicts, strict=True):
                feedback[j] = verdict
                if critic == "self+tool":
                    apart[j]["tool_verdict"] = verdict
            for j, verdict in missing.items():
                feedback[j] = verdict
        if critic in ("self", "self+tool"):
            for j, verdict in missing.items():
                feedback[j] = verdict
            ask = [j for j, f in enumerate(feedback) if f is None or f.ok]
            requests = []
            for j in ask:
                w = work[pending[j]]
                messages = (
                    *w.item.messages,
                    Message(role="assistant", content=visible_output(w.rounds[-1].output)),
                    Message(role="user", content=self._critique_template()),
                )
                requests.append(self._request(w, messages, "critique", w.rounds[-1].round))
            generations = await self.backend.generate(requests) if requests else []
            for j, generation in zip(ask, generations, strict=True):
                critiques[j] = (generation.text, generation.usage)
                verdict = critique_verdict(
                    generation,
                    monologue=self.config.monologue,
                    proposal=work[pending[j]].rounds[-1].answer,
                )
                feedback[j] = verdict
                if critic == "self+tool":
                    apart[j]["self_verdict"] = verdict
        for j, i in enumerate(pending):
            w = work[i]
            # In self+tool the critique's verdict replaces the tool's as feedback; each is
            # kept apart too, so the log shows a tool acceptance the critique overruled.
            update: dict[str, Any] = {"feedback": feedback[j], **apart[j]}
            if j in critiques:
                update["critique"], update["critique_usage"] = critiques[j]
            record = w.rounds[-1].model_copy(update=update)
            work[i] = self._decide(w.model_copy(update={"rounds": (*w.rounds[:-1], record)}))
        return {"work": work}

    async def revise(self, state: CorrectorState) -> CorrectorState:
        work = list(state["work"])
        pending = [i for i, w in enumerate(work) if w.status == "revise"]
        resample = self.config.critic == "resample"
        purpose: Purpose = "resample" if resample else "revise"
        requests = [
            self._request(
                work[i], self._revision_messages(work[i]), purpose, work[i].rounds[-1].round + 1
            )
            for i in pending
        ]
        generations = await self.backend.generate(requests)
        for i, request, generation in zip(pending, requests, generations, strict=True):
            w = work[i]
            record = RoundRecord(
                round=w.rounds[-1].round + 1,
                purpose=purpose,
                messages=request.messages,
                **answer_fields(generation, monologue=self.config.monologue),
            )
            work[i] = w.model_copy(update={"rounds": (*w.rounds, record), "status": "verify"})
        return {"work": work}

    async def finish(self, state: CorrectorState) -> CorrectorState:
        results = [
            Correction(
                item_id=w.item.id,
                critic=self.config.critic,
                leaky=self.leaky,
                rounds=w.rounds,
                stop_reason=w.stop_reason or "no_critic",
            ).committing(self.config.commit_policy)
            for w in state.get("work", [])
        ]
        return {"results": results}


def _route(state: CorrectorState) -> Literal["revise", "finish"]:
    return "revise" if any(w.status == "revise" for w in state["work"]) else "finish"


def _configure(config: CorrectorConfig | None, settings: dict[str, Any]) -> CorrectorConfig:
    """``config`` as it is, or with the caller's ``settings`` applied (validated once)."""
    config = config or CorrectorConfig()
    if not settings:
        return config
    try:
        return config.merged(**settings)
    except ValidationError as exc:
        unknown = sorted(str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden")
        if unknown:
            raise BadInputError(
                f"unknown corrector option(s) {', '.join(unknown)}; known: "
                f"{', '.join(CorrectorConfig.model_fields)} (sampling options such as "
                "max_tokens go in sampling=SamplingParams(...))"
            ) from None
        raise BadInputError(describe_validation_error(exc, "corrector settings")) from None
    except ValueError as exc:  # an old name given beside its new one
        raise BadInputError(f"invalid corrector settings: {exc}") from None


def build_corrector(
    backend: Backend,
    verifier: Verifier[Any] | None = None,
    *,
    config: CorrectorConfig | None = None,
    **settings: Any,
) -> CompiledStateGraph[CorrectorState, None, CorrectorInput, CorrectorOutput]:
    """Build the corrector graph.

    The graph holds no oracle: judge its results afterwards (the runner does, and so does
    :func:`~redraft.agent.correct` when given an oracle).

    Args:
        backend: generates proposals, critiques and revisions (one call per node per round).
        verifier: the feedback source for ``tool``, ``self+tool``, ``resample``,
            ``constrained`` and ``oracle``. For ``oracle`` (the leaky upper bound) pass
            ``redraft.tools.oracle_as_verifier(oracle)``. Results say ``leaky=True`` when the
            verifier does (see :func:`is_leaky`), whatever the critic mode.
        config: the full configuration, used as it is.
        **settings: :class:`CorrectorConfig` fields replacing the config's (or the
            defaults'), e.g. ``critic="self", max_revisions=3``.

    Returns:
        A compiled graph: ``invoke({"items": [Item, ...]})`` returns
        ``{"results": [Correction, ...]}``; usable as a subgraph with the same keys.

    Raises:
        TypeError: an oracle passed as the verifier.
        BadInputError: a critic mode without the feedback source it needs.
    """
    config = _configure(config, settings)
    if verifier is not None:
        ensure_verifier(verifier)
    if config.critic in _NEEDS_VERIFIER and verifier is None:
        extra = " built from the oracle: oracle_as_verifier(oracle)" if (
            config.critic == "oracle"
        ) else ""
        raise BadInputError(f"critic {config.critic!r} needs a verifier{extra}")
    if config.critic == "oracle" and not is_leaky(verifier):
        raise BadInputError(
            "critic 'oracle' is the leaky upper bound: its verifier must carry ground truth "
            "(redraft.tools.oracle_as_verifier(oracle)); for other feedback use critic 'tool'"
        )
    if config.monologue and config.critic == "constrained":
        raise BadInputError(
            "critic 'constrained' restricts every output to a valid answer, which leaves no "
            "room for a monologue; use another critic or monologue=False"
        )
    if "{feedback}" not in config.revise_template:
        raise BadInputError("revise_template must contain '{feedback}'")
    corrector = _Corrector(backend, verifier, config)
    loop = _SYNC_LOOP
    graph: StateGraph[CorrectorState, None, CorrectorInput, CorrectorOutput] = StateGraph(
        CorrectorState, input_schema=CorrectorInput, output_schema=CorrectorOutput
    )
    graph.add_node("propose", _node(loop, corrector.propose))
    graph.add_node("verify", _node(loop, corrector.verify))
    graph.add_node("revise", _node(loop, corrector.revise))
    graph.add_node("finish", _node(loop, corrector.finish))
    graph.add_edge(START, "propose")
    graph.add_edge("propose", "verify")
    graph.add_conditional_edges("verify", _route, {"revise": "revise", "finish": "finish"})
    graph.add_edge("revise", "verify")
    graph.add_edge("finish", END)
    compiled = graph.compile(name="redraft-corrector")
    # propose + (k+1) verify + k revise + finish, with room to spare.
    return compiled.with_config(recursion_limit=2 * config.max_revisions + 8)
