"""How torch's OpenMP threads wait: decided by the machine's load, as the llama.cpp backend does.

Torch's CPU kernels run on OpenMP threads that meet at a barrier after every operation.
GNU OpenMP spins there before sleeping: fastest on idle cores (measured for ``micro``
training: 57-67k tokens/s spinning against 51-54k with ``OMP_WAIT_POLICY=PASSIVE`` on 2
idle cores, issue 29), ruinous when another process holds a core (a spinning waiter
burns the time slice its descheduled partner needs: 20x slower on a loaded 2-core
machine). So, as :func:`redraft.agent.backends.llamacpp.wait_passively_when_busy` does
for llama.cpp, the policy follows the other processes' runnable tasks read at the moment
torch loads (:func:`redraft.agent.backends.contention.sample_runnable`): ``PASSIVE`` when they and
our threads exceed the CPUs, OpenMP's default (spin, then sleep) otherwise. A policy already
in the environment (the user's, or the llama.cpp backend's) is kept; once torch has loaded,
OpenMP has read its environment and nothing changes, so a later call says what the first
one decided rather than reading an ``OMP_WAIT_POLICY`` that it may have set itself.
"""

from __future__ import annotations

import os
import sys

from redraft.agent.backends.contention import cpus_available, sample_runnable

__all__ = ["choose_wait_policy"]

_chosen: str | None = None
"""What the call made before torch loaded decided (None: no call was made before)."""


def choose_wait_policy(threads: int) -> str:
    """Set ``OMP_WAIT_POLICY`` for ``threads`` torch threads before torch loads; say what.

    Returns one of ``"PASSIVE (busy: N other runnable tasks on C CPUs)"``, ``"default
    (idle)"``, ``"kept: POLICY (set before torch loaded)"``, ``"default (load unknown)"``;
    once torch has loaded, the first call's answer (``"...; torch loaded with it"``) or
    ``"unchanged: torch already loaded"`` when no call came before it.
    """
    global _chosen
    if _torch_loaded():
        return "unchanged: torch already loaded" if _chosen is None else (
            f"{_chosen}; torch loaded with it")
    _chosen = _decide(threads)
    return _chosen


def _decide(threads: int) -> str:
    if "OMP_WAIT_POLICY" in os.environ:
        return f"kept: {os.environ['OMP_WAIT_POLICY']} (set before torch loaded)"
    others = sample_runnable()
    if others is None:
        return "default (load unknown)"
    cpus = cpus_available()
    if others + threads > cpus:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return f"PASSIVE (busy: {others:g} other runnable tasks on {cpus} CPUs)"
    return "default (idle)"


def _torch_loaded() -> bool:
    """Whether torch (and so its OpenMP runtime) is loaded in this process."""
    return "torch" in sys.modules
