"""Run untrusted Python (a model's code) against tests, isolated and within limits.

Two isolations, chosen once per process (:func:`detect_isolation`) unless asked for by name:

- ``bwrap``: Debian's bubblewrap. The program gets its own user, PID, network, IPC and UTS
  namespaces (no network at all, no other process in sight), a read-only view of ``/usr``
  and the interpreter, an empty private folder (a size-capped tmpfs) as its working
  directory and nothing else of the file system; it dies with its parent. Run as root,
  redraft starts it as the unprivileged user 65534, so that the process limit applies.
- ``process``: the fallback where bubblewrap is missing or cannot start (no user
  namespaces): a plain child process in its own session, in an empty temporary folder,
  with the same limits and a scrubbed environment; an audit hook refuses writes outside its
  folder, ``/proc``, the network and new processes. That stops accidents, not an attacker.

Both: a CPU-time limit (``cpu_s``) and a wall-clock limit (``timeout_s``), an address-space
limit (``memory_mb``), a largest file (``file_mb``), a process count (``processes``), an
output limit on stdout and stderr together (``output_kb``), no core dumps, and only ``PATH``,
``HOME`` and ``LANG`` in the environment. At most ``max(4, 2 x CPUs)`` programs run at once in
a process, so that a batch of runaway programs cannot starve the rest of the machine (nor
hold memory past that many times ``memory_mb``), while a batch of quick ones is not
serialised behind one slow one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from redraft.tools._errors import BadInputError, RedraftError

__all__ = [
    "Isolation",
    "ProgramOutcome",
    "ProgramResult",
    "Sandbox",
    "SandboxError",
    "SandboxInfo",
    "SandboxLimits",
    "detect_isolation",
]

Isolation = Literal["bwrap", "process"]
"""How a program is isolated: bubblewrap namespaces, or a plain limited child process."""

ProgramOutcome = Literal[
    "passed", "test_failed", "runtime_error", "time_limit", "resource_limit", "forbidden",
    "invalid_syntax",
]
"""What running a program against its tests came to (the verdict codes, ``passed`` aside)."""

_NOBODY = 65534
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/work", "LANG": "C.UTF-8"}
_SLOTS = threading.BoundedSemaphore(max(4, 2 * (os.cpu_count() or 2)))
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


class SandboxInfo(BaseModel):
    """Which isolation runs the programs, recorded in a run's manifest and report."""

    model_config = ConfigDict(frozen=True)

    isolation: Isolation
    """``bwrap`` or ``process``."""
    interpreter: str
    """The Python interpreter the programs run on."""
    python: str
    """Its version."""
    detail: str
    """What the isolation gives, or why the fallback was taken."""

    def summary(self) -> str:
        """One line for a report."""
        return f"{self.isolation} (Python {self.python}): {self.detail}"


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


def _world_runnable(path: str) -> bool:
    """Can an unprivileged user run ``path`` (every folder above it searchable)?"""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & stat.S_IXOTH:
            return False
        return all(p.stat().st_mode & stat.S_IXOTH for p in real.parents)
    except OSError:
        return False


def _interpreters() -> list[str]:
    import sys

    found = [os.path.realpath(sys.executable), os.path.realpath(getattr(
        sys, "_base_executable", sys.executable))]
    found += [p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)]
    return list(dict.fromkeys(found))


def _describe(interpreter: str) -> tuple[str, str]:
    """``(prefix, version)`` of an interpreter."""
    done = subprocess.run(
        [interpreter, "-I", "-S", "-c", "import sys; print(sys.prefix); "
         "print(sys.version.split()[0])"],
        capture_output=True, text=True, timeout=30, env=_ENV, check=True,
    )
    prefix, version = done.stdout.split()[:2]
    return prefix, version


def _bwrap_argv(bwrap: str, interpreter: str, prefix: str, folder_mb: int) -> list[str]:
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for key, value in _ENV.items():
        argv += ["--setenv", key, value]
    argv += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/lib", "/lib32", "/lib64", "/sbin"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    real = os.path.realpath(prefix)
    if not real.startswith("/usr/"):
        argv += ["--ro-bind", real, real]
    # /tmp exists but, like everything outside /work, is read-only: a write there is
    # refused (EROFS) rather than sent to a folder that is not there.
    argv += ["--dev", "/dev", "--dir", "/tmp", "--size", str(folder_mb * 1024 * 1024),
             "--tmpfs", "/work", "--chdir", "/work", "--remount-ro", "/"]
    return [*argv, interpreter]


class _Launch(BaseModel):
    """How to start one run: the command, as whom, in which folder."""

    model_config = ConfigDict(frozen=True)

    argv: list[str]
    user: int | None = None
    folder: bool = False
    """Run in a fresh temporary folder (``process``); ``bwrap`` brings its own."""
    audit: bool = False


def _plan(isolation: Isolation, interpreter: str | None, limits: SandboxLimits
          ) -> tuple[_Launch, SandboxInfo]:
    root = os.geteuid() == 0
    if isolation == "process":
        chosen = interpreter or _interpreters()[0]
        _, version = _describe(chosen)
        return (_Launch(argv=[chosen], folder=True, audit=True),
                SandboxInfo(isolation="process", interpreter=chosen, python=version,
                            detail="a child process with limits, an empty folder and a "
                            "scrubbed environment; audit hooks refuse writes outside its "
                            "folder, the network and new processes (not a security boundary)"))
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    candidates = [interpreter] if interpreter else _interpreters()
    usable = [c for c in candidates if not root or _world_runnable(c)]
    if not usable:
        raise SandboxError(
            f"no Python interpreter that user {_NOBODY} may run (tried {', '.join(candidates)})"
        )
    prefix, version = _describe(usable[0])
    launch = _Launch(argv=_bwrap_argv(bwrap, usable[0], prefix, limits.folder_mb),
                     user=_NOBODY if root else None)
    who = f"as user {_NOBODY}" if root else "as this user"
    return launch, SandboxInfo(
        isolation="bwrap", interpreter=usable[0], python=version,
        detail=f"bubblewrap: own user, PID, network, IPC and UTS namespaces, no network, "
        f"read-only system, a {limits.folder_mb} MiB private folder, {who}")


_detected: dict[tuple[str | None, SandboxLimits], tuple[_Launch, SandboxInfo, str]] = {}
_detect_lock = threading.Lock()


def detect_isolation(
    interpreter: str | None = None, limits: SandboxLimits | None = None
) -> tuple[SandboxInfo, str]:
    """The best isolation this machine gives, tried once per process.

    ``bwrap`` if it runs a trivial program, else ``process``. Returns it and, for
    ``process``, why ``bwrap`` was not taken (empty otherwise).
    """
    _, info, why = _detect(interpreter, limits or SandboxLimits())
    return info, why


def _detect(interpreter: str | None, limits: SandboxLimits) -> tuple[_Launch, SandboxInfo, str]:
    key = (interpreter, limits)
    with _detect_lock:
        if key not in _detected:
            try:
                launch, info = _plan("bwrap", interpreter, limits)
                probe = _execute(launch, "print('ok')", [], limits, "bwrap")
                if probe.outcome != "passed" or probe.stdout.strip() != "ok":
                    raise SandboxError(f"a trivial program gave {probe.outcome}: {probe.message}")
                _detected[key] = (launch, info, "")
            except (SandboxError, OSError, subprocess.SubprocessError) as exc:
                launch, info = _plan("process", interpreter, limits)
                _detected[key] = (launch, info.model_copy(update={
                    "detail": f"{info.detail}; bwrap not used: {exc}"[:600]}), str(exc))
        return _detected[key]


class Sandbox:
    """Runs programs against tests in one isolation, within :class:`SandboxLimits`.

    Args:
        isolation: ``auto`` (``bwrap`` where it works, else ``process``), or one by name
            (``bwrap`` where it does not work is a :class:`BadInputError`).
        limits: what each run may use.
        interpreter: the Python that runs the programs (default: this one, or as root one
            that user 65534 may run, e.g. ``/usr/bin/python3``).
    """

    def __init__(
        self,
        isolation: Literal["auto", "bwrap", "process"] = "auto",
        limits: SandboxLimits | None = None,
        interpreter: str | None = None,
    ) -> None:
        self.limits = limits or SandboxLimits()
        if isolation == "auto":
            self._launch, self.info, _ = _detect(interpreter, self.limits)
        else:
            try:
                self._launch, self.info = _plan(isolation, interpreter, self.limits)
            except (SandboxError, OSError, subprocess.SubprocessError) as exc:
                raise BadInputError(f"sandbox {isolation} is not available here: {exc}") from exc

    def run(self, program: str, tests: Sequence[str]) -> ProgramResult:
        """Run ``program``, then each test in its namespace (blocking).

        Raises:
            SandboxError: the sandbox did not start or broke its protocol.
        """
        with _SLOTS:
            return _execute(self._launch, program, list(tests), self.limits, self.info.isolation)

    async def arun(self, program: str, tests: Sequence[str]) -> ProgramResult:
        """:meth:`run` on a worker thread."""
        return await asyncio.to_thread(self.run, program, tests)


class _Pipe(threading.Thread):
    """Drains one pipe, keeping its head and tail, counting what went past."""

    def __init__(self, fd: int, shared: list[int], cap: int, over: threading.Event) -> None:
        super().__init__(daemon=True)
        self.fd, self.shared, self.cap, self.over = fd, shared, cap, over
        self.data = bytearray()

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
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


def _execute(
    launch: _Launch, program: str, tests: list[str], limits: SandboxLimits, isolation: Isolation
) -> ProgramResult:
    nonce = secrets.token_hex(16)
    spec = {"nonce": nonce, "program": program, "tests": tests, "audit": launch.audit,
            "limits": limits.model_dump()}
    folder = tempfile.mkdtemp(prefix="redraft-run-") if launch.folder else None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    started = time.perf_counter()
    try:
        argv = [*launch.argv, "-I", "-S", "-B", "-X", "utf8", "-c", _harness_source()]
        spec["fd"] = res_w  # the harness reports there (the number is kept in the child)
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=out_w, stderr=err_w, pass_fds=(res_w,),
            cwd=folder or "/", env=dict(_ENV), start_new_session=True,
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
                process.stdin.write(json.dumps(spec).encode("utf-8"))
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
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
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
