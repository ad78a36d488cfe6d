"""Training data for a stack of models: every member's batch, made in lockstep.

A stack trains several data regimes (arms) of several seeds at once. Members of one seed
share its data stream: the same training episodes (tables, keys, starts) in the same
order and the same batches, so the arms of a seed differ only in what their regime
changes. Episodes run in lockstep (:data:`EPISODES` at a time, every one the same length),
so at each step every prompt has the same length, and the wrong totals that ``retry`` and
``recovery`` need are drawn in one batched pass of the seeds' experts
(:func:`~._answers.draw_wrong_totals`): each a wrong total the same seed's expert would
write at that very state, at the evaluation temperature. Per regime:

- ``expert``: the right total.
- ``scratchpad``: the step's computation written before it (chain of thought).
- ``retry``: with probability ``retry_p`` the expert's own wrong total, :data:`BACK_MARKER`,
  then the right total (``mask_wrong``: no loss on the wrong total; the marker keeps it).
- ``recovery``: at rate ``error_p`` a step is committed with the expert's own wrong total
  (never within ``window`` steps of the last, so a right row is always in view before it);
  every target is the *true* total, so the step after an error recomputes it from the row
  before the error (DAgger-like: the model's kind of mistake, the expert's correction).

:class:`StackData` yields ``(M, B, L)`` id and label arrays, made by a background thread.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from redraft.core import BadInputError
from redraft.evals.tasks import Task, load_task
from redraft.lab.testbed._answers import AnswerCodec, draw_wrong_totals
from redraft.lab.testbed._data import IGNORE, CharCodec, Prefetcher
from redraft.lab.testbed._markers import BACK_MARKER
from redraft.lab.testbed._regimes import task_spec, training_seed
from redraft.lab.testbed._stack import StackedLlama
from redraft.lab.testbed._tokenizer import END_TOKEN, render_chat
from redraft.tools import Judgement, Verdict
from redraft.tools.arithmetic import RunningSumContext, RunningSumTruth

__all__ = ["EPISODES", "Member", "StackBatch", "StackData", "heldout_batch"]

EPISODES = 32
"""Episodes per seed run in lockstep."""
StackRegime = Literal["expert", "retry", "recovery", "scratchpad"]
_RIGHT = Judgement(local=Verdict.accept("the expert's answer", source="testbed"))
_WRONG = Judgement(local=Verdict.reject("wrong_value", "a training error", source="testbed"))


@dataclass(frozen=True)
class Member:
    """One model of a stack: its regime, seed and settings."""

    name: str
    """A name for messages (e.g. ``retry-masked-s3``)."""
    regime: StackRegime
    """The data regime."""
    seed: int
    """Training seed: the initial weights and the data stream (shared by a seed's arms)."""
    retry_p: float = 0.0
    """``retry``: share of steps written wrong first."""
    mask_wrong: bool = False
    """``retry``: no loss on the wrong total."""
    error_p: float = 0.0
    """``recovery``: share of steps committed wrong (at most one per ``window`` steps)."""
    expert: int | None = None
    """Index, in the experts' stack, of the model whose wrong totals this member learns
    from (``retry`` and ``recovery``)."""
    init: int | None = None
    """Index, in the initial models' stack, of the trained model this member starts from
    (None: fresh weights, initialised from its seed)."""


@dataclass
class _World:
    """Episodes run in lockstep for the members that see the same states."""

    seed: int
    errors: bool
    """Whether steps are committed wrong (a recovery member's states)."""
    error_p: float
    expert: int | None
    episodes: list[Any] = field(default_factory=list)
    since_error: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))


@dataclass(frozen=True)
class StackBatch:
    """One optimizer step of every member: ``(M, B, L)`` arrays, right-padded."""

    ids: NDArray[np.int64]
    """Token ids."""
    labels: NDArray[np.int64]
    """The id each position must predict, or :data:`~._data.IGNORE`."""
    tokens: NDArray[np.int64]
    """Tokens per member (padding excluded)."""
    targets: NDArray[np.int64]
    """Tokens per member the loss is taken on."""


def _context(prompt: Any) -> RunningSumContext:
    context = prompt.context
    if not isinstance(context, RunningSumContext):
        raise TypeError(f"expected RunningSumContext, got {type(context).__name__}")
    return context


def _truth(prompt: Any) -> int:
    truth = prompt.oracle_context
    if not isinstance(truth, RunningSumTruth):
        raise TypeError(f"expected RunningSumTruth, got {type(truth).__name__}")
    return truth.truth()


def check_task(task: Task, members: Sequence[Member]) -> int:
    """The window of the decisive task's prompts; refuse what the stack cannot train.

    Raises:
        BadInputError: not running_sum modulo 100 in the ``recent`` representation, or a
            retry/recovery member without an expert.
    """
    config = getattr(task, "config", None)
    if task.name != "running_sum" or config is None or getattr(config, "modulus", None) != 100 \
            or getattr(config, "representation", None) != "recent":
        raise BadInputError("stacked training is built for the decisive task: running_sum, "
                            "representation recent, modulus 100")
    if getattr(config, "checkpoint_every", None) is not None:
        raise BadInputError("stacked training needs prompts without true-total checkpoints: "
                            "undo must be the model's own work")
    for member in members:
        if member.regime in ("retry", "recovery") and member.expert is None:
            raise BadInputError(f"{member.name}: {member.regime} needs the seed's expert to "
                                "draw its wrong totals from")
    return int(config.window)


class _Encoder:
    """Prompt and target text to ids and labels (loss on the target and the end token)."""

    def __init__(self) -> None:
        self.codec = CharCodec()
        self.end = self.codec.end

    def example(self, prompt: NDArray[np.int32], target: str, skip: int
                ) -> tuple[NDArray[np.int64], int]:
        """Ids of prompt + target + end, and where the loss starts (after ``skip`` chars)."""
        head = self.codec.encode(target[:skip])
        rest = self.codec.encode(target[skip:] + END_TOKEN)
        ids = np.concatenate([prompt, head, rest]).astype(np.int64)
        return ids, len(prompt) + len(head)


def _collate(rows: list[list[tuple[NDArray[np.int64], int]]], pad: int) -> StackBatch:
    """Members' examples (each a list of (ids, loss start)) as one right-padded batch."""
    m, b = len(rows), len(rows[0])
    width = max(len(ids) for member in rows for ids, _ in member)
    ids = np.full((m, b, width), pad, dtype=np.int64)
    labels = np.full((m, b, width), IGNORE, dtype=np.int64)
    tokens = np.zeros(m, dtype=np.int64)
    targets = np.zeros(m, dtype=np.int64)
    for i, member in enumerate(rows):
        for j, (seq, start) in enumerate(member):
            ids[i, j, : len(seq)] = seq
            labels[i, j, start - 1: len(seq) - 1] = seq[start:]
            tokens[i] += len(seq)
            targets[i] += len(seq) - start
    return StackBatch(ids, labels, tokens, targets)


class _Lockstep:
    """The members' examples, step by step of lockstep episodes."""

    def __init__(self, task: Task, members: Sequence[Member], *, episode_steps: int,
                 experts: StackedLlama | None, temperature: float, episodes: int,
                 seed_offset: int = 0) -> None:
        self.task = task
        self.members = list(members)
        self.window = check_task(task, members)
        self.episode_steps = episode_steps
        self.experts = experts
        self.temperature = temperature
        self.episodes = episodes
        self.offset = seed_offset
        self.spec = task_spec(task.name)
        self.answers = AnswerCodec()
        self.encoder = _Encoder()
        self.worlds: dict[tuple[int, bool], _World] = {}
        for member in self.members:
            errors = member.regime == "recovery" and member.error_p > 0
            key = (member.seed, errors)
            if key not in self.worlds:
                self.worlds[key] = _World(
                    seed=member.seed, errors=errors, error_p=member.error_p,
                    expert=member.expert,
                    rng=np.random.default_rng([member.seed + self.offset, 1 + errors]))
        # A member's draws depend on its seed and regime only, not on the stack around it.
        self.member_rng = [np.random.default_rng([m.seed + self.offset, 7,
                                                  zlib.crc32(m.regime.encode())])
                           for m in self.members]
        self.index = 0

    def _new_episodes(self) -> None:
        for world in self.worlds.values():
            world.episodes = [
                self.task.new_episode(training_seed(world.seed + self.offset, self.index + i),
                                      max_steps=self.episode_steps, error_policy="continue")
                for i in range(self.episodes)]
            world.since_error = np.full(self.episodes, 10**6, dtype=np.int64)
        self.index += self.episodes

    def _draw(self, requests: list[tuple[int, NDArray[np.int32], int, NDArray[np.float64]]]
              ) -> list[int]:
        """Wrong totals for (expert index, prompt ids, right total, 3 uniforms) requests."""
        if not requests:
            return []
        if self.experts is None:
            raise BadInputError("wrong totals are drawn from the seeds' experts: none given")
        count = self.experts.size
        by_expert: list[list[int]] = [[] for _ in range(count)]
        for i, (expert, *_) in enumerate(requests):
            by_expert[expert].append(i)
        width = max(len(v) for v in by_expert)
        first = requests[0][1]
        prompts = np.zeros((count, width, len(first)), dtype=np.int64)
        right = np.zeros((count, width), dtype=np.int64)
        uniforms = np.zeros((count, width, 3))
        for e, rows in enumerate(by_expert):
            for j in range(width):  # rows past an expert's own repeat its first (unused)
                source = requests[rows[j]] if j < len(rows) else requests[rows[0] if rows else 0]
                prompts[e, j] = source[1]
                right[e, j] = source[2]
                uniforms[e, j] = source[3]
        drawn = draw_wrong_totals(self.experts, self.answers, prompts, right, self.temperature,
                                  uniforms)
        out = [0] * len(requests)
        for e, rows in enumerate(by_expert):
            for j, i in enumerate(rows):
                out[i] = int(drawn[e, j])
        return out

    def step_examples(self) -> Iterator[list[list[tuple[NDArray[np.int64], int]]]]:
        """Per lockstep step: every member's examples (one per episode)."""
        while True:
            self._new_episodes()
            for _ in range(self.episode_steps):
                yield self._step()

    def _step(self) -> list[list[tuple[NDArray[np.int64], int]]]:
        prompts: dict[tuple[int, bool], list[Any]] = {
            key: [ep.prompt() for ep in world.episodes] for key, world in self.worlds.items()}
        encoded = {key: [self.encoder.codec.encode(render_chat(p.messages)) for p in ps]
                   for key, ps in prompts.items()}
        # Which recovery episodes commit an error now, and which retry examples go wrong first.
        requests: list[tuple[int, NDArray[np.int32], int, NDArray[np.float64]]] = []
        commits: dict[tuple[int, bool], list[int | None]] = {}
        for key, world in self.worlds.items():
            chosen: list[int | None] = [None] * self.episodes
            if world.errors and world.expert is not None:
                due = (world.rng.random(self.episodes) < world.error_p) & \
                    (world.since_error >= self.window)
                for i in np.nonzero(due)[0].tolist():
                    chosen[i] = len(requests)
                    requests.append((world.expert, encoded[key][i],
                                     _context(prompts[key][i]).expected(), world.rng.random(3)))
            commits[key] = chosen
        firsts: list[list[int | None]] = []
        for member, rng in zip(self.members, self.member_rng, strict=True):
            key = (member.seed, member.regime == "recovery" and member.error_p > 0)
            marks: list[int | None] = [None] * self.episodes
            if member.regime == "retry" and member.retry_p > 0:
                wrong_first = rng.random(self.episodes) < member.retry_p
                for i in np.nonzero(wrong_first)[0].tolist():
                    marks[i] = len(requests)
                    requests.append((member.expert if member.expert is not None else 0,
                                     encoded[key][i], _context(prompts[key][i]).expected(),
                                     rng.random(3)))
            firsts.append(marks)
        drawn = self._draw(requests)
        rows: list[list[tuple[NDArray[np.int64], int]]] = []
        for member, marks in zip(self.members, firsts, strict=True):
            key = (member.seed, member.regime == "recovery" and member.error_p > 0)
            examples = []
            for i, prompt in enumerate(prompts[key]):
                context = _context(prompt)
                right = context.answer(_truth(prompt) if member.regime == "recovery"
                                       else context.expected())
                target, skip = right, 0
                if member.regime == "scratchpad":
                    target = self.spec.scratch(context) + right
                elif (mark := marks[i]) is not None:
                    wrong = context.answer(drawn[mark])
                    target = f"{wrong} {BACK_MARKER} {right}"
                    skip = len(wrong) if member.mask_wrong else 0
                examples.append(self.encoder.example(encoded[key][i], target, skip))
            rows.append(examples)
        for key, world in self.worlds.items():
            for i, (episode, prompt) in enumerate(zip(world.episodes, prompts[key], strict=True)):
                context = _context(prompt)
                mark = commits[key][i]
                if mark is not None:
                    episode.commit(context.answer(drawn[mark]), _WRONG)
                    world.since_error[i] = 0
                else:
                    truth = _truth(prompt) if world.errors else context.expected()
                    episode.commit(context.answer(truth), _RIGHT)
                    world.since_error[i] += 1
        return rows


class StackData(Prefetcher):
    """Shuffled ``(M, B, L)`` batches for a stack's members, made by a background thread.

    Each member's examples are pooled (``pool_batches`` batches) and shuffled with a
    generator seeded by its seed alone, so a seed's members get the same permutation of the
    same states: the arms of a seed see the same data stream.

    Args:
        task_name: the task.
        task_kwargs: its options (representation included).
        members: the stack's models, in stack order.
        batch_size: examples per member per step.
        episode_steps: steps per training episode.
        experts: the seeds' experts (``retry``/``recovery`` members draw from them).
        temperature: the temperature of those draws.
        pool_batches: batches per shuffle pool.
        ahead: batches kept ready.
    """

    def __init__(self, task_name: str, task_kwargs: dict[str, Any], members: Sequence[Member],
                 *, batch_size: int, episode_steps: int, experts: StackedLlama | None = None,
                 temperature: float = 1.0, pool_batches: int = 16, ahead: int = 4,
                 prepare: Callable[[StackBatch], Any] | None = None) -> None:
        self.task = load_task(task_name, **task_kwargs)
        self.lockstep = _Lockstep(self.task, members, episode_steps=episode_steps,
                                  experts=experts, temperature=temperature, episodes=EPISODES)
        self.members = list(members)
        self.batch_size = batch_size
        self.pool = pool_batches * batch_size
        self.pool_batches = pool_batches
        self.prepare = prepare
        self.pad = CharCodec().pad
        self.seconds = 0.0
        """Thread time spent making batches (drawing wrong totals included)."""
        super().__init__(ahead=ahead, name="stack-data")
        self._start()

    def _make(self) -> None:
        import time

        shufflers = {m.seed: np.random.default_rng([m.seed, 3]) for m in self.members}
        buffers: list[list[tuple[NDArray[np.int64], int]]] = [[] for _ in self.members]
        steps = self.lockstep.step_examples()
        while not self._stop.is_set():
            started = time.thread_time()
            while len(buffers[0]) < self.pool:
                for buffer, examples in zip(buffers, next(steps), strict=True):
                    buffer.extend(examples)
            orders = {seed: rng.permutation(self.pool) for seed, rng in shufflers.items()}
            pools = [[buffer[j] for j in orders[m.seed]]
                     for buffer, m in zip(buffers, self.members, strict=True)]
            buffers = [buffer[self.pool:] for buffer in buffers]
            made = []
            for b in range(self.pool_batches):
                part = slice(b * self.batch_size, (b + 1) * self.batch_size)
                batch = _collate([pool[part] for pool in pools], self.pad)
                made.append(self.prepare(batch) if self.prepare else batch)
            self.seconds += time.thread_time() - started
            for item in made:
                self._hand(item)

    def close(self, timeout: float = 10) -> None:
        """Stop the thread."""
        super().close(timeout)


def heldout_batch(task_name: str, task_kwargs: dict[str, Any], members: Sequence[Member], *,
                  episode_steps: int, episodes: int, seed_offset: int,
                  experts: StackedLlama | None = None, temperature: float = 1.0
                  ) -> StackBatch:
    """Held-out examples of each member's own training distribution (another seed space).

    ``episodes`` whole episodes per seed, made as the member's training data is (wrong-first
    retries, committed errors and their draws included): what the learning curves are
    measured on.
    """
    task = load_task(task_name, **task_kwargs)
    lockstep = _Lockstep(task, members, episode_steps=episode_steps, experts=experts,
                         temperature=temperature, episodes=episodes, seed_offset=seed_offset)
    steps = lockstep.step_examples()
    rows: list[list[tuple[NDArray[np.int64], int]]] = [[] for _ in members]
    for _ in range(episode_steps):
        for row, examples in zip(rows, next(steps), strict=True):
            row.extend(examples)
    return _collate(rows, CharCodec().pad)
