"""Reproduce a published figure from its own numbers (Acher 2023, LLM chess).

Per-move illegal rates of 0.3% over ~52 moves and 0.66% over ~48 moves give, under the
geometric model, about 15% and 27% of games with an illegal move (observed: 16% and 32%).
"""

from __future__ import annotations

import math

import pytest
from synthetic_logs import Policy, simulated_run

from redraft.evals.stats import analyze_run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("rate", "moves", "published"), [(0.003, 52, 0.15), (0.0066, 48, 0.27)]
)
def test_geometric_model_predicts_share_of_games_with_an_illegal_move(
    rate: float, moves: int, published: float
) -> None:
    assert 1 - (1 - rate) ** moves == pytest.approx(published, abs=0.01)
    run = simulated_run(Policy(e=rate, revise=False), 3000, moves, seed=int(rate * 1e4))
    stats = analyze_run(run, n_boot=300)
    e_hat = stats.metrics["e_hat"]
    predicted = stats.geometric.predicted_error_share(moves)
    observed = stats.metrics["error_share"]
    print(f"rate {rate}: ê={e_hat.value:.5f} [{e_hat.ci_low:.5f}, {e_hat.ci_high:.5f}] "
          f"predicted {predicted.value:.3f} observed {observed.value:.3f} "
          f"[{observed.ci_low:.3f}, {observed.ci_high:.3f}]")
    assert e_hat.covers(rate)
    assert predicted.value == pytest.approx(published, abs=0.025)
    assert observed.covers(predicted.value or math.nan)
    # The horizon at which half the games hold an illegal move.
    horizon = stats.geometric.horizon(0.5)
    assert horizon.value == pytest.approx(math.log(0.5) / math.log(1 - rate), rel=0.15)
