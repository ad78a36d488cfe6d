"""The event log of a run: ``events.jsonl``, appended one validated record per line.

Writing: :class:`EventWriter` appends and flushes every record as it is written, and fsyncs
once per batch of steps in which an episode ended, so a run killed at any moment loses at
most its unfinished episodes and the last line it was writing.

Reading: :func:`scan_events` is the one parser of log files. It validates every line,
recognises a torn last line (a writer killed mid-record) and names the line number of any
other bad line. :func:`read_events` is the everyday form; :func:`keep_finished` rewrites
a log atomically without its unfinished episodes, which is how a run resumes.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from pydantic import ValidationError

from redraft.evals._events import SCHEMA_VERSION, EpisodeEndEvent, Event, parse_event
from redraft.tools import BadInputError

__all__ = [
    "EVENTS_FILE",
    "EventLogError",
    "EventWriter",
    "LogScan",
    "atomic_write",
    "events_path",
    "keep_finished",
    "read_events",
    "scan_events",
]

EVENTS_FILE = "events.jsonl"
"""The event log's file name inside a run directory."""


class EventLogError(BadInputError):
    """An event log that cannot be read; the message names the file and the line."""


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


def scan_events(path: Path) -> LogScan:
    """Parse a run's log (``path`` is the run directory or the ``events.jsonl`` file).

    A missing file is an empty log.

    Raises:
        EventLogError: a line other than the last is not a valid record, or the file
            cannot be read.
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
    for number, line in enumerate(raw, start=1):
        if not line.strip():
            continue
        try:
            events.append(parse_event(line))
        except ValidationError as exc:
            _refuse_schema(file, number, line)
            raise EventLogError(
                f"{file}, line {number}: not a valid event record ({_first_error(exc)})"
            ) from exc
        lines.append(line)
    torn = False
    if tail.strip():
        # An unterminated last line: a complete record whose newline was not written yet,
        # or a torn one. Keep the first, drop the second.
        try:
            events.append(parse_event(tail))
            lines.append(tail)
        except ValidationError:
            _refuse_schema(file, len(raw) + 1, tail)
            torn = True
    return LogScan(file, events, lines, torn=torn, clean_end=not tail)


def read_events(path: Path) -> list[Event]:
    """Every valid record of a run's log (``path``: run directory or ``events.jsonl``).

    A torn last line is left out with a warning; the records of unfinished episodes are
    returned as they are (group by episode and keep those with an ``episode_end``).

    Raises:
        EventLogError: a line in the middle is invalid (the message names its number).
    """
    scan = scan_events(path)
    if scan.torn:
        warnings.warn(
            f"{scan.path}: left out a torn last line (a run killed mid-write)", stacklevel=2
        )
    return scan.events


def keep_finished(path: Path) -> LogScan:
    """Rewrite a log atomically to hold only its finished episodes; return what is kept.

    Records of episodes without an ``episode_end`` and a torn last line are dropped, so a
    resumed run reruns those episodes from scratch and appends to a clean file. The file is
    left untouched when there is nothing to drop.
    """
    scan = scan_events(path)
    done = scan.finished()
    keep = [i for i, event in enumerate(scan.events) if event.episode in done]
    if len(keep) == len(scan.events) and scan.clean_end and not scan.torn:
        return scan
    events = [scan.events[i] for i in keep]
    lines = [scan.lines[i] for i in keep]
    atomic_write(scan.path, b"".join(line + b"\n" for line in lines))
    return LogScan(scan.path, events, lines, torn=False, clean_end=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


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
    fsyncs them to disk when an episode ended since the last sync, so finished episodes
    survive a power loss too. The runner syncs once per batch of steps (group commit).
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Path) -> None:
        self.path = events_path(path)
        self._file: IO[bytes] = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        self.written = 0
        """Records written by this writer."""
        self._ended = False

    def write(self, event: Event) -> None:
        """Append one record and flush it."""
        self._file.write(event.model_dump_json(by_alias=True).encode() + b"\n")
        self._file.flush()
        self.written += 1
        if isinstance(event, EpisodeEndEvent):
            self._ended = True

    def sync(self) -> None:
        """Fsync if an episode ended since the last sync."""
        if self._ended:
            os.fsync(self._file.fileno())
            self._ended = False

    def write_all(self, events: Iterable[Event]) -> None:
        """Append several records, then sync."""
        for event in events:
            self.write(event)
        self.sync()

    def close(self) -> None:
        """Flush, fsync and close the file."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
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
    if schema is _NOT_A_RECORD or schema == SCHEMA_VERSION:
        return
    what = "declares no event schema" if schema is None else f"written with event schema {schema}"
    raise EventLogError(
        f"{file}, line {number}: {what}; this redraft reads "
        f"schema {SCHEMA_VERSION} only (rerun the eval with this version, or report it with "
        "the redraft version that wrote it)"
    )


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:  # pragma: no cover
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    return f"{where}: {first['msg']}"
