"""Config fields are strictly typed, and an invalid value is named as the user gave it.

``episodes: true`` in a YAML file is refused, not read as 1; a flag's error names the flag as
typed (``--revisions -1``), a config file's names the file and the field.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from redraft.core import Settings
from redraft.evals import EvalConfig
from redraft.evals.cli import main


def scalar_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], type]
]:
    """Every int, float and bool field of a settings model and the settings it nests."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        options = typing.get_args(annotation) if isinstance(
            annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union else (
            annotation,)
        for option in options:
            if isinstance(option, type) and issubclass(option, Settings):
                yield from scalar_fields(option, (*prefix, name))
            elif option in (int, float, bool):
                yield (*prefix, name), option


FIELDS = sorted(scalar_fields(EvalConfig))


def nested(path: tuple[str, ...], value: object) -> dict[str, object]:
    data: dict[str, object] = {"task": "addition"}
    node = data
    for key in path[:-1]:
        node[key] = node = {}  # type: ignore[assignment]
    node[path[-1]] = value
    return data


def test_every_number_and_switch_of_a_run_is_checked() -> None:
    names = {".".join(path) for path, _ in FIELDS}
    assert {"episodes", "max_steps", "seed", "batch_size", "corrector.max_revisions",
            "corrector.monologue", "corrector.sampling.temperature",
            "corrector.sampling.max_tokens", "corrector.verify_timeout_s"} <= names


@pytest.mark.parametrize("path, kind", FIELDS, ids=[".".join(p) for p, _ in FIELDS])
def test_a_loose_type_is_refused(path: tuple[str, ...], kind: type) -> None:
    wrong: list[object] = [True, "1"] if kind is not bool else [1, "true", 1.0]
    if kind is int:
        wrong.append(1.0)
    for value in wrong:
        with pytest.raises(ValidationError) as refused:
            EvalConfig.model_validate(nested(path, value))
        assert path in [tuple(e["loc"][: len(path)]) for e in refused.value.errors()], value


def test_a_float_field_takes_an_integer() -> None:
    config = EvalConfig.model_validate(nested(("corrector", "sampling", "temperature"), 1))
    assert config.corrector.sampling.temperature == 1.0


def test_a_yaml_true_is_not_an_episode_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("task: addition\nepisodes: true\ncorrector:\n  monologue: 1\n")
    assert main(["eval", "--config", str(config), "--out", str(tmp_path / "r"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"{config}: episodes: Input should be a valid integer" in err
    assert f"{config}: corrector.monologue: Input should be a valid boolean" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flags, named", [
    (["--revisions", "-1"], "--revisions -1:"),
    (["--rounds", "17"], "--rounds 17:"),
    (["--episodes", "0"], "--episodes 0:"),
    (["--temperature", "-0.5"], "--temperature -0.5:"),
    (["--max-tokens", "0"], "--max-tokens 0:"),
    (["--critic", "telepathy"], "--critic telepathy:"),
    # Task options are the task's own settings, checked (as strictly) when the task is built.
    (["--task-option", "digits=true"], "addition task option digits:"),
])
def test_a_flags_error_names_the_flag_as_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    args = ["eval", "addition", "--model", "simulated/e=0.1", "--episodes", "2",
            "--max-steps", "2", "-q", *flags, "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("redraft: ") and named in err, err
    assert "max_revisions" not in err and "sampling" not in err


def test_a_flag_over_a_file_is_named_as_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "run.toml"
    config.write_text('task = "addition"\n[corrector]\nmax_revisions = 1\n')
    assert main(["eval", "--config", str(config), "--revisions", "99", "-q",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--revisions 99:" in err and str(config) not in err
    # A grid's lists are named value by value.
    assert main(["grid", "--config", str(config), "--revisions", "1,99", "--episodes", "1",
                 "--max-steps", "1", "-q", "--out", str(tmp_path / "g")]) == 2
    assert "--revisions 99:" in capsys.readouterr().err
