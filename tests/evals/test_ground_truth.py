"""Ground truth lives in the oracle alone; unknown is not wrong.

A plug-in task with its own verifier and oracle (a secret word to guess) runs through the
real runner in every critic mode. The tests inspect the objects themselves, not only the
prompt text: every backend request (all its fields) and every context the verifier was
handed. Only ``critic='oracle'`` may carry the truth, and it is labelled leaky.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_counting
from redraft_logcheck import ListSink, check_log

from redraft.agent import CorrectorConfig, build_corrector
from redraft.agent._records import CRITIC_MODES
from redraft.agent.backends import (
    Constraint,
    Generation,
    GenerationRequest,
    Message,
    ScriptedBackend,
    SimulatedBackend,
    SimulationHint,
    SimulationParams,
)
from redraft.core import Cost
from redraft.evals import EvalConfig, Event, RoundEvent, StepEvent, read_events, run_eval
from redraft.evals._runner import LockstepRunner
from redraft.evals.stats import RunData, episode_arrays
from redraft.evals.tasks import ErrorPolicy, StepPrompt, StepResult, tasks
from redraft.tools import Judgement, Verdict

WORD = "TRUTH-quokka"
"""The oracle's answer. It must never reach a backend or a verifier outside oracle mode."""


class GuessSeen(BaseModel):
    """The verifier's context: the agent's own earlier guesses, nothing more."""

    model_config = ConfigDict(frozen=True)

    guesses: tuple[str, ...]


class GuessTruth(GuessSeen):
    """The oracle's context: the same plus the secret word."""

    word: str


class GuessVerifier:
    """Checks what an agent could check itself: a new, single-word guess. Records contexts."""

    name = "guess"

    def __init__(self) -> None:
        self.contexts: list[object] = []

    async def verify(self, context: GuessSeen, proposal: str) -> Verdict:
        self.contexts.append(context)
        guess = proposal.strip()
        if not guess.isalpha():
            return Verdict.reject("invalid_syntax", "Guess one word, letters only.")
        if guess in context.guesses:
            return Verdict.reject("wrong_value", f"You guessed {guess} before; try another.")
        return Verdict.accept()


class GuessOracle:
    """Ground truth. Its rejection names the word, so a leak would be visible downstream."""

    name = "guess-oracle"

    def __init__(self) -> None:
        self.contexts: list[object] = []

    async def judge(self, context: GuessTruth, proposal: str) -> Judgement:
        self.contexts.append(context)
        if proposal.strip() == context.word:
            return Judgement(local=Verdict.accept())
        return Judgement(local=Verdict.reject("wrong_value", f"the word is {context.word}"))


class GuessEpisode:
    def __init__(self, seed: int, max_steps: int, error_policy: ErrorPolicy) -> None:
        self.seed, self.max_steps, self.error_policy = seed, max_steps, error_policy
        self.guesses: tuple[str, ...] = ()
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
            messages=(Message(role="user", content="Guess the secret word."),),
            context=GuessSeen(guesses=self.guesses),
            oracle_context=GuessTruth(guesses=self.guesses, word=WORD),
            constraint=Constraint(kind="choice", choices=("apple", "pear", "plum")),
            hint=SimulationHint(correct=WORD, wrong=("apple", "pear"), step=self._step,
                                stream=f"guess-{self.seed}"),
        )

    def commit(self, proposal: str, judgement: Judgement) -> StepResult:
        self.guesses = (*self.guesses, proposal.strip())
        self._step += 1
        error = judgement.correctness == "incorrect"
        end = "error" if error and self.error_policy == "stop" else (
            "max_steps" if self._step >= self.max_steps else None
        )
        self._done = end is not None
        return StepResult(action=proposal.strip(), end=end)


class GuessTask:
    name = "guess"
    error_policies: tuple[ErrorPolicy, ...] = ("stop", "continue")
    representations = ("plain",)

    def __init__(self, **options: Any) -> None:
        self._verifier = GuessVerifier()
        self._oracle = GuessOracle()

    def verifier(self) -> GuessVerifier:
        return self._verifier

    def oracle(self) -> GuessOracle:
        return self._oracle

    def new_episode(self, seed: int, *, max_steps: int, error_policy: ErrorPolicy) -> GuessEpisode:
        return GuessEpisode(seed, max_steps, error_policy)


tasks.add("guess", GuessTask)
tasks.add("counting", redraft_counting.CountingTask)


def _dumps(obj: object) -> str:
    """Everything an object holds, as text: pydantic fields, attributes, or its repr."""
    if isinstance(obj, BaseModel):
        return obj.model_dump_json()
    return json.dumps(getattr(obj, "__dict__", None) or repr(obj), default=repr)


def _script(request: GenerationRequest) -> str:
    return "VERDICT: INCORRECT" if request.purpose == "critique" else "apple"


@pytest.mark.parametrize("critic", CRITIC_MODES)
def test_no_request_and_no_verifier_context_holds_the_answer_except_in_oracle_mode(
    critic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = ScriptedBackend([_script] * 500)
    task = GuessTask()
    config = EvalConfig(task="guess", model="scripted/inline", episodes=3, max_steps=2,
                        corrector=CorrectorConfig(critic=critic, max_revisions=2),
                        error_policy="continue")
    # run_eval builds its own task; route it to ours to inspect what its verifier saw.
    monkeypatch.setitem(tasks._factories, "guess", lambda **_: task)
    run_eval(config, tmp_path / "run", backend=backend)
    events = read_events(tmp_path / "run")
    check_log(events, range(3))
    assert backend.requests, "the backend was asked nothing"
    assert "hint" not in GenerationRequest.model_fields
    requests = [r.model_dump_json() for r in backend.requests]
    contexts = [_dumps(c) for c in task.verifier().contexts]
    leaked = [r for r in requests if WORD in r] + [c for c in contexts if WORD in c]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    if critic == "oracle":
        # The leaky upper bound: feedback from ground truth reaches the revise prompts.
        assert any(WORD in r for r in requests)
        assert manifest["leaky"] is True
        assert all(isinstance(r, RoundEvent) and r.feedback and r.feedback.source.startswith(
            "oracle:") for r in events if isinstance(r, RoundEvent))
    else:
        assert leaked == []
        assert manifest["leaky"] is False
    # Every round of every step was judged by the oracle, in its own context, after the
    # corrector: the log holds the measurement, and the oracle saw the truth.
    rounds = [e for e in events if isinstance(e, RoundEvent)]
    assert rounds and all(r.judgement is not None for r in rounds)
    assert all(r.judgement.correctness == "incorrect" for r in rounds if r.judgement)
    assert len(task.oracle().contexts) >= len(rounds)
    assert all(isinstance(c, GuessTruth) for c in task.oracle().contexts)


def test_a_plug_in_verifier_that_says_leaky_labels_the_run_whatever_the_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Peeking(GuessVerifier):
        leaky = True

    task = GuessTask()
    task._verifier = Peeking()
    monkeypatch.setitem(tasks._factories, "guess", lambda **_: task)
    run_eval(EvalConfig(task="guess", model="scripted/inline", episodes=1, max_steps=1,
                        corrector=CorrectorConfig(critic="tool")),
             tmp_path / "run", backend=ScriptedBackend([_script] * 10))
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["leaky"] is True


class _Spy(SimulatedBackend):
    """The simulated policy, keeping every request it was sent."""

    def __init__(self) -> None:
        super().__init__(SimulationParams(e=0.5, r=0.5, h=0.0))
        self.seen: list[GenerationRequest] = []

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.seen.extend(requests)
        return await super().generate(requests)


def test_hints_reach_only_the_simulated_backend_out_of_band() -> None:
    backend = _Spy()
    task = GuessTask()
    corrector = build_corrector(backend, task.verifier(), critic="self+tool", max_revisions=1)
    recorded = ListSink()
    runner = LockstepRunner(task, corrector, recorded, seed=1, max_steps=3,
                            error_policy="continue", batch_size=4, hints=backend.hints)
    asyncio.run(runner.run(range(8)))
    sink = recorded.events
    check_log(sink, range(8))
    # The simulated backend played by the hints (it answered the word sometimes) ...
    outputs = [e.output for e in sink if isinstance(e, RoundEvent)]
    assert WORD in outputs
    # ... which no request carried: proposals hold only the prompt and an item id.
    proposals = [r for r in backend.seen if r.purpose == "propose"]
    assert proposals and all(WORD not in r.model_dump_json() for r in proposals)
    assert all(r.item_id for r in backend.seen)
    assert len(backend.hints) == 0  # every hint withdrawn once its step was done


class CrashingOnOdd(redraft_counting.CountingOracle):
    """The counting oracle, crashing whenever the agent's count is odd (a flaky engine)."""

    async def judge(self, context: Any, proposal: str) -> Judgement:
        if context.agent % 2:
            raise RuntimeError("engine died")
        return await super().judge(context, proposal)


class Hanging(redraft_counting.CountingOracle):
    """The counting oracle, hanging whenever the agent's count is odd."""

    async def judge(self, context: Any, proposal: str) -> Judgement:
        if context.agent % 2:
            await asyncio.sleep(3600)
        return await super().judge(context, proposal)


def _counting_run(
    oracle: Any, policy: ErrorPolicy, max_steps: int = 8, **runner: Any
) -> list[Event]:
    backend = SimulatedBackend(SimulationParams(e=0.3, r=0.5, h=0.1))
    task = redraft_counting.CountingTask()
    corrector = build_corrector(backend, task.verifier(), critic="tool", max_revisions=1)
    sink = ListSink()
    lockstep = LockstepRunner(task, corrector, sink, seed=3, max_steps=max_steps,
                              error_policy=policy, batch_size=16, oracle=oracle,
                              hints=backend.hints, **runner)
    asyncio.run(lockstep.run(range(40)))
    return sink.events


@pytest.mark.slow
def test_a_crashing_oracle_yields_unknowns_that_change_no_rate() -> None:
    # Under `continue` the trajectories do not depend on the oracle, so both runs see the
    # same outputs; only the labels differ.
    good = _counting_run(redraft_counting.CountingOracle(), "continue")
    flaky = _counting_run(CrashingOnOdd(), "continue")
    good_steps = [e for e in good if isinstance(e, StepEvent)]
    flaky_steps = [e for e in flaky if isinstance(e, StepEvent)]
    assert [s.committed_answer for s in good_steps] == [s.committed_answer for s in flaky_steps]
    unknown = [i for i, s in enumerate(flaky_steps) if s.final == "unknown"]
    assert 0 < len(unknown) < len(flaky_steps)
    for g, f in zip(good_steps, flaky_steps, strict=True):
        assert f.final in (g.final, "unknown") and f.initial in (g.initial, "unknown")
    crashed = [r for r in flaky if isinstance(r, RoundEvent) and r.judgement
               and r.judgement.local.code == "oracle_error"]
    assert crashed and all(r.judgement and r.judgement.correctness == "unknown" for r in crashed)
    # The rates are the rates among the known steps: unknowns are left out, not counted.
    arrays = episode_arrays(RunData.from_events(flaky))
    known = [s for s in flaky_steps if s.initial != "unknown"]
    expected = sum(s.initial == "incorrect" for s in known) / len(known)
    assert np.nanmean(arrays.initial_wrong[arrays.mask]) == pytest.approx(expected)
    good_known = [g for g, f in zip(good_steps, flaky_steps, strict=True) if f.initial != "unknown"]
    assert expected == pytest.approx(
        sum(g.initial == "incorrect" for g in good_known) / len(good_known)
    )
    # An oracle that hangs is timed out into the same unknowns. Each lockstep wave of calls
    # waits out the limit once, so fewer steps keep a limit wide enough that a busy machine
    # never times out a call that answers (0.05 s once did on CI).
    hung = _counting_run(Hanging(), "continue", max_steps=2, judge_timeout_s=0.5)
    short = _counting_run(CrashingOnOdd(), "continue", max_steps=2)
    assert [s.final for s in hung if isinstance(s, StepEvent)] == [
        s.final for s in short if isinstance(s, StepEvent)
    ]
    assert any(s.final == "unknown" for s in hung if isinstance(s, StepEvent))
    # Under `stop` an unknown never ends an episode as an error.
    stopped = _counting_run(CrashingOnOdd(), "stop")
    check_log(stopped, range(40))
    for event in stopped:
        if isinstance(event, StepEvent) and event.final == "unknown":
            later = [e for e in stopped if e.episode == event.episode
                     and isinstance(e, StepEvent) and e.step > event.step]
            end = next(e for e in stopped if e.episode == event.episode and e.kind == "episode_end")
            assert later or end.end != "error"  # type: ignore[union-attr]


class _Cut(ScriptedBackend):
    """Every proposal is cut at the token limit."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        out = await super().generate(requests)
        return [g.model_copy(update={"finish_reason": "length"}) for g in out]


def test_an_answer_cut_at_the_token_limit_is_unknown_not_wrong(tmp_path: Path) -> None:
    config = EvalConfig(task="running_sum", model="scripted/inline", episodes=1, max_steps=2,
                        corrector=CorrectorConfig(critic="none", max_revisions=0),
                        error_policy="stop")
    # Cut before any number: truncated (unknown). Cut after a complete wrong total (words
    # follow it): wrong. A total the cut may have ended early is tested in test_judge_round.
    outputs = ["The running total is", "ANSWER: total: 99999\nbecause I added"]
    run_eval(config, tmp_path / "run", backend=_Cut(outputs))
    events = read_events(tmp_path / "run")
    rounds = [e for e in events if isinstance(e, RoundEvent)]
    assert [r.finish_reason for r in rounds] == ["length", "length"]
    first, second = (r.judgement for r in rounds)
    assert first is not None and first.local.code == "truncated"
    assert first.correctness == "unknown" and first.global_correctness == "unknown"
    assert second is not None and second.correctness == "incorrect"
    steps = [e for e in events if isinstance(e, StepEvent)]
    # The unknown step did not end the episode under `stop`; the wrong one did.
    assert [(s.final, s.forced) for s in steps] == [("unknown", True), ("incorrect", False)]
    end = events[-1]
    assert end.kind == "episode_end" and end.end == "error" and end.first_error_step == 1


def test_generation_finish_reasons_are_normalised() -> None:
    assert Generation(text="", finish_reason="max_tokens").finish_reason == "length"
    assert Generation(text="", finish_reason="eos").finish_reason == "stop"
    assert Generation(text="", finish_reason=None).finish_reason == "stop"  # type: ignore[arg-type]
    # A withheld output keeps its own reason: its judgement is unknown ("withheld").
    assert Generation(text="", finish_reason="content_filter").finish_reason == "content_filter"
    assert Generation(text="", finish_reason="tool_calls").finish_reason == "other"
    assert Generation(text="", usage=Cost()).finish_reason == "stop"


def test_the_self_critic_is_measured_like_the_tool() -> None:
    # The simulated critic flags a wrong proposal with probability tpr and a right one with
    # fpr, writing its verdict line; the parser and the statistics recover both rates.
    backend = SimulatedBackend(SimulationParams(e=0.4, r=0.5, h=0.1, tpr=0.8, fpr=0.2))
    task = redraft_counting.CountingTask()
    corrector = build_corrector(backend, None, critic="self", max_revisions=1)
    sink = ListSink()
    runner = LockstepRunner(task, corrector, sink, seed=11, max_steps=6,
                            error_policy="continue", batch_size=64, hints=backend.hints)
    asyncio.run(runner.run(range(150)))
    events = sink.events
    rounds = [e for e in events if isinstance(e, RoundEvent)]
    assert {r.feedback.code for r in rounds if r.feedback} == {"ok", "self_rejected"}
    arrays = episode_arrays(RunData.from_events(events))
    tp, fp, fn, tn = (float(x.sum()) for x in (arrays.tp, arrays.fp, arrays.fn, arrays.tn))
    assert tp + fn > 300 and fp + tn > 300
    assert tp / (tp + fn) == pytest.approx(0.8, abs=0.05)
    assert fp / (fp + tn) == pytest.approx(0.2, abs=0.05)
