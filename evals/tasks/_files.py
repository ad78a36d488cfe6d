"""Reading a dataset file into raw records, each with where it came from (``line 7``).

JSON Lines, JSON and CSV/TSV are read with the standard library: it gives the line of every
record for error messages, and keeps CSV cells exactly as written (``007`` stays ``007``,
where a typed reader such as pyarrow's CSV would make it the number 7). Parquet is read with
pyarrow (the ``data`` extra), row by row.

A problem with the file as a whole (missing, not UTF-8, empty, a JSON array that does not
parse, a CSV without a header) raises :class:`DatasetError`; a problem with one record (a
JSON Lines line that does not parse, a CSV row with too many cells) is yielded as a
:class:`BadRecord`, so the caller decides whether the run stops or skips it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import JsonValue

from redraft.core import BadInputError, MissingDependencyError

__all__ = ["FORMATS", "BadRecord", "DatasetError", "FileFormat", "RawRecord", "read_records"]

FileFormat = Literal["jsonl", "json", "csv", "tsv", "parquet"]
FORMATS: dict[str, FileFormat] = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
    ".parquet": "parquet", ".pq": "parquet",
}
"""File suffixes and the format each is read as."""


class DatasetError(BadInputError):
    """A dataset file, or one of its records, that cannot be used (one line says why)."""


@dataclass(frozen=True)
class RawRecord:
    """One record as the file holds it."""

    where: str
    """Where it is in the file: ``line 7``, ``row 3``, ``record 3``."""
    data: dict[str, JsonValue]
    """Its fields."""


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read at all."""

    where: str
    """Where it is in the file."""
    reason: str
    """Why it could not be read."""


def file_format(path: Path, given: str) -> FileFormat:
    """The format to read ``path`` as: ``given``, or by its suffix when ``given`` is auto."""
    if given != "auto":
        return given  # type: ignore[return-value]  # validated by the config's Literal
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise DatasetError(
            f"{path}: cannot tell its format from the suffix {path.suffix or '(none)'!r}; "
            f"name one with --task-option format=jsonl|json|csv|tsv|parquet"
        )
    return found


def read_records(path: Path, fmt: FileFormat) -> Iterator[RawRecord | BadRecord]:
    """Every record of the file, in order.

    Raises:
        DatasetError: the file as a whole cannot be read.
    """
    if fmt == "parquet":
        yield from _parquet(path)
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"dataset file {path} does not exist") from None
    except IsADirectoryError:
        raise DatasetError(f"dataset path {path} is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{path}, line {line}: not UTF-8 text (byte "
                           f"{exc.object[exc.start]:#04x}); save the file as UTF-8") from None
    except OSError as exc:
        raise DatasetError(f"cannot read dataset file {path}: {exc.strerror or exc}") from None
    if not text.strip():
        raise DatasetError(f"dataset file {path} is empty: it holds no records")
    if fmt == "jsonl":
        yield from _jsonl(text)
    elif fmt == "json":
        yield from _json(path, text)
    else:
        yield from _csv(path, text, "\t" if fmt == "tsv" else ",")


def _object(where: str, value: Any) -> RawRecord | BadRecord:
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        return BadRecord(where, f"is a JSON {kind}, not an object of fields")
    return RawRecord(where, value)


def _jsonl(text: str) -> Iterator[RawRecord | BadRecord]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            value = json.loads(line)
        except ValueError as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            yield BadRecord(where, f"is not valid JSON ({message} at column "
                                   f"{getattr(exc, 'colno', '?')})")
            continue
        yield _object(where, value)


def _json(path: Path, text: str) -> Iterator[RawRecord | BadRecord]:
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if text[start] != "[":
        try:
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
        lists = ([k for k, v in whole.items() if isinstance(v, list)]
                 if isinstance(whole, dict) else [])
        if len(lists) != 1:
            raise DatasetError(f"{path}: a JSON dataset must be an array of records, or an "
                               "object holding one such array")
        for number, value in enumerate(whole[lists[0]], start=1):
            yield _object(f"{lists[0]} record {number}", value)
        return
    position, line = start + 1, 1 + text.count("\n", 0, start)
    counted = start
    while True:
        position = _skip_space(text, position)
        if position < len(text) and text[position] == "]":
            break
        line += text.count("\n", counted, position)
        counted = position
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
        yield _object(f"line {line}", value)
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "]":
            lineno = 1 + text.count("\n", 0, position)
            raise DatasetError(f"{path}, line {lineno}: not valid JSON (expected ',' or ']')")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _csv(path: Path, text: str, delimiter: str) -> Iterator[RawRecord | BadRecord]:
    reader = csv.DictReader(text.splitlines(keepends=True), delimiter=delimiter)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise DatasetError(f"{path}, line 1: not a readable header ({exc})") from None
    if not header or any(not (name or "").strip() for name in header):
        raise DatasetError(f"{path}, line 1: the header must name every column")
    if len(set(header)) != len(header):
        raise DatasetError(f"{path}, line 1: the header names a column twice")
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:
                yield BadRecord(where, f"has {len(header) + len(row[None])} cells; the header "
                                       f"names {len(header)}")
            elif any(value is None for value in row.values()):
                yield BadRecord(where, f"has fewer cells than the {len(header)} the header names")
            else:
                yield RawRecord(where, {k: v for k, v in row.items() if v != ""})
    except csv.Error as exc:
        raise DatasetError(f"{path}, line {reader.line_num}: {exc}") from None


def _parquet(path: Path) -> Iterator[RawRecord | BadRecord]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError("reading Parquet files", "data", exc) from exc
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist")
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises its own error types for a damaged file
        raise DatasetError(f"{path}: not a readable Parquet file ({exc})") from None
    if not rows:
        raise DatasetError(f"dataset file {path} is empty: it holds no records")
    for number, row in enumerate(rows, start=1):
        # Dates, decimals and bytes as text: records are JSON values from here on.
        yield RawRecord(f"row {number}", json.loads(json.dumps(row, default=str)))
