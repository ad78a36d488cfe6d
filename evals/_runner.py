"""The vectorized runner: many episodes advance in lockstep through one batched corrector.

Each iteration takes the current step of every episode in flight, runs the corrector once
for the whole batch (one backend call per node per round), judges every round of every step
with the oracle (concurrently, bounded), commits each correction with the judgement of its
committed round to its episode and emits the records. Finished episodes leave the batch and
waiting ones join, so the batch stays full until the run runs out of episodes. Persistence
is not done here: the runner hands every record to an :class:`EventSink`.

Ground truth stays out of the loop: the corrector's items carry the verifier's context (the
oracle's only when the feedback source is itself leaky, ``critic='oracle'``), and each
step's simulation hint goes to the simulated backend's :class:`HintBoard`, never into a
request.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from langgraph.graph.state import CompiledStateGraph

from redraft.agent import (
    Correction,
    CorrectorInput,
    CorrectorOutput,
    CorrectorState,
    Item,
    RoundRecord,
    judge_round,
)
from redraft.agent.backends import HintBoard
from redraft.evals._events import EpisodeEndEvent, EpisodeStartEvent, Event, RoundEvent, StepEvent
from redraft.evals.tasks import (
    EndReason,
    Episode,
    ErrorPolicy,
    IndexedTask,
    StepPrompt,
    StepResult,
    Task,
)
from redraft.tools import Correctness, Judgement, Oracle

if TYPE_CHECKING:
    from redraft.evals._resume import Restored

__all__ = [
    "CorrectorResultError",
    "EventSink",
    "LockstepRunner",
    "TaskProtocolError",
    "close_quietly",
    "episode_seed",
    "item_id",
    "new_episode",
]

Corrector = CompiledStateGraph[CorrectorState, None, CorrectorInput, CorrectorOutput]


class TaskProtocolError(RuntimeError):
    """A task's episode broke the task protocol (e.g. ended without an end reason)."""


class EventSink(Protocol):
    """Receives every record the runner produces, in order."""

    def write(self, event: Event) -> None:
        """Take one record."""
        ...

    def sync(self) -> None:
        """The records so far form whole steps: make finished episodes durable.

        Called once per lockstep iteration, so a log syncs once per batch (group commit)
        rather than once per episode.
        """
        ...


def episode_seed(run_seed: int, episode: int) -> int:
    """The seed of episode ``episode``: a hash of (run seed, id), so each replays alone."""
    digest = hashlib.blake2b(f"{run_seed}:{episode}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def new_episode(
    task: Task, episode_id: int, seed: int, *, max_steps: int, error_policy: ErrorPolicy
) -> Episode:
    """Episode ``episode_id`` of a run, seeded by ``seed``.

    Of an :class:`IndexedTask` (a dataset), item ``episode_id``; else a fresh episode.
    """
    if isinstance(task, IndexedTask):
        return task.new_episode_at(episode_id, seed, max_steps=max_steps,
                                   error_policy=error_policy)
    return task.new_episode(seed, max_steps=max_steps, error_policy=error_policy)


def item_id(episode: int, step: int) -> str:
    """The corrector item id of one step of one episode."""
    return f"{episode}/{step}"


def close_quietly(obj: object) -> None:
    """Call ``obj.close()`` if it has one (episodes and tasks may hold engines)."""
    close = getattr(obj, "close", None)
    if callable(close):
        close()


@dataclass
class _Running:
    """An episode in flight."""

    id: int
    episode: Episode
    steps: int = 0
    first_error_step: int | None = None


class LockstepRunner:
    """Run episodes of one task through one corrector, ``batch_size`` at a time.

    Args:
        task: builds the episodes.
        corrector: the compiled corrector graph (built once for the run).
        sink: receives every record.
        seed: the run seed; episode seeds derive from it with :func:`episode_seed`.
        max_steps: the step limit the task enforces (end ``max_steps``).
        error_policy: what the task does after an uncorrected error.
        batch_size: the most episodes in flight at once.
        oracle: judges every round (measurement); default: the task's oracle.
        hints: where the simulated backend reads each step's hint (None: no hints sent).
        leaky: the feedback source carries ground truth (``critic='oracle'``, see
            :func:`redraft.agent.is_leaky`): its items get the oracle's context instead of
            the verifier's.
        judge_concurrency: the most oracle calls running at once.
        judge_timeout_s: an oracle call taking longer is abandoned and judged ``unknown``
            (``oracle_error``); None waits for ever.
    """

    def __init__(
        self,
        task: Task,
        corrector: Corrector,
        sink: EventSink,
        *,
        seed: int,
        max_steps: int,
        error_policy: ErrorPolicy,
        batch_size: int,
        oracle: Oracle[Any] | None = None,
        hints: HintBoard | None = None,
        leaky: bool = False,
        judge_concurrency: int = 64,
        judge_timeout_s: float | None = 300.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if judge_concurrency < 1:
            raise ValueError(f"judge_concurrency must be at least 1, not {judge_concurrency}")
        self.oracle: Oracle[Any] = oracle if oracle is not None else task.oracle()
        self.hints = hints
        self.leaky = leaky
        self.judge_concurrency = judge_concurrency
        self.judge_timeout_s = judge_timeout_s
        self.task = task
        self.corrector = corrector
        self.sink = sink
        self.seed = seed
        self.max_steps = max_steps
        self.error_policy = error_policy
        self.batch_size = batch_size
        self.invocations = 0
        """Corrector invocations so far (one per lockstep iteration)."""
        self._restored: dict[int, Restored] = {}

    async def run(
        self, episode_ids: Iterable[int], restored: dict[int, Restored] | None = None
    ) -> None:
        """Run the episodes to their ends, in id order of joining the batch.

        Args:
            episode_ids: the episodes to run, in the order they join the batch.
            restored: episodes among them that continue from logged steps (a resume),
                replayed by :func:`~redraft.evals._resume.restore_unfinished`; they log
                no second ``episode_start``. The runner takes them over: each is removed
                from the dict as it joins, and those left are closed at the end.
        """
        # An iterator, never a list: a run of 10**12 episodes starts at once.
        waiting = iter(episode_ids)
        self._restored = restored if restored is not None else {}
        more = True
        running: list[_Running] = []
        try:
            while more or running:
                while more and len(running) < self.batch_size:
                    episode_id = next(waiting, None)
                    more = episode_id is not None
                    joined = self._start(episode_id) if episode_id is not None else None
                    if joined is not None:
                        running.append(joined)
                if not running:
                    continue
                prompts = [r.episode.prompt() for r in running]
                items = [self._item(r, p) for r, p in zip(running, prompts, strict=True)]
                if self.hints is not None:
                    self.hints.post({i.id: p.hint for i, p in zip(items, prompts, strict=True)
                                     if p.hint is not None})
                try:
                    state = await self.corrector.ainvoke({"items": items})
                finally:
                    if self.hints is not None:
                        self.hints.withdraw(i.id for i in items)
                self.invocations += 1
                results = _match(items, state["results"])
                judged = await self._judge(results, prompts)
                still: list[_Running] = []
                for r, correction in zip(running, judged, strict=True):
                    if self._commit(r, correction):
                        still.append(r)
                running = still
                self.sink.sync()
        finally:
            for r in running:
                close_quietly(r.episode)
            for state in self._restored.values():
                close_quietly(state.episode)
            self._restored.clear()

    def _start(self, episode_id: int) -> _Running | None:
        state = self._restored.pop(episode_id, None)
        if state is not None:  # continues from its last logged step
            running = _Running(episode_id, state.episode, state.steps, state.first_error_step)
            if state.end is not None:  # only its episode_end record was missing
                self._end(running, state.end)
                return None
            return running
        seed = episode_seed(self.seed, episode_id)
        episode = new_episode(self.task, episode_id, seed, max_steps=self.max_steps,
                              error_policy=self.error_policy)
        self.sink.write(EpisodeStartEvent(episode=episode_id, step=0, round=0, seed=seed))
        running = _Running(episode_id, episode)
        if episode.done:  # an episode with nothing to do ends at once
            self._end(running, "natural")
            return None
        return running

    def _item(self, running: _Running, prompt: StepPrompt) -> Item:
        return Item(
            id=item_id(running.id, running.episode.step),
            messages=prompt.messages,
            context=prompt.oracle_context if self.leaky else prompt.context,
            constraint=prompt.constraint,
            cache_key=str(running.id),
            monologue_template=prompt.monologue_template,
            stop=prompt.stop,
        )

    async def _judge(
        self, results: Sequence[Correction], prompts: Sequence[StepPrompt]
    ) -> list[Correction]:
        """Judge every round of every correction with the oracle.

        At most ``judge_concurrency`` calls run at once (a semaphore per call: the event
        loop may differ between calls).

        A failing oracle gives ``oracle_error`` and a length-cut output with no readable
        answer gives ``truncated``: both are ``unknown``, never wrong.
        """
        semaphore = asyncio.Semaphore(self.judge_concurrency)
        oracle, timeout = self.oracle, self.judge_timeout_s

        async def judge(context: Any, record: RoundRecord) -> tuple[Judgement, Judgement | None]:
            # The answer alone is judged (and a self-corrected generation's first answer).
            async with semaphore:
                return await judge_round(oracle, context, record, timeout_s=timeout)

        flat = [
            judge(prompt.oracle_context, record)
            for correction, prompt in zip(results, prompts, strict=True)
            for record in correction.rounds
        ]
        judgements = list(await asyncio.gather(*flat))
        judged: list[Correction] = []
        start = 0
        for correction in results:
            end = start + len(correction.rounds)
            pairs = judgements[start:end]
            judged.append(correction.judged([j for j, _ in pairs], [f for _, f in pairs]))
            start = end
        return judged

    def _commit(self, running: _Running, correction: Correction) -> bool:
        """Log the rounds, commit the answer, log the step; False once the episode ended."""
        step = running.episode.step
        for record in correction.rounds:
            self.sink.write(_round_event(running.id, step, record))
        judgement = correction.committed_record.judgement
        if judgement is None:  # pragma: no cover - _judge judges every round
            raise RuntimeError(f"step {step} of episode {running.id} was not judged")
        # The task gets the answer alone, never the reasoning around it.
        result = running.episode.commit(correction.committed_answer or "", judgement)
        self.sink.write(_step_event(running.id, step, correction, result))
        running.steps += 1
        if correction.final == "incorrect" and running.first_error_step is None:
            running.first_error_step = step
        if result.end is not None:
            self._end(running, result.end)
            return False
        if running.episode.done:
            raise TaskProtocolError(
                f"task {self.task.name!r}: episode {running.id} ended at step {step} without "
                "an end reason (StepResult.end)"
            )
        if running.steps >= self.max_steps:
            raise TaskProtocolError(
                f"task {self.task.name!r}: episode {running.id} reached max_steps="
                f"{self.max_steps} without ending (StepResult.end should be 'max_steps')"
            )
        return True

    def _end(self, running: _Running, end: EndReason) -> None:
        self.sink.write(
            EpisodeEndEvent(
                episode=running.id,
                step=0,
                round=0,
                steps=running.steps,
                end=end,
                first_error_step=running.first_error_step,
            )
        )
        close_quietly(running.episode)


class CorrectorResultError(RuntimeError):
    """The corrector's results do not answer its items one to one (by item id)."""


def _match(items: Sequence[Item], results: Sequence[Correction]) -> list[Correction]:
    """The corrector's results in the order of ``items``, paired by item id.

    A corrector embedded in a user's graph may return its results in another order; pairing
    by position would judge one episode's answer against another's truth, silently.

    Raises:
        CorrectorResultError: a result for no item, a missing or a duplicated one.
    """
    by_id: dict[str, Correction] = {}
    for result in results:
        if result.item_id in by_id:
            raise CorrectorResultError(
                f"the corrector returned two results for item {result.item_id!r}; it must "
                "return one result per item, each with its item's id"
            )
        by_id[result.item_id] = result
    wanted = [item.id for item in items]
    missing = [i for i in wanted if i not in by_id]
    extra = sorted(set(by_id) - set(wanted))
    if missing or extra:
        raise CorrectorResultError(
            f"the corrector's results do not match its {len(wanted)} items by id (missing: "
            f"{', '.join(map(repr, missing[:5])) or 'none'}; unknown: "
            f"{', '.join(map(repr, extra[:5])) or 'none'}); it must return one result per "
            "item, each with its item's id"
        )
    return [by_id[i] for i in wanted]


_ROUND_FIELDS: Sequence[str] = tuple(RoundRecord.model_fields)


def _round_event(episode: int, step: int, record: RoundRecord) -> RoundEvent:
    fields = {name: getattr(record, name) for name in _ROUND_FIELDS}
    return RoundEvent(episode=episode, step=step, **fields)


def _global_correctness(correction: Correction, result: StepResult) -> Correctness | None:
    if result.global_correctness is not None:
        # The task replaced the answer: the agent's state after this step is the
        # replacement's, which the oracle's view of the raw output cannot see.
        return result.global_correctness
    judgement = correction.committed_record.judgement
    if judgement is None:
        return None
    if judgement.correctness == "unknown":
        return "unknown"
    return judgement.global_correctness


def _step_event(episode: int, step: int, correction: Correction, result: StepResult) -> StepEvent:
    return StepEvent(
        episode=episode,
        step=step,
        round=correction.rounds[-1].round,
        revisions=correction.revisions,
        stop_reason=correction.stop_reason,
        committed_round=correction.committed_round,
        commit_fallback=correction.commit_fallback,
        committed_answer=correction.committed_answer or "",
        action=result.action,
        initial=correction.initial or "unknown",
        final=correction.final or "unknown",
        global_correctness=_global_correctness(correction, result),
        forced=result.forced,
        usage=correction.usage,
        info=result.info,
    )
