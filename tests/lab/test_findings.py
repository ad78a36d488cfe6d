"""The findings grid and page.

The grid: arms × seeds trained equally, every decisive run in distribution, every declared
contrast backed by runs. The page: written from its files alone (the committed page equals
what the committed files produce; the exploratory tables rebuilt from a small committed log
equal the expected markdown); zero planted effects read "no detectable effect", a planted
self-conditioning effect is named with whom it supports (synthetic runs,
tests/lab/synthetic_decisive.py). The whole command at the ``tiny`` scale runs once
the testbed's decisive task options exist.
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "stats"))  # the synthetic runs
from synthetic_decisive import World, draw

from redraft.evals.cli import main
from redraft.evals.report import write_report
from redraft.lab.findings import (
    ARMS,
    CONDITIONS,
    DECISIVE_FILE,
    DECLARED_CONTRASTS,
    FIGURE_FILES,
    SCALES,
    DecisiveResults,
    Findings,
    FindingsOptions,
    analyze_arrays,
    group_tables,
    load_findings,
    page_path,
    plan,
    render_page,
)
from redraft.lab.findings._analysis import RunMatrices
from redraft.lab.findings._decisive_page import replicated
from redraft.lab.findings._page import _verdict

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "findings"
DOCS = ROOT / "docs" / "findings"


@pytest.fixture(scope="module")
def tiny_summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("report")
    runs = tmp_path_factory.mktemp("runs")
    dirs = []
    for name in ("none-k0", "tool-k1"):  # copied: loading a run may take its lock
        shutil.copytree(DATA / "runs" / name, runs / name)
        dirs.append(runs / name)
    report = write_report(dirs, out)
    summary: dict[str, object] = json.loads(report.summary.read_text(encoding="utf-8"))
    return summary


def test_tables_rebuilt_from_the_committed_log_equal_the_expected_markdown(
    tiny_summary: dict[str, object],
) -> None:
    tables = "\n".join(group_tables(tiny_summary)) + "\n"
    expected = (DATA / "expected_tables.md").read_text(encoding="utf-8")
    assert tables == expected


def test_committed_findings_artefacts_stay_small() -> None:
    total = sum(p.stat().st_size for p in DOCS.rglob("*") if p.is_file())
    assert total < 2_000_000


def test_the_committed_page_is_what_its_committed_files_produce() -> None:
    page = page_path(DOCS)
    assert page.is_file(), "docs/findings.md is missing: run 'redraft findings --out docs/findings'"
    assert page.read_text(encoding="utf-8") == render_page(load_findings(DOCS))


def test_a_difference_whose_interval_holds_zero_is_no_detectable_effect() -> None:
    assert _verdict({"value": -0.05, "ci_low": -0.1, "ci_high": 0.01})[1] == 0
    assert _verdict({"value": -0.05, "ci_low": -0.1, "ci_high": 0.01})[0].startswith(
        "no detectable effect")
    assert _verdict({"value": -0.05, "ci_low": -0.1, "ci_high": -0.01})[1] == -1
    assert _verdict({"value": 0.05, "ci_low": 0.01, "ci_high": 0.1})[1] == 1
    assert _verdict({"value": None, "ci_low": None, "ci_high": None})[1] == 0


# -- the grid ------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["tiny", "quick", "full", "gpu"])
def test_every_arm_trains_its_seeds_equally_and_is_evaluated_in_distribution(
    tmp_path: Path, scale: str,
) -> None:
    grid = plan(FindingsOptions(out=tmp_path / "o", work=tmp_path / "w", scale=scale))
    sizes = SCALES[scale]
    assert sizes.seeds >= (2 if scale == "tiny" else 3 if scale == "quick" else 5)
    per_arm: dict[str, set[int]] = {}
    for t in grid.trains:
        per_arm.setdefault(t.arm, set()).add(t.seed)
    assert per_arm == {a.name: set(range(sizes.seeds)) for a in ARMS}
    order = [(t.arm, t.seed) for t in grid.trains]
    for t in grid.trains:  # a model's mistakes are used only after that model is trained
        if t.extra.get("wrong_source") == "model":
            assert t.extra["wrong_model"] == str(tmp_path / "w" / "models" / f"expert-s{t.seed}")
            assert order.index(("expert", t.seed)) < order.index((t.arm, t.seed))
    assert {str(t.extra.get("mask_wrong")) for t in grid.trains if t.regime == "retry"} == {
        "True", "False"}
    for run in grid.decisive:
        config = run.spec.config
        assert config["max_steps"] == sizes.episode_steps  # in distribution: never longer
        assert config["critic"] == "none" and config["error_policy"] == "continue"
        condition = CONDITIONS[run.condition]
        options = config["task_options"]
        assert isinstance(options, dict)
        assert bool(options.get("teacher_force")) == condition.teacher_force
        assert (options.get("plant_errors") == [sizes.plant_step - 1]) == condition.plant
        assert ("checkpoint_every" in options and options["checkpoint_every"] is None) == (
            not condition.checkpoints)
        sampling = config["corrector"]["sampling"]  # type: ignore[index,call-overload]
        assert sampling["temperature"] == condition.temperature
    expert = {r.condition for r in grid.decisive if r.arm == "expert"}
    assert {"free-t1", "free-t0", "free-t0.5", "tf-t1", "plant-t1", "nocheck-t1"} <= expert
    for arm in ARMS:  # every arm at temperature 1 and 0, and teacher-forced
        conds = {r.condition for r in grid.decisive if r.arm == arm.name}
        assert {"free-t1", "free-t0", "tf-t1"} <= conds


def test_every_declared_contrast_has_the_runs_it_needs_in_the_grid(tmp_path: Path) -> None:
    grid = plan(FindingsOptions(out=tmp_path / "o", work=tmp_path / "w"))
    runs = {(r.arm, r.condition) for r in grid.decisive}
    need = {"survival_gap": ("free-t1", "tf-t1"), "planted": ("plant-t1", "free-t1"),
            "undo_chance": ("free-t1", "nocheck-t1"), "regime_error": ("free-t1",),
            "regime_undo": ("free-t1",)}
    for contrast in DECLARED_CONTRASTS:
        for condition in need[contrast.kind]:
            assert (contrast.arm, condition) in runs, contrast.key
            if contrast.kind.startswith("regime"):
                assert ("expert", condition) in runs
    assert len({c.key for c in DECLARED_CONTRASTS}) == len(DECLARED_CONTRASTS)


def test_exploratory_groups_label_what_they_are(tmp_path: Path) -> None:
    grid = plan(FindingsOptions(out=tmp_path / "o", work=tmp_path / "w"))
    names = {g.name: g for g in grid.groups}
    assert set(names) == {"critics", "smollm2-chess", "smollm2-addition", "simulated"}
    assert "negative control" in names["critics"].title
    assert "best-of-n" in names["critics"].title
    assert [r.config["critic"] for r in names["critics"].runs] == [
        "none", "tool", "self", "resample"]
    chess = names["smollm2-chess"].runs
    assert [r.config["critic"] for r in chess] == ["none", "tool", "constrained"]
    no_embedded = plan(FindingsOptions(out=tmp_path / "o", embedded=False))
    assert {g.name for g in no_embedded.groups} == {"critics", "simulated"}


def test_with_a_simulated_model_each_seed_is_its_own_model_and_nothing_is_trained(
    tmp_path: Path,
) -> None:
    grid = plan(FindingsOptions(out=tmp_path, model="simulated/e=0.1", scale="tiny"))
    assert grid.trains == []
    models = {r.spec.config["model"] for r in grid.decisive}
    assert models == {"simulated/e=0.1,seed=0", "simulated/e=0.1,seed=1"}
    assert {r.arm for r in grid.decisive} == {"expert"}
    other = plan(FindingsOptions(out=tmp_path, model="openai/m@http://127.0.0.1:1/v1"))
    assert {r.spec.config["model"] for r in other.decisive} == {"openai/m@http://127.0.0.1:1/v1"}


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["findings", "--out", str(tmp_path), "--scale", "huge"])
    assert exc.value.code == 2
    assert main(["findings", "--out", str(tmp_path / "none"), "--page-only"]) == 2
    assert "meta.json is missing" in capsys.readouterr().err


# -- the page ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _decisive(world: World, seed: int = 0, draws: int = 300,
              arms: tuple[str, ...] = tuple(a.name for a in ARMS)) -> DecisiveResults:
    rng = np.random.default_rng(seed)
    runs: dict[str, dict[int, dict[str, RunMatrices]]] = {}
    for arm in (a for a in ARMS if a.name in arms):
        runs[arm.name] = {}
        for s in range(3):
            runs[arm.name][s] = {
                "free-t1": draw(world, 40, 12, rng), "free-t0": draw(world, 40, 12, rng),
                "tf-t1": draw(world, 40, 12, rng, teacher_force=True),
                "plant-t1": draw(world, 40, 12, rng, plant=4),
                "nocheck-t1": draw(world, 40, 12, rng, undo_possible=False)}
    return analyze_arrays(runs, width=12, plant_step=4, plant_window=4, undo_from=3,
                          task_options={"modulus": 100}, representation="recent", draws=draws)


def _meta() -> dict[str, object]:
    return {"scale": "tiny", "command": "redraft findings --out x --scale tiny", "seed": 0,
            "scale_sizes": SCALES["tiny"].model_dump(), "groups": [],
            "costs": {"train/expert-s0": 30.0, "grid/decisive/hf/x": 90.0},
            "this_call_seconds": 125.0,
            "machine": {"cpu": "Test CPU 9000", "cores_visible": 2, "threads_asked": 2,
                        "python": "3.11.7", "torch": {"version": "2.13.0", "build": "CPU",
                                                      "threads": 2},
                        "transformers": "4.0", "llama_cpp_python": "0.3",
                        "redraft_commit": "abc123", "load_average_before": [2.0, 1.0, 1.0],
                        "load_average_after": [3.0, 2.0, 1.0]}}


def test_a_page_with_zero_planted_effects_says_no_detectable_effect() -> None:
    page = render_page(Findings({}, _meta(), _decisive(World(e=0.1))))
    headline = page[page.index("## Headline"):page.index("## Setup")]
    line = next(x for x in headline.splitlines() if x.startswith("- **planted-error**"))
    assert "no detectable effect" in line and "Holm-adjusted" in line
    assert "3 models" in line and "between-seed SD" in line
    # the predictions come before any result, and the headline names declared contrasts only
    assert page.index("if detectably negative") < page.index("## Headline")
    bullets = [x for x in headline.splitlines() if x.startswith("- **")]
    assert [b.split("**")[1] for b in bullets] == [c.key for c in DECLARED_CONTRASTS]
    assert "withdrawn" in page and "length generalisation" in page


def test_a_page_with_a_planted_self_conditioning_effect_names_it_and_whom_it_supports() -> None:
    # 1000 draws, as the page uses (the bootstrap p-value's floor is 2/1001).
    page = render_page(Findings({}, _meta(), _decisive(World(e=0.05, selfcond=0.4),
                                                       draws=1000, arms=("expert",))))
    line = next(x for x in page.splitlines() if x.startswith("- **planted-error**"))
    assert ": positive (" in line and "supports LeCun" in line
    assert "no detectable effect" not in line and "not established" not in line


def test_a_contrast_significant_alone_but_not_after_holm_is_not_established() -> None:
    result = _decisive(World(e=0.05, selfcond=0.4), draws=1000, arms=("expert",))
    planted = next(c for c in result.contrasts if c.contrast.key == "planted-error")
    weak = planted.model_copy(update={"p_holm": 0.2})
    page = render_page(Findings({}, _meta(), result.model_copy(update={"contrasts": [weak]})))
    line = next(x for x in page.splitlines() if x.startswith("- **planted-error**"))
    assert "not significant after Holm's correction: not established" in line
    assert "supports" not in line


def test_the_page_records_the_machine_and_states_costs_from_this_runs_timings() -> None:
    page = render_page(Findings({}, _meta(), _decisive(World(e=0.1))))
    assert "CPU Test CPU 9000, 2 cores visible" in page
    assert "torch 2.13.0 (CPU build)" in page and "commit abc123" in page
    assert "| train | 0.5 |" in page and "| runs: decisive | 1.5 |" in page
    assert "**total of the items** | **2.0**" in page
    assert "took 2.1 min" in page and "[2.0, 1.0, 1.0]" in page
    assert "8.4 min" not in page and "load average 2-3" not in page
    assert "unknown / truncated" in page


def test_page_only_rewrites_from_the_files_alone(tmp_path: Path) -> None:
    out = tmp_path / "findings"
    (out / "summaries").mkdir(parents=True)
    (out / "meta.json").write_text(json.dumps(_meta()), encoding="utf-8")
    (out / DECISIVE_FILE).write_text(_decisive(World(e=0.1)).model_dump_json(),
                                     encoding="utf-8")
    assert main(["findings", "--out", str(out), "--page-only"]) == 0
    text = page_path(out).read_text(encoding="utf-8")
    assert text == render_page(load_findings(out))
    assert all((out / name).stat().st_size > 0 for name in FIGURE_FILES)


# -- the whole command (needs the decisive task options of the testbed branch) -------------


def _has_contract() -> bool:
    from redraft.evals.tasks.running_sum import RunningSumConfig

    return "teacher_force" in RunningSumConfig.model_fields


@pytest.mark.skipif(not _has_contract(), reason="running_sum has no teacher_force/recent yet "
                    "(the task options of issue 19's other half)")
def test_the_tiny_rehearsal_runs_the_whole_grid_writes_the_page_and_resumes(
    tmp_path: Path,
) -> None:
    from redraft.lab.findings import run_findings

    options = FindingsOptions(out=tmp_path / "docs" / "f", work=tmp_path / "w", scale="tiny",
                              embedded=False, model="simulated/e=0.2,r=0.5,selfcond=0.3")
    page = run_findings(options)
    assert page == tmp_path / "docs" / "f.md"
    text = page.read_text(encoding="utf-8")
    assert text == render_page(load_findings(options.out))
    decisive = json.loads((options.out / DECISIVE_FILE).read_text(encoding="utf-8"))
    assert set(decisive["arms"]) == {"expert"}
    assert len(decisive["arms"]["expert"]["conditions"]["free-t1"]["e_raw"]["per_model"]) == 2
    events = next((options.work / "runs" / "decisive").glob("*free-t1")) / "events.jsonl"
    before = events.read_bytes()
    assert run_findings(options).read_text(encoding="utf-8").split("## Setup")[0] == \
        text.split("## Setup")[0]  # a rerun resumes: nothing reruns, the results stand
    assert events.read_bytes() == before


def test_findings_runs_its_grids_through_redraft_grids_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One run_grid call per model, holding every run on that model; a constrained run the
    # backend cannot serve is skipped and named, the rest of its model's runs still run.
    import redraft.evals as executor
    from redraft.lab.findings import group_dir
    from redraft.lab.findings._run import _Costs, _run_all

    calls: list[list[str]] = []
    real = executor.run_grid

    def spy(runs, **kwargs):  # type: ignore[no-untyped-def]
        calls.append([str(config.model) for config, _, _ in runs])
        return real(runs, **kwargs)

    monkeypatch.setattr(executor, "run_grid", spy)
    grid = plan(FindingsOptions(out=tmp_path / "o", work=tmp_path / "w", scale="tiny"))
    simulated = next(g for g in grid.groups if g.name == "simulated")
    other = simulated.runs[0].model_copy(update={"name": "other-none-k0", "config": {
        **simulated.runs[0].config, "model": "simulated/e=0.5"}})
    constrained = simulated.runs[0].model_copy(update={"name": "constrained-k1", "config": {
        **simulated.runs[0].config, "critic": "constrained", "max_revisions": 1}})
    specs = [*simulated.runs[:3], other, constrained]
    jobs = [("simulated", spec, group_dir(tmp_path / "w", simulated, spec)) for spec in specs]
    ran, skipped = _run_all(jobs, _Costs(tmp_path / "costs.json"), lambda _m: None)
    assert calls == [[str(specs[0].config["model"])] * 3, [str(constrained.config["model"])],
                     ["simulated/e=0.5"]]
    assert [s["run"] for s in skipped] == ["constrained-k1"]  # type: ignore[index,call-overload]
    assert len(ran) == 4


def test_a_planted_error_in_a_real_run_log_reaches_the_analysis(tmp_path: Path) -> None:
    # The simulated backend through the runner: selfcond 0.5 after an error (a planted one
    # counts), e 0.1. Fresh errors at steps 4–6 after a wrong total planted at step 3:
    # 0.6 planted against 0.1 + 0.5·P(an earlier error) ≈ 0.27 unplanted.
    from redraft.evals import EvalConfig, run_eval
    from redraft.lab.findings._analysis import _load
    from redraft.lab.stats import planted_effect, seed_estimate, with_global

    base = {"task": "running_sum", "critic": "none", "max_revisions": 0, "episodes": 40,
            "max_steps": 6, "error_policy": "continue", "seed": 3,
            "model": "simulated/e=0.1,selfcond=0.5,seed=2"}
    run_eval(EvalConfig.model_validate({**base, "task_options": {"plant_errors": [2]}}),
             tmp_path / "planted")
    run_eval(EvalConfig.model_validate(base), tmp_path / "plain")
    planted, plain = _load(tmp_path / "planted", 6), _load(tmp_path / "plain", 6)
    assert planted.initial.shape == (40, 6)
    assert np.all(planted.global_[:, 3:] == 1)  # the simulated policy never returns to truth
    effect = seed_estimate([[with_global(planted.final, planted.global_),
                             with_global(plain.final, plain.global_)]],
                           planted_effect(4, 6), test_zero=True, draws=400)
    assert effect.value is not None and effect.excludes_zero and effect.value > 0.15


def _folder(path: Path, result: DecisiveResults, command: str) -> Path:
    (path / "summaries").mkdir(parents=True)
    (path / "meta.json").write_text(json.dumps({**_meta(), "command": command}),
                                    encoding="utf-8")
    (path / DECISIVE_FILE).write_text(result.model_dump_json(), encoding="utf-8")
    return path


def test_a_detected_contrast_that_does_not_replicate_is_not_established(tmp_path: Path) -> None:
    effect = _decisive(World(e=0.05, selfcond=0.4), draws=1000, arms=("expert",))
    none = _decisive(World(e=0.05), 1, draws=1000, arms=("expert",))
    again = _decisive(World(e=0.05, selfcond=0.4), 2, draws=1000, arms=("expert",))
    first = _folder(tmp_path / "a", effect, "redraft findings --out a --seed 0")
    assert main(["findings", "--out", str(first), "--replicate",
                 str(_folder(tmp_path / "b", none, "redraft findings --out b --seed 7")),
                 "--page-only"]) == 0
    page = page_path(first).read_text(encoding="utf-8")
    line = next(x for x in page.splitlines() if x.startswith("- **planted-error**"))
    assert "supports LeCun" in line and "**not established**" in line
    assert "`redraft findings --out b --seed 7`" in page
    assert page == render_page(load_findings(first))
    assert main(["findings", "--out", str(first), "--replicate",
                 str(_folder(tmp_path / "c", again, "redraft findings --out c --seed 8")),
                 "--page-only"]) == 0
    page = page_path(first).read_text(encoding="utf-8")
    replication = page[page.index("## Replication"):]
    row = next(x for x in replication.splitlines() if x.startswith("| `planted-error`"))
    assert row.endswith("| replicated |")
    line = next(x for x in page.splitlines() if x.startswith("- **planted-error**"))
    assert "not established" not in line
    assert main(["findings", "--out", str(first), "--replicate", str(tmp_path / "c")]) == 2


def test_a_replication_at_exactly_zero_has_no_direction() -> None:
    result = _decisive(World(e=0.05, selfcond=0.4), draws=1000, arms=("expert",))
    planted = next(c for c in result.contrasts if c.contrast.key == "planted-error")
    est = planted.estimate
    assert est is not None and est.value is not None
    assert est.ci_low is not None and est.ci_high is not None
    lowered = planted.model_copy(update={"estimate": est.model_copy(update={
        "value": -est.value, "ci_low": -est.ci_high, "ci_high": -est.ci_low})})
    for detected, sign in ((planted, 1), (lowered, -1)):
        for value in (0.1, -0.1, 0.0):
            twin = planted.model_copy(update={"estimate": est.model_copy(
                update={"value": value, "ci_low": -1.0, "ci_high": 1.0})})
            assert replicated(detected, twin) is (value * sign > 0), (sign, value)


def test_page_differences_read_in_plain_words_with_the_digits_they_need() -> None:
    from redraft.lab.findings._page import _verdict

    tiny = {"value": -0.0004, "ci_low": -0.0009, "ci_high": -0.0001}
    assert _verdict(tiny) == ("lower by 0.0004 [0.0001, 0.0009]", -1)
    assert _verdict({"value": 0.1, "ci_low": 0.05, "ci_high": 0.2}) == (
        "higher by 0.100 [0.050, 0.200]", 1)
    text, sign = _verdict({"value": -0.02, "ci_low": -0.05, "ci_high": 0.01})
    assert sign == 0 and text == "no detectable effect (Δ = −0.020 [−0.050, 0.010])"
    for words in (_verdict(tiny)[0], text):
        assert "−0.000" not in words and "by −" not in words


def test_the_headline_says_which_arms_had_not_learnt_the_task_at_this_budget() -> None:
    meta = _meta()
    models = [
        {"arm": "expert", "regime": "expert", "seed": s, "parameters": 1, "steps": 3,
         "batch_size": 8, "seconds": 1.0, "episode_steps": 6, "heldout_step_accuracy": a}
        for s, a in ((0, 1.0), (1, 0.906))
    ] + [
        {"arm": "retry-masked", "regime": "retry", "seed": s, "parameters": 1, "steps": 3,
         "batch_size": 8, "seconds": 1.0, "episode_steps": 6, "heldout_step_accuracy": a,
         "wrong_answers": {"temperature": t, "wrong": 22, "sampled": 2048}}
        for s, a, t in ((0, 0.297, 1.0), (1, 0.95, 2.0))
    ]
    meta["models"] = models
    page = render_page(Findings({}, meta, _decisive(World(e=0.1))))
    headline = page[page.index("## Headline"):page.index("## Setup")]
    assert "expert 0.906–1.000; retry-masked 0.297–0.950" in headline
    assert "Some models of `retry-masked` were below 0.9" in headline
    assert "`expert`" not in headline.split("Some models of")[1]
    # where each retry model's wrong answers came from, hotter where the expert erred rarely
    assert "| 0.297 | 1, 22 / 2048 |" in page and "| 0.950 | 2, 22 / 2048 |" in page
    assert "| 1.000 | — |" in page
    # every model learnt: the accuracies are stated, no caveat
    for m in models:
        m["heldout_step_accuracy"] = 0.99
    page = render_page(Findings({}, meta, _decisive(World(e=0.1))))
    assert "Held-out step accuracy of each arm" in page and "Some models of" not in page


def test_the_task_calibration_reads_as_sentences_and_a_table_not_json() -> None:
    meta = _meta()
    meta["calibration"] = {
        "task_options": {"representation": "recent", "window": 2}, "measured": True,
        "train_overrides": {"start": "mixed"}, "in_range": False, "size": "micro",
        "training": {"steps": 3000, "batch_size": 32, "seed": 1},
        "e_tf_t1": {"value": 0.1292, "ci_low": 0.1083, "ci_high": 0.1616}, "e_tf_t0": None,
        "note": "Seeds differ.", "candidates": [{"name": "A", "command": "redraft train x",
                                                 "outcome": "never learnt"}]}
    page = render_page(Findings({}, meta, _decisive(World(e=0.1))))
    assert ("task `representation=recent`, `window=2` (training: `start=mixed`); a `micro` "
            "expert trained 3000 steps of 32 (seed 1); e_TF at temperature 1 0.129 "
            "[0.108, 0.162] — not in range for every seed.") in page
    assert "| `A` | never learnt |" in page and "Seeds differ." in page
    assert '{"task_options"' not in page


def test_a_masked_retry_model_trained_when_the_marker_was_masked_too_is_refused(
    tmp_path: Path,
) -> None:
    """Recipe schema 1 masked the [BACK] marker with the wrong answer: such a model never
    learnt to take an answer back, so a rerun must not keep it as this grid's retry model."""
    from redraft.lab.findings._run import _train, _train_config
    from redraft.lab.testbed import RECIPE_FILE, SIZES, Recipe
    from redraft.tools import BadInputError

    options = FindingsOptions(out=tmp_path / "o", work=tmp_path / "w", scale="tiny")
    spec = next(t for t in plan(options).trains if t.extra.get("mask_wrong"))
    config = _train_config(spec, options)
    made = {"task": config.task, "task_options": {}, "regime": "retry", "config": config,
            "size": SIZES[config.size], "parameters": 1, "steps_done": config.steps,
            "stopped_by": "steps", "examples_seen": 1, "tokens_seen": 1,
            "target_tokens_seen": 1, "seconds": 12.5, "device": "cpu", "threads": 1,
            "loss_curve": [], "heldout_step_accuracy": 0.5, "heldout_steps": 8, "versions": {}}
    spec.out.mkdir(parents=True)
    heard: list[str] = []
    for schema in (1, 2):
        recipe = Recipe.model_validate({**made, "schema_version": schema})
        (spec.out / RECIPE_FILE).write_text(recipe.model_dump_json(), encoding="utf-8")
        if schema == 1:
            with pytest.raises(BadInputError,
                               match=r"outdated: .*\[BACK\].*delete that folder and the runs"):
                _train(spec, options, heard.append)
        else:
            assert _train(spec, options, heard.append) == 12.5  # kept, not retrained
    assert heard == [f"findings: {spec.out} is trained ({config.steps} steps), kept"]
    assert (spec.out / RECIPE_FILE).is_file()  # nothing deleted


def test_runs_of_a_model_since_deleted_are_refused_before_any_training(tmp_path: Path) -> None:
    """A rerun keeps finished runs as they stand: runs made by a model that is gone would be
    reported as its retrained successor's."""
    from redraft.lab.findings import run_findings
    from redraft.lab.findings._grid import decisive_dir
    from redraft.tools import BadInputError

    options = FindingsOptions(out=tmp_path / "o", work=tmp_path / "w", scale="tiny",
                              embedded=False)
    run = next(r for r in plan(options).decisive if r.arm == "expert")
    where = decisive_dir(options.work, run)
    where.mkdir(parents=True)
    (where / "events.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"1 run\(s\) made with .* holds no trained model"):
        run_findings(options)
    assert not (options.work / "models").exists()  # refused before training anything
    assert (where / "events.jsonl").read_text(encoding="utf-8") == "{}\n"  # nothing deleted
