"""Everything measured about one run, from its event log alone."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, JsonValue

from redraft.evals.stats._compounding import (
    DEFAULT_PERMUTATIONS,
    PermutationTest,
    self_conditioning_test,
    step_trend_test,
)
from redraft.evals.stats._episodes import EpisodeArrays, episode_arrays
from redraft.evals.stats._hazard import (
    DEFAULT_SIMULATIONS,
    HazardTrend,
    hazard_curve,
    hazard_trend_test,
)
from redraft.evals.stats._intervals import DEFAULT_LEVEL, Estimate, wilson
from redraft.evals.stats._load import RunData
from redraft.evals.stats._metrics import (
    StepCurve,
    global_error_undone,
    ratio_metrics,
    step_curve,
)
from redraft.evals.stats._monologue import monologue_metrics
from redraft.evals.stats._survival import GeometricFit, KaplanMeier, kaplan_meier

__all__ = ["DEFAULT_BOOTSTRAP", "RunStats", "analyze_run", "own_lengths"]

DEFAULT_BOOTSTRAP = 2000
"""Bootstrap replicates unless a caller asks for another number."""


class RunStats(BaseModel):
    """One run's metrics, curves, survival and compounding tests."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The run's name."""
    config: dict[str, JsonValue]
    """The run's config (from the manifest)."""
    leaky: bool
    """Ground truth fed the loop (``critic='oracle'``): an upper bound, not a result."""
    episodes: int
    """Episodes analysed (finished ones, and unfinished ones censored at their last step)."""
    steps: int
    """Committed steps over all episodes."""
    unfinished: int
    """Episodes that never logged their end; censored at their last committed step (those
    that committed no step carry no information and are only counted here)."""
    metrics: dict[str, Estimate]
    """Pooled metrics (see ``METRIC_DESCRIPTIONS``) plus ``error_share``,
    ``predicted_error_share``, ``horizon_50``, ``global_error_undone`` (by the agent) and
    ``global_error_undone_any`` (forced replacements included). An undefined metric has
    value None, never 0."""
    e_raw_curve: StepCurve
    """``e_raw(t)``."""
    e_post_curve: StepCurve
    """``e_post(t)``."""
    global_error_curve: StepCurve
    """``P(global error at t)`` among episodes still running at ``t``."""
    hazard: StepCurve
    """Hazard of the first committed error per step."""
    survival: KaplanMeier
    """Kaplan–Meier survival of "no committed error yet"."""
    geometric: GeometricFit
    """The constant-hazard fit."""
    predicted_survival: list[float | None]
    """``(1-ê)^n`` at each of ``survival.steps``."""
    trend: HazardTrend
    """Constant hazard of the first error against a rising or falling one."""
    self_conditioning: PermutationTest | None = None
    """Round-0 error rate after an earlier committed error vs before (None: no episode
    went on after an error, e.g. the ``stop`` policy)."""
    e_raw_trend: PermutationTest | None = None
    """``e_raw(t)`` against ``t`` (None under the ``stop`` policy, where an episode's steps
    are not exchangeable: it ends at its first error)."""
    horizon_steps: int
    """Longest episode."""
    level: float
    """Confidence level of every interval."""


def own_lengths(run: RunData, arrays: EpisodeArrays) -> np.ndarray:
    """How many steps each finished episode would run.

    Its own length, except that one stopped by an error would have run to ``max_steps``
    (the config's, else the longest episode's).
    """
    configured = run.config.get("max_steps")
    longest = int(arrays.length.max(initial=0))
    cap = configured if isinstance(configured, int) and configured > 0 else longest
    stopped = np.array([ep.end is not None and ep.end.end == "error" for ep in run.episodes],
                       dtype=bool)
    lengths = np.where(stopped, np.maximum(cap, arrays.length), arrays.length)
    return np.asarray(lengths[arrays.finished], dtype=np.int64)


def _goes_on_after_errors(run: RunData, arrays: EpisodeArrays) -> bool:
    """``continue`` policy: by the config, or seen in the log (steps after an error)."""
    if run.config.get("error_policy") == "continue":
        return True
    return bool(np.any(arrays.event & (arrays.length > arrays.time)))


def analyze_run(
    run: RunData,
    *,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_BOOTSTRAP,
    n_sim: int = DEFAULT_SIMULATIONS,
    n_perm: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> RunStats:
    """Measure one run. Deterministic for a given ``seed``.

    Args:
        run: The run's episodes.
        level: Confidence level of every interval.
        n_boot: Bootstrap replicates (episode resampling).
        n_sim: Simulated data sets behind the hazard trend test's p-value.
        n_perm: Permutations behind the self-conditioning and ``e_raw(t)`` tests.
        seed: Seed of every random draw.
    """
    arrays = episode_arrays(run)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    metrics = ratio_metrics(arrays, n_boot, rngs[0], level)
    geometric = GeometricFit(e_hat=metrics["e_hat"])
    longest = int(arrays.length.max(initial=0))
    done = arrays.finished
    metrics["error_share"] = wilson(int(arrays.event[done].sum()), int(done.sum()), level)
    metrics["predicted_error_share"] = geometric.predicted_error_share(own_lengths(run, arrays))
    metrics["horizon_50"] = geometric.horizon(0.5)
    metrics["global_error_undone"] = global_error_undone(arrays, level)
    metrics["global_error_undone_any"] = global_error_undone(arrays, level, by_agent=False)
    # The in-generation layer and generated-token costs (inner monologue, reasoning models).
    metrics.update(
        monologue_metrics(run, n_boot=n_boot, rng=np.random.default_rng([seed, 1]), level=level)
    )
    km = kaplan_meier(arrays.time, arrays.event, level)
    predicted = geometric.survival(np.asarray(km.steps))
    continued = _goes_on_after_errors(run, arrays)
    return RunStats(
        name=run.name,
        config=run.config,
        leaky=run.leaky,
        episodes=arrays.n_episodes,
        steps=int(arrays.length.sum()),
        unfinished=run.unfinished,
        metrics=metrics,
        e_raw_curve=step_curve(arrays.initial_wrong, level),
        e_post_curve=step_curve(arrays.final_wrong, level),
        global_error_curve=step_curve(arrays.global_wrong, level),
        hazard=hazard_curve(arrays.time, arrays.event, level),
        survival=km,
        geometric=geometric,
        predicted_survival=[float(p) if np.isfinite(p) else None for p in predicted],
        trend=hazard_trend_test(arrays.time, arrays.event, n_sim=n_sim, rng=rngs[1]),
        self_conditioning=(
            self_conditioning_test(arrays.initial_wrong, arrays.final_wrong, arrays.length,
                                   n_perm=n_perm, rng=rngs[2]) if continued else None
        ),
        e_raw_trend=(
            step_trend_test(arrays.initial_wrong, arrays.length, n_perm=n_perm, rng=rngs[3])
            if continued else None
        ),
        horizon_steps=longest,
        level=level,
    )
