"""Training a testbed model: it learns, its directory runs in every critic mode, bad input.

The learning test trains a micro model (~0.14M parameters) for 500 steps of 32 examples
(about 20 s on two quiet cores, 45 s on a busy machine) and measures it through
``redraft eval`` on held-out episodes of the testbed's running sum (one addend of 0..9
per step, shown in the prompt). Chance: a model that has learnt the format but not
the addition does best by restating the previous total, which is right only when the
addend is 0: 10% of steps. A working training loop gets well above that; a broken one (no
gradient, wrong labels, wrong mask) does not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from redraft.agent.backends import Message
from redraft.evals.cli import main
from redraft.evals.stats import analyze_run, load_run
from redraft.evals.tasks import load_task
from redraft.lab.testbed import BACK_MARKER, RECIPE_FILE, read_recipe, sample_wrong_answers
from redraft.lab.testbed._tokenizer import render_chat

CHANCE = 0.10
"""Step accuracy of restating the previous total (addend 0 in 1 of 10 steps)."""
REQUIRED = 0.30
"""What the micro model must reach on held-out steps: three times chance."""


@pytest.fixture(scope="module")
def expert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("testbed") / "expert"
    # A fixed step count, no time limit: the same model however busy the machine is.
    argv = ["train", "running_sum", "--regime", "expert", "--size", "micro", "--minutes", "0",
            "--steps", "500", "--batch-size", "32", "--lr", "6e-3", "--episode-steps", "10",
            "--out", str(out), "-q"]
    assert main(argv) == 0
    return out


def _eval(model: Path, out: Path, *extra: str) -> int:
    return main(["eval", "running_sum", "--model", f"hf/{model}", "--episodes", "8",
                 "--max-steps", "3", "--error-policy", "continue", "--seed", "11",
                 "--out", str(out), "-q", *extra])


@pytest.mark.slow
def test_the_model_directory_is_complete(expert: Path) -> None:
    names = {p.name for p in expert.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", RECIPE_FILE} <= names
    recipe = read_recipe(expert)
    assert recipe is not None
    assert recipe.task == "running_sum" and recipe.regime == "expert"
    assert recipe.task_options == {"representation": "shown", "keys_per_step": 1,
                                   "value_min": 0}
    assert recipe.tokens_seen > 0 and recipe.loss_curve
    assert recipe.loss_curve[-1].loss < recipe.loss_curve[0].loss
    assert recipe.versions["torch"] != "missing"


@pytest.mark.slow
def test_micro_model_beats_chance_on_held_out_episodes(expert: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["eval", "running_sum", "--model", f"hf/{expert}", "--critic", "none",
                 "--episodes", "48", "--max-steps", "10", "--error-policy", "continue",
                 "--seed", "5", "--out", str(run), "-q"]) == 0
    config = json.loads((run / "manifest.json").read_text())["config"]
    assert config["representation"] == "shown"  # taken from the recipe, like the options
    assert config["task_options"] == {"keys_per_step": 1, "value_min": 0}
    stats = analyze_run(load_run(run), n_boot=200)
    e_raw = stats.metrics["e_raw"]
    assert e_raw.value is not None and e_raw.ci_high is not None
    accuracy = 1.0 - e_raw.value
    print(f"held-out step accuracy {accuracy:.3f} (chance {CHANCE}, required {REQUIRED})")
    assert 1.0 - e_raw.ci_high > CHANCE  # clearly above chance, interval included
    assert accuracy >= REQUIRED


@pytest.mark.parametrize("critic", ["tool", "self", "resample"])
@pytest.mark.slow
def test_every_critic_mode_runs_the_model(expert: Path, tmp_path: Path, critic: str) -> None:
    assert _eval(expert, tmp_path / critic, "--critic", critic, "--rounds", "1") == 0
    steps = [json.loads(line) for line in (tmp_path / critic / "events.jsonl").open()]
    assert sum(e["kind"] == "episode_end" for e in steps) == 8


@pytest.mark.slow
def test_a_model_of_another_task_is_bad_input(
    expert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", "addition", "--model", f"hf/{expert}", "--episodes", "1",
                 "--out", str(tmp_path / "run"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "trained on task 'running_sum'" in err


@pytest.mark.slow
def test_retry_model_trains_and_runs(tmp_path: Path) -> None:
    model = tmp_path / "retry"
    assert main(["train", "running_sum", "--regime", "retry", "--retry-p", "0.5", "--size",
                 "micro", "--steps", "5", "--out", str(model), "-q"]) == 0
    recipe = read_recipe(model)
    assert recipe is not None and recipe.regime == "retry" and recipe.steps_done == 5
    assert _eval(model, tmp_path / "run", "--critic", "none") == 0


@pytest.mark.slow
def test_retry_draws_wrong_answers_from_a_trained_model(expert: Path, tmp_path: Path) -> None:
    model = tmp_path / "retry-own"
    assert main(["train", "running_sum", "--regime", "retry", "--retry-p", "0.5",
                 "--wrong-model", str(expert), "--mask-wrong", "--recovery-p", "0.1",
                 "--steps", "3", "--batch-size", "8", "--minutes", "0", "--episode-steps", "10",
                 "--out", str(model), "-q"]) == 0
    recipe = read_recipe(model)
    assert recipe is not None and recipe.config.wrong_source == "model"
    assert recipe.config.mask_wrong and recipe.config.recovery_p == 0.1
    wrong = recipe.wrong_answers
    assert wrong is not None and wrong.model == str(expert) and wrong.temperature == 1.0
    # The expert is right on about half the held-out steps: many sampled answers are wrong,
    # and only wrong ones are kept.
    assert len(wrong.offsets) + wrong.unreadable <= wrong.sampled
    assert len(wrong.offsets) > wrong.sampled // 10 and 0 not in wrong.offsets


@pytest.mark.slow
def test_a_model_too_accurate_at_temperature_1_is_sampled_hotter(expert: Path) -> None:
    # An expert that makes few mistakes at temperature 1 (one of the quick scale's made
    # none in 2048 steps) is sampled again, hotter, until enough wrong totals are found;
    # the temperature that gave them is what the recipe records.
    task = load_task("running_sum", value_min=0)
    enough = sample_wrong_answers(expert, task, seed=3, episode_steps=10, samples=64,
                                  temperatures=(1.0, 2.0), min_wrong=1)
    assert enough.temperature == 1.0 and enough.offsets
    # Never enough: every temperature is tried, and the last one's wrong totals are kept.
    hotter = sample_wrong_answers(expert, task, seed=3, episode_steps=10, samples=64,
                                  temperatures=(1.0, 2.0), min_wrong=10**6)
    assert hotter.temperature == 2.0 and hotter.offsets and 0 not in hotter.offsets


@pytest.mark.slow
def test_the_marker_is_one_token_that_survives_decoding(expert: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(expert)
    ids = tokenizer(f"total: 5 {BACK_MARKER} total: 6", add_special_tokens=False)["input_ids"]
    assert len(ids) == len("total: 5  total: 6") + 1
    assert tokenizer.decode(ids, skip_special_tokens=True) == f"total: 5 {BACK_MARKER} total: 6"
    prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": "ignored"}, {"role": "user", "content": "Step 1"}],
        tokenize=False, add_generation_prompt=True,
    )
    assert prompt == "Step 1\n>"
    conversation = [Message(role="system", content="s"), Message(role="user", content="u 1"),
                    Message(role="assistant", content="total: 3"),
                    Message(role="user", content="Your answer was checked\nand rejected")]
    for generation_prompt in (True, False):
        assert render_chat(conversation, add_generation_prompt=generation_prompt) == (
            tokenizer.apply_chat_template(
                [m.model_dump() for m in conversation], tokenize=False,
                add_generation_prompt=generation_prompt,
            )
        )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "chess", "--regime", "expert"], "cannot train on task 'chess'"),
        (["train", "nosuchtask"], "cannot train on task 'nosuchtask'"),
        (["train", "running_sum", "--regime", "dagger"], "--regime"),
        (["train", "running_sum", "--size", "huge"], "--size"),
        (["train", "running_sum", "--representation", "nope"], "representation"),
        (["train", "running_sum", "--regime", "recovery", "--recovery-p", "0.2"],
         "true total can be recomputed"),
        (["train", "running_sum", "--regime", "recovery"], "recovery_p above 0"),
        (["train", "running_sum", "--retry-p", "0.6"], "--retry-p"),
        (["train", "running_sum", "--wrong-source", "model"], "wrong_model go together"),
        (["train", "running_sum", "--wrong-model", "nowhere"], "not a testbed model"),
    ],
)
@pytest.mark.slow
def test_bad_train_input_is_one_line_exit_2(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*argv, "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and needle in err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_a_used_out_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("data")
    assert main(["train", "running_sum", "--out", str(tmp_path / "m")]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert (tmp_path / "m" / "keep.txt").read_text() == "data"


@pytest.mark.slow
def test_missing_torch_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    assert main(["train", "running_sum", "--steps", "1", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "pip install 'redraft[train]'" in err and "torch==2.13.0" in err
