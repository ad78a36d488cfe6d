"""The findings grid's training: several models at once, in order, and stale models refused.

Trains real (tiny) testbed models of the ``tiny`` scale in spawned worker processes: a retry
model samples its seed's expert, so it must start after that expert is written, and its
recipe records the weights it sampled; a kept retry model whose expert has been retrained or
deleted since is refused before anything trains.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from redraft.lab.findings import FindingsOptions, plan
from redraft.lab.findings._run import (
    MODEL_COST,
    TRAINING_WALL,
    _Costs,
    _train,
    _train_all,
    training_jobs,
    training_threads,
)
from redraft.lab.testbed import read_recipe, weights_digest
from redraft.tools import BadInputError


def _specs(options: FindingsOptions) -> list:  # type: ignore[type-arg]
    """Seed 0's expert and masked retry model (which samples that expert), seed 1's expert:
    with two jobs the retry model must wait while the other expert trains."""
    trains = plan(options).trains
    wanted = {("expert", 0), ("retry-masked", 0), ("expert", 1)}
    return [t for t in trains if (t.arm, t.seed) in wanted]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[FindingsOptions, list[str]]:
    work = tmp_path_factory.mktemp("grid")
    options = FindingsOptions(out=work / "out", work=work, scale="tiny", jobs=2, threads=1)
    heard: list[str] = []
    _train_all(_specs(options), options, _Costs(work / "costs.json"), heard.append)
    return options, heard


def test_models_train_two_at_once_and_a_retry_model_after_its_expert(
    trained: tuple[FindingsOptions, list[str]],
) -> None:
    options, heard = trained
    specs = _specs(options)
    assert heard[0] == "findings: training 3 model(s), 2 at once, 1 torch thread(s) each"
    started = [m for m in heard if m.startswith("findings: training ") and "->" in m]
    ended = [m for m in heard if m.startswith("findings: trained ")]
    assert len(started) == len(ended) == 3
    # The retry model is started only after its expert has ended.
    retry = next(i for i, m in enumerate(heard) if "training retry-masked seed 0" in m)
    expert = next(i for i, m in enumerate(heard) if m.startswith("findings: trained expert "
                                                                  "seed 0"))
    assert expert < retry
    # Both experts started before either ended: two at once.
    assert [m.split(" -> ")[0] for m in heard[1:3]] == [
        "findings: training expert seed 0", "findings: training expert seed 1"]
    retry_dir = next(s.out for s in specs if s.arm == "retry-masked")
    expert_dir = next(s.out for s in specs if s.arm == "expert" and s.seed == 0)
    recipe = read_recipe(retry_dir)
    assert recipe is not None and recipe.wrong_answers is not None
    assert recipe.threads == 1
    assert recipe.wrong_answers.weights == weights_digest(expert_dir) is not None
    costs = json.loads((options.work / "costs.json").read_text(encoding="utf-8"))
    assert sorted(k for k in costs if k.startswith(MODEL_COST)) == [
        "model/expert-s0", "model/expert-s1", "model/retry-masked-s0"]
    # The phase's wall clock, not the sum of overlapping models.
    assert 0 < costs[TRAINING_WALL] < sum(v for k, v in costs.items()
                                          if k.startswith(MODEL_COST))


def test_a_rerun_keeps_trained_models_and_their_costs(
    trained: tuple[FindingsOptions, list[str]],
) -> None:
    options, _ = trained
    before = json.loads((options.work / "costs.json").read_text(encoding="utf-8"))
    heard: list[str] = []
    _train_all(_specs(options), options, _Costs(options.work / "costs.json"), heard.append)
    assert heard and all(m.endswith("steps), kept") for m in heard)
    after = json.loads((options.work / "costs.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in after.items() if k.startswith(MODEL_COST)} == \
        {k: v for k, v in before.items() if k.startswith(MODEL_COST)}


def test_a_retry_model_whose_expert_changed_or_went_is_refused(
    trained: tuple[FindingsOptions, list[str]], tmp_path: Path,
) -> None:
    options, _ = trained
    specs = _specs(options)
    retry = next(s for s in specs if s.arm == "retry-masked")
    expert = next(s for s in specs if s.arm == "expert" and s.seed == 0)
    weights = expert.out / "model.safetensors"
    kept = weights.read_bytes()
    try:
        weights.write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))  # "retrained": other weights
        with pytest.raises(BadInputError, match=r"sampled from .*expert-s0, which has been "
                           r"retrained since: delete .*retry-masked-s0"):
            _train(retry, options, lambda _m: None)
        weights.unlink()
        with pytest.raises(BadInputError, match=r"which has been deleted since"):
            _train(retry, options, lambda _m: None)
    finally:
        weights.write_bytes(kept)
    assert _train(retry, options, lambda _m: None) > 0  # the same expert: kept
    assert read_recipe(retry.out) is not None  # nothing deleted


def test_a_worker_that_fails_ends_the_phase_with_its_error(tmp_path: Path) -> None:
    options = FindingsOptions(out=tmp_path / "out", work=tmp_path, scale="tiny", jobs=2,
                              threads=1)
    spec = _specs(options)[0]
    bad = spec.model_copy(update={"extra": {**spec.extra, "batch_size": 0}})
    with pytest.raises(BadInputError, match=r"training expert \(seed 0\)"):
        _train_all([bad], options, _Costs(tmp_path / "costs.json"), lambda _m: None)


def test_jobs_and_threads_default_to_the_cpus_on_a_cpu_scale_and_one_job_on_a_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redraft.agent.backends as contention

    monkeypatch.setattr(contention, "cpus_available", lambda: 16)
    cpu = FindingsOptions(out=tmp_path, scale="quick")
    assert (training_jobs(cpu), training_threads(cpu)) == (8, 2)
    gpu = FindingsOptions(out=tmp_path, scale="gpu")
    assert (training_jobs(gpu), training_threads(gpu)) == (1, 16)
    given = FindingsOptions(out=tmp_path, scale="quick", jobs=3, threads=1)
    assert (training_jobs(given), training_threads(given)) == (3, 1)
    monkeypatch.setattr(contention, "cpus_available", lambda: 2)
    assert (training_jobs(cpu), training_threads(cpu)) == (2, 1)


def test_a_work_folder_costed_one_model_at_a_time_reads_as_a_training_phase(
    tmp_path: Path,
) -> None:
    path = tmp_path / "costs.json"
    path.write_text(json.dumps({"train/expert-s0": 120.0, "train/retry-masked-s0": 130.0,
                                "grid/decisive/hf/x": 30.0}), encoding="utf-8")
    costs = _Costs(path)
    assert costs.items == {"model/expert-s0": 120.0, "model/retry-masked-s0": 130.0,
                           TRAINING_WALL: 250.0, "grid/decisive/hf/x": 30.0}


def test_the_tiny_rehearsal_trains_every_arm_and_writes_the_page_from_their_runs(
    trained: tuple[FindingsOptions, list[str]],
) -> None:
    """The CPU rehearsal of the gpu preset's pipeline with real trained models: the grid's
    other models train beside the three kept ones, every arm's decisive runs are analysed
    and the page is written; a rerun keeps everything."""
    from redraft.lab.findings import ARMS, DECISIVE_FILE, SCALES, run_findings

    options = trained[0].model_copy(update={"embedded": False})
    heard: list[str] = []
    page = run_findings(options, say=heard.append)
    text = page.read_text(encoding="utf-8")
    assert f"training {2 * len(ARMS) - 3} model(s), 2 at once" in "\n".join(heard)
    decisive = json.loads((options.out / DECISIVE_FILE).read_text(encoding="utf-8"))
    assert set(decisive["arms"]) == {arm.name for arm in ARMS}
    for arm in ARMS:
        per_model = decisive["arms"][arm.name]["conditions"]["free-t1"]["e_raw"]["per_model"]
        assert len(per_model) == SCALES["tiny"].seeds
    for spec in plan(options).trains:
        recipe = read_recipe(spec.out)
        assert recipe is not None and recipe.steps_done == SCALES["tiny"].train_steps
        if "wrong_model" in spec.extra:
            assert recipe.wrong_answers is not None
            assert recipe.wrong_answers.weights == weights_digest(
                Path(str(spec.extra["wrong_model"])))
    meta = json.loads((options.out / "meta.json").read_text(encoding="utf-8"))
    assert meta["machine"]["training_jobs"] == 2
    assert "2 models trained at once with 1 training threads asked" in text
    assert "`train` is the wall-clock time of the whole phase" in text
    again: list[str] = []
    assert run_findings(options, say=again.append).read_text(encoding="utf-8").split(
        "## Setup")[0] == text.split("## Setup")[0]
    assert not any("training" in m and "->" in m for m in again)


@pytest.mark.parametrize("option", ["--jobs", "--threads"])
def test_a_count_below_one_is_named_as_its_option(
    option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from redraft.evals.cli import main

    assert main(["findings", "--out", str(tmp_path / "o"), "--work", str(tmp_path / "w"),
                 option, "0"]) == 2
    err = capsys.readouterr().err
    assert f"{option}: Input should be greater than or equal to 1" in err
    assert "Traceback" not in err and not (tmp_path / "w").exists()
