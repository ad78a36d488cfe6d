"""The decisive experiment's task settings: in distribution at every step, undo possible."""

from __future__ import annotations

import itertools

import pytest

from redraft.evals.tasks import load_task
from redraft.lab.testbed import (
    DECISIVE_CALIBRATION,
    DECISIVE_TASK_OPTIONS,
    TrainConfig,
    decisive_options,
    examples,
)
from redraft.tools import BadInputError


@pytest.mark.parametrize("scale", ["quick", "full", "gpu"])
def test_every_scale_is_in_distribution_at_every_step(scale: str) -> None:
    options = DECISIVE_TASK_OPTIONS[scale]
    task = load_task("running_sum", **options)
    config = task.config  # type: ignore[attr-defined]
    assert config.modulus and config.start == "random" and not config.step_label
    assert config.recoverable()  # the recovery regime can train on it
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
    # Every regime, recovery included, trains on it.
    for regime in ("expert", "retry", "scratchpad", "recovery"):
        stream = examples(load_task("running_sum", **kwargs), regime,  # type: ignore[arg-type]
                          seed=0, episode_steps=40, recovery_p=0.2)
        assert len(list(itertools.islice(stream, 50))) == 50


def test_the_calibration_says_how_each_scale_was_chosen() -> None:
    assert set(DECISIVE_CALIBRATION) == set(DECISIVE_TASK_OPTIONS)
    for scale, record in DECISIVE_CALIBRATION.items():
        assert record["task_options"] == DECISIVE_TASK_OPTIONS[scale]
        if record["measured"]:
            measured = record["e_tf_t1"]
            assert measured["ci_low"] <= measured["value"] <= measured["ci_high"]
            # "in range" must say what the number says: the rule is e_TF in [1%, 10%].
            assert record["in_range"] == (0.01 <= measured["value"] <= 0.10), scale
            assert record["commands"] and record["size"] and record["training"]
        else:
            assert record["in_range"] is None
            assert record["why_unmeasured"] and record["estimate"]


def test_an_unknown_scale_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="unknown scale 'huge'"):
        decisive_options("huge")
