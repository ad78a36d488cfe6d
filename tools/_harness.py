"""The harness that runs a program and its tests inside the sandbox (standard library only).

Not imported by redraft: :mod:`redraft.tools.sandbox` runs this file's source with
``python -I -S -c`` inside the sandbox. It reads its spec from stdin in two lines: the
program and its limits, then the tests, a nonce and the file descriptor to report on. It
sets the limits on itself and forks **before it reads the second line**: the program runs
in the child, which never holds the tests, the nonce or the report's descriptor (it closes
every other descriptor before the program starts). The parent, which runs no code of the
program's, reports one line per event, each prefixed by the nonce: ``ready``, ``start``
(before the program, ``index`` -1, and before each test), then ``done`` with every test's
outcome, or ``stopped`` when the program's own run failed.

**Judged tests.** A test made only of ``assert X == Y`` lines where one side is a value the
parent can compute (it names nothing the program defines) is judged by the parent: the
child evaluates the other side and returns it as plain data (numbers, strings, bytes,
``None`` and lists, tuples, sets and dicts of them), and the parent compares. So a program
can neither see what a judged test expects nor answer for it: an object whose ``__eq__``
says yes to everything, or code that finds the harness in memory and reports success,
gets nowhere. Any other test runs in the child, in the program's namespace, as before; its
``assert X == Y`` goes through a check that refuses a value equal to anything, but code in
that process could still patch it. Errors are classified in the child, where their type is
known: a ``MemoryError`` is a memory limit, a refused ``open`` or ``connect`` the sandbox's
refusal, a failed assertion a failed test. Where the harness cannot fork (a process limit of
1), everything runs in one process, as judged tests otherwise would not.

The fallback isolation (no bubblewrap) also installs, in the child, an audit hook that
refuses writes outside the program's folder, reads of ``/proc``, the network, new
processes, signals to other processes and ``ctypes``. Audit hooks are not a security
boundary (code that means harm gets around them); they stop the accidents and the naive
attempts.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import errno
import json
import linecache
import numbers
import os
import resource
import select
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
    ``assert f(x) == y``: the reward hack of code benchmarks. Used where a test runs in the
    program's process (one the parent cannot judge): there it stops the naive attempt, but
    like the audit hook it is no security boundary (the program can patch it).
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


def _names(tree: ast.AST) -> set[str]:
    """Every name a program binds anywhere (functions, classes, assignments, imports)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            out.update(node.names)
    return out


def _parent_value(node: ast.expr, program_names: set[str]) -> tuple[bool, Any]:
    """``(True, value)`` when the parent can compute an expression of a test by itself."""
    if any(isinstance(n, ast.Name) and n.id in program_names for n in ast.walk(node)):
        return False, None
    try:  # the tests are trusted; the program's names are not in this namespace
        value = eval(compile(ast.Expression(node), "<test>", "eval"),
                     {"__builtins__": builtins})
    except BaseException:
        return False, None
    return True, value


def _judged(tree: ast.Module, program_names: set[str]
            ) -> list[tuple[ast.Assert, ast.expr, Any]] | None:
    """A test the parent judges: per line, the assert, the child's side and the expected."""
    out = []
    for node in tree.body:
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)
                and len(node.test.ops) == 1 and isinstance(node.test.ops[0], ast.Eq)):
            return None
        left, right = node.test.left, node.test.comparators[0]
        known, want = _parent_value(right, program_names)
        side = left
        if not known:
            known, want = _parent_value(left, program_names)
            side = right
        if not known or _encode(want) is None:
            return None
        out.append((node, side, want))
    return out or None


_MAX_DATA = 4 * 1024 * 1024
"""The largest value (as JSON) a judged test's answer may be."""


def _encode(value: Any, depth: int = 0) -> Any:
    """A value as tagged plain data (None: not plain data).

    Subclasses count as their base: the parent compares what an ``int`` subclass converts
    to, not what it says of itself.
    """
    if depth > 50:
        return None
    if value is None or _TYPE(value) is bool:
        return ["v", value]
    if isinstance(value, bool):
        return ["v", _BOOL(value)]
    if isinstance(value, numbers.Integral):  # hexadecimal: no limit on the digits
        return ["i", hex(int(value))]
    if isinstance(value, numbers.Real):
        return ["f", repr(float(value))]
    if isinstance(value, numbers.Complex):
        c = complex(value)
        return ["c", repr(c.real), repr(c.imag)]
    if isinstance(value, str):
        return ["s", str.__str__(value)]
    if isinstance(value, (bytes, bytearray)):
        return ["b", bytes(value).hex()]
    kinds: tuple[tuple[str, Any], ...] = (("l", list), ("t", tuple), ("S", set),
                                          ("F", frozenset))
    for tag, kind in kinds:
        if isinstance(value, kind):  # the base type's iteration, not the subclass's
            items = [_encode(x, depth + 1) for x in kind.__iter__(value)]
            return None if any(x is None for x in items) else [tag, items]
    if isinstance(value, dict):
        pairs = [[_encode(k, depth + 1), _encode(v, depth + 1)]
                 for k, v in dict.items(value)]
        return None if any(k is None or v is None for k, v in pairs) else ["d", pairs]
    item = getattr(_TYPE(value), "item", None)  # a numpy scalar: its Python value
    if callable(item) and depth == 0:
        with contextlib.suppress(BaseException):
            return _encode(item(value), depth + 1)
    return None


def _decode(data: Any) -> Any:
    tag = data[0]
    if tag == "v":
        return data[1]
    if tag == "i":
        return int(data[1], 16)
    if tag == "f":
        return float(data[1])
    if tag == "c":
        return complex(float(data[1]), float(data[2]))
    if tag == "s":
        return data[1]
    if tag == "b":
        return bytes.fromhex(data[1])
    if tag == "l":
        return [_decode(x) for x in data[1]]
    if tag == "t":
        return tuple(_decode(x) for x in data[1])
    if tag == "S":
        return {_decode(x) for x in data[1]}
    if tag == "F":
        return frozenset(_decode(x) for x in data[1])
    return {_decode(k): _decode(v) for k, v in data[1]}


class _Program:
    """The program's namespace and what runs in it: the child's, or this process's."""

    def __init__(self, first: dict[str, Any]) -> None:
        self.first = first
        self.limits: dict[str, Any] = first["limits"]
        self.namespace: dict[str, Any] = {"__name__": "solution",
                                          "__builtins__": __builtins__}
        self.dumps = json.dumps  # before the program can patch it

    def serve(self, ask: dict[str, Any]) -> dict[str, Any]:
        """Run one request (``program``, ``exec`` a test, ``eval`` a side); the answer."""
        try:
            if ask["op"] == "program":
                if self.first.get("audit"):
                    _audit(os.getcwd())
                exec(_source("<solution>", self.first["program"]), self.namespace)
                return {"ok": True}
            if ask["op"] == "exec":
                self.namespace[EQUAL] = _equal  # again each time: the program may replace it
                exec(_test_source(ask["name"], ask["code"]), self.namespace)
                return {"ok": True}
            value = eval(compile(ask["code"], ask["name"], "eval", dont_inherit=True),
                         self.namespace)
            kind = _says_equal_to_anything(value)
            if kind:
                raise AssertionError(f"a {kind} says it equals anything (even a new "
                                     "object()), so == cannot test it")
            data = _encode(value)
            if data is None:
                return {"opaque": _TYPE(value).__qualname__}
            if len(self.dumps(data)) > _MAX_DATA:
                raise AssertionError(f"returned a value too large to compare (over "
                                     f"{_MAX_DATA // (1024 * 1024)} MB as data)")
            return {"value": data}
        except BaseException as exc:
            outcome, message = classify(exc, self.limits)
            test = ask["code"] if ask["op"] == "exec" else None
            explained = (_explain(test, self.namespace) if test is not None
                         and outcome == "test_failed" else "")
            return {"error": {"outcome": outcome, "message": message, "explained": explained,
                              "trace": _trace(exc)}}


def _send(fd: int, data: bytes, write: Any = os.write) -> None:
    """Write all of ``data`` to a pipe (with ``os.write`` as it was before any program)."""
    while data:
        data = data[write(fd, data):]


def _no_stdin() -> None:
    """Standard input from /dev/null (the spec came on it; nothing else does)."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _child(to_child: int, from_child: int, first: dict[str, Any]) -> None:
    """The program's process: runs what the parent asks, answers on ``from_child``."""
    keep = {1, 2, to_child, from_child}
    _no_stdin()
    low = 3  # every other descriptor, the report's among them: the parent's alone
    for fd in sorted(f for f in keep if f >= low):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)  # the parent says it was the CPU limit
    me = os.getpid()
    program = _Program(first)
    inbox = os.fdopen(to_child, "rb", buffering=0)
    dumps, loads, send = json.dumps, json.loads, _send  # before the program patches them
    buffer = b""
    while True:
        while b"\n" not in buffer:
            chunk = inbox.read(65536)
            if not chunk:
                os._exit(0)
            buffer += chunk
        raw, _, buffer = buffer.partition(b"\n")
        answer = program.serve(loads(raw.decode("utf-8")))
        if os.getpid() != me:  # a process the program forked: stay silent
            os._exit(1)
        for stream in (sys.stdout, sys.stderr):  # what it printed comes first
            with contextlib.suppress(BaseException):
                stream.flush()
        send(from_child, (dumps(answer) + "\n").encode("utf-8"))


class _Here:
    """The program in this process (the harness could not fork): the same requests."""

    def __init__(self, program: _Program) -> None:
        self.program = program

    def ask(self, **data: Any) -> dict[str, Any]:
        return self.program.serve(data)


class _Child:
    """The parent's side: asks the child, waits for its answer or its end."""

    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self.pid, self.to_child, self.from_child = pid, to_child, from_child
        self.buffer = b""

    def ask(self, **data: Any) -> dict[str, Any]:
        with contextlib.suppress(BrokenPipeError):
            _send(self.to_child, (json.dumps(data) + "\n").encode("utf-8"))
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.from_child], [], [], 0.05)
            if ready:
                chunk = os.read(self.from_child, 65536)
                if chunk:
                    self.buffer += chunk
                    if len(self.buffer) > 2 * _MAX_DATA:
                        raise _Ended(None, "answered with more data than any value")
                    continue
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done or (ready and not chunk):
                if not done:
                    _, status = os.waitpid(self.pid, 0)
                raise _Ended(status, "")
        raw, _, self.buffer = self.buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(raw.decode("utf-8"))
        return answer


class _Ended(Exception):
    """The child is gone (``status`` from ``waitpid``, or None: it misbehaved)."""

    def __init__(self, status: int | None, why: str) -> None:
        super().__init__(why)
        self.status = status


def main() -> None:
    """Read the spec on stdin, run the program and its tests, report."""
    # The first part's length, then the first part, read without reading ahead: the second
    # part (the tests) must not be in this process's memory when it forks.
    header = b""
    while not header.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            raise SystemExit("redraft sandbox harness: no spec on stdin")
        header += byte
    size, raw = int(header), b""
    while len(raw) < size:
        chunk = os.read(0, size - len(raw))
        if not chunk:
            raise SystemExit("redraft sandbox harness: the spec was cut short")
        raw += chunk
    first = json.loads(raw.decode("utf-8"))
    del raw
    limits: dict[str, Any] = first["limits"]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-size write raises EFBIG instead
    _set_limits(limits)
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        pid = None  # a process limit of 1: one process for all
    if pid == 0:
        os.close(to_child_w)
        os.close(from_child_r)
        try:
            _child(to_child_r, from_child_w, first)
        finally:
            os._exit(1)
    rest = b""
    while chunk := os.read(0, 65536):
        rest += chunk
    second = json.loads(rest.decode("utf-8"))
    _no_stdin()
    report = _Reporter(second.pop("nonce"), int(second["fd"]))
    if pid is None:
        for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
            os.close(fd)

        def out_of_cpu(signum: int, frame: Any) -> None:
            report("stopped", outcome="time_limit",
                   message=f"used more than its {limits['cpu_s']:g} s of CPU time")
            os._exit(124)

        signal.signal(signal.SIGXCPU, out_of_cpu)
        _judge(first, second["tests"], report, _Here(_Program(first)))
        return
    os.close(to_child_r)
    os.close(from_child_w)
    child = _Child(pid, to_child_w, from_child_r)
    try:
        _judge(first, second["tests"], report, child)
    except _Ended as ended:
        _ended(ended, limits, report)
    finally:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _ended(ended: _Ended, limits: dict[str, Any], report: _Reporter) -> None:
    """The child ended before its work did: say why, or end as it did."""
    status = ended.status
    if status is None:
        report("stopped", outcome="runtime_error", message=str(ended))
        return
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
        report("stopped", outcome="time_limit",
               message=f"used more than its {limits['cpu_s']:g} s of CPU time")
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    if os.WIFSIGNALED(status):  # end as the program did: the caller reads the status
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(os.waitstatus_to_exitcode(status))


def _syntax(first: dict[str, Any], tests: list[str], report: _Reporter
            ) -> tuple[ast.Module, list[ast.Module]] | None:
    """The program's and the tests' trees, or None after reporting one does not parse."""
    try:
        return (ast.parse(str(first["program"]), "<solution>"),
                [ast.parse(t, f"<test {i + 1}>") for i, t in enumerate(tests)])
    except SyntaxError as exc:
        report("stopped", outcome="invalid_syntax",
               message=f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})")
        return None


def _judge(first: dict[str, Any], tests: list[str], report: _Reporter,
           child: _Child | _Here) -> None:
    """The parent: the program in the child, then each test, judged here where it can be."""
    report("ready")
    trees = _syntax(first, tests, report)
    if trees is None:
        return
    program_names = _names(trees[0])
    report("start", index=-1)
    got = child.ask(op="program")
    if "error" in got:
        report("stopped", **got["error"])
        return
    results = []
    for index, test in enumerate(tests):
        report("start", index=index)
        name = f"<test {index + 1}>"
        judged = _judged(trees[1][index], program_names)
        if judged is None:
            got = child.ask(op="exec", name=name, code=test)
            results.append(got.get("error", {"outcome": "passed"}))
            continue
        results.append(_judge_one(judged, name, child))
    report("done", results=results)


def _judge_one(lines: list[tuple[ast.Assert, ast.expr, Any]], name: str,
               child: _Child | _Here) -> dict[str, Any]:
    """One judged test: each line's answer from the child against its expected value."""
    for node, side, want in lines:
        source = ast.unparse(side)
        got = child.ask(op="eval", name=name, code=source)
        if "error" in got:
            return dict(got["error"])
        message = "AssertionError"
        if node.msg is not None:
            with contextlib.suppress(ValueError, TypeError, SyntaxError):
                message = f"AssertionError: {ast.literal_eval(node.msg)}"
        if "opaque" in got:
            return {"outcome": "test_failed", "message": message, "trace": "",
                    "explained": (f"{source} returned a {got['opaque']}, which is not plain "
                                  f"data (numbers, strings, lists, tuples, sets, dicts), so it "
                                  f"cannot equal {repr(want)[:300]}")}
        value = _decode(got["value"])
        if value != want:
            return {"outcome": "test_failed", "message": message, "trace": "",
                    "explained": f"{source} returned {repr(value)[:300]}, expected "
                                 f"{repr(want)[:300]}"}
    return {"outcome": "passed"}


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
