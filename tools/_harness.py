"""The harness that runs a program and its tests inside the sandbox (standard library only).

Not imported by redraft: :mod:`redraft.tools.sandbox` runs this file's source with
``python -I -S -c`` inside the sandbox. It reads its spec (the program, the tests, the limits,
a nonce, the file descriptor to report on) from stdin, sets the limits on itself, then runs
the program and each test in one namespace and reports one line per event, each prefixed by
the nonce: ``ready``, ``start`` (before the program, ``index`` -1, and before each test),
then ``done`` with every test's outcome, or ``stopped`` when the program's own run failed.
A forked child never reports. Errors are classified here, where their type is known: a
``MemoryError`` is a memory limit, a refused ``open`` or ``connect`` the sandbox's refusal, a
failed assertion a failed test.

The fallback isolation (no bubblewrap) also installs an audit hook that refuses writes
outside the program's folder, reads of ``/proc``, the network, new processes, signals to
other processes and ``ctypes``. Audit hooks are not a security boundary (code that means
harm gets around them); they stop the accidents and the naive attempts.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import json
import linecache
import os
import resource
import signal
import sys
import traceback
from typing import Any

DENIED = "redraft sandbox:"
"""Starts the message of every refusal of the audit hook."""

_NETWORK_ERRNOS = {errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTUNREACH, errno.EAFNOSUPPORT,
                   errno.ECONNREFUSED, errno.EADDRNOTAVAIL}
_REFUSED_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PATH_EVENTS = {"os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.symlink", "os.link",
                "os.truncate", "os.chmod", "os.chown", "os.utime", "shutil.rmtree",
                "shutil.copyfile", "shutil.move"}
_PROCESS_EVENTS = {"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn",
                   "os.spawn", "subprocess.Popen", "os.kill", "os.killpg",
                   "signal.pthread_kill", "pty.spawn"}
_NETWORK_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                   "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                   "socket.gethostbyname_ex"}


class _Reporter:
    def __init__(self, nonce: str, fd: int) -> None:
        self.nonce = nonce
        self.pid = os.getpid()
        self.out = os.fdopen(fd, "w", encoding="utf-8", closefd=False)

    def __call__(self, kind: str, **data: Any) -> None:
        if os.getpid() != self.pid:  # a child the program forked: stay silent
            os._exit(1)
        if kind in ("done", "stopped"):  # what the program printed comes first
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
        self.out.write(f"{self.nonce} {json.dumps({'kind': kind, **data})}\n")
        self.out.flush()


def _set_limits(limits: dict[str, Any]) -> None:
    def cap(kind: int, soft: int, hard: int | None = None) -> None:
        # A limit the system does not let us lower further stays as it is.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (soft, soft if hard is None else hard))

    mib = 1024 * 1024
    cpu = max(1, int(limits["cpu_s"] + 0.999))
    cap(resource.RLIMIT_CPU, cpu, cpu + 1)
    cap(resource.RLIMIT_AS, int(limits["memory_mb"]) * mib)
    cap(resource.RLIMIT_FSIZE, int(limits["file_mb"]) * mib)
    cap(resource.RLIMIT_NOFILE, 64)
    cap(resource.RLIMIT_NPROC, int(limits["processes"]))
    cap(resource.RLIMIT_CORE, 0)


def _audit(folder: str) -> None:
    root = os.path.realpath(folder)

    def inside(path: Any) -> bool:
        if isinstance(path, int):
            return True  # a file descriptor already open
        full = os.path.realpath(os.fsdecode(path))
        return full == root or full.startswith(root + os.sep)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, flags = args[0], args[2] if len(args) > 2 else 0
            if isinstance(path, (str, bytes)) and os.fsdecode(path).startswith("/proc"):
                raise PermissionError(f"{DENIED} reading /proc is not allowed")
            mode = args[1] if isinstance(args[1], str) else ""
            writes = bool(int(flags or 0) & _WRITE_FLAGS) or any(c in mode for c in "wax+")
            if writes and not inside(path):
                raise PermissionError(f"{DENIED} writing outside the program's folder "
                                      f"({os.fsdecode(path)}) is not allowed")
        elif event in _PATH_EVENTS:
            paths = [a for a in args if isinstance(a, (str, bytes))]
            if not all(inside(p) for p in paths):
                raise PermissionError(f"{DENIED} changing files outside the program's folder "
                                      "is not allowed")
        elif event in _NETWORK_EVENTS:
            raise PermissionError(f"{DENIED} the network is not available")
        elif event in _PROCESS_EVENTS:
            raise PermissionError(f"{DENIED} starting or signalling processes is not allowed")
        elif event.startswith("ctypes."):
            raise PermissionError(f"{DENIED} ctypes is not allowed")

    sys.addaudithook(hook)


def classify(exc: BaseException, limits: dict[str, Any]) -> tuple[str, str]:
    """``(outcome, message)`` for an exception the program or a test raised."""
    text = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:500]
    if isinstance(exc, AssertionError):
        return "test_failed", text
    if isinstance(exc, MemoryError):
        return "resource_limit", f"ran out of memory (limit {limits['memory_mb']} MB)"
    if isinstance(exc, SystemExit):
        return "runtime_error", f"called exit({exc.code!r}) before its tests finished"
    if isinstance(exc, PermissionError) and str(exc).startswith(DENIED):
        return "forbidden", str(exc)[len(DENIED):].strip()
    if isinstance(exc, OSError):
        code = exc.errno
        if code == errno.EAGAIN:
            return "resource_limit", (f"could not start another process (limit "
                                      f"{limits['processes']}): {text}")
        if code == errno.EFBIG:
            return "resource_limit", f"wrote a file over {limits['file_mb']} MB"
        if code == errno.ENOSPC:
            return "resource_limit", "filled its folder"
        if code == errno.EMFILE:
            return "resource_limit", "opened too many files at once (limit 64)"
        if code in _NETWORK_ERRNOS or type(exc).__name__ in ("gaierror", "herror"):
            return "forbidden", f"the network is not available ({text})"
        if code in _REFUSED_ERRNOS:
            return "forbidden", f"not allowed in the sandbox ({text})"
        name = exc.filename if isinstance(exc.filename, str) else ""
        if code == errno.ENOENT and os.path.isabs(name) and not _inside_cwd(name):
            return "forbidden", (f"{name} is outside the program's folder, which is all the "
                                 f"sandbox shows of the files ({text})")
    return "runtime_error", text


def _inside_cwd(path: str) -> bool:
    here = os.path.realpath(os.getcwd())
    full = os.path.realpath(path)
    return full == here or full.startswith(here + os.sep) or full.startswith("/usr/")


def _trace(exc: BaseException) -> str:
    # Only the program's and the tests' own frames: the harness is noise to the reader.
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename == "<solution>" or f.filename.startswith("<test ")]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-1500:]


def _source(name: str, text: str) -> Any:
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    return compile(text, name, "exec", dont_inherit=True)


EQUAL = "__redraft_equal__"
"""The name a test's ``assert X == Y`` calls instead of ``==`` (:func:`_equal`)."""
_TYPE, _OBJECT, _BOOL = type, object, bool  # before the program can patch them
_PLAIN = (int, float, complex, bool, str, bytes, type(None))
_CONTAINERS = (list, tuple, set, frozenset)


class _Equality(ast.NodeTransformer):
    """``assert X == Y`` becomes ``assert __redraft_equal__(X, Y)``; other asserts stay."""

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        test = node.test
        if (isinstance(test, ast.Compare) and len(test.ops) == 1
                and isinstance(test.ops[0], ast.Eq)):
            call = ast.Call(func=ast.Name(EQUAL, ast.Load()),
                            args=[test.left, test.comparators[0]], keywords=[])
            return ast.copy_location(ast.Assert(test=call, msg=node.msg), node)
        return node


def _test_source(name: str, text: str) -> Any:
    """A test compiled with its ``==`` assertions through :func:`_equal`."""
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    tree = ast.fix_missing_locations(_Equality().visit(ast.parse(text, name)))
    return compile(tree, name, "exec", dont_inherit=True)


def _says_equal_to_anything(value: Any, depth: int = 0) -> str | None:
    """The name of the type of a value that equals a brand-new ``object()``, or None.

    Such an ``__eq__`` says yes to everything, which no real answer does; values inside a
    list, tuple, set or dict are looked at too (their ``==`` asks their items).
    """
    kind = _TYPE(value)
    if kind in _PLAIN:
        return None
    if kind in _CONTAINERS or kind is dict:
        if depth >= 3:
            return None
        items = list(value.items()) if kind is dict else [(item,) for item in value]
        for row in items[:1000]:
            for item in row:
                found = _says_equal_to_anything(item, depth + 1)
                if found:
                    return found
        return None
    try:
        equal = _BOOL(value == _OBJECT())
    except BaseException:  # e.g. an array: no single truth value; == decides as it will
        return None
    return kind.__qualname__ if equal else None


def _equal(got: Any, want: Any) -> bool:
    """``got == want``, unless either says it equals anything (the test fails, saying so).

    A program that returns an object whose ``__eq__`` is always true would pass every
    ``assert f(x) == y``: the reward hack of code benchmarks. This stops that naive attempt;
    like the audit hook it is no security boundary (a program can still patch the harness).
    """
    for value in (got, want):
        kind = _says_equal_to_anything(value)
        if kind:
            raise AssertionError(f"a {kind} says it equals anything (even a new object()), "
                                 "so == cannot test it")
    return _BOOL(got == want)


def _explain(test: str, namespace: dict[str, Any]) -> str:
    """For ``assert X == Y`` (or ``is``): what X and Y were (evaluated again)."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return ""
    asserts = [n for n in tree.body if isinstance(n, ast.Assert)]
    if not asserts or not isinstance(asserts[-1].test, ast.Compare):
        return ""
    compare = asserts[-1].test
    if len(compare.ops) != 1 or not isinstance(compare.ops[0], (ast.Eq, ast.Is)):
        return ""
    try:
        got = eval(compile(ast.Expression(compare.left), "<test>", "eval"), namespace)
        want = eval(compile(ast.Expression(compare.comparators[0]), "<test>", "eval"), namespace)
    except BaseException:  # the explanation is a courtesy; the failure stands without it
        return ""
    return f"{ast.unparse(compare.left)} returned {repr(got)[:300]}, expected {repr(want)[:300]}"


def main() -> None:
    """Read the spec on stdin, run the program and its tests, report on fd 3."""
    spec = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    report = _Reporter(spec.pop("nonce"), int(spec["fd"]))
    limits: dict[str, Any] = spec["limits"]

    def out_of_cpu(signum: int, frame: Any) -> None:
        report("stopped", outcome="time_limit",
               message=f"used more than its {limits['cpu_s']:g} s of CPU time")
        os._exit(124)


    signal.signal(signal.SIGXCPU, out_of_cpu)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-size write raises EFBIG instead
    _set_limits(limits)
    report("ready")
    try:
        program = _source("<solution>", spec["program"])
        tests = [_test_source(f"<test {i + 1}>", t) for i, t in enumerate(spec["tests"])]
    except SyntaxError as exc:
        report("stopped", outcome="invalid_syntax",
               message=f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})")
        return
    if spec.get("audit"):
        _audit(os.getcwd())
    namespace: dict[str, Any] = {"__name__": "solution", "__builtins__": __builtins__}
    report("start", index=-1)
    try:
        exec(program, namespace)
    except BaseException as exc:
        outcome, message = classify(exc, limits)
        report("stopped", outcome=outcome, message=message, trace=_trace(exc))
        return
    results = []
    for index, test in enumerate(tests):
        report("start", index=index)
        namespace[EQUAL] = _equal  # again before each test: the program may have replaced it
        try:
            exec(test, namespace)
        except BaseException as exc:
            outcome, message = classify(exc, limits)
            failed = outcome == "test_failed"
            explained = _explain(spec["tests"][index], namespace) if failed else ""
            results.append({"outcome": outcome, "message": message, "explained": explained,
                            "trace": _trace(exc)})
        else:
            results.append({"outcome": "passed"})
    report("done", results=results)


def _run() -> None:
    try:
        main()
    finally:
        # No atexit handlers or finalizers of the program's after the report.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(0)


if __name__ == "__main__":
    _run()
