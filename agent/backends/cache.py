"""The on-disk caches of models converted once: where they are, what they are keyed by.

``weights=f32`` (llamacpp) writes a dequantized copy of a GGUF file (SmolLM2-135M: 540 MB),
and the ``hf`` backend a transformers copy of a GGUF model, under
``$XDG_CACHE_HOME/redraft/`` (default ``~/.cache/redraft/``). A copy is named by the
*content* of its source file, so the same model installed in two virtual environments (the
embedded model lives in ``site-packages``) shares one copy. Hashing a 100 MB file takes a
fraction of a second; its digest is remembered under ``digests/`` by path, size and
modification time, so a later load reads a 64-byte file instead.

``weights=native`` also keeps, under ``llamacpp-probe/``, one small record per model file
and machine of whether this CPU ran the file's own kernels (not a model: a few hundred
bytes). ``redraft cache list`` shows what is there, each entry labelled by what it is, and
``redraft cache clear`` removes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CacheEntry", "EntryRole", "cache_entries", "cache_root", "clear_cache", "content_digest",
]

EntryRole = Literal["converted model", "probe result", "unfinished write"]
"""What a cache entry is (see :attr:`CacheEntry.role`)."""

_PROBE_RECORDS = "llamacpp-probe"
"""The folder of native-weights probe outcomes (:mod:`._native_probe`), not models."""

_DIGESTS = "digests"
"""The folder of remembered content digests (tiny files, not models)."""


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/redraft`` (default ``~/.cache/redraft``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "redraft"


def content_digest(source: Path) -> str:
    """The SHA-256 of ``source``'s bytes, remembered by its path, size and mtime.

    A remembered digest is used only while the file keeps the same resolved path, size and
    modification time; an unwritable cache just means hashing again next time.
    """
    resolved = source.resolve()
    stat = resolved.stat()
    stamp = f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}"
    memo = cache_root() / _DIGESTS / (hashlib.sha256(stamp.encode()).hexdigest()[:32] + ".sha256")
    try:
        remembered = memo.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        remembered = ""
    if len(remembered) == 64:
        return remembered
    with resolved.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        handle_fd, partial = tempfile.mkstemp(prefix=f".{memo.name}-", dir=memo.parent)
        with os.fdopen(handle_fd, "w", encoding="ascii") as out:
            out.write(digest)
        Path(partial).chmod(0o644)
        Path(partial).replace(memo)
    except OSError:
        pass  # a read-only cache: correct, only slower
    return digest


class CacheEntry(BaseModel):
    """One entry of the cache: a converted model, or a probe's record."""

    model_config = ConfigDict(frozen=True)

    path: Path
    """The file or folder."""
    kind: str
    """The cache it belongs to (``llamacpp-f32``, ``hf-gguf``, ``llamacpp-probe``, ...)."""
    role: EntryRole
    """``converted model``: a model copied into another format; ``probe result``: whether
    this CPU ran a model file's own kernels (``weights=native``); ``unfinished write``: a
    name starting with ``.``, what a killed conversion or probe left."""
    size: int
    """Bytes on disk (a folder: its files together)."""


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _role(kind: str, path: Path) -> EntryRole:
    if path.name.startswith("."):
        return "unfinished write"
    return "probe result" if kind == _PROBE_RECORDS else "converted model"


def cache_entries(root: Path | None = None) -> list[CacheEntry]:
    """Every entry under ``root`` (default :func:`cache_root`), largest first.

    Half-written files (names starting with ``.``) are listed too: they are what a killed
    conversion left, and safe to remove when no conversion is running.
    """
    root = root or cache_root()
    if not root.is_dir():
        return []
    entries = [
        CacheEntry(path=path, kind=kind.name, role=_role(kind.name, path), size=_size(path))
        for kind in sorted(root.iterdir()) if kind.is_dir() and kind.name != _DIGESTS
        for path in sorted(kind.iterdir())
    ]
    return sorted(entries, key=lambda e: -e.size)


def clear_cache(root: Path | None = None) -> int:
    """Remove every entry (and remembered digest) under ``root``; bytes freed.

    The next load of a model converts it again (SmolLM2's f32 copy: a few seconds).
    """
    root = root or cache_root()
    freed = sum(entry.size for entry in cache_entries(root))
    for kind in (root.iterdir() if root.is_dir() else ()):
        if kind.is_dir():
            shutil.rmtree(kind)
        else:
            kind.unlink()
    return freed
