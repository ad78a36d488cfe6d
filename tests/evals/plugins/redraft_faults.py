"""A test plug-in that misbehaves on purpose: slow loads, failing backends, bad verifiers.

Registered through entry points (see :func:`install`) next to the counting task, so that
``redraft eval`` subprocesses meet these faults exactly as they would meet a user's plug-in:

- backend ``gated/DIR``: writes ``DIR/loading`` when it starts loading, then waits until
  ``DIR/open`` exists before it is ready (a model that loads slowly), then answers like
  ``simulated/e=0.2,r=0.5``;
- backend ``faulty/e=...``: the simulated backend, but each ``generate`` call fails with
  probability ``REDRAFT_FAULT_BACKEND`` (environment; the draws are seeded by
  ``REDRAFT_FAULT_SEED``), as a model server that stays down would;
- verifier ``faulty_counting``: the counting verifier, but each call raises, hangs
  (awaiting or blocking), returns a forged verdict or raises ``SystemExit`` with the
  probabilities in ``REDRAFT_FAULT_VERIFIER`` (``raise,hang,block,forge,exit``);
- verifier ``broken``: its module fails to import; verifier ``exploding``: its constructor
  raises;
- backend ``counted/e=...``: the simulated backend, appending one line per request (its
  item id and purpose) to the file ``REDRAFT_REQUEST_LOG`` names, so that a test sees
  which steps a process asked for (``faulty`` does the same when the variable is set);
  with ``REDRAFT_STALL_AFTER=N`` its call N+1 touches the file ``REDRAFT_STALL_MARK`` names
  and never returns (a model that hangs mid-batch), so that a test can stop the process
  with rounds in flight whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redraft_counting import CountingVerifier

from redraft.agent.backends import BackendUnavailableError, Generation, GenerationRequest
from redraft.agent.backends.simulated import SimulatedBackend
from redraft.tools import Verdict

_RNG = random.Random(os.environ.get("REDRAFT_FAULT_SEED", "0"))


def _gate(directory: Path, timeout: float = 120.0) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "loading").touch()
    deadline = time.monotonic() + timeout
    while not (directory / "open").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {directory} never opened")
        time.sleep(0.05)


def gated_backend(spec: str) -> SimulatedBackend:
    """The simulated backend after waiting for ``spec/open`` (see the module docstring)."""
    _gate(Path(spec))
    return SimulatedBackend.from_spec("e=0.2,r=0.5")


def record_requests(requests: Sequence[GenerationRequest]) -> None:
    """Append each request's item id and purpose to ``REDRAFT_REQUEST_LOG`` (if set)."""
    path = os.environ.get("REDRAFT_REQUEST_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.writelines(f"{r.item_id} {r.purpose}\n" for r in requests)


def requested(path: Path) -> list[tuple[str, str]]:
    """The (item id, purpose) of every request a :func:`record_requests` file holds."""
    if not path.exists():
        return []
    return [(item, purpose) for item, purpose in
            (line.split() for line in path.read_text(encoding="utf-8").splitlines())]


class CountedBackend(SimulatedBackend):
    """The simulated backend, recording every request (see :func:`record_requests`)."""

    calls = 0

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        stall_after = os.environ.get("REDRAFT_STALL_AFTER")
        if stall_after is not None and self.calls >= int(stall_after):
            Path(os.environ["REDRAFT_STALL_MARK"]).touch()
            await asyncio.sleep(3600)
        self.calls += 1
        record_requests(requests)
        return await super().generate(requests)


def counted_backend(spec: str) -> CountedBackend:
    inner = SimulatedBackend.from_spec(spec)
    return CountedBackend(inner.params, name=f"counted/{spec}")


class FaultyBackend:
    """The simulated backend whose calls fail now and then."""

    def __init__(self, spec: str) -> None:
        self.inner = SimulatedBackend.from_spec(spec)
        self.name = f"faulty/{spec}"
        self.constraint_kinds = self.inner.constraint_kinds
        self.hints = self.inner.hints  # the runner posts simulation hints here
        self.rate = float(os.environ.get("REDRAFT_FAULT_BACKEND", "0"))

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if _RNG.random() < self.rate:
            raise BackendUnavailableError("http://faulty.invalid/v1", "injected fault", 6, 0.0)
        record_requests(requests)
        return await self.inner.generate(requests)

    async def aclose(self) -> None:
        await self.inner.aclose()


def faulty_backend(spec: str) -> FaultyBackend:
    return FaultyBackend(spec)


class FaultyVerifier:
    """The counting verifier with injected faults (see the module docstring)."""

    name = "faulty_counting"
    FAULTS = ("raise", "hang", "block", "forge", "exit")

    def __init__(self, **options: Any) -> None:
        self.inner = CountingVerifier()
        rates = os.environ.get("REDRAFT_FAULT_VERIFIER", "0,0,0,0,0").split(",")
        self.rates = dict(zip(self.FAULTS, (float(r) for r in rates), strict=True))

    async def verify(self, context: Any, proposal: str) -> Verdict:
        fault = self._draw()
        if fault is None:
            return await self.inner.verify(context, proposal)
        if fault == "raise":
            raise RuntimeError("injected verifier crash")
        if fault == "hang":
            await asyncio.sleep(3600)
        if fault == "block":
            time.sleep(3600)  # blocks its thread: only a thread-bounded call survives this
        if fault == "forge":
            return Verdict.model_construct(ok=True, code="wrong_value", message="")
        raise SystemExit(3)

    def _draw(self) -> str | None:
        draw = _RNG.random()
        for fault, rate in self.rates.items():
            if draw < rate:
                return fault
            draw -= rate
        return None


class ExplodingVerifier:
    """A verifier plug-in whose constructor raises (a missing licence file, say)."""

    name = "exploding"

    def __init__(self, **options: Any) -> None:
        raise RuntimeError("injected: no licence file at /etc/exploding.lic")

    async def verify(self, context: Any, proposal: str) -> Verdict:  # pragma: no cover
        return Verdict.accept()


def install(root: Path) -> Path:
    """Make ``root`` an importable plug-in distribution (this module, the counting task,
    a broken module); put it on ``PYTHONPATH``."""
    here = Path(__file__).parent
    root.mkdir(parents=True, exist_ok=True)
    for name in ("redraft_faults.py", "redraft_counting.py"):
        shutil.copy(here / name, root / name)
    (root / "redraft_broken_plugin.py").write_text(
        "raise ImportError('redraft_broken_plugin needs libfoo, which is not installed')\n"
    )
    info = root / "redraft_faults-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: redraft-faults\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[redraft.tasks]\ncounting = redraft_counting:CountingTask\n\n"
        "[redraft.backends]\ngated = redraft_faults:gated_backend\n"
        "faulty = redraft_faults:faulty_backend\ncounted = redraft_faults:counted_backend\n\n"
        "[redraft.verifiers]\nfaulty_counting = redraft_faults:FaultyVerifier\n"
        "broken = redraft_broken_plugin:Verifier\nexploding = redraft_faults:ExplodingVerifier\n"
    )
    return root
