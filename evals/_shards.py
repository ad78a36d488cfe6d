"""Merging shards: runs split with ``--shard i/N`` joined into one run directory.

Shards must agree on everything but the shard (and execution settings such as the batch
size), be finished, and together hold every episode of the run exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redraft.core import BadInputError
from redraft.evals._config import EvalConfig
from redraft.evals._log import EVENTS_FILE, atomic_write, scan_events
from redraft.evals._manifest import (
    MANIFEST_FILE,
    config_differences,
    manifest_config,
    read_manifest,
    write_manifest,
)

__all__ = ["merge_runs"]


def _show(ids: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > limit else "")


def _missing(expected: range, owner: dict[int, Path], limit: int = 11) -> list[int]:
    """Up to ``limit`` ids of ``expected`` that no shard holds.

    Reads at most ``len(owner) + limit`` ids, so a huge run is not walked in full.
    """
    missing: list[int] = []
    for i in expected:
        if i not in owner:
            missing.append(i)
            if len(missing) >= limit:
                break
    return missing


def merge_runs(shard_dirs: Sequence[Path], out: Path) -> int:
    """Join the logs of finished shards into the run directory ``out``; return its episodes.

    Raises:
        BadInputError: configs that differ beyond the shard, a shard with unfinished
            episodes, an episode in two shards or in none, or an ``out`` that already
            holds a run.
    """
    if not shard_dirs:
        raise BadInputError("merge needs at least one shard directory")
    dirs = [Path(d) for d in shard_dirs]
    if len({d.resolve() for d in dirs}) != len(dirs):
        raise BadInputError("merge: the same shard directory is given twice")
    manifests = [read_manifest(d) for d in dirs]
    configs = [manifest_config(m, d) for m, d in zip(manifests, dirs, strict=True)]
    first = configs[0]
    for d, config in zip(dirs[1:], configs[1:], strict=True):
        diff = config_differences(first, config, ignore=frozenset({"shard"}))
        if diff:
            raise BadInputError(
                f"cannot merge {dirs[0]} and {d}: their configs differ ({'; '.join(diff)})"
            )
    owner: dict[int, Path] = {}
    lines: list[bytes] = []
    for d in dirs:
        scan = scan_events(d)
        done = scan.finished()
        unfinished = sorted({e.episode for e in scan.events} - done)
        if unfinished or scan.torn:
            raise BadInputError(
                f"shard {d} is unfinished (episodes {_show(unfinished) or 'none'} have no "
                "end); rerun its eval command to finish it, then merge"
            )
        twice = sorted(i for i in done if i in owner)
        if twice:
            raise BadInputError(
                f"episodes {_show(twice)} are in both {owner[twice[0]]} and {d}; merge each "
                "shard once"
            )
        owner.update(dict.fromkeys(done, d))
        lines.extend(scan.lines)
    merged = first.model_copy(update={"shard": None})
    expected = merged.episode_ids()
    missing = _missing(expected, owner)
    if missing:
        count = len(expected) - sum(1 for i in owner if i in expected)
        shown = ", ".join(str(i) for i in missing[:10])
        shown += f", ... ({count} in all)" if count > 10 else ""
        raise BadInputError(
            f"merge: episodes {shown} are in no shard given; pass every shard "
            f"of the run ({merged.episodes} episodes)"
        )
    extra = sorted(i for i in owner if i not in expected)
    if extra:
        raise BadInputError(f"merge: episodes {_show(extra)} are outside the run")
    _write_merged(out, manifests, dirs, merged, lines)
    return len(owner)


def _write_merged(
    out: Path,
    manifests: Sequence[dict[str, Any]],
    dirs: Sequence[Path],
    merged: EvalConfig,
    lines: Sequence[bytes],
) -> None:
    if (out / MANIFEST_FILE).exists() or (out / EVENTS_FILE).exists():
        raise BadInputError(f"{out} already holds a run; merge into a new directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"cannot create output directory {out}: {exc.strerror}") from exc
    codes: dict[str, Any] = {}
    for m in manifests:  # shards may have loaded different plug-ins: keep every code
        codes.update(m.get("verdict_codes") or {})
    manifest = {
        **manifests[0],
        "config": merged.model_dump(mode="json"),
        "leaky": any(m.get("leaky") is True for m in manifests),
        "verdict_codes": dict(sorted(codes.items())),
        "merged_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "merged_from": [
            {
                "dir": str(d),
                "shard": m.get("config", {}).get("shard"),
                "started_at": m.get("started_at"),
                "versions": m.get("versions"),
            }
            for d, m in zip(dirs, manifests, strict=True)
        ],
    }
    try:
        atomic_write(out / EVENTS_FILE, b"".join(line + b"\n" for line in lines))
        write_manifest(out, manifest)
    except OSError as exc:
        raise BadInputError(f"cannot write to {out}: {exc.strerror}") from exc
