"""At build time: record the commit a wheel is built from (``redraft/lab/_commit.txt``).

Setuptools runs :class:`BuildPy` (``[tool.setuptools.cmdclass]`` in pyproject.toml) when it
builds a wheel or a non-editable install, from the project root, where this module imports
as ``lab._build``. When the source tree is a git checkout, the commit (and whether tracked
files had uncommitted changes) is written beside the built package, so a pip-installed
copy can say which commit it is (:mod:`redraft.lab.findings._machine`); an editable install
reads git directly. Nothing at run time imports this module.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from setuptools.command.build_py import build_py  # type: ignore[import-untyped]

COMMIT_FILE = "_commit.txt"


def source_commit(root: Path) -> str | None:
    """``COMMIT`` or ``COMMIT (with uncommitted changes)`` of a checkout; None elsewhere."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0 or not head.stdout.strip():
        return None
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


class BuildPy(build_py):  # type: ignore[misc]  # setuptools ships no stubs here
    """``build_py`` that also writes the source checkout's commit into ``redraft/lab``."""

    def run(self) -> None:
        """Build as setuptools does, then record the commit (if the source is a checkout)."""
        super().run()
        commit = source_commit(Path.cwd())
        if commit is not None:
            target = Path(self.build_lib) / "redraft" / "lab" / COMMIT_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(commit + "\n", encoding="utf-8")
