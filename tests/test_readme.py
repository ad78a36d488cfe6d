"""The README's Python examples run as tests."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_readme_has_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("block", [
    # An example on the embedded model loads llama.cpp: the slow loop's.
    pytest.param(block, id=f"block{i}", marks=[pytest.mark.slow] if "llamacpp/" in block else [])
    for i, block in enumerate(BLOCKS)
])
def test_readme_example_runs(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run as a module of its own, as a user's file would be: LangGraph reads a state's type
    # hints through its module.
    module = types.ModuleType("__readme__")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, str(README), "exec"), module.__dict__)
