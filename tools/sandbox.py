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
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from redraft.core import BadInputError
from redraft.tools._sandbox_run import (
    ENV,
    Isolation,
    Launch,
    ProgramOutcome,
    ProgramResult,
    SandboxError,
    SandboxLimits,
    execute,
)

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

_NOBODY = 65534
_SLOTS = threading.BoundedSemaphore(max(4, 2 * (os.cpu_count() or 2)))


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
        capture_output=True, text=True, timeout=30, env=ENV, check=True,
    )
    prefix, version = done.stdout.split()[:2]
    return prefix, version


def _bwrap_argv(bwrap: str, interpreter: str, prefix: str, folder_mb: int) -> list[str]:
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for key, value in ENV.items():
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


def _plan(isolation: Isolation, interpreter: str | None, limits: SandboxLimits
          ) -> tuple[Launch, SandboxInfo]:
    root = os.geteuid() == 0
    if isolation == "process":
        chosen = interpreter or _interpreters()[0]
        _, version = _describe(chosen)
        return (Launch(argv=[chosen], folder=True, audit=True),
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
    launch = Launch(argv=_bwrap_argv(bwrap, usable[0], prefix, limits.folder_mb),
                     user=_NOBODY if root else None)
    who = f"as user {_NOBODY}" if root else "as this user"
    return launch, SandboxInfo(
        isolation="bwrap", interpreter=usable[0], python=version,
        detail=f"bubblewrap: own user, PID, network, IPC and UTS namespaces, no network, "
        f"read-only system, a {limits.folder_mb} MiB private folder, {who}")


_detected: dict[tuple[str | None, SandboxLimits], tuple[Launch, SandboxInfo, str]] = {}
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


def _detect(interpreter: str | None, limits: SandboxLimits) -> tuple[Launch, SandboxInfo, str]:
    key = (interpreter, limits)
    with _detect_lock:
        if key not in _detected:
            try:
                launch, info = _plan("bwrap", interpreter, limits)
                probe = execute(launch, "print('ok')", [], limits, "bwrap")
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
            return execute(self._launch, program, list(tests), self.limits, self.info.isolation)

    async def arun(self, program: str, tests: Sequence[str]) -> ProgramResult:
        """:meth:`run` on a worker thread."""
        return await asyncio.to_thread(self.run, program, tests)


