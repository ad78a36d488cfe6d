"""The simulated backend plays by its parameters, reproducibly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from redraft.agent.backends import (
    GenerationRequest,
    Message,
    SimulatedBackend,
    SimulationHint,
    load_backend,
)
from redraft.core import BadInputError, UnknownPluginError

PROMPT = (Message(role="user", content="step"),)
_ids = iter(range(10**9))


def hinted(backend: SimulatedBackend, hint: SimulationHint, **fields: Any) -> GenerationRequest:
    """A request whose hint travels out of band, on the backend's board (as the runner does)."""
    item = f"item{next(_ids)}"
    backend.hints.post({item: hint})
    return GenerationRequest(messages=PROMPT, item_id=item, **fields)


def proposals(backend: SimulatedBackend, n: int, step: int = 0, prior: int = 0) -> list[str]:
    requests = [
        hinted(backend, SimulationHint(correct="R", wrong=("W",), step=step, stream=f"ep{i}",
                                       prior_errors=prior))
        for i in range(n)
    ]
    return [g.text for g in asyncio.run(backend.generate(requests))]


def test_requests_carry_no_hint_and_other_backends_never_see_one() -> None:
    assert "hint" not in GenerationRequest.model_fields
    backend = load_backend("simulated/e=0.0")
    assert isinstance(backend, SimulatedBackend)
    request = hinted(backend, SimulationHint(correct="TRUTH-5e1", wrong=("W",)))
    assert "TRUTH-5e1" not in request.model_dump_json()
    assert asyncio.run(backend.generate([request]))[0].text == "TRUTH-5e1"
    backend.hints.withdraw([request.item_id or ""])
    assert len(backend.hints) == 0


def test_error_rate_growth_and_self_conditioning() -> None:
    backend = load_backend("simulated/e=0.2,r=0.5,h=0.1,growth=0.5,selfcond=0.3")
    assert isinstance(backend, SimulatedBackend)
    n = 4000
    rate0 = proposals(backend, n).count("W") / n
    rate2 = proposals(backend, n, step=2).count("W") / n  # 0.2 * 1.5^2 = 0.45
    after_error = proposals(backend, n, prior=1).count("W") / n  # 0.2 + 0.3
    assert abs(rate0 - 0.2) < 0.03
    assert abs(rate2 - 0.45) < 0.03
    assert abs(after_error - 0.5) < 0.03


def test_revisions_recover_and_harm_at_their_rates() -> None:
    backend = load_backend("simulated/e=0.2,r=0.6,h=0.1")
    assert isinstance(backend, SimulatedBackend)
    n = 4000

    def revise(previous: str) -> float:
        requests = [
            hinted(backend, SimulationHint(correct="R", wrong=("W",), stream=f"e{i}"),
                   purpose="revise", previous=previous)
            for i in range(n)
        ]
        return [g.text for g in asyncio.run(backend.generate(requests))].count("R") / n

    assert abs(revise("W") - 0.6) < 0.03
    assert abs((1 - revise("R")) - 0.1) < 0.02


def test_draws_do_not_depend_on_batching() -> None:
    together = proposals(load_backend("simulated/e=0.5,seed=3"), 50)  # type: ignore[arg-type]
    alone_backend = load_backend("simulated/e=0.5,seed=3")
    assert isinstance(alone_backend, SimulatedBackend)
    alone = []
    for i in range(50):
        request = hinted(alone_backend, SimulationHint(correct="R", wrong=("W",), stream=f"ep{i}"))
        alone.append(asyncio.run(alone_backend.generate([request]))[0].text)
    assert together == alone


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("simulated/e=2", "e: Input should be less than or equal to 1"),
        ("simulated/e", "is not KEY=VALUE"),
        ("simulated/q=1", "q: Extra inputs are not permitted"),
        ("simulated", "must look like PROVIDER/MODEL"),
    ],
)
def test_bad_model_strings_say_what_to_fix(model: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        load_backend(model)


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(UnknownPluginError, match=r"llamacpp.*openai.*scripted.*simulated"):
        load_backend("nosuch/model")


def test_needs_a_task_hint() -> None:
    backend = load_backend("simulated/e=0.1")
    with pytest.raises(BadInputError, match="simulation hints"):
        asyncio.run(backend.generate([GenerationRequest(messages=PROMPT)]))


def test_a_hint_board_refuses_to_mix_two_runs() -> None:
    backend = load_backend("simulated/e=0.1")
    assert isinstance(backend, SimulatedBackend)
    backend.hints.post({"0/0": SimulationHint(correct="A", wrong=("B",))})
    backend.hints.post({"0/0": SimulationHint(correct="A", wrong=("B",))})  # same: fine
    with pytest.raises(ValueError, match="its own simulated backend"):
        backend.hints.post({"0/0": SimulationHint(correct="C", wrong=("B",))})
