"""The configuration of one eval run, and the config files it can be read from.

A run is identified by its :class:`EvalConfig`: resuming a run directory refuses a config
that differs from the one in its manifest, except in the execution settings listed in
:data:`EXECUTION_FIELDS` (how fast the run goes, not what it measures).

Old field names are read as their new ones (:func:`current_names`): a config file or a
manifest written when the revision budget was called ``max_rounds`` (or ``rounds``) means
the same ``max_revisions``, and its ``corrector.retry_context`` the same
``revision_context``, so its run keeps its identity and resumes.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from redraft.agent import (
    DEFAULT_MODEL,
    MAX_REVISIONS_LIMIT,
    RENAMED_OPTIONS,
    CommitPolicy,
    CorrectorConfig,
    CriticMode,
    rename_options,
)
from redraft.agent.backends import public_options
from redraft.core import BadInputError
from redraft.evals.tasks import ErrorPolicy

__all__ = [
    "EXECUTION_FIELDS",
    "RENAMED_FIELDS",
    "ConfigFileError",
    "EvalConfig",
    "ShardSpec",
    "current_names",
    "describe_validation_error",
    "read_config_file",
]

EXECUTION_FIELDS = frozenset({"batch_size"})
"""Fields that change how a run executes but not what it measures; they may differ on
resume and between shards."""


RENAMED_FIELDS: dict[str, str] = {"max_rounds": "max_revisions", "rounds": "max_revisions"}
"""Old top-level field names an :class:`EvalConfig` still reads, each as its new name (the
corrector's own are :data:`redraft.agent.RENAMED_OPTIONS`)."""


def current_names(config: dict[str, Any]) -> dict[str, Any]:
    """A config (a file's, a manifest's) in today's field names, its corrector's included.

    Raises:
        ValueError: two names of one field given; the message names them.
    """
    data = rename_options(config, RENAMED_FIELDS)
    corrector = data.get("corrector")
    if isinstance(corrector, dict):
        data["corrector"] = rename_options(corrector, RENAMED_OPTIONS)
    return data

_TOP_LEVEL = ("critic", "max_revisions", "commit_policy")
"""Corrector settings given as top-level fields of the eval config (and CLI options)."""


class ConfigFileError(BadInputError):
    """A config file that cannot be read or parsed."""


class ShardSpec(BaseModel):
    """One shard of a run: the episodes whose id modulo ``count`` is ``index``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


class EvalConfig(BaseModel):
    """What one eval run measures and how it runs. Recorded in the run's manifest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    """The registered task name (``redraft list`` shows them)."""
    model: str = DEFAULT_MODEL
    """The backend's model string, ``PROVIDER/MODEL`` (e.g. ``simulated/e=0.1,r=0.5``)."""
    model_options: dict[str, JsonValue] = Field(default_factory=dict)
    """Keyword options for the backend factory (e.g. ``n_ctx`` for ``llamacpp``)."""
    critic: CriticMode = "tool"
    """Where feedback comes from: none, self, tool, self+tool, resample, constrained, oracle."""
    max_revisions: int = Field(2, ge=0, le=MAX_REVISIONS_LIMIT)
    """Revisions allowed per step after the first proposal, k (``--revisions``, alias
    ``--rounds``): a step has up to k+1 rounds. Read from ``max_rounds`` or ``rounds`` too,
    its old names."""
    commit_policy: CommitPolicy = "last_accepted"
    """Which round's answer a step commits (``--commit-policy``): ``last_accepted`` (the
    latest answer the verifier accepted, else the last round's, marked as a fallback) or
    ``last``. Runs of schema 2 manifests read as ``last``."""
    episodes: int = Field(20, ge=1)
    """How many episodes the run holds (ids 0..episodes-1)."""
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
    """Further corrector settings (sampling, retry context, templates); its ``critic``,
    ``max_revisions`` and ``commit_policy`` are set from the fields above."""
    batch_size: int = Field(64, ge=1)
    """Episodes in flight at once; each round of the batch is one backend call per node."""
    shard: ShardSpec | None = None
    """Run only this shard's episodes (``--shard i/N``); None runs them all."""

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return current_names(data) if isinstance(data, dict) else data

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

    @field_serializer("corrector")
    def _corrector_rest(self, corrector: CorrectorConfig) -> dict[str, Any]:
        # critic, max_revisions and commit_policy live at the top level; recording them twice
        # would let an edited dump contradict itself.
        rest: dict[str, Any] = corrector.model_dump(mode="json", exclude=set(_TOP_LEVEL))
        return rest

    @model_validator(mode="after")
    def _one_critic(self) -> Self:
        explicit = self.corrector.model_fields_set
        for name in _TOP_LEVEL:
            value = getattr(self, name)
            if name in explicit and getattr(self.corrector, name) != value:
                raise ValueError(
                    f"corrector.{name} conflicts with {name}; set it at the top level only"
                )
        # One source of truth: the corrector as recorded is the corrector as it runs.
        object.__setattr__(self, "corrector", self.corrector_config())
        if "representation" in self.task_options or "opponent" in self.task_options:
            raise ValueError(
                "give representation and opponent as top-level fields, not in task_options"
            )
        return self

    def corrector_config(self) -> CorrectorConfig:
        """The corrector's full configuration for this run."""
        return self.corrector.model_copy(
            update={name: getattr(self, name) for name in _TOP_LEVEL}
        )

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


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML, YAML or JSON config file into a dict (validated later as EvalConfig).

    Raises:
        ConfigFileError: the file is missing, unreadable, malformed or not a mapping.
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
    return data


def describe_validation_error(exc: ValidationError, what: str = "config") -> str:
    """One line naming every invalid field and what is wrong with it."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or what
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return f"invalid {what}: " + "; ".join(parts)
