"""Starting Stockfish (the Debian package ``stockfish``) through python-chess."""

from __future__ import annotations

import os
import shutil

import chess.engine

from redraft.core import BadInputError

__all__ = ["find_stockfish", "open_stockfish"]

_DEFAULT_PLACES = ("/usr/games/stockfish", "/usr/local/bin/stockfish", "/usr/bin/stockfish")


def find_stockfish(path: str | None = None) -> str:
    """The Stockfish binary to run: ``path`` if given, else ``stockfish`` on PATH or /usr/games.

    Raises:
        BadInputError: if there is none, saying how to install it.
    """
    if path is not None:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        found = shutil.which(path)
        if found:
            return found
        raise BadInputError(
            f"stockfish_path {path!r} is not an executable; install Stockfish with "
            "`apt-get install stockfish` or point stockfish_path at the binary"
        )
    found = shutil.which("stockfish")
    if found:
        return found
    for place in _DEFAULT_PLACES:
        if os.path.isfile(place) and os.access(place, os.X_OK):
            return place
    raise BadInputError(
        "Stockfish is not installed (looked on PATH and in /usr/games): install it with "
        "`apt-get install stockfish`, or pass stockfish_path=/path/to/stockfish"
    )


def open_stockfish(
    path: str | None = None, *, skill_level: int | None = None, threads: int = 1, hash_mb: int = 16
) -> chess.engine.SimpleEngine:
    """Start Stockfish; the caller must ``quit()`` it.

    Raises:
        BadInputError: if the binary is missing or does not start.
    """
    binary = find_stockfish(path)
    try:
        engine = chess.engine.SimpleEngine.popen_uci(binary)
    except (OSError, chess.engine.EngineError) as exc:
        raise BadInputError(
            f"Stockfish at {binary!r} did not start ({exc}); reinstall it with "
            "`apt-get install stockfish`"
        ) from exc
    options: dict[str, int] = {"Threads": threads, "Hash": hash_mb}
    if skill_level is not None:
        options["Skill Level"] = skill_level
    try:
        engine.configure({k: v for k, v in options.items() if k in engine.options})
    except chess.engine.EngineError as exc:
        engine.quit()
        raise BadInputError(f"Stockfish rejected options {options}: {exc}") from exc
    return engine
