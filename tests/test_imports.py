"""The walls between the rooms and between the packages.

- Imports flow one way: ``redraft.core`` <- ``redraft.tools`` <- ``redraft.agent`` <-
  ``redraft.evals`` <- ``redraft.lab`` (the study); the framework never imports the study.
- A private module or name (``_x``) is private to the package that holds it: no module of
  another package imports it, however deep (STYLE.md, convention 10). A subpackage may use
  its parent's private modules (``redraft.agent.backends`` may import ``redraft.agent._x``).
- The study, ``bench/`` and ``examples/`` use public names only: they stand where a user
  stands.

Read from the source with ``ast`` (no import runs), so a lazy import inside a function
counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORK = ("core", "agent", "tools", "evals")
"""The framework's folders (redraft.core, redraft.agent, redraft.tools, redraft.evals)."""
PACKAGE_DIR: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
    "setuptools"
]["package-dir"]
"""Import name -> folder, as pyproject maps them."""
USERS = ("bench", "examples")
"""Folders that stand where a user stands: public names only."""


def module_name(path: Path) -> tuple[str, str]:
    """The module ``path`` installs as, and the package it belongs to."""
    for package, folder in PACKAGE_DIR.items():
        base = ROOT / folder
        if path.is_relative_to(base):
            parts = path.relative_to(base).with_suffix("").parts
            inside = parts[:-1]
            name = ".".join((package, *parts)) if parts[-1] != "__init__" else ".".join(
                (package, *inside)
            )
            return name, ".".join((package, *inside))
    return path.stem, ""


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Every module name ``path`` imports (``from a import b`` gives ``a`` and ``a.b``).

    Relative imports are resolved against the module's own package.
    """
    _, package = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def private_owner(name: str) -> str | None:
    """The package that owns the first private part of ``name``, or None if all are public."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def test_the_framework_imports_nothing_of_the_study() -> None:
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sources(*FRAMEWORK) for line, name in imported(path)
             if name == "redraft.lab" or name.startswith("redraft.lab.")]
    assert found == []


LAYERS = ("core", "tools", "agent", "evals", "lab")
"""The packages from the bottom up: each may import those below it, none above."""


def test_imports_flow_one_way() -> None:
    found = []
    for rank, layer in enumerate(LAYERS):
        above = {f"redraft.{name}" for name in LAYERS[rank + 1:]}
        for path in sources(layer):
            for line, name in imported(path):
                if ".".join(name.split(".")[:2]) in above:
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert found == []


def test_no_package_imports_another_packages_private_modules_or_names() -> None:
    found = []
    for path in sources(*PACKAGE_DIR.values()):
        _, package = module_name(path)
        for line, name in imported(path):
            owner = private_owner(name)
            if owner is None or not owner.startswith("redraft"):
                continue
            if package != owner and not package.startswith(owner + "."):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert found == []


def test_the_study_imports_only_the_frameworks_public_names() -> None:
    found = []
    for path in sources("lab"):
        for line, name in imported(path):
            parts = name.split(".")
            if parts[:1] != ["redraft"] or parts[1:2] == ["lab"]:
                continue
            if private_owner(name) is not None:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert found == []


@pytest.mark.parametrize("folder", USERS)
def test_benchmarks_and_examples_import_only_public_names(folder: str) -> None:
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sources(folder) for line, name in imported(path)
             if name.startswith("redraft.") and private_owner(name) is not None]
    assert found == []


def test_the_check_sees_what_it_must() -> None:
    """The rules above catch the shapes of import they are meant to (a guard on the guard)."""
    assert private_owner("redraft.agent.backends._contention.cpus") == "redraft.agent.backends"
    assert private_owner("redraft.agent._graph") == "redraft.agent"
    assert private_owner("redraft.evals.report._COLOURS") == "redraft.evals.report"
    assert private_owner("redraft.agent.__version__") is None
    name, package = module_name(ROOT / "evals" / "tasks" / "chess.py")
    assert (name, package) == ("redraft.evals.tasks.chess", "redraft.evals.tasks")
    name, package = module_name(ROOT / "agent" / "backends" / "__init__.py")
    assert (name, package) == ("redraft.agent.backends", "redraft.agent.backends")
