"""The walls between the rooms: the framework never imports the study, and the study uses
only what the framework's packages export.

Read from the source with ``ast`` (no import runs), so a lazy import inside a function
counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORK = ("agent", "tools", "evals")
"""The framework's folders (redraft.agent, redraft.tools, redraft.evals)."""


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Every module name ``path`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_the_framework_imports_nothing_of_the_study() -> None:
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sources(*FRAMEWORK) for line, name in imported(path)
             if name == "redraft.lab" or name.startswith("redraft.lab.")]
    assert found == []


def test_the_study_imports_only_the_frameworks_public_names() -> None:
    found = []
    for path in sources("lab"):
        for line, name in imported(path):
            parts = name.split(".")
            if parts[:1] != ["redraft"] or parts[1:2] == ["lab"]:
                continue
            if any(part.startswith("_") and not part.startswith("__") for part in parts):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert found == []
