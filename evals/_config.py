"""The configuration of one eval run, and the config files it can be read from.

A run is identified by its :class:`EvalConfig`: resuming a run directory refuses a config
that differs from the one in its manifest, except in the execution settings listed in
:data:`EXECUTION_FIELDS` (how fast the run goes, not what it measures).

The corrector's settings have one home, ``corrector`` (a :class:`CorrectorConfig`, sampling
included). Configs written before that (``critic``, ``max_revisions``, ``commit_policy`` at
the top level) or before a rename (``max_rounds`` or ``rounds`` for the revision budget,
``corrector.retry_context`` for ``revision_context``) are read in today's names by
:meth:`EvalConfig.migrate` (:data:`EvalConfig.renamed`): as a config file is read (one
notice naming the file), as a manifest is read (silently: redraft wrote it), and when a
caller passes them as keywords (a ``DeprecationWarning``). Such a run keeps its identity
and resumes.
"""

from __future__ import annotations

import json
import tomllib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml
from pydantic import (
    Field,
    JsonValue,
    field_serializer,
    field_validator,
    model_validator,
)

from redraft.agent import DEFAULT_MODEL, CorrectorConfig
from redraft.agent.backends import public_options
from redraft.core import BadInputError, Settings
from redraft.evals.tasks import ErrorPolicy

__all__ = [
    "EXECUTION_FIELDS",
    "ConfigFileError",
    "EvalConfig",
    "ShardSpec",
    "read_config_file",
]

EXECUTION_FIELDS = frozenset({"batch_size"})
"""Fields that change how a run executes but not what it measures; they may differ on
resume and between shards."""


class ConfigFileError(BadInputError):
    """A config file that cannot be read or parsed."""


class ShardSpec(Settings):
    """One shard of a run: the episodes whose id modulo ``count`` is ``index``."""

    index: int = Field(ge=0)
    """This shard's number, from 0."""
    count: int = Field(ge=1)
    """How many shards the run is split into."""

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            index, sep, count = value.partition("/")
            try:
                if not sep:
                    raise ValueError
                return {"index": int(index), "count": int(count)}
            except ValueError:
                raise ValueError(f"shard {value!r} must look like i/N, e.g. 0/4") from None
        return value

    @model_validator(mode="after")
    def _in_range(self) -> Self:
        if self.index >= self.count:
            raise ValueError(f"shard index {self.index} must be below the count {self.count}")
        return self

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, episode: int) -> bool:
        """True when ``episode`` belongs to this shard."""
        return episode % self.count == self.index


class EvalConfig(Settings):
    """What one eval run measures and how it runs. Recorded in the run's manifest."""

    renamed: ClassVar[Mapping[str, str]] = {
        "max_rounds": "corrector.max_revisions",
        "rounds": "corrector.max_revisions",
        "critic": "corrector.critic",
        "max_revisions": "corrector.max_revisions",
        "commit_policy": "corrector.commit_policy",
    }
    """Old names and places still read: the revision budget's old names, and the corrector
    settings that were top-level fields until the corrector became their one home."""

    task: str
    """The registered task name (``redraft list`` shows them)."""
    model: str = DEFAULT_MODEL
    """The backend's model string, ``PROVIDER/MODEL`` (e.g. ``simulated/e=0.1,r=0.5``)."""
    model_options: dict[str, JsonValue] = Field(default_factory=dict)
    """Keyword options for the backend factory (e.g. ``n_ctx`` for ``llamacpp``)."""
    episodes: int = Field(20, ge=1)
    """How many episodes the run holds (ids 0..episodes-1). A dataset task given none runs
    each record once (episode i: record i), whatever this default says."""
    max_steps: int = Field(30, ge=1)
    """Steps after which an episode is censored (end ``max_steps``)."""
    seed: int = 0
    """The run seed; episode ``i`` is seeded by a hash of (seed, i), reproducible alone."""
    error_policy: ErrorPolicy = "stop"
    """After an uncorrected error: ``stop`` ends the episode, ``continue`` goes on."""
    representation: str | None = None
    """The task's prompt representation (None: the task's default)."""
    opponent: str | None = None
    """The opponent, for tasks that have one (chess)."""
    task_options: dict[str, JsonValue] = Field(default_factory=dict)
    """Further task-specific options, passed to the task factory as keywords."""
    verifier: str | None = None
    """A registered verifier used as the feedback source instead of the task's own."""
    corrector: CorrectorConfig = Field(default_factory=CorrectorConfig)
    """How the agent proposes, critiques and revises: the critic mode (``--critic``), the
    revision budget (``--revisions``), the commit policy, sampling (``--temperature``,
    ``--max-tokens``), the monologue, the templates."""
    batch_size: int = Field(64, ge=1)
    """Episodes in flight at once; each round of the batch is one backend call per node."""
    shard: ShardSpec | None = None
    """Run only this shard's episodes (``--shard i/N``); None runs them all."""

    @field_validator("task", "model")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_serializer("model_options")
    def _public_model_options(self, options: dict[str, JsonValue]) -> dict[str, JsonValue]:
        # Secrets (api_key, options the backend marks secret) are used, never recorded:
        # not in the manifest or summary, and not compared on resume.
        provider = self.model.partition("/")[0]
        return public_options(options, provider)

    @model_validator(mode="after")
    def _task_options_apart(self) -> Self:
        if "representation" in self.task_options or "opponent" in self.task_options:
            raise ValueError(
                "give representation and opponent as top-level fields, not in task_options"
            )
        return self

    def task_kwargs(self) -> dict[str, Any]:
        """The keyword options the task factory gets."""
        kwargs: dict[str, Any] = dict(self.task_options)
        if self.representation is not None:
            kwargs["representation"] = self.representation
        if self.opponent is not None:
            kwargs["opponent"] = self.opponent
        return kwargs

    def episode_ids(self) -> range:
        """The ids of the episodes this run (or shard) holds, in order.

        A ``range``, never a list: ``len`` and ``in`` are O(1), so a run of 10**12 episodes
        costs no memory up front.
        """
        if self.shard is None:
            return range(self.episodes)
        return range(self.shard.index, self.episodes, self.shard.count)

    def identity(self) -> dict[str, Any]:
        """The config as JSON data without the execution settings: what resume compares."""
        data: dict[str, Any] = self.model_dump(mode="json")
        for name in EXECUTION_FIELDS:
            data.pop(name, None)
        return data


def read_config_file(
    path: Path, *, notify: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Read a TOML, YAML or JSON config file into a dict, in today's field names.

    The dict is validated later as an :class:`EvalConfig` (with the command line's flags
    over it). Old names are translated here (:meth:`EvalConfig.migrate`); ``notify`` gets
    the one line saying so, which names the file (default: a ``DeprecationWarning``).

    Raises:
        ConfigFileError: the file is missing, unreadable, malformed or not a mapping, or
            gives an old name beside its new one.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"config file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
            f"offset {exc.start}); save it as UTF-8"
        ) from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigFileError(
                f"config file {path}: unknown format {suffix or '(no suffix)'!r}; "
                "use .toml, .yaml, .yml or .json"
            )
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise ConfigFileError(f"config file {path} is malformed: {detail}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"config file {path} must hold a mapping of option names to values")

    def tell(line: str) -> None:
        notice = f"config file {path}: {line}"
        if notify is None:
            warnings.warn(notice, DeprecationWarning, stacklevel=4)
        else:
            notify(notice)

    try:
        return EvalConfig.migrate(data, notify=tell)
    except ValueError as exc:
        raise ConfigFileError(f"config file {path}: {exc}") from None
