"""Planted truth: seeds simulated with known effects, analysed as the real grid is.

A simulated seed is a set of models (expert, retry, recovery) whose exact scores are drawn
state by state: each seed's expert errs at its own rate (a between-seed spread), each
state has its own difficulty, and the four primary effects are planted with a between-seed
spread of their own. The scores go through the same :func:`~._analysis.analyze` as a real
grid's (per-seed values, sign-flip tests, Holm, detectable effects), so a replication
answers: with zero effects, how often does the analysis reject (at most 5%, family-wise);
with effects as large as the analysis says it detects with 80% power, how often does it
find them (about 80%)?

    python -m redraft.lab.findings._planted --scale quick --reps 1000   # the docs' table
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from redraft.lab.findings._analysis import ModelStatus, analyze
from redraft.lab.findings._design import PRIMARY
from redraft.lab.findings._scores import BackStats, Matched, ModelScores, PostScores, Scores
from redraft.lab.stats import detectable_effect

__all__ = ["World", "replicate", "simulate"]


@dataclass(frozen=True)
class World:
    """What is planted: rates, spreads and the four primary effects."""

    e: float = 0.04
    """The expert's error on clean states at the evaluation temperature (median seed)."""
    seed_spread: float = 0.3
    """Between-seed spread of that error (SD of its logarithm)."""
    chance: float = 0.1
    """Share of a model's errors on a clean twin that would cancel the offset δ."""
    effect_sd: float = 0.01
    """Between-seed SD of each planted effect."""
    compounding: float = 0.0
    """Fresh error after an error minus before it (expert)."""
    undo: float = 0.0
    """Back to the truth minus chance (expert)."""
    retry: float = 0.0
    """Committed error, retry minus expert."""
    recovery: float = 0.0
    """Post-error error against the truth, recovery minus expert."""
    states: int = 384
    """Post-error states per model (and as many clean twins)."""


def _post(rng: np.random.Generator, e: float, world: World, compounding: float, undo: float
          ) -> PostScores:
    difficulty = rng.gamma(2.0, 0.5, size=world.states)
    error = np.clip(e * difficulty, 0.0, 0.9)
    chance = error * world.chance
    right = 1.0 - error
    # State-level noise around the planted values, unclipped: a clipped one would move
    # their means, and only means enter the statistics.
    truth = chance + undo + rng.normal(0, 0.02, world.states)
    fresh = error - chance + compounding + rng.normal(0, 0.02, world.states)
    local = 1.0 - fresh - truth
    return PostScores(states=world.states, local=float(local.mean()),
                      truth=float(truth.mean()), fresh=float(fresh.mean()),
                      clean_right=float(right.mean()), clean_chance=float(chance.mean()),
                      clean_fresh=float((1 - right - chance).mean()))


def _back(committed_error: float) -> BackStats:
    return BackStats(states=1, committed_error=committed_error, first_error=committed_error,
                     back=0.0, precision=None, recall=None, harm=None, residual=0.0)


def simulate(world: World, seeds: Sequence[int], rng: np.random.Generator) -> Scores:
    """One grid's exact scores: expert, retry and recovery for every seed."""
    models: list[ModelScores] = []
    for seed in seeds:
        e = world.e * math.exp(rng.normal(0.0, world.seed_spread))

        def effect(mean: float) -> float:
            return mean + float(rng.normal(0.0, world.effect_sd))

        expert_post = _post(rng, e, world, effect(world.compounding), effect(world.undo))
        committed = e + float(rng.normal(0, 0.002))
        # The recovery model: the expert's post-error truth plus the planted effect.
        recovery = expert_post.model_copy(update={
            "truth": expert_post.truth - effect(world.recovery)})
        for arm, post, back in (
                ("expert", expert_post, committed),
                ("retry", expert_post, committed + effect(world.retry)),
                ("recovery", recovery, committed)):
            # The arms planted as sharp as their experts: matched at the same temperature.
            matched = None if arm == "expert" else Matched(
                temperature=1.5, target=e, e_tf=e, post=post, committed=_back(back))
            models.append(ModelScores(
                arm=arm, seed=seed, e_tf={"1.5": e}, e_tf_curve=[e], prefix=1.0, post=post,
                post_by_after={"1": post, "2": post}, committed=_back(back), matched=matched))
    return Scores(temperature=1.5, temperatures=[1.5], episodes=0, steps=0, sites=[],
                  committed_states=1, models=models)


def replicate(world: World, n: int, reps: int, *, seed: int = 0, alpha: float = 0.05
              ) -> dict[str, float]:
    """Per primary outcome, the share of ``reps`` grids of ``n`` seeds where 0 is rejected.

    Rejected: Holm-adjusted p < ``alpha``; ``"any"``: grids where any outcome is.
    """
    rng = np.random.default_rng(seed)
    seeds = list(range(n))
    hits = dict.fromkeys([c.key for c in PRIMARY], 0)
    any_hit = 0
    statuses = [ModelStatus(arm=a, seed=s, converged=True, why="planted", accuracy=1.0,
                            error=0.0) for s in seeds for a in ("expert", "retry", "recovery")]
    for _ in range(reps):
        results = analyze(scores=simulate(world, seeds, rng), statuses=statuses, seeds=seeds,
                          runs={}, task_options={}, representation="recent", episode_steps=0,
                          temperature=1.5, sites=[], eval_episodes=0, committed_states=1,
                          tf_sampled={}, alpha=alpha)
        rejected = False
        for result in results.primary:
            if result.p_holm is not None and result.p_holm < alpha:
                hits[result.contrast.key] += 1
                rejected = True
        any_hit += rejected
    out = {key: count / reps for key, count in hits.items()}
    out["any"] = any_hit / reps
    return out


def seed_sd(world: World, n: int = 4000, seed: int = 1) -> dict[str, float]:
    """The between-seed SD of each primary outcome's per-seed value in ``world`` (simulated)."""
    from redraft.lab.findings._analysis import primary_values

    scores = simulate(world, list(range(n)), np.random.default_rng(seed))
    return {c.key: float(np.nanstd(np.asarray(primary_values(c, scores, list(range(n))),
                                              dtype=float), ddof=1)) for c in PRIMARY}


def planted_at_power(world: World, n: int, alpha: float = 0.05,
                     only: str | None = None) -> World:
    """``world`` with its primary effects at the size detected with 80% power at ``n`` seeds.

    Every effect, or ``only`` that one (the others 0). The stated power is Holm's first
    step (level ``alpha`` over the four): one effect alone is found about that often;
    several at once more often (once one is rejected, the others are tested at a looser
    level).
    """
    sds = seed_sd(world)
    effects = {key: (detectable_effect(sd, n, alpha / len(PRIMARY)) or 0.0)
               if only in (None, key) else 0.0 for key, sd in sds.items()}
    # The signs the hypotheses predict (retry and recovery: lower errors).
    return replace(world, compounding=effects["compounding"], undo=effects["undo"],
                   retry=-effects["retry"], recovery=-effects["recovery"])


def main() -> None:
    """Print the planted-truth table for the scales' seed counts."""
    from redraft.lab.findings._grid import SCALES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--effect-sd", type=float, default=0.01)
    parser.add_argument("--e", type=float, default=0.05)
    args = parser.parse_args()
    base = World(e=args.e, effect_sd=args.effect_sd)
    keys = [c.key for c in PRIMARY]
    se = (0.05 * 0.95 / args.reps) ** 0.5
    print(f"planted world: expert e {base.e}, between-seed SD of each effect "
          f"{base.effect_sd}, {args.reps} grids per cell (Monte Carlo SE of a 5% rate: "
          f"{se:.3f})")
    print("| scale | seeds | zero effects: any rejected | per outcome | one effect planted at "
          "its stated detectable size: found | detectable effects (in between-seed SDs) |")
    print("|---|---|---|---|---|---|")
    sds = seed_sd(base)
    for name in ("quick", "full", "gpu"):
        n = SCALES[name].seeds
        zero = replicate(base, n, args.reps)
        found = []
        for i, key in enumerate(keys):
            planted = planted_at_power(base, n, only=key)
            found.append(replicate(planted, n, args.reps, seed=100 + i)[key])
        sizes = [abs(getattr(planted_at_power(base, n, only=k), k)) / sds[k] for k in keys]
        print(f"| {name} | {n} | {zero['any']:.3f} | "
              + ", ".join(f"{k} {zero[k]:.3f}" for k in keys) + " | "
              + ", ".join(f"{k} {f:.2f}" for k, f in zip(keys, found, strict=True)) + " | "
              + ", ".join(f"{s:.2f}" for s in sizes) + " |", flush=True)


if __name__ == "__main__":
    main()
