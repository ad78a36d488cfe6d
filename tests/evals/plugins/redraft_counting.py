"""A test plug-in: a counting task and a verifier, registered through entry points.

Step ``t`` asks for the next number after the agent's current count. The episode length is
drawn from the seed, so some episodes end naturally before ``max_steps`` and some are
censored. Under ``continue`` a wrong answer becomes the agent's (wrong) count, so a global
error persists while later steps can be locally right. The verifier sees the agent's count
only (:class:`CountingSeen`); the oracle also sees the true count (:class:`CountingContext`).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

from redraft.agent.backends import Message, SimulationHint
from redraft.evals.tasks import ErrorPolicy, StepPrompt, StepResult
from redraft.tools import Judgement, Verdict

CLOSED: list[int] = []
"""Seeds of episodes whose close() ran (tests check resources are released)."""


class CountingSeen:
    """The verifier's context: what the agent could know."""

    def __init__(self, agent: int) -> None:
        self.agent = agent


class CountingContext(CountingSeen):
    """The oracle's context: the same plus the true count."""

    def __init__(self, agent: int, truth: int) -> None:
        super().__init__(agent)
        self.truth = truth


def _parse(proposal: str) -> int | None:
    try:
        return int(proposal.strip())
    except ValueError:
        return None


class CountingVerifier:
    name = "counting"

    async def verify(self, context: CountingSeen, proposal: str) -> Verdict:
        value = _parse(proposal)
        if value is None:
            return Verdict.reject("unparseable", f"{proposal!r} is not an integer")
        if value != context.agent + 1:
            return Verdict.reject("wrong_value", f"{value} is not {context.agent} + 1")
        return Verdict.accept()


class CountingOracle:
    name = "counting-oracle"

    async def judge(self, context: CountingContext, proposal: str) -> Judgement:
        value = _parse(proposal)
        local = (
            Verdict.accept()
            if value == context.agent + 1
            else Verdict.reject("wrong_value", "wrong count")
        )
        right = value == context.truth + 1
        global_state = Verdict.accept() if right else Verdict.reject("wrong_value", "state off")
        return Judgement(local=local, global_state=global_state)


class CountingEpisode:
    def __init__(self, seed: int, max_steps: int, error_policy: ErrorPolicy) -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.length = rng.randint(2, 2 * max_steps)
        self.max_steps = max_steps
        self.error_policy = error_policy
        self.agent = self.truth = rng.randint(0, 1000)
        self.errors = 0
        self._step = 0
        self._done = False

    @property
    def step(self) -> int:
        return self._step

    @property
    def done(self) -> bool:
        return self._done

    def prompt(self) -> StepPrompt:
        return StepPrompt(
            messages=(Message(role="user", content=f"What comes after {self.agent}?"),),
            context=CountingSeen(self.agent),
            oracle_context=CountingContext(self.agent, self.truth),
            hint=SimulationHint(
                correct=str(self.agent + 1),
                wrong=(str(self.agent + 2), str(self.agent)),
                step=self._step,
                stream=f"counting-{self.seed}",
                prior_errors=self.errors,
            ),
        )

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        if self._done:
            raise RuntimeError("episode is over")
        value = _parse(proposal)
        error = judgement.correctness == "incorrect"
        self.truth += 1
        self.agent = value if value is not None else self.agent + 1
        self.errors += error
        self._step += 1
        end = None
        if error and self.error_policy == "stop":
            end = "error"
        elif self._step >= self.length:
            end = "natural"
        elif self._step >= self.max_steps:
            end = "max_steps"
        self._done = end is not None
        return StepResult(
            action=str(self.agent),
            global_correctness=None if value is not None else (
                "correct" if self.agent == self.truth else "incorrect"
            ),
            forced=value is None,
            end=end,
            info={"value": self.agent},
        )

    def close(self) -> None:
        CLOSED.append(self.seed)


class CountingTask:
    name = "counting"
    error_policies: tuple[ErrorPolicy, ...] = ("stop", "continue")
    representations = ("plain",)

    def __init__(self, representation: str = "plain", **options: Any) -> None:
        if representation not in self.representations:
            from redraft.core import BadInputError

            raise BadInputError(f"counting has no representation {representation!r}")
        self.options = options

    def verifier(self) -> CountingVerifier:
        return CountingVerifier()

    def oracle(self) -> CountingOracle:
        return CountingOracle()

    def new_episode(
        self, seed: int, *, max_steps: int, error_policy: ErrorPolicy
    ) -> CountingEpisode:
        return CountingEpisode(seed, max_steps, error_policy)


def install(root: Path, *, task: str = "counting", verifier: str = "counting_plug") -> Path:
    """Make ``root`` an importable plug-in distribution: this module plus a dist-info.

    Put ``root`` on ``PYTHONPATH`` (or ``sys.path``): ``importlib.metadata`` then finds
    its entry points in the ``redraft.tasks`` and ``redraft.verifiers`` groups.
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__), root / "redraft_counting.py")
    info = root / "redraft_counting-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: redraft-counting\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[redraft.tasks]\n{task} = redraft_counting:CountingTask\n\n"
        f"[redraft.verifiers]\n{verifier} = redraft_counting:CountingVerifier\n"
    )
    return root
