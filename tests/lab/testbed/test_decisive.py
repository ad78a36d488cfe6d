"""The decisive experiment's task settings: in distribution at every step, undo never a copy."""

from __future__ import annotations

import itertools

import pytest

from redraft.core import BadInputError
from redraft.evals.tasks import load_task
from redraft.lab.testbed import (
    DECISIVE_CALIBRATION,
    DECISIVE_TASK_OPTIONS,
    TrainConfig,
    decisive_options,
    examples,
)


@pytest.mark.parametrize("scale", ["quick", "full", "gpu"])
def test_every_scale_is_in_distribution_at_every_step(scale: str) -> None:
    options = DECISIVE_TASK_OPTIONS[scale]
    task = load_task("running_sum", **options)
    config = task.config  # type: ignore[attr-defined]
    assert config.modulus and config.start == "random" and not config.step_label
    # No true-total checkpoints: returning to the truth is the model's own arithmetic.
    assert config.checkpoint_every is None and config.window >= 3
    width = len(str(config.modulus - 1))
    episode = task.new_episode(0, max_steps=40, error_policy="continue")
    lengths = set()
    while not episode.done:
        prompt = episode.prompt()
        assert "Step" not in prompt.messages[-1].content
        assert len(prompt.hint.correct) == len("total: ") + width
        lengths.add(len(prompt.messages[-1].content.splitlines()))
        episode.commit(prompt.hint.correct, task.oracle().judge_sync(  # type: ignore[attr-defined]
            prompt.oracle_context, prompt.hint.correct))
    assert lengths == set(range(2, config.window + 2))  # the window fills, then stays full
    representation, rest = decisive_options(scale)
    kwargs = TrainConfig(task="running_sum", representation=representation,
                         task_options=rest).task_kwargs("shown", {})
    assert kwargs == options
    # redraft train's regimes train on it (recovery: the findings' stacked training only,
    # which knows where the truth can be recomputed from).
    for regime in ("expert", "retry", "scratchpad"):
        stream = examples(load_task("running_sum", **kwargs), regime,  # type: ignore[arg-type]
                          seed=0, episode_steps=40)
        assert len(list(itertools.islice(stream, 50))) == 50


def test_the_calibration_says_how_each_scales_error_rate_was_set() -> None:
    assert set(DECISIVE_CALIBRATION) == set(DECISIVE_TASK_OPTIONS)
    for scale, record in DECISIVE_CALIBRATION.items():
        assert record["task_options"] == DECISIVE_TASK_OPTIONS[scale]
        assert record["knob"] == "temperature" and record["temperature"] > 0
        assert record["why"]
        if record["measured"]:
            assert record["measured_e_tf"] and record["command"]


def test_an_unknown_scale_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="unknown scale 'huge'"):
        decisive_options("huge")
