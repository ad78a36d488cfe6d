"""Running one program and its tests in a sandbox: the launch, the pipes, the verdict.

The isolation itself (which command starts the harness, as whom) is decided in
:mod:`redraft.tools.sandbox`; this module starts it, feeds it its spec, drains its output
within the output limit, stops it at the wall-clock limit and reads the harness's reports
into a :class:`ProgramResult`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from redraft.core import RedraftError

__all__ = [
    "ENV",
    "Isolation",
    "Launch",
    "ProgramOutcome",
    "ProgramResult",
    "SandboxError",
    "SandboxLimits",
    "execute",
]

Isolation = Literal["bwrap", "process"]
"""How a program is isolated: bubblewrap namespaces, or a plain limited child process."""

ProgramOutcome = Literal[
    "passed", "test_failed", "runtime_error", "time_limit", "resource_limit", "forbidden",
    "invalid_syntax",
]
"""What running a program against its tests came to (the verdict codes, ``passed`` aside)."""

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/work", "LANG": "C.UTF-8"}
"""The whole environment a program gets."""
_TAIL = 2000


class SandboxError(RedraftError):
    """The sandbox itself failed (it did not start, or broke its protocol).

    Not the program's fault: a verifier records it as ``verifier_error``, an oracle as
    unknown.
    """


class SandboxLimits(BaseModel):
    """What one run of a program may use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_s: float = Field(3.0, gt=0)
    """CPU seconds (an endless loop stops here, however busy the machine)."""
    timeout_s: float = Field(10.0, gt=0)
    """Wall-clock seconds (a program that sleeps or blocks stops here)."""
    memory_mb: int = Field(512, ge=64)
    """Address space in MiB (an allocation past it raises ``MemoryError``)."""
    file_mb: int = Field(16, ge=1)
    """The largest file the program may write, in MiB."""
    folder_mb: int = Field(64, ge=1)
    """The size of its folder, in MiB (``bwrap``: a tmpfs of that size)."""
    processes: int = Field(16, ge=1)
    """Processes and threads it may have at once (``bwrap``: counted in its own namespace)."""
    output_kb: int = Field(1024, ge=1)
    """stdout and stderr together, in KiB; past it the program is stopped."""


class ProgramResult(BaseModel):
    """What running a program against its tests came to."""

    model_config = ConfigDict(frozen=True)

    outcome: ProgramOutcome
    """``passed`` (every test), or the first failure's kind."""
    message: str = ""
    """What happened, for a person or a model: the failing test and why."""
    passed: int = 0
    """Tests passed."""
    total: int = 0
    """Tests run or due."""
    failed_test: str | None = None
    """The source of the first test that did not pass (None: the program itself failed)."""
    trace: str = ""
    """The end of the traceback (the program's and the tests' frames only)."""
    stdout: str = ""
    """The end of what the program printed."""
    stderr: str = ""
    """The end of its standard error."""
    seconds: float = 0.0
    """Wall-clock time of the run."""
    isolation: Isolation = "process"
    """The isolation it ran in."""


def _harness_source() -> str:
    return files("redraft.tools").joinpath("_harness.py").read_text(encoding="utf-8")


class Launch(BaseModel):
    """How to start one run: the command, as whom, in which folder."""

    model_config = ConfigDict(frozen=True)

    argv: list[str]
    """The command that starts the interpreter (bwrap and its options, or the interpreter)."""
    user: int | None = None
    """The user to run as (None: this one)."""
    folder: bool = False
    """Run in a fresh temporary folder (``process``); ``bwrap`` brings its own."""
    audit: bool = False
    """Install the harness's audit hook (the fallback's only guard against writes outside
    the folder, the network and new processes)."""


def _chunks(fd: int) -> Iterator[bytes]:
    """What ``fd`` gives until its end (or a read error: the other end went away)."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        yield chunk


class _Pipe(threading.Thread):
    """Drains one pipe, keeping its head and tail, counting what went past."""

    def __init__(self, fd: int, shared: list[int], cap: int, over: threading.Event) -> None:
        super().__init__(daemon=True)
        self.fd, self.shared, self.cap, self.over = fd, shared, cap, over
        self.data = bytearray()

    def run(self) -> None:
        for chunk in _chunks(self.fd):
            self.shared[0] += len(chunk)
            self.data += chunk
            if len(self.data) > 4 * _TAIL:
                del self.data[: len(self.data) - 2 * _TAIL]
            if self.shared[0] > self.cap:
                self.over.set()
        os.close(self.fd)

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")[-_TAIL:]


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def execute(
    launch: Launch, program: str, tests: list[str], limits: SandboxLimits, isolation: Isolation
) -> ProgramResult:
    nonce = secrets.token_hex(16)
    # Two parts: the harness forks after the first, so the program's process never holds
    # the second (the tests, the nonce, the report's descriptor).
    first = json.dumps({"program": program, "audit": launch.audit,
                        "limits": limits.model_dump()}).encode("utf-8")
    second: dict[str, Any] = {"nonce": nonce, "tests": tests}
    folder = tempfile.mkdtemp(prefix="redraft-run-") if launch.folder else None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    started = time.perf_counter()
    try:
        argv = [*launch.argv, "-I", "-S", "-B", "-X", "utf8", "-c", _harness_source()]
        second["fd"] = res_w  # the harness reports there (the number is kept in the child)
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=out_w, stderr=err_w, pass_fds=(res_w,),
            cwd=folder or "/", env=dict(ENV), start_new_session=True,
            user=launch.user, group=launch.user, extra_groups=[] if launch.user else None,
        )
    except OSError as exc:
        for fd in (out_r, out_w, err_r, err_w, res_r, res_w):
            os.close(fd)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise SandboxError(f"could not start {launch.argv[0]}: {exc}") from exc
    for fd in (out_w, err_w, res_w):
        os.close(fd)
    over = threading.Event()
    shared = [0]
    cap = limits.output_kb * 1024
    pipes = [_Pipe(out_r, shared, cap, over), _Pipe(err_r, shared, cap, over)]
    events = _Events(res_r, nonce)
    for thread in (*pipes, events):
        thread.start()
    try:
        if process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(b"%d\n" % len(first) + first
                                    + json.dumps(second).encode("utf-8"))
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
        stop = _watch(process, limits, over, events, started)
        if stop == "reported":  # the harness exits at once after its last report
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)
    finally:
        _kill(process)
        process.wait()
        for thread in (*pipes, events):
            thread.join(timeout=5)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    return _result(process.returncode, stop, events, pipes, tests, limits, isolation,
                   time.perf_counter() - started)


class _Events(threading.Thread):
    """Reads the harness's reports (lines prefixed by the nonce) from its pipe."""

    def __init__(self, fd: int, nonce: str) -> None:
        super().__init__(daemon=True)
        self.fd, self.nonce = fd, nonce
        self.ready = False
        self.current: int | None = None
        self.final: dict[str, Any] | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        buffer = b""
        for chunk in _chunks(self.fd):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self._take(line.decode("utf-8", "replace"))
            if len(buffer) > 1 << 22:  # not the harness: a program writing to fd 3
                break
        os.close(self.fd)
        self.finished.set()

    def _take(self, line: str) -> None:
        nonce, _, body = line.partition(" ")
        if nonce != self.nonce or self.final is not None:
            return
        try:
            event = json.loads(body)
        except ValueError:
            return
        kind = event.get("kind")
        if kind == "ready":
            self.ready = True
        elif kind == "start":
            self.current = int(event.get("index", -1))
        elif kind in ("done", "stopped"):
            self.final = event
            self.finished.set()


def _watch(process: subprocess.Popen[bytes], limits: SandboxLimits, over: threading.Event,
           events: _Events, started: float) -> str:
    """Wait for the run to end; why it ended: ``exit``, ``reported``, ``output``, ``wall``."""
    deadline = started + limits.timeout_s
    while True:
        if over.is_set():
            return "output"
        if events.final is not None:
            return "reported"
        if process.poll() is not None:
            events.finished.wait(timeout=2)  # the last report may still be in the pipe
            return "reported" if events.final is not None else "exit"
        if time.perf_counter() >= deadline:
            return "wall"
        events.finished.wait(timeout=0.02)


def _which(tests: list[str], index: int | None) -> str:
    if index is None:
        return " while starting"
    if index < 0:
        return " while the program itself ran (before any test)"
    return f" in test {index + 1}: {tests[index].strip()[:300]}"


def _result(rc: int | None, stop: str, events: _Events, pipes: list[_Pipe], tests: list[str],
            limits: SandboxLimits, isolation: Isolation, seconds: float) -> ProgramResult:
    base: dict[str, Any] = {"total": len(tests), "stdout": pipes[0].text(),
                            "stderr": pipes[1].text(), "seconds": seconds,
                            "isolation": isolation}
    final = events.final
    if stop == "output":
        return ProgramResult(outcome="resource_limit", message=(
            f"printed more than {limits.output_kb} KiB{_which(tests, events.current)}"), **base)
    if final is not None and final.get("kind") == "done":
        return _tested(final.get("results") or [], tests, base)
    if final is not None:
        index = events.current
        outcome = final.get("outcome", "runtime_error")
        where = "" if outcome == "invalid_syntax" else _which(tests, index)
        return ProgramResult(
            outcome=outcome, message=f"{final.get('message', '')}{where}",
            failed_test=tests[index] if index is not None and 0 <= index < len(tests) else None,
            trace=str(final.get("trace", "")), **base)
    if not events.ready:
        raise SandboxError(f"the sandbox did not start (exit status {rc}): "
                           f"{pipes[1].text()[-500:].strip() or 'no message'}")
    where = _which(tests, events.current)
    if stop == "wall":
        return ProgramResult(outcome="time_limit", message=(
            f"ran past its wall-clock limit of {limits.timeout_s:g} s{where}"), **base)
    signum = -rc if rc is not None and rc < 0 else (rc - 128 if rc and rc > 128 else None)
    if signum in (signal.SIGXCPU, signal.SIGKILL):
        return ProgramResult(outcome="time_limit", message=(
            f"was stopped at its CPU-time limit of {limits.cpu_s:g} s{where}"), **base)
    how = f"was killed by signal {signum}" if signum else f"exited (status {rc})"
    return ProgramResult(outcome="runtime_error",
                         message=f"{how} before its tests finished{where}", **base)


def _tested(results: list[dict[str, Any]], tests: list[str], base: dict[str, Any]
            ) -> ProgramResult:
    passed = sum(1 for r in results if r.get("outcome") == "passed")
    failed = [(i, r) for i, r in enumerate(results) if r.get("outcome") != "passed"]
    if not failed:
        return ProgramResult(outcome="passed", passed=passed, message=(
            f"all {passed} tests passed"), **base)
    index, first = failed[0]
    explained = f"\n{first['explained']}" if first.get("explained") else ""
    return ProgramResult(
        outcome=first.get("outcome", "runtime_error"), passed=passed,
        message=(f"{len(failed)} of {len(tests)} tests failed; the first, test {index + 1}: "
                 f"{tests[index].strip()[:300]}\n{first.get('message', '')}{explained}"),
        failed_test=tests[index], trace=str(first.get("trace", "")), **base)
