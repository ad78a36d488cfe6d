"""A task of your own: serial sevens, counting down from 100 by seven, one step per number.

A task is an episodic environment (redraft.evals.tasks.Task): it renders the prompt of the
current step, checks nothing itself, and advances with the answer the agent commits and the
oracle's judgement of it. Ground truth lives in the oracle alone: the verifier sees what the
agent said last (a *local* check: is this seven less than your previous answer?), the oracle
also sees the true number (is the agent still on track: the *global* state).

    python examples/custom_task.py                         # a simulated model, in seconds
    python examples/custom_task.py --model llamacpp/smollm2 --episodes 8

It registers the task in-process and runs two evals (no critic, then tool feedback) through
redraft's runner, then writes the usual report. To ship a task to others, register its
factory under the ``redraft.tasks`` entry point group instead, as the verifier plug-in does.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from pathlib import Path

from redraft.agent import CorrectorConfig, CriticMode
from redraft.agent.backends import Message, SimulationHint
from redraft.evals import EvalConfig, run_eval
from redraft.evals.report import write_report
from redraft.evals.tasks import ErrorPolicy, StepPrompt, StepResult, register_task
from redraft.tools import Judgement, Verdict

STEP = 7


def read_number(answer: str) -> int | None:
    """The answer as an integer, or None (the agent is asked for the number alone)."""
    try:
        return int(answer.strip().rstrip("."))
    except ValueError:
        return None


class Said:
    """The verifier context: the number the agent gave last (its own, maybe wrong)."""

    def __init__(self, previous: int) -> None:
        self.previous = previous


class Truth(Said):
    """The oracle context: the same, and the number it should have reached."""

    def __init__(self, previous: int, true_previous: int) -> None:
        super().__init__(previous)
        self.true_previous = true_previous


class SevensVerifier:
    """Feedback the agent may see: is the answer seven less than its previous one?"""

    name = "serial_sevens"

    async def verify(self, context: Said, proposal: str) -> Verdict:
        """Accept seven less than the agent's own previous answer; say why otherwise."""
        value = read_number(proposal)
        if value is None:
            return Verdict.reject("unparseable", "Answer with the number alone, e.g. 93.")
        if value != context.previous - STEP:
            return Verdict.reject(
                "wrong_value", f"{value} is not {context.previous} minus {STEP}.")
        return Verdict.accept()


class SevensOracle:
    """Ground truth, for measurement only: locally right, and still on the true count?"""

    name = "serial_sevens"

    async def judge(self, context: Truth, proposal: str) -> Judgement:
        """The local verdict (this step's arithmetic) and the global one (the true count)."""
        value = read_number(proposal)
        right = value == context.previous - STEP
        on_track = value == context.true_previous - STEP
        return Judgement(
            local=Verdict.accept() if right else Verdict.reject("wrong_value", "wrong step"),
            global_state=Verdict.accept() if on_track
            else Verdict.reject("wrong_value", "off the true count"),
        )


class SevensEpisode:
    """One count down from 100 (or a seeded start), ``max_steps`` numbers long at most."""

    def __init__(self, seed: int, max_steps: int, error_policy: ErrorPolicy) -> None:
        self.seed = seed
        self.start = random.Random(seed).choice([100, 200, 300, 1000])
        self.said = self.truth = self.start
        self.max_steps = max_steps
        self.error_policy = error_policy
        self.errors = 0
        self._step = 0
        self._done = False

    @property
    def step(self) -> int:
        """The current step, from 0."""
        return self._step

    @property
    def done(self) -> bool:
        """True once the episode has ended."""
        return self._done

    def prompt(self) -> StepPrompt:
        """This step's messages, what the verifier and the oracle see, the simulation hint."""
        text = (f"Count down from {self.start} by {STEP}s." if self._step == 0 else "")
        return StepPrompt(
            messages=(
                Message(role="system", content="Reply with one number and nothing else."),
                Message(role="user", content=f"{text} What is {self.said} minus {STEP}?".strip()),
            ),
            context=Said(self.said),
            oracle_context=Truth(self.said, self.truth),
            # What the simulated backend plays by: a right answer and plausible wrong ones.
            hint=SimulationHint(
                correct=str(self.said - STEP),
                wrong=(str(self.said - STEP + 10), str(self.said - STEP - 1)),
                step=self._step, stream=f"sevens-{self.seed}", prior_errors=self.errors,
            ),
        )

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        """Advance with the committed answer; the oracle's judgement says if it was wrong."""
        value = read_number(proposal)
        forced = value is None  # unreadable: the step is replaced by the right one, marked
        self.said = self.said - STEP if value is None else value
        self.truth -= STEP
        error = judgement.correctness == "incorrect"
        self.errors += error
        self._step += 1
        end = None
        if error and self.error_policy == "stop":
            end = "error"
        elif self._step >= self.max_steps:
            end = "max_steps"
        self._done = end is not None
        return StepResult(
            action=str(self.said), forced=forced, end=end,
            global_correctness=("correct" if self.said == self.truth else "incorrect")
            if forced else None,
        )

    def close(self) -> None:
        """Nothing to release (a task holding an engine would stop it here)."""


@register_task("serial_sevens")
class SevensTask:
    """The task: its verifier, its oracle, and fresh seeded episodes."""

    name = "serial_sevens"
    error_policies: tuple[ErrorPolicy, ...] = ("stop", "continue")
    representations = ("plain",)

    def __init__(self, representation: str = "plain") -> None:
        self.representation = representation

    def verifier(self) -> SevensVerifier:
        """The feedback source the agent may see."""
        return SevensVerifier()

    def oracle(self) -> SevensOracle:
        """Ground truth, for measurement."""
        return SevensOracle()

    def new_episode(
        self, seed: int, *, max_steps: int, error_policy: ErrorPolicy
    ) -> SevensEpisode:
        """A fresh episode, fully determined by ``seed``."""
        return SevensEpisode(seed, max_steps, error_policy)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the task with no critic and with tool feedback, then report both."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="simulated/e=0.15,r=0.6,h=0.05",
                        help="PROVIDER/MODEL (default: a simulated model with known rates)")
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("runs/serial_sevens"))
    args = parser.parse_args(argv)
    runs = []
    modes: tuple[tuple[CriticMode, int], ...] = (("none", 0), ("tool", 2))
    for critic, k in modes:
        config = EvalConfig(
            task="serial_sevens", model=args.model, episodes=args.episodes,
            max_steps=args.max_steps, error_policy="continue",
            corrector=CorrectorConfig(critic=critic, max_revisions=k),
        )
        result = run_eval(config, args.out / f"{critic}-k{k}")  # rerun to resume
        print(f"{critic}-k{k}: {result.episodes} episodes, {result.steps} steps")
        runs.append(args.out / f"{critic}-k{k}")
    report = write_report(runs, args.out / "report")
    for line in report.headlines:
        print(f"{line.subject}: {line.text}")
    print(f"report: {args.out / 'report' / 'report.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
