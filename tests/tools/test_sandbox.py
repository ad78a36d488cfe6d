"""Hostile programs in the sandbox: each is stopped within its limit, with a verdict that says
so, and leaves the parent and the machine as they were.

Every test runs under both isolations: ``bwrap`` (skipped where bubblewrap cannot start) and
the ``process`` fallback. Limits are small (1 s of CPU, 3 s of wall clock, 256 MiB) so the
whole file takes seconds.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from redraft.core import BadInputError
from redraft.tools import sandbox as sandbox_module
from redraft.tools.sandbox import Sandbox, SandboxLimits, detect_isolation

LIMITS = SandboxLimits(cpu_s=1, timeout_s=3, memory_mb=256, output_kb=256)
SECRET = f"redraft-secret-{uuid.uuid4().hex}"


def _bwrap_works() -> bool:
    info, _ = detect_isolation(limits=LIMITS)
    return info.isolation == "bwrap"


ISOLATIONS = [
    pytest.param("bwrap", marks=pytest.mark.skipif(
        not _bwrap_works(), reason="bubblewrap cannot start here")),
    "process",
]


@pytest.fixture(params=ISOLATIONS)
def box(request: pytest.FixtureRequest) -> Sandbox:
    return Sandbox(request.param, LIMITS)


def _harnesses() -> int:
    """Processes still running a sandbox harness (its source is in their command line)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if b"_Reporter" in (entry / "cmdline").read_bytes():
                count += 1
        except OSError:
            continue
    return count


@pytest.fixture(autouse=True)
def nothing_left_running() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 3
    while _harnesses() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _harnesses() == 0, "a sandboxed process outlived its run"


def test_a_good_program_passes_and_a_wrong_one_is_told_why(box: Sandbox) -> None:
    good = box.run("def add(a, b):\n    return a + b\n", ["assert add(1, 2) == 3"])
    assert (good.outcome, good.passed, good.total) == ("passed", 1, 1)
    bad = box.run("def add(a, b):\n    return a - b\n",
                  ["assert add(1, 1) == 0", "assert add(2, 3) == 5"])
    assert (bad.outcome, bad.passed) == ("test_failed", 1)
    assert "test 2: assert add(2, 3) == 5" in bad.message
    assert "add(2, 3) returned -1, expected 5" in bad.message


@pytest.mark.slow
def test_an_endless_loop_stops_at_the_cpu_limit(box: Sandbox) -> None:
    result = box.run("while True:\n    pass\n", [])
    assert result.outcome == "time_limit"
    # Its 1 s of CPU comes first on a machine with a core to spare; on one whose cores are
    # taken (load 6 on 2 cores was measured here), the 3 s of wall clock may come first.
    assert "CPU time" in result.message or "wall-clock limit" in result.message
    assert result.seconds < LIMITS.timeout_s + 2


@pytest.mark.slow
def test_a_sleeper_stops_at_the_wall_clock_limit(box: Sandbox) -> None:
    result = box.run("import time\ntime.sleep(3600)\n", [])
    assert result.outcome == "time_limit"
    assert "wall-clock limit of 3 s" in result.message
    assert result.seconds < LIMITS.timeout_s + 2


def test_a_fork_bomb_is_stopped(box: Sandbox) -> None:
    result = box.run("import os\nwhile True:\n    os.fork()\n", [])
    # bwrap: the process limit (counted in the sandbox's own namespace) stops it; the
    # fallback's audit hook refuses the first fork.
    expected = {"bwrap": ("resource_limit", "could not start another process"),
                "process": ("forbidden", "starting or signalling processes is not allowed")}
    outcome, words = expected[box.info.isolation]
    assert result.outcome == outcome
    assert words in result.message
    assert result.seconds < 5


def test_a_10_gb_allocation_is_refused(box: Sandbox) -> None:
    result = box.run("block = bytearray(10 * 1024 ** 3)\n", [])
    assert result.outcome == "resource_limit"
    assert "ran out of memory (limit 256 MB)" in result.message
    grow = box.run("chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 7))\n", [])
    assert grow.outcome == "resource_limit"


def test_writing_outside_its_folder_is_refused(box: Sandbox, tmp_path: Path) -> None:
    outside = tmp_path / "escaped.txt"
    for target in (outside, Path("/tmp") / f"redraft-escape-{uuid.uuid4().hex}"):
        result = box.run(f"open({str(target)!r}, 'w').write('out')\n", [])
        assert result.outcome == "forbidden", result.message
        assert not target.exists()
    inside = box.run("open('mine.txt', 'w').write('in')\nassert open('mine.txt').read() == 'in'\n",
                     [])
    assert inside.outcome == "passed"


def test_a_socket_gets_nowhere(box: Sandbox) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(server.accept())
            except TimeoutError:
                continue

    listener = threading.Thread(target=accept)
    listener.start()
    try:
        result = box.run(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n", [])
    finally:
        done.set()
        listener.join()
        server.close()
    assert result.outcome == "forbidden"
    assert "network" in result.message
    assert not accepted


def test_the_parents_environment_does_not_reach_the_program(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDRAFT_TEST_SECRET", SECRET)
    env = box.run("import os\nprint(sorted(os.environ))\nprint(os.environ.get("
                  "'REDRAFT_TEST_SECRET'))\n", [])
    assert env.outcome == "passed"
    assert SECRET not in env.stdout
    assert set(eval(env.stdout.splitlines()[0])) <= {"PATH", "HOME", "LANG", "PWD"}
    proc = box.run("import os\nprint(open(f'/proc/{os.getppid()}/environ').read())\n", [])
    assert proc.outcome == "forbidden"
    assert SECRET not in proc.stdout + proc.stderr + proc.message


def test_printing_100_mb_is_cut_off(box: Sandbox) -> None:
    result = box.run("import sys\nsys.stdout.write('x' * 100_000_000)\n", [])
    assert result.outcome == "resource_limit"
    assert "printed more than 256 KiB" in result.message
    assert len(result.stdout) <= 2000
    assert result.seconds < 5


def test_an_early_exit_is_not_a_pass(box: Sandbox) -> None:
    quit_ = box.run("import os\nos._exit(0)\n", ["assert True"])
    assert quit_.outcome == "runtime_error"
    assert "before its tests finished" in quit_.message
    called = box.run("import sys\nsys.exit(0)\n", ["assert True"])
    assert called.outcome == "runtime_error"
    syntax = box.run("def f(:\n", ["assert f()"])
    assert syntax.outcome == "invalid_syntax"


def test_an_answer_equal_to_anything_fails_its_equality_tests(box: Sandbox) -> None:
    # The reward hack of code benchmarks: an object whose __eq__ always says yes passes every
    # `assert f(x) == y`. Each test here would pass on plain ==.
    hacks = {
        "class A:\n    def __eq__(self, other):\n        return True\n"
        "def add(a, b):\n    return A()\n": "a A says it equals anything",
        "class N(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return N(0)\n": "a N says it equals anything",
        "class A:\n    __eq__ = lambda self, other: True\n"
        "def add(a, b):\n    return [A()]\n": "a A says it equals anything",
    }
    for program, why in hacks.items():
        tests = ["assert add(1, 2) == 3", "assert 3 == add(1, 2)"]
        if "[A()]" in program:
            tests = ["assert add(1, 2) == [3]"]
        result = box.run(program, tests)
        assert (result.outcome, result.passed) == ("test_failed", 0), program
        assert why in result.message
    # A class with a real __eq__ is compared as it says; other asserts are as written.
    point = ("from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\n"
             "def mid(a, b):\n    return P((a.x + b.x) // 2)\n")
    fair = box.run(point, ["assert mid(P(0), P(4)) == P(2)", "assert mid(P(0), P(4)) != P(3)",
                           "assert (mid(P(0), P(2)) == P(1)) is True", "assert 1.5 == 3 / 2"])
    assert (fair.outcome, fair.passed, fair.total) == ("passed", 4, 4)
    wrong = box.run(point, ["assert mid(P(0), P(4)) == P(3)"])
    assert wrong.outcome == "test_failed" and "returned P(x=2), expected P(x=3)" in wrong.message


# Finds the tests in its process's memory and answers what they expect.
_PEEKER = """
import gc, re

def _expected(call):
    for holder in gc.get_objects():
        texts = holder.values() if isinstance(holder, dict) else holder \\
            if isinstance(holder, (list, tuple)) else ()
        for text in texts:
            if isinstance(text, str) and call in text:
                found = re.search(re.escape(call) + r' == (.+)', text)
                if found:
                    return eval(found.group(1).splitlines()[0])
    return None

def add(a, b):
    return _expected(f'add({a}, {b})')
"""

# Looks for the harness's reporter up the stack and says every test passed.
_FORGER = """
import os, sys
frame = sys._getframe()
while frame is not None:
    report = frame.f_locals.get('report')
    if callable(report):
        report('done', results=[{'outcome': 'passed'}] * 2)
        os._exit(0)
    frame = frame.f_back

def add(a, b):
    return a - b
"""


def test_a_program_cannot_see_what_a_judged_test_expects_nor_report_for_it(
    box: Sandbox,
) -> None:
    # `assert add(1, 2) == 3`: the parent computes 3 and compares; the program's process
    # never holds the tests, so reading them from memory finds nothing.
    peek = box.run(_PEEKER, ["assert add(1, 2) == 3", "assert add(2, 2) == 2 * 2"])
    assert (peek.outcome, peek.passed) == ("test_failed", 0), peek.message
    assert "add(1, 2) returned None, expected 3" in peek.message
    # A test the parent cannot judge (not `X == Y` alone) runs in the program's process,
    # as before: there the same trick still works (the docs say so).
    assert box.run(_PEEKER, ["assert add(1, 2) == 3 or add is None"]).outcome == "passed"
    forged = box.run(_FORGER, ["assert add(1, 2) == 3", "assert add(2, 2) == 4"])
    assert (forged.outcome, forged.passed) == ("test_failed", 0), forged.message


@pytest.mark.skipif(not _bwrap_works(), reason="bubblewrap cannot start here")
def test_with_a_process_limit_of_1_one_process_runs_program_and_tests() -> None:
    # The harness cannot fork (bwrap runs it as an unprivileged user, so the limit holds):
    # the same requests run in its own process, with the same verdicts, and a program can
    # then read its tests (the README says so).
    box = Sandbox("bwrap", LIMITS.model_copy(update={"processes": 1}))
    bad = box.run("def add(a, b):\n    return a - b\n",
                  ["assert add(1, 1) == 0", "assert add(2, 3) == 5"])
    assert (bad.outcome, bad.passed) == ("test_failed", 1)
    assert "add(2, 3) returned -1, expected 5" in bad.message
    loop = box.run("while True:\n    pass\n", [])
    assert loop.outcome == "time_limit" and "CPU time" in loop.message
    assert box.run(_PEEKER, ["assert add(1, 2) == 3"]).outcome == "passed"


def test_a_judged_test_compares_plain_data_as_python_does(box: Sandbox) -> None:
    program = ("from fractions import Fraction\n"
               "def half(x):\n    return Fraction(x, 2)\n"
               "def evens(n):\n    return [i for i in range(n) if i % 2 == 0]\n"
               "def nothing():\n    return object()\n"
               "def power(n):\n    return 7 ** n\n"
               "def boom():\n    raise ValueError('no')\n")
    fine = box.run(program, ["assert half(3) == 1.5", "assert evens(5) == sorted([4, 0, 2])",
                             "assert power(6000) == 7 ** 6000",  # 5,071 digits
                             "assert (0, 2) != tuple(evens(4)) or True",
                             "assert evens(3) == [0, 2], 'two evens'"])
    assert (fine.outcome, fine.passed) == ("passed", 5), fine.message
    wrong = box.run(program, ["assert evens(3) == (0, 2), 'a tuple'"])
    assert wrong.outcome == "test_failed"
    assert "AssertionError: a tuple" in wrong.message
    assert "evens(3) returned [0, 2], expected (0, 2)" in wrong.message
    opaque = box.run(program, ["assert nothing() == 3"])
    assert opaque.outcome == "test_failed" and "returned a object, which is not plain" in \
        opaque.message
    raised = box.run(program, ["assert boom() == 1"])
    assert raised.outcome == "runtime_error" and "ValueError: no" in raised.message
    assert "boom" in raised.trace


def test_a_missing_bubblewrap_falls_back_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox_module, "_detected", {})
    info, why = detect_isolation(limits=LIMITS)
    assert info.isolation == "process"
    assert "bubblewrap (bwrap) is not installed" in why
    assert "bwrap not used" in info.detail
    with pytest.raises(BadInputError, match="sandbox bwrap is not available"):
        Sandbox("bwrap", LIMITS)


def test_an_interpreter_that_is_not_there_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="not available"):
        Sandbox("process", LIMITS, interpreter="/nonexistent/python3")
