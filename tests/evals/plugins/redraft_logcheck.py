"""Structural checks of an event log, shared by the runner, resume and CLI tests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from redraft.evals import EpisodeEndEvent, EpisodeStartEvent, Event, RoundEvent, StepEvent


class ListSink:
    """A runner's sink that keeps the events in memory and counts its syncs."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.syncs = 0

    def write(self, event: Event) -> None:
        self.events.append(event)

    def sync(self) -> None:
        self.syncs += 1


def check_log(events: Sequence[Event], expected: Iterable[int]) -> dict[int, list[Event]]:
    """Assert the log holds exactly the expected episodes, each complete and consistent.

    Returns the records grouped by episode, in log order.
    """
    by_episode: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        by_episode[event.episode].append(event)
    assert sorted(by_episode) == sorted(expected), (
        f"episodes {sorted(set(by_episode) ^ set(expected))[:20]} missing or extra"
    )
    for ep, records in by_episode.items():
        starts = [r for r in records if isinstance(r, EpisodeStartEvent)]
        ends = [r for r in records if isinstance(r, EpisodeEndEvent)]
        steps = [r for r in records if isinstance(r, StepEvent)]
        assert len(starts) == 1, f"episode {ep}: {len(starts)} starts"
        assert len(ends) == 1, f"episode {ep}: {len(ends)} ends"
        assert records[0] is starts[0] and records[-1] is ends[0], f"episode {ep}: bad order"
        assert [s.step for s in steps] == list(range(len(steps))), f"episode {ep}: step gaps"
        end = ends[0]
        assert end.steps == len(steps), f"episode {ep}: end.steps {end.steps}"
        assert end.step == 0 and starts[0].step == 0, f"episode {ep}: envelope step not 0"
        for step in steps:
            rounds = [r for r in records if isinstance(r, RoundEvent) and r.step == step.step]
            assert [r.round for r in rounds] == list(range(step.revisions + 1)), (
                f"episode {ep} step {step.step}: rounds {[r.round for r in rounds]}"
            )
            committed = rounds[step.committed_round]
            assert (committed.answer or "") == step.committed_answer
            assert all(r.judgement is not None for r in rounds), "every round is judged"
            assert rounds[0].judgement and rounds[0].judgement.correctness == step.initial
            assert committed.judgement and committed.judgement.correctness == step.final
        wrong = [s.step for s in steps if s.final == "incorrect"]
        assert end.first_error_step == (wrong[0] if wrong else None)
    return dict(by_episode)


def trajectory(records: Sequence[Event]) -> list[tuple[object, ...]]:
    """What an episode did, without timings: to compare a resumed run with a clean one."""
    out: list[tuple[object, ...]] = []
    for r in records:
        if isinstance(r, StepEvent):
            out.append(("step", r.step, r.revisions, r.committed_answer, r.initial, r.final))
        elif isinstance(r, RoundEvent):
            out.append(("round", r.step, r.round, r.output))
        elif isinstance(r, EpisodeStartEvent):
            out.append(("start", r.seed))
        elif isinstance(r, EpisodeEndEvent):
            out.append(("end", r.steps, r.end, r.first_error_step))
    return out
