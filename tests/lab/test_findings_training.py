"""The findings grid trained for real at the ``tiny`` scale: the gpu preset's CPU rehearsal.

Every phase's models train at once in one stack (the seeds' bases, then every arm from its
base), each written as a Hugging Face folder that ``hf/DIR`` serves and whose logits are
the stack's; the models are scored exactly, the runs made through ``redraft eval``, the
page written; a rerun keeps everything; a kept arm whose base has been retrained or deleted
since is refused before anything trains.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from redraft.core import BadInputError  # noqa: E402
from redraft.lab.findings import (  # noqa: E402
    ARMS,
    DECISIVE_FILE,
    SCALES,
    SCORES_FILE,
    FindingsOptions,
    plan,
    run_findings,
    train_models,
)
from redraft.lab.testbed import StackedLlama, read_recipe, weights_digest  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> tuple[FindingsOptions, list[str]]:
    work = tmp_path_factory.mktemp("grid")
    options = FindingsOptions(out=work / "out" / "findings", work=work / "w", scale="tiny",
                              embedded=False, threads=1)
    heard: list[str] = []
    run_findings(options, say=heard.append)
    return options, heard


def test_each_phase_trains_in_one_stack_and_every_arm_starts_from_its_base(
    rehearsal: tuple[FindingsOptions, list[str]],
) -> None:
    options, heard = rehearsal
    stacks = [m for m in heard if "at once in one stack" in m]
    seeds = SCALES["tiny"].seeds
    # The bases; then the arms that write a total, and those that write more (retry,
    # scratchpad), each in a stack of their own (a stack pads to its widest member).
    assert len(stacks) == 3
    assert f"training {seeds} model(s)" in stacks[0]
    assert "expert-s0" in stacks[1] and "recovery-s0" in stacks[1] and "retry" not in stacks[1]
    assert "retry-s0" in stacks[2] and "scratchpad-s0" in stacks[2]
    for spec in plan(options).trains:
        recipe = read_recipe(spec.out)
        assert recipe is not None and recipe.heldout_curve
        assert recipe.stacked_with == (seeds if spec.phase == 1 else 2 * seeds)
        if spec.init is not None:
            assert recipe.config.init_model == str(spec.init)
            assert recipe.init_weights == weights_digest(spec.init)
        if spec.expert is not None:
            assert recipe.wrong_expert is not None
            assert recipe.wrong_expert.weights == weights_digest(spec.expert)
        # The retry trains until learnt, at most its own step cap; the other arms a budget.
        tiny = SCALES["tiny"]
        cap = {"base": tiny.base_steps, "retry": tiny.learn_steps,
               "scratchpad": round(tiny.train_steps * 10 / 24)}.get(spec.arm, tiny.train_steps)
        assert recipe.config.steps == cap, spec.arm
    # Each stack's time is an item of its own, so retraining one leaves the other's.
    costs = json.loads((options.work / "costs.json").read_text(encoding="utf-8"))
    assert {k for k in costs if k.startswith("model/")} == {
        "model/phase-1-base", "model/phase-2-expert+recovery", "model/phase-2-retry+scratchpad"}


def test_a_saved_model_serves_the_stacks_logits(
    rehearsal: tuple[FindingsOptions, list[str]],
) -> None:
    options, _ = rehearsal
    folders = [s.out for s in plan(options).trains][:3]
    stack = StackedLlama.load(folders)
    ids = torch.randint(4, 100, (2, 15))
    with torch.no_grad():
        logits = stack.logits(ids)
        for k, folder in enumerate(folders):
            model = transformers.AutoModelForCausalLM.from_pretrained(str(folder))
            assert torch.allclose(model(ids).logits, logits[k], atol=1e-5)


def test_the_rehearsal_scores_runs_analyses_and_writes_the_page(
    rehearsal: tuple[FindingsOptions, list[str]],
) -> None:
    options, _ = rehearsal
    scores = json.loads((options.out / SCORES_FILE).read_text(encoding="utf-8"))
    arms = {m["arm"] for m in scores["models"]}
    assert arms == {"base", *SCALES["tiny"].arms}
    decisive = json.loads((options.out / DECISIVE_FILE).read_text(encoding="utf-8"))
    assert [p["contrast"]["key"] for p in decisive["primary"]] == [
        "compounding", "undo", "retry", "recovery"]
    assert {a.name for a in ARMS} <= set(decisive["arms"])
    page = (options.out.parent / "findings.md").read_text(encoding="utf-8")
    assert "## Headline (primary outcomes only)" in page and "### Convergence" in page
    again: list[str] = []
    rerun = run_findings(options, say=again.append).read_text(encoding="utf-8")
    assert rerun.split("## Setup")[0] == page.split("## Setup")[0]
    assert not any("at once in one stack" in m for m in again)
    assert not any(m.startswith("findings: scoring") for m in again)


def _copy(options: FindingsOptions, where: Path) -> FindingsOptions:
    """The rehearsal's options on a copy of its trained models (its runs left behind)."""
    copy = options.model_copy(update={"work": where / "w", "out": where / "o"})
    shutil.copytree(options.work / "models", copy.work / "models")
    return copy


def test_an_arm_whose_base_changed_is_refused_and_a_base_retrains_bit_for_bit(
    rehearsal: tuple[FindingsOptions, list[str]], tmp_path: Path,
) -> None:
    copy = _copy(rehearsal[0], tmp_path)
    base = copy.work / "models" / "base-s0"
    weights = base / "model.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-4] + b"\0\0\0\0")
    with pytest.raises(BadInputError, match=r"started from .*base-s0.*retrained since"):
        run_findings(copy)
    # Deleted, the base trains again, identically (CPU training is deterministic), so
    # the arms trained from it are kept.
    shutil.rmtree(base)
    heard: list[str] = []
    run_findings(copy, say=heard.append)
    assert weights.read_bytes() == original
    assert "training 1 model(s) at once in one stack (base-s0)" in "\n".join(heard)


def test_a_model_trained_with_other_settings_is_refused_naming_what_differs(
    rehearsal: tuple[FindingsOptions, list[str]], tmp_path: Path,
) -> None:
    # A retry trained before its budget changed (3000 steps then, 8000 now, at quick).
    copy = _copy(rehearsal[0], tmp_path)
    recipe = copy.work / "models" / "retry-s0" / "redraft-recipe.json"
    data = json.loads(recipe.read_text(encoding="utf-8"))
    cap = data["config"]["steps"]
    data["config"]["steps"] = cap - 1
    recipe.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BadInputError, match=(
            rf"retry-s0 holds a model trained with other settings than scale 'tiny' and seed "
            rf"0 \(steps {cap - 1} -> {cap}\): delete it and the runs made with it")):
        run_findings(copy)


def test_a_call_whose_bases_are_kept_decides_the_wait_policy_before_torch_loads(
    rehearsal: tuple[FindingsOptions, list[str]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A resumed call: phase 1 kept, an arm to train. Loading its base (the first use of
    # torch in a fresh process) must come after the decision, or a busy machine spins.
    from redraft.lab import testbed
    from redraft.lab.testbed import _threads

    copy = _copy(rehearsal[0], tmp_path)
    shutil.rmtree(copy.work / "models" / "expert-s0")
    loaded = {"torch": False}
    load = testbed.StackedLlama.load

    def load_and_mark(*args: object, **kwargs: object) -> StackedLlama:
        loaded["torch"] = True
        return load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(testbed.StackedLlama, "load", load_and_mark)
    monkeypatch.setattr(_threads, "_torch_loaded", lambda: loaded["torch"])
    monkeypatch.setattr(_threads, "_chosen", None)
    monkeypatch.setattr(_threads, "sample_runnable", lambda: 0.0)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    train_models([s for s in plan(copy).trains if s.arm == "expert"], copy)
    recipe = read_recipe(copy.work / "models" / "expert-s0")
    assert recipe is not None and recipe.wait_policy == "default (idle); torch loaded with it"
