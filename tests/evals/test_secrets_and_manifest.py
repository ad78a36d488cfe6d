"""Secrets never reach a manifest, summary or log; manifests carry the schema and code table."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_counting

from redraft.agent.backends import SimulatedBackend, backends, public_options, secret_field
from redraft.agent.backends._secrets import is_secret_option
from redraft.evals import EvalConfig, EventLogError, run_eval
from redraft.evals._manifest import read_manifest
from redraft.evals.cli import main
from redraft.evals.tasks import tasks
from redraft.tools._verdict import VERDICT_CODES

tasks.add("counting", redraft_counting.CountingTask)
KEY = "sk-test-SECRET-0123456789"


def _files(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_api_key_reaches_no_file_and_rotating_it_does_not_block_resume(tmp_path: Path) -> None:
    config = EvalConfig(task="counting", model="simulated/e=0.2", episodes=4, max_steps=3,
                        model_options={"api_key": KEY, "token": KEY, "seed_note": "kept"})
    backend = SimulatedBackend()
    run_eval(config, tmp_path / "run", backend=backend)
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "summary.json").exists()
    assert KEY not in _files(tmp_path)
    manifest = read_manifest(tmp_path / "run")
    assert manifest["config"]["model_options"] == {"seed_note": "kept"}
    # The key is used, only not recorded: the config object still holds it.
    assert config.model_options["api_key"] == KEY
    rotated = config.model_copy(update={"model_options": {"api_key": "sk-new", "token": "t2",
                                                          "seed_note": "kept"}})
    again = run_eval(rotated, tmp_path / "run", backend=SimulatedBackend())
    assert again.resumed and again.ran == 0
    assert "sk-new" not in _files(tmp_path)


class _Options(BaseModel):
    region: str = "eu"
    passphrase: str | None = secret_field(None)


class _Factory:
    """A plug-in backend factory whose options model marks a field secret."""

    options_model = _Options

    def __call__(self, spec: str, **options: Any) -> SimulatedBackend:
        return SimulatedBackend()


def test_an_option_marked_secret_by_its_backend_is_dropped() -> None:
    backends.add("secretive_h9", _Factory())
    assert is_secret_option("api_key") and is_secret_option("openai_api_key")
    assert not is_secret_option("max_tokens") and not is_secret_option("keys_per_step")
    assert public_options({"region": "us", "passphrase": "xyzzy"}, "secretive_h9") == {
        "region": "us"
    }
    config = EvalConfig(task="counting", model="secretive_h9/x",
                        model_options={"region": "us", "passphrase": "xyzzy"})
    assert "xyzzy" not in config.model_dump_json()
    assert config.identity()["model_options"] == {"region": "us"}


def test_manifest_records_schema_leaky_and_the_verdict_code_table(tmp_path: Path) -> None:
    run_eval(EvalConfig(task="counting", model="simulated/e=0.2", episodes=1, max_steps=2),
             tmp_path / "run", backend=SimulatedBackend())
    manifest = read_manifest(tmp_path / "run")
    assert manifest["schema"] == 3 and manifest["leaky"] is False
    assert manifest["verdict_codes"] == dict(sorted(VERDICT_CODES.items()))
    assert {"truncated", "critique_unreadable", "verifier_error"} <= set(
        manifest["verdict_codes"]
    )


def test_a_schema_1_manifest_is_refused_with_its_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"config": {}, "schema": 1}, indent=2))
    with pytest.raises(EventLogError, match=r"line 3: written with schema 1; .*schema 2"):
        read_manifest(run)
    config = EvalConfig(task="counting", model="simulated/e=0.2", episodes=1, max_steps=2)
    with pytest.raises(EventLogError, match="schema 1"):
        run_eval(config, run, backend=SimulatedBackend())


def test_manifest_records_every_backend_option_but_secrets() -> None:
    from redraft.evals._manifest import build_manifest

    class Options(BaseModel):
        weights: str = "f32"  # a default the user never gave: recorded all the same
        api_key: str | None = None

    class Backend:
        name = "fake/model"
        options = Options(api_key=KEY)

    config = EvalConfig(task="counting", model="simulated/e=0.2")
    manifest = build_manifest(config, Backend(), "simulated")
    assert manifest["backend"]["options"] == {"weights": "f32"}
    assert KEY not in json.dumps(manifest)
    assert build_manifest(config, object(), "simulated")["backend"]["options"] is None
