"""OpenMP's wait policy follows the machine's load when torch loads, as llama.cpp's does."""

from __future__ import annotations

import pytest

from redraft.lab.testbed import _threads
from redraft.lab.testbed._threads import choose_wait_policy


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(_threads, "_torch_loaded", lambda: False)
    monkeypatch.setattr(_threads, "cpus_available", lambda: 2)
    monkeypatch.setattr(_threads, "_chosen", None)


@pytest.mark.usefixtures("no_torch")
def test_a_busy_machine_makes_the_threads_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "sample_runnable", lambda: 1.0)
    assert choose_wait_policy(2).startswith("PASSIVE (busy: 1 other")
    assert _threads.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


@pytest.mark.usefixtures("no_torch")
def test_idle_cores_keep_openmps_spinning_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "sample_runnable", lambda: 0.0)
    assert choose_wait_policy(2) == "default (idle)"
    assert "OMP_WAIT_POLICY" not in _threads.os.environ
    monkeypatch.setattr(_threads, "sample_runnable", lambda: 1.0)
    assert choose_wait_policy(1) == "default (idle)"  # 1 thread and 1 other fit 2 CPUs


@pytest.mark.usefixtures("no_torch")
def test_the_users_policy_and_an_unknown_load_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_threads, "sample_runnable", lambda: None)
    assert choose_wait_policy(2) == "default (load unknown)"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert choose_wait_policy(2) == "kept: ACTIVE (set before torch loaded)"


def test_once_torch_has_loaded_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(_threads, "_chosen", None)
    monkeypatch.setattr(_threads, "_torch_loaded", lambda: True)
    assert choose_wait_policy(2) == "unchanged: torch already loaded"


@pytest.mark.usefixtures("no_torch")
def test_a_later_call_reports_the_policy_torch_loaded_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first call saw idle cores; torch loads spinning. A later call (the next training
    # phase, on a machine now busy, or after llama.cpp set PASSIVE) changes nothing and
    # must not call the policy "the user's".
    monkeypatch.setattr(_threads, "sample_runnable", lambda: 0.0)
    assert choose_wait_policy(2) == "default (idle)"
    monkeypatch.setattr(_threads, "_torch_loaded", lambda: True)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setattr(_threads, "sample_runnable", lambda: 5.0)
    assert choose_wait_policy(2) == "default (idle); torch loaded with it"
