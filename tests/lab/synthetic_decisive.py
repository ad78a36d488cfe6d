"""Synthetic decisive-grid matrices with a known self-conditioning effect and undo rate.

A model of the running sum as the task judges it, drawn with numpy: at each step the
model either returns to the true total (probability ``undo`` when its shown total is wrong
and the prompt can show the truth), or makes a fresh error with probability
``e + selfcond·[an earlier error or plant]`` (a fresh error while the shown total is wrong
hits the truth by chance with probability ``chance``), or adds correctly. A planted wrong
total replaces the shown total after ``plant`` (1-based). Labels as the oracle gives them:
local (against the shown total) and global (against the true total).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from redraft.lab.findings._analysis import RunMatrices


@dataclass(frozen=True)
class World:
    """The planted truth."""

    e: float = 0.1
    selfcond: float = 0.0
    undo: float = 0.0
    chance: float = 0.0

    def planted_effect(self, first: int, last: int) -> float:
        """True fresh-error difference (planted − unplanted) at steps first..last, no undo."""
        steps = np.arange(first, last + 1)
        return float(np.mean(self.selfcond * (1 - self.e) ** (steps - 1)))

    def undo_minus_chance(self) -> float:
        """True P(right | wrong) with undo possible minus without (no self-conditioning)."""
        with_undo = self.undo + (1 - self.undo) * self.e * self.chance
        return with_undo - self.e * self.chance


def draw(world: World, episodes: int, steps: int, rng: np.random.Generator, *,
         plant: int | None = None, undo_possible: bool = True,
         teacher_force: bool = False) -> RunMatrices:
    """One run's local and global label matrices."""
    local = np.zeros((episodes, steps))
    glob = np.zeros((episodes, steps))
    shown_wrong = np.zeros(episodes, dtype=bool)
    prior = np.zeros(episodes, dtype=bool)
    undo = world.undo if undo_possible else 0.0
    for t in range(steps):
        u = rng.random(episodes)
        back = shown_wrong & (u < undo)
        fresh = ~back & (rng.random(episodes) < world.e + world.selfcond * prior)
        lucky = fresh & shown_wrong & (rng.random(episodes) < world.chance)
        # local: wrong when it did not add to the shown total (a return counts as wrong)
        local[:, t] = (back | fresh).astype(float)
        state_wrong = np.where(back | lucky, False, shown_wrong | fresh)
        glob[:, t] = state_wrong.astype(float)
        prior |= fresh
        shown_wrong = np.zeros(episodes, dtype=bool) if teacher_force else state_wrong
        if plant is not None and t + 1 == plant:
            shown_wrong = np.ones(episodes, dtype=bool)
            prior[:] = True
    return RunMatrices.model_validate({"initial": local, "final": local, "global": glob})
