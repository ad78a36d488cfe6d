"""The distribution installs as redraft.* and never as top-level agent/tools/evals."""

from __future__ import annotations

import subprocess
import sys


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
