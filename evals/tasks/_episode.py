"""What every built-in episode shares: the step counter, the error policy, the end rules."""

from __future__ import annotations

import random
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from pydantic import BaseModel, JsonValue

from redraft.agent.backends import SimulationHint
from redraft.core import BadInputError, RedraftError, parse_options
from redraft.evals.tasks._protocol import EndReason, ErrorPolicy, StepResult
from redraft.tools import Correctness

__all__ = ["ClosingMixin", "ConfiguredTask", "EpisodeBase", "EpisodeFinishedError"]

_POLICIES: tuple[ErrorPolicy, ...] = ("stop", "continue")


class EpisodeFinishedError(RedraftError):
    """A finished episode was asked for another prompt or commit (a runner bug)."""


class ClosingMixin:
    """``close()`` plus use as a context manager."""

    def close(self) -> None:
        """Release what the object holds (nothing by default)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EpisodeBase(ClosingMixin):
    """Step counting and ending, for the built-in episodes.

    Args:
        task: the task's registered name (used in the simulation stream).
        seed: the episode seed; every random draw derives from it.
        max_steps: steps after which the episode ends as ``max_steps`` (censored).
        error_policy: ``stop`` ends at the first committed local error; ``continue`` goes on.
    """

    def __init__(self, task: str, seed: int, *, max_steps: int, error_policy: ErrorPolicy) -> None:
        if max_steps < 1:
            raise BadInputError(f"max_steps must be at least 1, not {max_steps}")
        if error_policy not in _POLICIES:
            raise BadInputError(
                f"error policy {error_policy!r} is not one of {', '.join(_POLICIES)}"
            )
        self.task = task
        self.seed = seed
        self.max_steps = max_steps
        self.error_policy = error_policy
        self.prior_errors = 0
        """Committed local errors so far (plus planted ones, where a task plants them);
        steps judged ``unknown`` are not counted."""
        self.end: EndReason | None = None
        """Why the episode ended, once it has."""
        self._step = 0

    @property
    def step(self) -> int:
        """The index of the current step, from 0."""
        return self._step

    @property
    def done(self) -> bool:
        """True once the episode has ended."""
        return self.end is not None

    @property
    def stream(self) -> str:
        """Identifies the episode for reproducible simulated draws."""
        return f"{self.task}:{self.seed}"

    def rng(self, purpose: str) -> random.Random:
        """A random stream for one purpose, fixed by the seed and independent of the others."""
        return random.Random(f"{self.task}:{self.seed}:{purpose}")

    def _ensure_running(self) -> None:
        if self.done:
            raise EpisodeFinishedError(
                f"episode {self.stream} ended ({self.end}) at step {self._step}; start a new one"
            )

    def hint(self, correct: str, wrong: list[str]) -> SimulationHint:
        """The simulated backend's hooks for the current step."""
        unique = tuple(dict.fromkeys(w for w in wrong if w != correct))
        return SimulationHint(correct=correct, wrong=unique, step=self._step, stream=self.stream,
                              prior_errors=self.prior_errors)

    def finish_step(
        self,
        *,
        action: str,
        correctness: Correctness,
        global_correctness: Correctness | None = None,
        forced: bool = False,
        natural: bool = False,
        info: dict[str, JsonValue] | None = None,
    ) -> StepResult:
        """Count the step, decide whether the episode ends, and build the result.

        ``correctness`` is the oracle's judgement of the committed answer, as the runner
        passed it: only ``incorrect`` is an error (``unknown`` never ends an episode).
        """
        error = correctness == "incorrect"
        if error:
            self.prior_errors += 1
        end: EndReason | None = None
        if error and self.error_policy == "stop":
            end = "error"
        elif natural:
            end = "natural"
        elif self._step + 1 >= self.max_steps:
            end = "max_steps"
        self._step += 1
        self.end = end
        return StepResult(action=action, global_correctness=global_correctness, forced=forced,
                          end=end, info=info or {})


ConfigT = TypeVar("ConfigT", bound=BaseModel)
EpisodeT = TypeVar("EpisodeT", covariant=True)
ConfigT_contra = TypeVar("ConfigT_contra", bound=BaseModel, contravariant=True)


class _EpisodeFactory(Protocol[ConfigT_contra, EpisodeT]):
    def __call__(
        self, config: ConfigT_contra, seed: int, *, max_steps: int, error_policy: ErrorPolicy
    ) -> EpisodeT: ...


class ConfiguredTask(ClosingMixin, Generic[ConfigT, EpisodeT]):
    """A task built from keyword options validated into ``config_type``.

    Its episodes are ``episode_type(config, seed, max_steps=..., error_policy=...)``.
    Subclasses set ``name``, ``representations`` and the two types, and say which verifier
    and oracle they use.
    """

    name: str
    error_policies: tuple[ErrorPolicy, ...] = _POLICIES
    representations: tuple[str, ...]
    config_type: type[ConfigT]
    episode_type: _EpisodeFactory[ConfigT, EpisodeT]

    def __init__(self, **options: Any) -> None:
        self.config = parse_options(self.config_type, options, f"{self.name} task")

    def new_episode(self, seed: int, *, max_steps: int, error_policy: ErrorPolicy) -> EpisodeT:
        """A fresh episode, fully determined by ``seed``."""
        return self.episode_type(self.config, seed, max_steps=max_steps, error_policy=error_policy)
