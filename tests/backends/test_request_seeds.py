"""Seeds of sampled requests that bring none: fixed by what a request is for, not by order."""

from __future__ import annotations

from redraft.agent.backends import GenerationRequest, Message, SamplingParams
from redraft.agent.backends._common import RequestSeeds, with_seeds


def request(
    item: str | None, purpose: str = "propose", seed: int | None = None
) -> GenerationRequest:
    return GenerationRequest(
        messages=(Message(role="user", content="?"),), params=SamplingParams(seed=seed),
        item_id=item, purpose=purpose,  # type: ignore[arg-type]
    )


def test_a_requests_seed_does_not_depend_on_what_came_before() -> None:
    alone = RequestSeeds(7)
    first = [alone.seed(request("5/2", "resample")) for _ in range(3)]
    assert len(set(first)) == 3  # the second draw of a step is another draw
    busy = RequestSeeds(7)
    for other in ("0/0", "1/0", "5/1"):
        busy.seed(request(other, "resample"))
    busy.seed(request("5/2", "critique"))  # another purpose counts apart
    assert [busy.seed(request("5/2", "resample")) for _ in range(3)] == first
    assert RequestSeeds(8).seed(request("5/2", "resample")) != first[0]  # the base mixes in


def test_own_seeds_are_kept_and_requests_without_an_item_take_the_stream() -> None:
    seeds = RequestSeeds(0)
    assert seeds.seed(request("1/0", seed=42)) == 42
    stream = [seeds.seed(request(None)) for _ in range(2)]
    seeds.restart()
    assert [seeds.seed(request(None)) for _ in range(2)] == stream


def test_restart_and_forgetting_old_items() -> None:
    seeds = RequestSeeds(0, remember=2)
    first = seeds.seed(request("a"))
    seeds.seed(request("a"))
    seeds.restart()
    assert seeds.seed(request("a")) == first
    seeds.seed(request("b"))
    seeds.seed(request("c"))  # "a" is forgotten: a run never comes back to a finished step
    assert seeds.seed(request("a")) == first


def test_only_sampled_requests_without_a_seed_are_given_one() -> None:
    seeds = RequestSeeds(3)
    sampled = request("2/0").model_copy(
        update={"params": SamplingParams(temperature=1.0)})
    greedy = request("2/0").model_copy(update={"params": SamplingParams(temperature=0.0)})
    own = request("2/0", seed=5).model_copy(
        update={"params": SamplingParams(temperature=1.0, seed=5)})
    first = with_seeds([sampled, greedy, own, sampled], seeds)
    assert first[1] == greedy and first[2] == own
    assert first[0].params.seed == RequestSeeds(3).seed(sampled)
    assert first[3].params.seed not in (None, first[0].params.seed)  # the next draw
    seeds.restart()
    assert with_seeds([sampled], seeds)[0].params.seed == first[0].params.seed
