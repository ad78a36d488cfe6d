"""Long addition, one column per step, right to left.

Each step the agent writes the digit of one column and the carry it passes on, as
``digit D, carry C``. Its own carry feeds the next column, so a wrong carry is one local
error whose effect propagates: the next digit can be locally right and globally wrong.
Reading and checking live in :mod:`redraft.tools.arithmetic`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from redraft.agent.backends import Constraint, Message
from redraft.core import Settings
from redraft.evals.tasks._episode import ConfiguredTask, EpisodeBase
from redraft.evals.tasks._protocol import ErrorPolicy, StepPrompt, StepResult
from redraft.tools import Correctness, Judgement
from redraft.tools.arithmetic import (
    AdditionContext,
    AdditionOracle,
    AdditionVerifier,
    addition_answer,
    read_addition,
)

__all__ = ["AdditionConfig", "AdditionEpisode", "AdditionTask"]

AdditionRepresentation = Literal["plain", "columns"]

SYSTEM_PROMPT = (
    "You add two numbers by hand, one column per step, from right to left. For the column "
    "you are asked about, add its two digits and the carry from the previous column. Reply "
    "with the digit to write and the carry to pass on, exactly as: digit D, carry C"
)
_ANSWERS = tuple(addition_answer(d, c) for c in (0, 1) for d in range(10))


class AdditionConfig(Settings):
    """Options of the ``addition`` task."""

    digits: int = Field(8, ge=1, le=200)
    """How many digits each number has (the episode has this many steps)."""
    representation: AdditionRepresentation = "plain"
    """``plain``: the numbers and progress in words; ``columns``: the sum written stacked."""
    reveal: bool = False
    """The verifier gives the right digit and carry in its hint (a calculator critic)."""
    strict: bool = False
    """Read answers strictly (verifier, oracle and the task alike): only the exact answer
    format counts; what the lenient reader would pick out of prose is ``invalid_syntax``."""


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class AdditionEpisode(EpisodeBase):
    """One long addition."""

    def __init__(self, config: AdditionConfig, seed: int, *, max_steps: int,
                 error_policy: ErrorPolicy) -> None:
        super().__init__("addition", seed, max_steps=max_steps, error_policy=error_policy)
        self.config = config
        rng = self.rng("numbers")
        n = config.digits
        self.a = str(rng.randint(10 ** (n - 1) if n > 1 else 0, 10**n - 1))
        self.b = str(rng.randint(10 ** (n - 1) if n > 1 else 0, 10**n - 1))
        self.carry = 0
        """The carry the agent passed on last (its own)."""
        self.written = ""
        """The digits the agent has written, most significant first."""

    def context(self) -> AdditionContext:
        """What the verifier and the oracle check this step against.

        One context serves both: the true sum follows from the two numbers the prompt shows,
        so it holds nothing a calculator on the agent's side could not compute.
        """
        return AdditionContext(a=self.a, b=self.b, column=self.step, carry_in=self.carry,
                               written=self.written)

    def _render(self) -> str:
        n = self.config.digits
        column = self.step + 1
        if self.config.representation == "columns":
            width = n + 2
            partial = ("?" + self.written).rjust(width)
            return (
                f"{self.a.rjust(width)}\n+{self.b.rjust(width - 1)}\n{'-' * width}\n{partial}\n\n"
                f"Carry from the previous column: {self.carry}\n"
                f"Write the digit marked ? (the {_ordinal(column)} column from the right)."
            )
        so_far = self.written or "(none yet)"
        last = " This is the last column: its carry becomes the leading digit." if (
            column == n
        ) else ""
        return (
            f"Add {self.a} + {self.b}.\n"
            f"Digits written so far (rightmost columns): {so_far}\n"
            f"Carry from the previous column: {self.carry}\n"
            f"Now the {_ordinal(column)} column from the right.{last}"
        )

    def prompt(self) -> StepPrompt:
        """The current column's prompt."""
        self._ensure_running()
        context = self.context()
        x, y = context.digits()
        total = x + y + self.carry
        digit, carry = total % 10, total // 10
        wrong = [
            addition_answer((digit + 1) % 10, carry),
            addition_answer(digit, 1 - carry),
            addition_answer((digit + 9) % 10, 1 - carry),
            "I am not sure.",
        ]
        return StepPrompt(
            messages=(Message(role="system", content=SYSTEM_PROMPT),
                      Message(role="user", content=self._render())),
            context=context,
            constraint=Constraint(kind="choice", choices=_ANSWERS),
            hint=self.hint(addition_answer(digit, carry), wrong),
        )

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        """Write the committed digit and carry (the locally right ones, forced, if unreadable)."""
        self._ensure_running()
        context = self.context()
        correctness = judgement.correctness
        read = read_addition(proposal, strict=self.config.strict)
        forced = False
        global_correctness: Correctness | None = None
        if read.status == "ok":
            digit, carry = read.values
        else:  # unreadable: write the locally right step, recorded as forced
            x, y = context.digits()
            total = x + y + self.carry
            digit, carry = total % 10, total // 10
            forced = True
            # The state after this step is the replacement's: compare it with the truth.
            mine = str(digit) + context.written
            if context.last:
                mine = str(carry) + mine
            right = context.true_sum()[-len(mine):] == mine
            global_correctness = "correct" if right else "incorrect"
        self.written = str(digit) + self.written
        self.carry = carry
        natural = context.last
        if natural:
            self.written = str(carry) + self.written
        info: dict[str, Any] = {"digit": digit, "carry": carry, "written": self.written}
        if natural:
            info["true_sum"] = str(int(self.a) + int(self.b))
        return self.finish_step(
            action=addition_answer(digit, carry), correctness=correctness,
            global_correctness=global_correctness,
            forced=forced and (self.error_policy == "continue" or correctness == "unknown"),
            natural=natural, info=info,
        )


class AdditionTask(ConfiguredTask[AdditionConfig, AdditionEpisode]):
    """Long addition of two ``digits``-digit numbers, one column per step.

    Args:
        **options: see :class:`AdditionConfig`.
    """

    name = "addition"
    representations: tuple[str, ...] = ("plain", "columns")
    config_type = AdditionConfig
    episode_type = AdditionEpisode

    def verifier(self) -> AdditionVerifier:
        """A calculator that checks each column."""
        return AdditionVerifier(reveal=self.config.reveal, strict=self.config.strict)

    def oracle(self) -> AdditionOracle:
        """Ground truth: the column (local) and the digits written (global)."""
        return AdditionOracle(strict=self.config.strict)

