"""Suite-wide rules: the developer's loop (``-m "not slow"``) never loads a real engine.

A test that takes a fixture holding a real engine (a llama.cpp model or server, a
transformers model) or a trained testbed model must be marked ``slow``; collection stops,
naming it, if one is not. Tests that start an engine in a subprocess are marked by hand.
"""

from __future__ import annotations

import pytest

ENGINE_FIXTURES = frozenset({
    "smollm2_path", "smollm2_f32_path", "llama_backend", "exact_backend", "llama_server",
    "spare_server", "hf_backend", "testbed_model", "expert", "trained",
})
"""Fixtures that load an engine or train a model (tests/backends, tests/lab, tests/examples)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid for item in items
        if ENGINE_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests load a real engine or train a model but are not marked slow "
            "(@pytest.mark.slow): " + ", ".join(unmarked))
