"""The distribution installs as redraft.* and never as top-level agent/tools/evals.

The wheel tests build the wheel, install it without ``-e`` and use it from a child
interpreter that cannot see the editable install: CI installs with ``-e``, which would hide
a package left out of the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("core", "agent", "tools", "evals", "lab")
"""The source folders; setuptools maps each onto ``redraft.<folder>`` (lab: the study)."""


def test_only_the_redraft_namespace_is_importable(tmp_path: object) -> None:
    code = (
        "import importlib.util, redraft.agent, redraft.tools, redraft.evals\n"
        "print([n for n in ('agent', 'tools', 'evals') if importlib.util.find_spec(n)])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_tools_does_not_import_agent_or_evals(tmp_path: object) -> None:
    code = "import sys, redraft.tools; print(sorted(m for m in sys.modules if 'redraft.' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, check=True
    )
    assert "redraft.agent" not in out.stdout and "redraft.evals" not in out.stdout


def test_the_core_imports_no_other_redraft_package(tmp_path: object) -> None:
    code = "import sys, redraft.core; print(sorted(m for m in sys.modules if 'redraft.' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, check=True
    )
    assert all(name.startswith("redraft.core") for name in eval(out.stdout)), out.stdout


# -- the wheel ------------------------------------------------------------------------------


def source_packages() -> list[str]:
    """Every package of the source tree, by the name it installs under."""
    names = []
    for folder in FOLDERS:
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            parts = init.parent.relative_to(ROOT).parts
            if "__pycache__" not in parts:
                names.append(".".join(("redraft", *parts)))
    return names


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the sources, installed (no -e) into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so that the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in FOLDERS:
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    # A checkout of its own, so the wheel records the commit it was built from.
    git = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "commit", "-q", "-m", "wheel test"]):
        run(argv, env=git, cwd=source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # No build isolation: the build uses this environment's setuptools (extra dev), offline.
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist")]
    run([*build, str(source)])
    wheels = list((work / "dist").glob("redraft-*.whl"))
    assert len(wheels) == 1, wheels
    target = work / "site"
    run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheels[0])])
    return target


def run(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, env=env, cwd=cwd
    )
    assert done.returncode == 0, f"{argv}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


def wheel_python(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python on the installed wheel plus this environment's dependencies.

    ``-S`` skips ``site``, so no ``.pth`` file runs: the editable install's finder (the
    ``__editable__*.pth`` hook that maps redraft.* onto the checkout) is never installed.
    The dependencies come from this environment's site-packages, on PYTHONPATH.
    """
    path = [str(target), *site.getsitepackages()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return run([sys.executable, "-S", *args], env=env, cwd=target.parent)


def test_the_wheel_holds_every_package_and_only_redraft(wheel_site: Path) -> None:
    packages = source_packages()
    assert "redraft.lab.findings" in packages  # the one a hand-kept list once left out
    code = (
        "import importlib, json, sys\n"
        "files = {n: importlib.import_module(n).__file__ for n in json.loads(sys.argv[1])}\n"
        "hooks = [repr(f) for f in sys.meta_path if 'editable' in repr(f)]\n"
        "print(json.dumps({'files': files, 'hooks': hooks}))\n"
    )
    out = json.loads(wheel_python(wheel_site, "-c", code, json.dumps(packages)).stdout)
    assert out["hooks"] == []
    for name, file in out["files"].items():
        assert Path(file).is_relative_to(wheel_site), f"{name} came from {file}, not the wheel"
    installed = {p.name for p in wheel_site.iterdir() if not p.name.endswith(".dist-info")}
    assert installed == {"bin", "redraft"}, installed  # no top-level agent, tools or evals
    for folder in FOLDERS:
        assert (wheel_site / "redraft" / folder / "py.typed").is_file()


def test_a_wheel_built_from_a_checkout_says_which_commit_it_is(wheel_site: Path) -> None:
    source = wheel_site.parent / "source"
    head = run(["git", "rev-parse", "--short=12", "HEAD"], cwd=source).stdout.strip()
    code = ("from redraft.lab.findings._machine import commit_record\n"
            "print(commit_record())\n")
    assert wheel_python(wheel_site, "-c", code).stdout.strip() == f"built from commit {head}"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ([], "usage: redraft"),
        (["findings"], "usage: redraft findings"),
        (["train"], "usage: redraft train"),
    ],
    ids=["redraft", "findings", "train"],
)
def test_the_wheels_command_runs(wheel_site: Path, command: list[str], expected: str) -> None:
    # The console script pip wrote from the wheel's entry point, run on the wheel alone.
    out = wheel_python(wheel_site, str(wheel_site / "bin" / "redraft"), *command, "--help")
    assert expected in out.stdout


def test_the_wheel_holds_the_report_templates(wheel_site: Path) -> None:
    # Package data, not code: an import test would not notice it missing.
    code = ("from redraft.evals.report._html import _TEMPLATES\n"
            "print(_TEMPLATES.get_template('report.html.j2').filename)\n")
    out = wheel_python(wheel_site, "-c", code).stdout.strip()
    assert Path(out).is_relative_to(wheel_site), out
