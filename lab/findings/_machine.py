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

__all__ = ["commit_record", "machine_record"]


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


def commit_record(lab: Path | None = None) -> str:
    """Which commit this redraft is.

    Read from the file a wheel built from a checkout carries (``redraft/lab/_commit.txt``,
    :mod:`redraft.lab._build`), else from git in an editable checkout, else unknown.
    """
    # The same git calls as lab/_build.py's source_commit, kept apart on purpose:
    # setuptools loads that module as a lone file (no package to import from), and this
    # one must not import setuptools at run time.
    lab = lab or Path(__file__).resolve().parents[1]
    built = lab / "_commit.txt"  # first: an installed copy may sit inside another checkout
    if built.is_file():
        return f"built from commit {built.read_text(encoding='utf-8').strip()}"
    try:
        done = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=lab,
                              capture_output=True, text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=lab, capture_output=True, text=True, timeout=10,
                               check=False)
        if done.returncode == 0 and done.stdout.strip():
            changes = " (with uncommitted changes)" if dirty.stdout.strip() else ""
            return f"commit {done.stdout.strip()}{changes} (a checkout)"
    except (OSError, subprocess.SubprocessError):
        pass
    return "commit unknown (installed from a source without git)"


def machine_record(*, threads: int, wait_policy: str | None = None,
                   load_before: tuple[float, float, float] | None = None
                   ) -> dict[str, JsonValue]:
    """The machine, its load, and the versions this process runs with.

    Args:
        threads: the torch threads of the training stacks.
        wait_policy: how torch's OpenMP threads waited while training.
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
        "wait_policy": wait_policy,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": _torch(),
        "transformers": _version("transformers"),
        "llama_cpp_python": _version("llama_cpp_python"),
        "redraft": _version("redraft"),
        "redraft_commit": commit_record(),
        "load_average_before": [round(x, 2) for x in load_before] if load_before else None,
        "load_average_after": load_after,
    }
