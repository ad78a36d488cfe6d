"""The findings grid and page.

The grid: every seed's base, then every arm from it on the same data, every run in
distribution, every primary outcome backed by the scores it needs. The page: written from
its files alone (the committed page equals what the committed files produce; the
exploratory tables rebuilt from a small committed log equal the expected markdown); zero
planted effects read "no detectable effect; at most ±X", a planted effect is named with
whom it supports, and a detected one without a second run that agrees is "not
replicated" (planted seeds: ``redraft.lab.findings._planted``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from redraft.evals.cli import main
from redraft.evals.report import write_report
from redraft.lab.findings import (
    ARMS,
    BASE,
    CONDITIONS,
    DECISIVE_FILE,
    FIGURE_FILES,
    PRIMARY,
    SCALES,
    DecisiveResults,
    Findings,
    FindingsOptions,
    ModelStatus,
    RunSpec,
    analyze,
    group_tables,
    load_findings,
    page_path,
    plan,
    read_with,
    render_page,
    terms,
)
from redraft.lab.findings._decisive_page import replicated
from redraft.lab.findings._planted import World, planted_at_power, simulate
from redraft.lab.findings._scores import Matched

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "findings"
DOCS = ROOT / "docs" / "findings"
PAGES = [DOCS, ROOT / "docs" / "findings-full"]
"""The committed pages: the quick run (with its replication) and the full run."""


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


@pytest.mark.parametrize("docs", PAGES, ids=lambda p: p.name)
def test_committed_findings_artefacts_stay_small(docs: Path) -> None:
    total = sum(p.stat().st_size for p in docs.rglob("*") if p.is_file())
    assert total < 2_000_000


@pytest.mark.parametrize("docs", PAGES, ids=lambda p: p.name)
def test_the_committed_page_is_what_its_committed_files_produce(docs: Path) -> None:
    page = page_path(docs)
    assert page.is_file(), (f"{page} is missing: run 'redraft findings --out "
                            f"docs/{docs.name}'")
    assert page.read_text(encoding="utf-8") == render_page(load_findings(docs))


# -- the grid ------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["tiny", "quick", "full", "gpu"])
def test_every_arm_starts_from_its_seeds_base_and_runs_in_distribution(
    tmp_path: Path, scale: str,
) -> None:
    grid = plan(FindingsOptions(out=tmp_path / "o", work=tmp_path / "w", scale=scale))
    sizes = SCALES[scale]
    assert sizes.seeds >= {"tiny": 2, "quick": 8, "full": 12, "gpu": 12}[scale]
    per_arm: dict[str, set[int]] = {}
    for t in grid.trains:
        per_arm.setdefault(t.arm, set()).add(t.seed)
    assert per_arm == {a: set(range(sizes.seeds)) for a in (BASE.name, *sizes.arms)}
    assert {"expert", "retry", "recovery"} <= set(sizes.arms)
    phases = [t.phase for t in grid.trains]
    assert phases == sorted(phases)  # the bases first
    for t in grid.trains:
        base = tmp_path / "w" / "models" / f"base-s{t.seed}"
        if t.phase == 1:
            assert t.init is None and t.expert is None
        else:  # every arm starts from its own seed's base; retry and recovery learn its mistakes
            assert t.init == base
            assert (t.expert == base) == (t.regime in ("retry", "recovery"))
    for run in grid.decisive:
        config = run.spec.config
        assert config["max_steps"] == sizes.episode_steps  # in distribution: never longer
        assert config["corrector"]["critic"] == "none"  # type: ignore[index, call-overload]
        assert config["error_policy"] == "continue"
        condition = CONDITIONS[run.condition]
        options = config["task_options"]
        assert isinstance(options, dict)
        assert bool(options.get("teacher_force")) == condition.teacher_force
        assert options.get("checkpoint_every") is None  # undo is never a copy
        sampling = config["corrector"]["sampling"]  # type: ignore[index,call-overload]
        assert sampling["temperature"] == (sizes.temperature if condition.temperature == "eval"
                                           else 0.0)
    for arm in sizes.arms:
        assert {r.condition for r in grid.decisive if r.arm == arm} == set(CONDITIONS)


def test_four_primary_outcomes_each_involving_the_expert() -> None:
    assert len(PRIMARY) == 4
    assert len({c.key for c in PRIMARY}) == 4
    assert {c.arm for c in PRIMARY} <= {a.name for a in ARMS if a.primary}
    assert all(c.fails_if and c.supports for c in PRIMARY)


def _critic(run: RunSpec) -> object:
    corrector = run.config["corrector"]
    return corrector["critic"] if isinstance(corrector, dict) else None


def test_exploratory_groups_label_what_they_are(tmp_path: Path) -> None:
    grid = plan(FindingsOptions(out=tmp_path / "o", work=tmp_path / "w"))
    names = {g.name: g for g in grid.groups}
    assert set(names) == {"critics", "smollm2-chess", "smollm2-addition", "simulated"}
    assert "negative control" in names["critics"].title
    assert "best-of-n" in names["critics"].title
    assert [_critic(r) for r in names["critics"].runs] == ["none", "tool", "self", "resample"]
    chess = names["smollm2-chess"].runs
    assert [_critic(r) for r in chess] == ["none", "tool", "constrained"]
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
    assert main(["findings", "--out", str(tmp_path), "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_the_recorded_command_names_a_work_folder_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redraft.lab.findings as findings_module

    heard: list[str] = []

    def fake(options: FindingsOptions, *, say: object = None, command: str = "") -> Path:
        heard.append(command)
        return tmp_path / "page.md"

    monkeypatch.setattr(findings_module, "run_findings", fake)
    assert main(["findings", "--out", "o", "--scale", "tiny"]) == 0
    assert main(["findings", "--out", "o", "--work", "/tmp/w", "--scale", "tiny",
                 "--seed", "3"]) == 0
    assert heard == ["redraft findings --out o --scale tiny",
                     "redraft findings --out o --scale tiny --work /tmp/w --seed 3"]


# -- the page ------------------------------------------------------------------------------


def _decisive(world: World, seed: int = 0, n: int = 8) -> DecisiveResults:
    seeds = list(range(n))
    statuses = [ModelStatus(arm=a, seed=s, converged=True, why="planted", accuracy=1.0,
                            error=0.05) for s in seeds for a in ("base", "expert", "retry",
                                                                 "recovery")]
    return analyze(scores=simulate(world, seeds, np.random.default_rng(seed)),
                   statuses=statuses, seeds=seeds, runs={}, task_options={"modulus": 100},
                   representation="recent", episode_steps=24, temperature=1.5, sites=[5],
                   eval_episodes=64, committed_states=512, tf_sampled={})


WORLD = World(e=0.04, effect_sd=0.01, states=200)


def _meta() -> dict[str, object]:
    return {"scale": "quick", "command": "redraft findings --out x --scale quick", "seed": 0,
            "scale_sizes": SCALES["quick"].model_dump(), "groups": [],
            "costs": {"model/phase-1": 30.0, "model/phase-2": 60.0,
                      "grid/decisive/hf/x": 90.0, "scores": 6.0},
            "this_call_seconds": 190.0,
            "machine": {"cpu": "Test CPU 9000", "cores_visible": 2, "threads_asked": 2,
                        "python": "3.11.7", "torch": {"version": "2.13.0", "build": "CPU",
                                                      "threads": 2},
                        "transformers": "4.0", "llama_cpp_python": "0.3",
                        "redraft_commit": "commit abc123", "load_average_before": [2.0, 1.0,
                                                                                  1.0],
                        "load_average_after": [3.0, 2.0, 1.0]}}


def _line(page: str, key: str) -> str:
    headline = page[page.index("## Headline"):page.index("## Setup")]
    return next(x for x in headline.splitlines() if x.startswith(f"- **{key}**"))


def test_a_page_with_zero_planted_effects_says_no_detectable_effect_and_the_bound() -> None:
    page = render_page(Findings({}, _meta(), _decisive(WORLD)))
    for c in PRIMARY:
        line = _line(page, c.key)
        assert "no detectable effect; at most ±" in line and "at this scale" in line
        assert "8 seeds" in line and "between-seed SD" in line and "sign-flip p" in line
        assert "Holm-adjusted p" in line and "80% power" in line
    assert page.index("if detectably negative") < page.index("## Headline")
    headline = page[page.index("## Headline"):page.index("## Setup")]
    bullets = [x for x in headline.splitlines() if x.startswith("- **")]
    assert [b.split("**")[1] for b in bullets] == [c.key for c in PRIMARY]
    assert "withdrawn" in page and "length generalisation" in page
    assert "the design asks for 1%-10%, so it is inside" in page  # the experts' e ~ 0.04
    cold = render_page(Findings({}, _meta(), _decisive(replace(WORLD, e=0.002))))
    assert "so it is **outside**" in cold


def test_too_few_converged_seeds_is_not_testable_not_a_null() -> None:
    # 3 seeds: the smallest exact two-sided p is 2/2^3 = 0.25, above any Holm level.
    strong = replace(planted_at_power(WORLD, 8), undo=0.0, retry=0.0, recovery=0.0)
    page = render_page(Findings({}, _meta(), _decisive(strong, n=3)))
    line = _line(page, "compounding")
    assert "**not testable at this scale**: 3 converged seeds" in line
    assert "no detectable effect" not in line and "exploratory" in line


def test_a_planted_effect_is_named_with_whom_it_supports_and_needs_a_second_run() -> None:
    strong = replace(planted_at_power(WORLD, 8), undo=0.0, retry=0.0, recovery=0.0)
    strong = replace(strong, compounding=strong.compounding * 2)
    page = render_page(Findings({}, _meta(), _decisive(strong)))
    line = _line(page, "compounding")
    assert "**positive**" in line and "supports LeCun" in line
    assert "**not replicated**: no second run on this page" in line
    assert "not replicated" not in _line(page, "undo")


def test_the_page_records_the_machine_and_states_costs_from_this_runs_timings() -> None:
    page = render_page(Findings({}, _meta(), _decisive(WORLD)))
    assert "CPU Test CPU 9000, 2 cores visible" in page
    assert "torch 2.13.0 (CPU build)" in page and "commit abc123" in page
    assert "| train: phase 1 | 0.5 |" in page
    assert "| runs: decisive | 1.5 |" in page and "| scores | 0.1 |" in page
    assert "**total of the items** | **3.1**" in page
    assert "took 3.2 min" in page and "[2.0, 1.0, 1.0]" in page


def test_page_only_rewrites_from_the_files_alone(tmp_path: Path) -> None:
    out = _folder(tmp_path / "findings", _decisive(WORLD), "redraft findings --out x")
    assert main(["findings", "--out", str(out), "--page-only"]) == 0
    text = page_path(out).read_text(encoding="utf-8")
    assert text == render_page(load_findings(out))
    assert "](findings/etf.png)" in text
    other = _folder(tmp_path / "findings-full", _decisive(WORLD), "redraft findings --out y")
    assert main(["findings", "--out", str(other), "--page-only"]) == 0
    text = page_path(other).read_text(encoding="utf-8")  # its links go to its own folder
    assert "](findings-full/etf.png)" in text and "](findings/" not in text
    assert "from findings-full/meta.json" in text
    assert all((out / name).stat().st_size > 0 for name in FIGURE_FILES if name != "learning.png")


def _folder(path: Path, result: DecisiveResults, command: str) -> Path:
    (path / "summaries").mkdir(parents=True)
    (path / "meta.json").write_text(json.dumps({**_meta(), "command": command}),
                                    encoding="utf-8")
    (path / DECISIVE_FILE).write_text(result.model_dump_json(), encoding="utf-8")
    return path


def test_a_detected_outcome_counts_only_if_a_second_run_agrees_in_direction(
    tmp_path: Path,
) -> None:
    strong = replace(planted_at_power(WORLD, 8), undo=0.0, retry=0.0, recovery=0.0)
    strong = replace(strong, compounding=strong.compounding * 2)
    effect = _decisive(strong)
    opposite = _decisive(replace(strong, compounding=-strong.compounding), seed=1)
    again = _decisive(strong, seed=2)
    first = _folder(tmp_path / "a", effect, "redraft findings --out a --seed 0")
    assert main(["findings", "--out", str(first), "--replicate",
                 str(_folder(tmp_path / "b", opposite, "redraft findings --out b --seed 7")),
                 "--page-only"]) == 0
    page = page_path(first).read_text(encoding="utf-8")
    assert "does not agree in direction" in _line(page, "compounding")
    assert "`redraft findings --out b --seed 7`" in page
    assert page == render_page(load_findings(first))
    assert main(["findings", "--out", str(first), "--replicate",
                 str(_folder(tmp_path / "c", again, "redraft findings --out c --seed 8")),
                 "--page-only"]) == 0
    page = page_path(first).read_text(encoding="utf-8")
    replication = page[page.index("## Replication"):]
    row = next(x for x in replication.splitlines() if x.startswith("| `compounding`"))
    assert row.endswith("| agrees in direction |")
    assert "the second run agrees in direction" in _line(page, "compounding")
    assert main(["findings", "--out", str(first), "--replicate", str(tmp_path / "c")]) == 2


def test_a_replication_at_exactly_zero_has_no_direction() -> None:
    strong = replace(planted_at_power(WORLD, 8), compounding=0.05)
    result = _decisive(strong)
    detected = next(r for r in result.primary if r.contrast.key == "compounding")
    est = detected.estimate
    assert est is not None and est.value is not None and est.value > 0
    for value in (0.1, -0.1, 0.0):
        twin = detected.model_copy(update={"estimate": est.model_copy(update={"value": value})})
        assert replicated(detected, twin) is (value > 0)


def test_a_regime_contrast_is_scored_at_matched_clean_error_and_read_beside_the_rest() -> None:
    # A recovery model far flatter than its expert at the main temperature (as trained at
    # quick: 0.67 against the experts' 0.04 on clean states) lands on the truth after an
    # error more often there by flatness alone (+0.05 here, all of it chance). The declared
    # outcome samples it where its clean error equals its expert's (planted: the expert's
    # post-error scores there), so the flatness is not in it; the page shows both.
    seeds = list(range(8))
    scores = simulate(WORLD, seeds, np.random.default_rng(3))
    models = []
    for m in scores.models:
        if m.arm == "recovery":
            assert m.matched is not None
            post = m.post.model_copy(update={"truth": m.post.truth + 0.05,
                                             "clean_chance": m.post.clean_chance + 0.05})
            matched = m.matched.model_copy(update={"temperature": 0.6 + 0.01 * m.seed})
            if m.seed == 5:
                matched = Matched(temperature=None, target=0.04, e_tf=0.05,
                                  why="no temperature in 0.05-20 brings its clean error to "
                                  "its expert's 0.0400 (it is 0.0500 at the nearer end)")
            m = m.model_copy(update={"e_tf": {"1.5": m.e_tf["1.5"] + 0.3 + 0.01 * m.seed},
                                     "post": post, "post_by_after": {"1": post, "2": post},
                                     "matched": matched})
        models.append(m)
    statuses = [ModelStatus(arm=a, seed=s, converged=not (a == "recovery" and s == 2),
                            why="planted", accuracy=1.0, error=0.05)
                for s in seeds for a in ("base", "expert", "retry", "recovery")]
    result = analyze(scores=scores.model_copy(update={"models": models}), statuses=statuses,
                     seeds=seeds, runs={}, task_options={}, representation="recent",
                     episode_steps=24, temperature=1.5, sites=[5], eval_episodes=1,
                     committed_states=1, tf_sampled={})
    recovery = next(r for r in result.primary if r.contrast.key == "recovery")
    assert recovery.estimate is not None
    by_seed = {m.seed: m for m in models if m.arm == "recovery"}
    experts = {m.seed: m for m in models if m.arm == "expert"}
    # The declared value: the matched post-error scores minus the expert's, flatness-free.
    kept = [s for s in seeds if s not in (2, 5)]
    assert recovery.estimate.per_seed == [
        pytest.approx(experts[s].post.truth - by_seed[s].matched.post.truth)  # type: ignore[union-attr]
        if s in kept else None for s in seeds]
    assert any(x.startswith("seed 5: recovery: no temperature") for x in recovery.left_out)
    extra = read_with(result, recovery)
    assert extra is not None and extra.clean_gap is not None and extra.own is not None
    assert extra.at_main is not None and extra.temperatures == pytest.approx((0.6, 0.67))
    expected = [pytest.approx(0.3 + 0.01 * s) if s in kept else None for s in seeds]
    assert extra.clean_gap.per_seed == expected  # the seeds the contrast kept, in order
    # At the main temperature the outcome is the matched one minus the 0.05 flatness gave.
    assert extra.at_main.per_seed == [None if v is None else pytest.approx(v - 0.05)
                                      for v in recovery.estimate.per_seed]
    # Its own part (undo beyond chance) at matched error: the outcome's negative here.
    assert extra.own.per_seed == [None if v is None else pytest.approx(-v)
                                  for v in recovery.estimate.per_seed]
    assert read_with(result, next(r for r in result.primary if r.contrast.key == "undo")) is None
    page = render_page(Findings({}, _meta(), result))
    lines = page.splitlines()
    below = lines[lines.index(_line(page, "recovery")) + 1]
    assert below.startswith("  - read with") and "sampled at T=0.60-0.67" in below
    assert "the arm is flatter than its expert at that temperature" in below
    assert "beyond chance" in below and "the definition before matching" in below
    retry = lines[lines.index(_line(page, "retry")) + 1]
    assert "equally sharp" in retry and "taking totals back" in retry
    assert not lines[lines.index(_line(page, "undo")) + 1].startswith("  - read with")
    # An expert contrast is shown with the two terms it subtracts (their size in context).
    undo = next(r for r in result.primary if r.contrast.key == "undo")
    assert terms(result, undo) == pytest.approx(
        (np.mean([m.post.truth for m in experts.values()]),
         np.mean([m.post.clean_chance for m in experts.values()])))
    assert terms(result, recovery) is None
    assert lines[lines.index(_line(page, "undo")) + 1].startswith(
        "  - the two terms, mean over these seeds: P(back to the truth) ")


def test_a_seed_whose_model_had_not_converged_is_left_out_and_named() -> None:
    seeds = list(range(8))
    statuses = [ModelStatus(arm=a, seed=s, converged=not (a == "retry" and s == 3),
                            why="held-out accuracy 0.5 < 0.98" if a == "retry" and s == 3
                            else "ok", accuracy=1.0, error=0.05,
                            until_learnt=a in ("base", "retry"))
                for s in seeds for a in ("base", "expert", "retry", "recovery")]
    result = analyze(scores=simulate(WORLD, seeds, np.random.default_rng(0)),
                     statuses=statuses, seeds=seeds, runs={}, task_options={},
                     representation="recent", episode_steps=24, temperature=1.5, sites=[5],
                     eval_episodes=1, committed_states=1, tf_sampled={})
    retry = next(r for r in result.primary if r.contrast.key == "retry")
    assert retry.estimate is not None and retry.estimate.n == 7
    assert retry.estimate.per_seed[3] is None
    assert retry.left_out == ["seed 3: retry held-out accuracy 0.5 < 0.98"]
    compounding = next(r for r in result.primary if r.contrast.key == "compounding")
    assert compounding.estimate is not None and compounding.estimate.n == 8
    page = render_page(Findings({}, _meta(), result))
    assert "(left out: seed 3: retry held-out accuracy 0.5 < 0.98)" in _line(page, "retry")
    assert "An arm trained until learnt (retry) is read as a base is" in page


def _curve(accuracies: list[float], losses: list[float] | None = None) -> list[list[float]]:
    """A learning curve scored every 250 steps: ``[step, accuracy, error, loss]``."""
    losses = losses or [0.05] * len(accuracies)
    return [[250.0 * (i + 1), a, 0.1, loss]
            for i, (a, loss) in enumerate(zip(accuracies, losses, strict=True))]


def test_an_arm_converges_when_its_accuracy_is_flat_over_the_last_quarter() -> None:
    from redraft.lab.findings._analysis import converged

    # Retry, seed 0 of the 2026-12-07 quick run (T=2): still rising at its last step.
    ok, why = converged([[2000.0, 0.7135, 0.5, 0.04], [2250.0, 0.8281, 0.5, 0.03],
                         [2500.0, 0.9062, 0.4, 0.02], [2750.0, 0.9375, 0.4, 0.016],
                         [3000.0, 0.9375, 0.4, 0.017]])
    assert not ok and "still learning" in why
    # Flat within a scoring's noise (a few of 192 states), its loss still falling: converged.
    noisy = _curve([0.89] * 8 + [0.885, 0.896, 0.89, 0.901, 0.885, 0.89, 0.896, 0.891],
                   [0.07 - 0.001 * i for i in range(16)])
    assert converged(noisy) == (True, "accuracy 0.891, trend -0.004 over the last quarter")
    # A slow drift across the last quarter is a trend even when no scoring jumps.
    drift = _curve([0.8] * 12 + [0.81, 0.82, 0.83, 0.84])
    assert not converged(drift)[0]
    # Flat but below the bar an expert must reach; too few scorings for a trend.
    assert converged(_curve([0.9] * 16), accuracy=0.98)[1] == "held-out accuracy 0.900 < 0.98"
    assert not converged(_curve([1.0, 1.0]))[0]


def test_a_retry_has_learnt_when_the_stopping_rule_ended_it_not_when_flat_at_its_cap() -> None:
    from redraft.lab.findings._analysis import model_converged

    rising = _curve([0.5] * 8 + [0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99])
    # The retry trains until learnt: the rule (>= 0.98 at three scorings) ended it.
    assert model_converged(rising, until_learnt=True, stopped=True) == (
        True, "stopping rule at step 4000")
    # At its step cap: flat at half its decisions (a plateau) or still rising, not learnt;
    # its last four scorings at 0.9 or more, one of them at LEARNT, learnt.
    for curve in (_curve([0.55, 0.5] * 8), _curve([0.5] * 12 + [0.6, 0.7, 0.8, 0.9])):
        ok, why = model_converged(curve, until_learnt=True, stopped=False)
        assert not ok and why.startswith("not past its learning turn in 4000 steps")
    assert model_converged(rising, until_learnt=True, stopped=False)[0]
    # The other arms are read by their plateau, an expert also at LEARNT.
    flat = _curve([0.95] * 16)
    assert model_converged(flat, until_learnt=False, stopped=False, accuracy=0.98) == (
        False, "held-out accuracy 0.950 < 0.98")
    assert model_converged(flat, until_learnt=False, stopped=False)[0]


@pytest.mark.slow
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
    assert "nothing is claimed" in text  # a model not trained here has no exact scores
    decisive = json.loads((options.out / DECISIVE_FILE).read_text(encoding="utf-8"))
    assert decisive["arms"]["expert"]["runs"]["free"]["models"] == 2
    events = next((options.work / "runs" / "decisive").glob("*-free")) / "events.jsonl"
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
    given = simulated.runs[0].config
    constrained = simulated.runs[0].model_copy(update={"name": "constrained-k1", "config": {
        **given, "corrector": {**given["corrector"],  # type: ignore[dict-item]
                               "critic": "constrained", "max_revisions": 1}}})
    specs = [*simulated.runs[:3], other, constrained]
    jobs = [("simulated", spec, group_dir(tmp_path / "w", simulated, spec)) for spec in specs]
    ran, skipped = _run_all(jobs, _Costs(tmp_path / "costs.json"), lambda _m: None)
    assert calls == [[str(specs[0].config["model"])] * 3, [str(constrained.config["model"])],
                     ["simulated/e=0.5"]]
    assert [s["run"] for s in skipped] == ["constrained-k1"]  # type: ignore[index,call-overload]
    assert len(ran) == 4


def test_runs_of_a_model_since_deleted_are_refused_before_any_training(tmp_path: Path) -> None:
    """A rerun keeps finished runs as they stand: runs made by a model that is gone would be
    reported as its retrained successor's."""
    from redraft.core import BadInputError
    from redraft.lab.findings import run_findings
    from redraft.lab.findings._grid import decisive_dir

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
