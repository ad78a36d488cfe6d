"""What a findings run ran on: machine, load and library versions, read at run time.

Recorded in ``meta.json`` and printed on the page, so a regenerated page never carries
another machine's description (nothing here is written by hand).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from pydantic import JsonValue

__all__ = ["machine_record"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _torch() -> dict[str, JsonValue]:
    try:
        import torch
    except ImportError:
        return {"version": None}
    cuda = torch.version.cuda
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"version": torch.__version__, "build": f"CUDA {cuda}" if cuda else "CPU",
            "threads": torch.get_num_threads(), "gpu": gpu}


def _commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here,
                              capture_output=True, text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=10,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def machine_record(*, threads: int, jobs: int = 1,
                   load_before: tuple[float, float, float] | None = None
                   ) -> dict[str, JsonValue]:
    """The machine, its load, and the versions this process runs with.

    Args:
        threads: the torch threads of each training process.
        jobs: the models trained at once.
        load_before: ``os.getloadavg()`` when the run began (the end's is read here).
    """
    try:
        load_after: list[JsonValue] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load_after = []
    return {
        "cpu": _cpu_model(),
        "cores_visible": os.cpu_count(),
        "threads_asked": threads,
        "training_jobs": jobs,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": _torch(),
        "transformers": _version("transformers"),
        "llama_cpp_python": _version("llama_cpp_python"),
        "redraft": _version("redraft"),
        "redraft_commit": _commit(),
        "load_average_before": [round(x, 2) for x in load_before] if load_before else None,
        "load_average_after": load_after,
    }
