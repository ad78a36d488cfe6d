"""The event log of a run: ``events.jsonl``, appended one validated record per line.

Writing: :class:`EventWriter` appends and flushes every record as it is written, so a
process killed at any moment loses at most the last line it was writing (and the rounds of
its steps in flight, which have no ``step`` record yet). It fsyncs once per batch of steps in
which an episode ended, and at least once a second while steps are written, so that a lost
machine loses at most about a second of steps besides.

Reading: :func:`scan_events` is the one parser of log files. It validates every line,
recognises a torn last line (a writer killed mid-record) and names the line number of any
other bad line. :func:`read_events` is the everyday form; :func:`keep_whole_steps` rewrites
a log atomically without the rounds of its steps in flight, which is how a run resumes
(each unfinished episode continues from its last logged step).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn, Self

from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from redraft.core import BadInputError, RedraftError
from redraft.evals._events import (
    READABLE_SCHEMAS,
    SCHEMA_VERSION,
    EpisodeEndEvent,
    Event,
    RoundEvent,
    StepEvent,
    parse_event,
)
from redraft.tools import LOG_CONTEXT

__all__ = [
    "EVENTS_FILE",
    "DiskFullError",
    "EventLogError",
    "EventWriter",
    "LogScan",
    "RunWriteError",
    "atomic_write",
    "encode_event",
    "events_path",
    "keep_finished",
    "keep_whole_steps",
    "read_events",
    "remove_stale_temporaries",
    "scan_events",
    "write_error",
]

EVENTS_FILE = "events.jsonl"
"""The event log's file name inside a run directory."""

_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


class EventLogError(BadInputError):
    """An event log that cannot be read; the message names the file and the line."""


class DiskFullError(RedraftError):
    """A write failed for want of space (or quota): not bad input, exit 1 (free space, rerun)."""


class RunWriteError(RedraftError):
    """A write to a run directory failed for another reason than its path or a full disk."""


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_PATH = frozenset({
    errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
    errno.EROFS, errno.EEXIST, errno.ELOOP,
})


def write_error(path: Path, exc: OSError, fix: str, what: str = "") -> RedraftError:
    """The error to raise for a failed write to ``path``, on one line that names it.

    A path the system refuses (read-only, not a directory, no permission) is bad input,
    with ``fix`` as the advice; a full disk or quota is :class:`DiskFullError`, and any
    other failure (an I/O error) :class:`RunWriteError`: exit status 1, where a rerun
    resumes once the disk has room again. ``what`` names the path's role ("output
    directory ").
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in _FULL:
        return DiskFullError(
            f"cannot write {what}{path}: {reason} (the disk is full); free some space, "
            "then rerun the same command to resume"
        )
    if exc.errno in _PATH:
        return BadInputError(f"cannot write to {what}{path}: {reason}; {fix}")
    return RunWriteError(
        f"cannot write {what}{path}: {reason}; rerun the same command to resume once it "
        "can be written"
    )


@dataclass(frozen=True)
class LogScan:
    """What a log file holds: its valid records with their raw lines."""

    path: Path
    """The file read."""
    events: list[Event]
    """Every valid record, in file order."""
    lines: list[bytes]
    """The raw line of each record (without its newline), parallel to ``events``."""
    torn: bool
    """The last line was incomplete (a writer killed mid-record) and was left out."""
    clean_end: bool
    """The file is empty or ends with a newline (safe to append to as it is)."""

    def finished(self) -> set[int]:
        """Ids of the episodes that logged their ``episode_end``."""
        return {e.episode for e in self.events if isinstance(e, EpisodeEndEvent)}


def events_path(path: Path) -> Path:
    """The log file of a run directory, or ``path`` itself if it names a file."""
    path = Path(path)
    return path / EVENTS_FILE if path.is_dir() else path


def scan_events(path: Path, episodes: Container[int] | None = None) -> LogScan:
    """Parse and check a run's log (``path``: the run directory or the ``events.jsonl`` file).

    A missing file is an empty log. Every record is checked as it is read: a known schema
    version, an episode id inside the run (``episodes``, else the ids the manifest next to
    the log names), at most one ``episode_start`` and ``episode_end`` per episode, no step
    or round logged twice, nothing of an episode after its end.

    Raises:
        EventLogError: a line other than the last is not a valid record or fails a check
            (the message names the file and the line number), or the file cannot be read.
    """
    file = events_path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return LogScan(file, [], [], torn=False, clean_end=True)
    except OSError as exc:
        raise EventLogError(f"cannot read event log {file}: {exc.strerror}") from exc
    raw = data.split(b"\n")
    # The piece after the last newline is empty unless the last write was cut short.
    tail = raw.pop()
    events: list[Event] = []
    lines: list[bytes] = []
    audit = _Audit(file, _run_bounds(file) if episodes is None else episodes.__contains__)
    for number, line in enumerate(raw, start=1):
        if not line.strip():
            continue
        try:
            event = _parse(line)
        except ValidationError as exc:
            _refuse_schema(file, number, line)
            raise EventLogError(
                f"{file}, line {number}: not a valid event record ({_first_error(exc)})"
            ) from exc
        audit.check(event, number)
        events.append(event)
        lines.append(line)
    torn = False
    if tail.strip():
        # An unterminated last line: a complete record whose newline was not written yet,
        # or a torn one. Keep the first, drop the second.
        try:
            event = _parse(tail)
        except ValidationError:
            _refuse_schema(file, len(raw) + 1, tail)
            torn = True
        else:
            audit.check(event, len(raw) + 1)
            events.append(event)
            lines.append(tail)
    return LogScan(file, events, lines, torn=torn, clean_end=not tail)


def _parse(line: bytes) -> Event:
    """Parse one record.

    JSON that pydantic's parser refuses (an escaped lone surrogate, which the writer emits
    for text no UTF-8 can hold) is read by ``json`` and then validated the same way: with
    the log's context (plug-in verdict codes load, a record must state its schema).
    """
    try:
        return parse_event(line)
    except ValidationError as exc:
        if not any(error["type"] == "json_invalid" for error in exc.errors()):
            raise
        try:
            data = json.loads(line)
        except ValueError:
            raise exc from None
        return _EVENT.validate_python(data, context=LOG_CONTEXT)


def encode_event(event: Event) -> bytes:
    """One record as its log line (without the newline): JSON, ASCII only.

    ASCII with JSON escapes stores any string a backend can return, lone surrogates
    included (which UTF-8 cannot encode), and reads back to the same string.
    """
    try:
        return event.model_dump_json(by_alias=True).encode()
    except (PydanticSerializationError, UnicodeError):
        data = event.model_dump(mode="json", by_alias=True)
        return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class _Audit:
    """Checks records as they are read: no duplicates, ids inside the run."""

    def __init__(self, file: Path, inside: Callable[[int], bool] | None) -> None:
        self.file = file
        self.inside = inside
        self.started: dict[int, int] = {}
        self.ended: dict[int, int] = {}
        self.seen: dict[tuple[int, int, int, str], int] = {}

    def _refuse(self, number: int, problem: str) -> NoReturn:
        raise EventLogError(f"{self.file}, line {number}: {problem}")

    def check(self, event: Event, number: int) -> None:
        # The schema version is checked by the parser (_refuse_schema names the line).
        episode = event.episode
        if self.inside is not None and not self.inside(episode):
            self._refuse(number, f"episode {episode} is outside this run (see its manifest)")
        kind = event.kind
        if kind == "episode_start" and episode in self.started:
            self._refuse(number, f"episode {episode} starts twice (first on line "
                         f"{self.started[episode]}): duplicated episode")
        if episode in self.ended:
            self._refuse(number, f"a {kind} record of episode {episode} after its "
                         f"episode_end on line {self.ended[episode]} (duplicated episode)")
        if kind == "episode_start":
            self.started[episode] = number
            return
        if kind == "episode_end":
            self.ended[episode] = number
            return
        if kind in ("step", "round"):
            key = (episode, event.step, event.round if kind == "round" else 0, kind)
            first = self.seen.get(key)
            if first is not None:
                what = f"step {event.step}" + (f" round {event.round}" if kind == "round" else "")
                self._refuse(number, f"episode {episode} logs {what} twice (first on line "
                             f"{first}): duplicated {kind}")
            self.seen[key] = number


def _run_bounds(file: Path) -> Callable[[int], bool] | None:
    """Which episode ids the run next to ``file`` holds, from its manifest (None: unknown).

    Read leniently: a missing or odd manifest is reported by the manifest's own reader.
    """
    try:
        manifest = json.loads((file.parent / "manifest.json").read_text(encoding="utf-8"))
        config = manifest["config"]
        total = config["episodes"]
        shard = config.get("shard")
        index, count = (shard["index"], shard["count"]) if shard else (0, 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(n, int) for n in (total, index, count)) or count < 1:
        return None
    return lambda episode: 0 <= episode < total and episode % count == index


def read_events(path: Path) -> list[Event]:
    """Every valid record of a run's log (``path``: run directory or ``events.jsonl``).

    A torn last line is left out with a warning; the records of unfinished episodes are
    returned as they are (group by episode and keep those with an ``episode_end``).

    Raises:
        EventLogError: the log does not exist, or a line in the middle is invalid (the
            message names its number). (:func:`scan_events`, used to resume, takes a
            missing log as empty instead.)
    """
    file = events_path(path)
    if not file.is_file():
        raise EventLogError(f"cannot read event log {file}: no such file")
    scan = scan_events(file)
    if scan.torn:
        warnings.warn(
            f"{scan.path}: left out a torn last line (a run killed mid-write)", stacklevel=2
        )
    return scan.events


def keep_finished(path: Path) -> LogScan:
    """Rewrite a log atomically to hold only its finished episodes; return what is kept.

    Records of episodes without an ``episode_end`` and a torn last line are dropped, so that
    those episodes can be rerun from scratch onto a clean file. The file is left untouched
    when there is nothing to drop. (A run resumes with :func:`keep_whole_steps`, which keeps
    the finished steps of unfinished episodes too.)
    """
    scan = scan_events(path)
    done = scan.finished()
    return keep_whole_steps(scan, restart={e.episode for e in scan.events} - done)


def keep_whole_steps(scan: LogScan, restart: Container[int] = ()) -> LogScan:
    """Rewrite a scanned log atomically to hold its whole steps; return what is kept.

    Kept: every record of a finished episode, and of an unfinished one its
    ``episode_start``, its ``step`` records and the rounds of those steps, so that it can
    continue from its last logged step. Dropped: the rounds of a step in flight (no ``step``
    record yet), a torn last line, and every record of the episodes in ``restart`` (to be
    rerun from scratch). The file is left untouched when there is nothing to drop.
    """
    done = scan.finished()
    stepped = {(e.episode, e.step) for e in scan.events if isinstance(e, StepEvent)}

    def kept(event: Event) -> bool:
        if event.episode in done:
            return True
        if event.episode in restart:
            return False
        return not isinstance(event, RoundEvent) or (event.episode, event.step) in stepped

    keep = [i for i, event in enumerate(scan.events) if kept(event)]
    if len(keep) == len(scan.events) and scan.clean_end and not scan.torn:
        return scan
    events = [scan.events[i] for i in keep]
    lines = [scan.lines[i] for i in keep]
    atomic_write(scan.path, b"".join(line + b"\n" for line in lines))
    return LogScan(scan.path, events, lines, torn=False, clean_end=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file."""
    # A unique temporary name in the same directory (so the rename is atomic), removed
    # again if anything fails: a full disk or a refused write leaves no stale file behind.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "wb") as file:
            try:
                mode = path.stat().st_mode & 0o777
            except OSError:
                mode = 0o644  # mkstemp's 0o600 would hide a new run from its other readers
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary files an :func:`atomic_write` killed mid-write left in ``directory``.

    Call it with the directory's lock held (no other writer can be mid-write then).
    """
    directory = Path(directory)
    # Current names (.NAME.XXXX.tmp) and the fixed names of earlier versions (NAME.tmp).
    for pattern in (".*.tmp", f"{EVENTS_FILE}.tmp", "manifest.json.tmp"):
        for stale in directory.glob(pattern):
            with contextlib.suppress(OSError):
                stale.unlink()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class EventWriter:
    """Append records to a log: one JSON line each, flushed to the OS at once.

    Flushed records survive the writer being killed; :meth:`sync` (and :meth:`close`) also
    fsyncs them to disk when an episode ended since the last sync, or when records wait
    that are older than ``sync_interval_s``, so finished episodes survive a power loss, and
    finished steps all but the last second's. The runner syncs once per batch of steps
    (group commit). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Path, *, sync_interval_s: float = 1.0) -> None:
        self.path = events_path(path)
        self._file: IO[bytes] = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        self.written = 0
        """Records written by this writer."""
        self.sync_interval_s = sync_interval_s
        self._ended = False
        self._waiting_since: float | None = None

    def write(self, event: Event) -> None:
        """Append one record and flush it.

        Raises:
            DiskFullError: no space left (exit 1: free space, rerun to resume).
            RunWriteError, BadInputError: another failure, naming the log.
        """
        try:
            self._file.write(encode_event(event) + b"\n")
            self._file.flush()
        except OSError as exc:
            raise write_error(self.path, exc, _RESUME_FIX) from exc
        self.written += 1
        if isinstance(event, EpisodeEndEvent):
            self._ended = True
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()

    def sync(self) -> None:
        """Fsync if an episode ended since the last sync, or records wait too long."""
        waited = self._waiting_since
        if self._ended or (
            waited is not None and time.monotonic() - waited >= self.sync_interval_s
        ):
            try:
                os.fsync(self._file.fileno())
            except OSError as exc:
                raise write_error(self.path, exc, _RESUME_FIX) from exc
            self._ended = False
            self._waiting_since = None

    def write_all(self, events: Iterable[Event]) -> None:
        """Append several records, then sync."""
        for event in events:
            self.write(event)
        self.sync()

    def close(self) -> None:
        """Flush, fsync and close the file (closed even when the flush fails)."""
        if self._file.closed:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._file.close()
            raise write_error(self.path, exc, _RESUME_FIX) from exc
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_RESUME_FIX = "make it writable, then rerun the same command to resume"

_NOT_A_RECORD = object()


def record_schema(line: bytes | str) -> object:
    """The ``schema`` a JSON record declares.

    None when it declares none; a private sentinel when the line is not a JSON object.
    """
    try:
        data = json.loads(line)
    except ValueError:
        return _NOT_A_RECORD
    return data.get("schema") if isinstance(data, dict) else _NOT_A_RECORD


def _refuse_schema(file: Path, number: int, line: bytes) -> None:
    schema = record_schema(line)
    if schema is _NOT_A_RECORD or schema in READABLE_SCHEMAS:
        return
    what = "declares no event schema" if schema is None else f"written with event schema {schema}"
    raise EventLogError(
        f"{file}, line {number}: {what}; this redraft reads "
        f"{_schemas()} only (rerun the eval with this version, or report it with "
        "the redraft version that wrote it)"
    )


def _schemas() -> str:
    """``schema 2 or 3``: the versions this redraft reads, for messages."""
    older = [str(v) for v in READABLE_SCHEMAS if v != SCHEMA_VERSION]
    return f"schema {' or '.join([*older, str(SCHEMA_VERSION)])}"


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:  # pragma: no cover
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    return f"{where}: {first['msg']}"
