"""Tests of compounding that see more than the first error (``continue`` policy).

Under the ``continue`` policy an episode goes on after a committed error, so two questions
the hazard of the *first* error cannot answer become testable:

- **self-conditioning**: is the first proposal wrong more often at steps after a committed
  error than at steps before one (does an agent that sees its own mistakes make more)?
- **trend**: does the first proposal's error rate ``e_raw(t)`` change with ``t``?

Both are permutation tests that shuffle the order of each episode's steps, keeping each
episode's outcomes together. Under the null (an episode's steps are exchangeable: no
dependence on ``t`` or on earlier errors) this reproduces the statistic's distribution
exactly, whatever the differences between episodes (a hard episode makes more errors and
also spends more steps "after an error"; the shuffle keeps both). A trend in ``t`` also
breaks exchangeability, so read the self-conditioning test beside the trend test.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

__all__ = [
    "DEFAULT_PERMUTATIONS",
    "PermutationTest",
    "self_conditioning_test",
    "step_trend_test",
]

FloatArray = NDArray[np.float64]

DEFAULT_PERMUTATIONS = 999
"""Permutations behind a p-value unless a caller asks for another number."""

Direction = Literal["rising", "falling", "flat"]


class PermutationTest(BaseModel):
    """A statistic, its two-sided permutation p-value, and what it compares."""

    model_config = ConfigDict(frozen=True)

    statistic: float | None
    """The observed statistic (None: nothing to test, e.g. no step after an error)."""
    p_value: float | None
    """Two-sided: share of permutations at least as far from 0 (None: nothing to test)."""
    direction: Direction
    """Sign of the statistic."""
    permutations: int
    """Permutations drawn."""
    n: int
    """Labelled steps the test rests on."""
    before: float | None = None
    """Self-conditioning: error rate at steps with no earlier committed error."""
    after: float | None = None
    """Self-conditioning: error rate at steps after an earlier committed error."""
    description: str = ""
    """What the statistic is."""

    def rejects(self, alpha: float = 0.05) -> bool:
        """True when the null is rejected at level ``alpha``."""
        return self.p_value is not None and self.p_value < alpha


def _direction(value: float) -> Direction:
    return "rising" if value > 0 else "falling" if value < 0 else "flat"


def _shuffled(
    valid: NDArray[np.bool_], n_perm: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """``(n_perm, n, L)`` column orders that shuffle each row's valid entries.

    Valid entries come first, in random order; the rest after.
    """
    keys = rng.random((n_perm, *valid.shape))
    keys[:, ~valid] = 2.0
    return np.argsort(keys, axis=2)


def _compact(valid: NDArray[np.bool_], *matrices: FloatArray) -> tuple[FloatArray, ...]:
    """Move each row's valid entries to its front, in order (padding after)."""
    order = np.argsort(~valid, axis=1, kind="stable")
    return tuple(np.take_along_axis(m, order, axis=1) for m in matrices)


def _selfcond_statistic(
    initial: FloatArray, final: FloatArray, valid: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """After − before error rates over the last two axes' steps (leading axes batched)."""
    committed = np.where(valid, final == 1.0, False)
    prior = np.zeros_like(committed)
    prior[..., 1:] = np.cumsum(committed, axis=-1)[..., :-1] > 0
    labelled = valid & np.isfinite(initial)
    wrong = labelled & (initial == 1.0)
    after_n = (labelled & prior).sum(axis=(-2, -1))
    after_k = (wrong & prior).sum(axis=(-2, -1))
    before_n = (labelled & ~prior).sum(axis=(-2, -1))
    before_k = (wrong & ~prior).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        after = np.where(after_n > 0, after_k / np.maximum(after_n, 1), np.nan)
        before = np.where(before_n > 0, before_k / np.maximum(before_n, 1), np.nan)
    return after - before, before, after


def self_conditioning_test(
    initial_wrong: FloatArray,
    final_wrong: FloatArray,
    length: NDArray[np.int64],
    *,
    n_perm: int = DEFAULT_PERMUTATIONS,
    rng: np.random.Generator | None = None,
) -> PermutationTest:
    """Error rate of first proposals after an earlier committed error minus before one.

    Args:
        initial_wrong: ``(n, L)`` round-0 labels (1 wrong, 0 right, NaN unknown/padding).
        final_wrong: ``(n, L)`` committed labels: where an episode's first error happens.
        length: ``(n,)`` steps each episode took.
        n_perm: Within-episode permutations.
        rng: The random source (default: seeded 0).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    steps = np.arange(initial_wrong.shape[1])
    valid = steps[None, :] < length[:, None]
    initial, final = _compact(valid, initial_wrong, final_wrong)
    valid = np.sort(valid, axis=1)[:, ::-1]
    observed, before, after = _selfcond_statistic(initial, final, valid)
    n = int((valid & np.isfinite(initial)).sum())
    description = "P(round 0 wrong | earlier committed error) − P(round 0 wrong | none)"
    if not np.isfinite(observed):
        return PermutationTest(statistic=None, p_value=None, direction="flat",
                               permutations=0, n=n, description=description,
                               before=_float(before), after=_float(after))
    extreme = 0
    done = 0
    for chunk in _chunks(n_perm, initial.size):
        order = _shuffled(valid, chunk, rng)
        perm_i = np.take_along_axis(np.broadcast_to(initial, order.shape), order, axis=2)
        perm_f = np.take_along_axis(np.broadcast_to(final, order.shape), order, axis=2)
        stats, _, _ = _selfcond_statistic(perm_i, perm_f, np.broadcast_to(valid, order.shape))
        # A permutation with no step after an error is as far from 0 as it gets: none.
        extreme += int(np.sum(np.abs(np.nan_to_num(stats)) >= abs(float(observed)) - 1e-12))
        done += chunk
    return PermutationTest(
        statistic=float(observed),
        p_value=(1 + extreme) / (1 + done),
        direction=_direction(float(observed)),
        permutations=done,
        n=n,
        before=_float(before),
        after=_float(after),
        description=description,
    )


def step_trend_test(
    matrix: FloatArray,
    length: NDArray[np.int64],
    *,
    n_perm: int = DEFAULT_PERMUTATIONS,
    rng: np.random.Generator | None = None,
) -> PermutationTest:
    """Does a per-step error rate (e.g. ``e_raw(t)``) change with ``t``?

    The statistic is the within-episode least-squares slope of the label on ``t`` (change
    in error probability per step, pooled over episodes with each episode's own mean step
    taken out), tested by shuffling each episode's steps.

    Args:
        matrix: ``(n, L)`` labels (1 wrong, 0 right, NaN unknown/padding).
        length: ``(n,)`` steps each episode took.
        n_perm: Within-episode permutations.
        rng: The random source (default: seeded 0).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    steps = np.arange(1, matrix.shape[1] + 1, dtype=np.float64)
    taken = steps[None, :] <= length[:, None]
    labelled = taken & np.isfinite(matrix)
    count = labelled.sum(axis=1)
    centre = np.where(labelled, steps[None, :], 0.0).sum(axis=1) / np.maximum(count, 1)
    dev = np.where(labelled, steps[None, :] - centre[:, None], 0.0)
    denominator = float(np.sum(dev**2))
    n = int(labelled.sum())
    description = "slope of the error rate per step (within episodes)"
    if denominator <= 0:
        return PermutationTest(statistic=None, p_value=None, direction="flat",
                               permutations=0, n=n, description=description)
    y = np.where(labelled, matrix, 0.0)
    observed = float(np.sum(dev * y)) / denominator
    # Shuffle the labels among each episode's labelled steps; the steps stay put.
    (packed,) = _compact(labelled, y)
    packed_valid = np.sort(labelled, axis=1)[:, ::-1]
    dev_packed = _compact(labelled, dev)[0]
    extreme = done = 0
    for chunk in _chunks(n_perm, matrix.size):
        order = _shuffled(packed_valid, chunk, rng)
        perm = np.take_along_axis(np.broadcast_to(packed, order.shape), order, axis=2)
        stats = np.sum(dev_packed[None, :, :] * perm, axis=(1, 2)) / denominator
        extreme += int(np.sum(np.abs(stats) >= abs(observed) - 1e-12))
        done += chunk
    return PermutationTest(
        statistic=observed,
        p_value=(1 + extreme) / (1 + done),
        direction=_direction(observed),
        permutations=done,
        n=n,
        description=description,
    )


def _float(value: FloatArray | float) -> float | None:
    x = float(np.asarray(value))
    return x if np.isfinite(x) else None


def _chunks(total: int, cells: int, budget: int = 4_000_000) -> list[int]:
    size = max(1, min(total, budget // max(cells, 1)))
    return [min(size, total - start) for start in range(0, total, size)]
