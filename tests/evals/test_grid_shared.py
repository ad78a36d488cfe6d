"""A grid of one local model loads it once, runs the revising runs first, and reuses answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from redraft.agent import CorrectorConfig
from redraft.evals import EvalConfig
from redraft.evals._eval import grid_order, run_grid
from redraft.evals._manifest import read_manifest


def round_zero(run: Path) -> dict[tuple[int, int], tuple[str, str]]:
    rounds = {}
    for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["kind"] == "round" and event["round"] == 0:
            key = (event["episode"], event["step"])
            rounds[key] = (json.dumps(event["messages"]), event["output"])
    return rounds


def test_grid_order_puts_larger_revision_budgets_first() -> None:
    configs = [
        EvalConfig(task="addition", model="simulated/e=0.1",
                   corrector=CorrectorConfig(critic=critic, max_revisions=k))
        for critic, k in [("none", 0), ("tool", 2), ("constrained", 1), ("self", 2)]
    ]
    assert grid_order(configs) == [1, 3, 2, 0]


@pytest.mark.slow
def test_a_grid_shares_one_llamacpp_model_and_its_memo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llama_cpp")
    from redraft.agent.backends.llamacpp import LlamaCppBackend

    loaded: list[Any] = []
    original = LlamaCppBackend.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        loaded.append(self)

    monkeypatch.setattr(LlamaCppBackend, "__init__", counting_init)
    base = {"task": "chess", "model": "llamacpp/smollm2", "episodes": 2, "max_steps": 2,
            "error_policy": "continue", "model_options": {"n_ctx": 1024}}
    configs = [EvalConfig(**base, corrector=CorrectorConfig(critic="none", max_revisions=0)),
               EvalConfig(**base, corrector=CorrectorConfig(critic="tool", max_revisions=1))]
    dirs = [tmp_path / "none-k0", tmp_path / "tool-k1"]
    started: list[int] = []
    results = run_grid(
        [(c, d, []) for c, d in zip(configs, dirs, strict=True)], on_start=started.append
    )
    assert started == [1, 0]  # the run with revisions first
    assert [r.episodes for r in results] == [2, 2]  # results in the order given
    assert len(loaded) == 1  # one model for both runs
    # The none run asked what the tool run's first rounds asked: answered from the memo.
    none, tool = round_zero(dirs[0]), round_zero(dirs[1])
    shared = [key for key in none if key in tool and none[key][0] == tool[key][0]]
    assert shared and all(none[key][1] == tool[key][1] for key in shared)
    assert loaded[0].memo_hits >= len(shared)
    # Every option the model ran with is in the manifest, defaults included.
    options = read_manifest(dirs[0])["backend"]["options"]
    assert options["weights"] == "f32" and options["n_ctx"] == 1024
