"""The dataset task: files, field mapping, episodes from records, and the verifier/oracle split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redraft.agent import CorrectorConfig
from redraft.agent.backends import ScriptedBackend
from redraft.core import BadInputError
from redraft.evals import EvalConfig, read_events, read_manifest, run_eval
from redraft.evals.cli import main
from redraft.evals.tasks import IndexedTask, load_task
from redraft.evals.tasks.dataset import DatasetError, DatasetTask
from redraft.tools import AnswerContext, AnswerTruth, Judgement, Verdict

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
WORDS = EXAMPLES / "word_problems.jsonl"
CHOICES = EXAMPLES / "multiple_choice.csv"
CODE = EXAMPLES / "code_problems.jsonl"
RIGHT = Judgement(local=Verdict.accept())
WRONG = Judgement(local=Verdict.reject("wrong_value", "no"))


def _task(path: Path, **options: object) -> DatasetTask:
    task = load_task("dataset", path=str(path), **options)
    assert isinstance(task, DatasetTask)
    return task


@pytest.mark.parametrize(("path", "records", "scorer", "steps"), [
    (WORDS, 30, "number", 39), (CHOICES, 20, "choice", 20), (CODE, 15, "code", 15),
])
def test_the_examples_load_with_the_scorer_their_targets_call_for(
    path: Path, records: int, scorer: str, steps: int
) -> None:
    task = _task(path)
    assert isinstance(task, IndexedTask)
    assert len(task) == records
    assert sum(len(r.steps) for r in task.records) == steps
    info = task.provenance()
    assert info["scorer"]["name"] == scorer  # type: ignore[index,call-overload]
    assert info["dataset"]["records"] == records  # type: ignore[index,call-overload]
    assert len(info["dataset"]["sha256"]) == 64  # type: ignore[index,arg-type,call-overload]
    if scorer == "code":
        assert info["sandbox"]["isolation"] in ("bwrap", "process")  # type: ignore[index,call-overload]


@pytest.mark.parametrize("path", [WORDS, CHOICES, CODE])
def test_no_target_reaches_the_verifier(path: Path) -> None:
    task = _task(path)
    for index in range(len(task)):
        episode = task.new_episode_at(index, 0, max_steps=10, error_policy="continue")
        while not episode.done:
            prompt = episode.prompt()
            assert type(prompt.context) is AnswerContext
            assert isinstance(prompt.oracle_context, AnswerTruth)
            shown = json.dumps(prompt.context.model_dump()) + json.dumps(
                [m.content for m in prompt.messages])
            assert "target" not in prompt.context.model_dump()
            target = prompt.oracle_context.target
            if isinstance(target, list):  # hidden tests: none of them in sight
                assert not any(test in shown for test in target)
            episode.commit("ANSWER: 0", WRONG)


def test_episode_i_is_record_i_and_every_record_runs_once(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = main(["eval", "dataset", "--task-option", f"path={WORDS}", "--model",
                 "simulated/e=0.2,r=0.5", "--out", str(out), "-q"])
    assert code == 0
    assert read_manifest(out)["config"]["episodes"] == 30
    ids = [json.loads(line)["id"] for line in WORDS.read_text().splitlines()]
    steps = [e for e in read_events(out) if e.kind == "step"]
    for event in steps:
        assert event.info["record"] == ids[event.episode]
    assert {e.episode for e in steps} == set(range(30))


def test_more_episodes_than_records_is_bad_input(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "dataset", "--task-option", f"path={CHOICES}", "--episodes", "21",
                 "--model", "simulated/e=0.2", "--out", str(tmp_path / "run"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "holds 20 episodes" in err and "at most 20" in err


def test_from_python_a_dataset_without_episodes_runs_each_record_once(tmp_path: Path) -> None:
    # EvalConfig's default (20) would ask a 3-record file for records it lacks, and leave
    # most of a 30-record one out; as on the command line, no episodes means every record.
    data = tmp_path / "q.csv"
    data.write_text("question,answer\nOne?,1\nTwo?,2\nThree?,3\n")
    for path, records in ((data, 3), (WORDS, 30)):
        config = EvalConfig(task="dataset", task_options={"path": str(path)},
                            corrector=CorrectorConfig(critic="none"), model="simulated/e=0")
        out = tmp_path / f"run-{records}"
        assert run_eval(config, out).episodes == records
        assert read_manifest(out)["config"]["episodes"] == records
        assert run_eval(config, out).ran == 0  # the same config resumes the same run
    with pytest.raises(BadInputError, match="holds 3 episodes"):
        run_eval(EvalConfig(task="dataset", task_options={"path": str(data)}, episodes=4,
                            model="simulated/e=0"), tmp_path / "four")


@pytest.mark.parametrize("path", [WORDS, CHOICES, CODE])
def test_a_perfect_simulated_model_is_right_everywhere(path: Path, tmp_path: Path) -> None:
    # The simulated backend plays the task's hints: a right hint must score as right.
    config = EvalConfig(task="dataset", task_options={"path": str(path)},
                        corrector=CorrectorConfig(critic="none"),
                        model="simulated/e=0", episodes=len(_task(path)),
                        error_policy="continue")
    run_eval(config, tmp_path / "run")
    steps = [e for e in read_events(tmp_path / "run") if e.kind == "step"]
    assert steps and all(e.final == "correct" for e in steps)


def test_a_multi_step_record_asks_after_its_own_answers() -> None:
    task = _task(WORDS)
    index = next(i for i, r in enumerate(task.records) if r.id == "library")
    episode = task.new_episode_at(index, 0, max_steps=10, error_policy="continue")
    first = episode.prompt()
    assert "80 books" in first.messages[0].content  # the shared text, before question 1
    episode.commit("44", WRONG)
    second = episode.prompt()
    assert [m.role for m in second.messages] == ["user", "assistant", "user"]
    assert second.messages[1].content == "44"  # its own (wrong) answer, not the truth
    assert second.context.history[0].answer == "44"
    assert second.oracle_context.target == 65
    stop = task.new_episode_at(index, 0, max_steps=10, error_policy="stop")
    result = stop.commit("44", WRONG)
    assert result.end == "error" and stop.done


def test_formats_read_the_same_records(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in CODE.read_text().splitlines()]
    (tmp_path / "code.json").write_text(json.dumps(rows, indent=2))
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pyarrow.Table.from_pylist(rows), tmp_path / "code.parquet")
    reference = [r.id for r in _task(CODE).records]
    for name in ("code.json", "code.parquet"):
        assert [r.id for r in _task(tmp_path / name).records] == reference
    (tmp_path / "mc.tsv").write_text(CHOICES.read_text().replace(",", "\t"))
    assert len(_task(tmp_path / "mc.tsv")) == 20


def test_field_mapping_and_template(tmp_path: Path) -> None:
    data = tmp_path / "qa.jsonl"
    data.write_text('{"q": "Capital of France?", "a": "Paris", "topic": "geo"}\n'
                    '{"q": "Capital of Italy?", "a": "Rome", "topic": "geo"}\n')
    task = _task(data, input="q", target="a", template="[{topic}] {input}", metadata=["topic"])
    episode = task.new_episode_at(1, 0, max_steps=1, error_policy="stop")
    prompt = episode.prompt()
    assert prompt.messages[-1].content == "[geo] Capital of Italy?"
    assert task.provenance()["scorer"]["name"] == "exact"  # type: ignore[index,call-overload]
    assert episode.commit("Rome", RIGHT).info == {"record": "line 2",
                                                  "metadata": {"topic": "geo"}}
    with pytest.raises(DatasetError, match=r"field 'nope': missing \(the template"):
        _task(data, input="q", target="a", template="{nope} {input}")
    with pytest.raises(DatasetError, match="plain name"):
        _task(data, input="q", target="a", template="{input.__class__}")


def _one_line_exit_2(args: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.count("\n") == 0, err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize(("lines", "words"), [
    # A missing field: named, with the file and the line.
    (['{"question": "1+1?", "answer": 2}', '{"question": "2+2?"}'],
     ["bad.jsonl, line 2", "field 'answer': missing"]),
    # Bad JSON on line 7.
    ([f'{{"question": "{i}+1?", "answer": {i + 1}}}' for i in range(6)]
     + ['{"question": "7+1?", "answer": 8'],
     ["bad.jsonl, line 7", "not valid JSON"]),
    # An empty file.
    ([], ["bad.jsonl is empty"]),
    # A target of the wrong type: an object among numbers.
    (['{"question": "1+1?", "answer": 2}', '{"question": "2+2?", "answer": {"n": 4}}'],
     ["bad.jsonl, line 2", "field 'answer'", "not text"]),
])
def test_a_malformed_dataset_is_one_line_and_leaves_nothing(
    lines: list[str], words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join(lines) + ("\n" if lines else ""))
    out = tmp_path / "run"
    for command in ("eval", "grid"):
        _one_line_exit_2([command, "dataset", "--task-option", f"path={data}", "--model",
                          "simulated/e=0.1", "--out", str(out), "-q"], capsys, *words)
        assert not out.exists()  # no run, no log, no report: nothing partial


def test_a_named_scorer_refuses_targets_it_cannot_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "words.csv"
    data.write_text("question,answer\nOne plus one?,2\nTwo plus two?,four\n")
    _one_line_exit_2(["eval", "dataset", "--task-option", f"path={data}", "--task-option",
                      "scorer=number", "--model", "simulated/e=0.1", "--out",
                      str(tmp_path / "run"), "-q"],
                     capsys, "words.csv, line 3", "'four' is not a number", "scorer number")


def test_bad_records_can_be_skipped_and_are_counted(tmp_path: Path) -> None:
    data = tmp_path / "some.jsonl"
    data.write_text('{"question": "1+1?", "answer": 2}\n{"question": "2+2?"}\nnot json\n'
                    '{"question": "3+3?", "answer": 6}\n')
    task = _task(data, on_bad_record="skip")
    assert [r.where for r in task.records] == ["line 1", "line 4"]
    dataset = task.provenance()["dataset"]
    assert dataset["skipped_count"] == 2  # type: ignore[index,call-overload]
    assert "2 left out" in dataset["summary"]  # type: ignore[index,call-overload,operator]


def test_a_changed_file_is_a_different_run(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "words.jsonl"
    data.write_text(WORDS.read_text())
    args = ["eval", "dataset", "--task-option", f"path={data}", "--model", "simulated/e=0.1",
            "--episodes", "5", "--out", str(tmp_path / "run"), "-q"]
    assert main(args) == 0
    assert main(args) == 0  # unchanged: resumes (nothing to do)
    data.write_text(WORDS.read_text().replace('"answer": 9', '"answer": 10'))
    _one_line_exit_2(args, capsys, "was run on other task data", "dataset.sha256")


HOSTILE = {
    "add": "```python\nwhile True:\n    pass\n```",
    "is_even": "```python\nimport os\nwhile True:\n    os.fork()\n```",
    "reverse_words": "```python\nblock = bytearray(10 * 1024 ** 3)\n```",
    "count_vowels": "```python\nopen('/tmp/redraft-escape.txt', 'w').write('x')\n```",
    "largest": "```python\nimport socket\nsocket.create_connection(('1.1.1.1', 80), 2)\n```",
    "factorial": "```python\nimport os\nprint(open(f'/proc/{os.getppid()}/environ').read())\n```",
    "fizzbuzz": "```python\nimport sys\nsys.stdout.write('x' * 100_000_000)\n```",
}


@pytest.mark.slow
def test_hostile_programs_in_an_eval_lose_nothing(tmp_path: Path) -> None:
    task = _task(CODE)
    answers = [HOSTILE.get(r.id, f"```python\n{r.steps[0].solution}\n```") for r in task.records]
    config = EvalConfig(
        task="dataset", corrector=CorrectorConfig(critic="none"), episodes=len(answers),
        error_policy="continue",
        task_options={"path": str(CODE), "scorer_options": {
            "limits": {"cpu_s": 1, "timeout_s": 3, "memory_mb": 256, "output_kb": 256}}})
    run_eval(config, tmp_path / "run", backend=ScriptedBackend(answers))
    events = read_events(tmp_path / "run")
    steps = {e.episode: e for e in events if e.kind == "step"}
    assert sorted(steps) == list(range(15))
    assert sum(e.kind == "episode_end" for e in events) == 15
    codes = {}
    for event in events:
        if event.kind == "round":
            codes[task.records[event.episode].id] = event.judgement.local.code
    for index, record in enumerate(task.records):
        if record.id in HOSTILE:
            assert steps[index].final == "incorrect", record.id
            assert codes[record.id] in ("time_limit", "resource_limit", "forbidden"), codes
        else:
            assert steps[index].final == "correct", record.id
    assert not Path("/tmp/redraft-escape.txt").exists()


def test_the_report_names_the_data_and_the_sandbox(tmp_path: Path) -> None:
    out = tmp_path / "grid"
    assert main(["grid", "dataset", "--task-option", f"path={CODE}", "--model",
                 "simulated/e=0.3,r=0.5", "--critic", "none,tool", "--episodes", "4",
                 "--out", str(out), "-q"]) == 0
    summary = json.loads((out / "report" / "summary.json").read_text())
    for run in summary["runs"]:
        info = run["task_info"]
        assert info["dataset"]["name"] == "code_problems.jsonl"
        assert info["sandbox"]["isolation"] in ("bwrap", "process")
    html = (out / "report" / "report.html").read_text()
    assert "code_problems.jsonl: 15 records (sha256 " in html
    assert "sandbox" in html and summary["runs"][0]["task_info"]["sandbox"]["summary"] in html


def test_strict_reading_reaches_the_scorer_and_its_format_check() -> None:
    task = _task(CHOICES, strict=True)
    assert task.scorer.strict  # type: ignore[attr-defined]
    assert task.verifier().strict  # type: ignore[attr-defined]
    with pytest.raises(BadInputError, match="strict"):
        _task(CODE, strict=True)


@pytest.mark.parametrize(("targets", "scorer"), [
    ([7, "1,234", 0.5], "number"),
    (["Paris", "Rome"], "exact"),
    ([["Paris", "City of Light"], ["Rome"]], "exact"),  # accepted answers, not JSON
    ([{"a": 1}, [1, 2]], "json"),
    ([3, "three"], "exact"),
])
def test_the_scorer_is_chosen_by_the_targets(targets: list[object], scorer: str,
                                             tmp_path: Path) -> None:
    data = tmp_path / "t.jsonl"
    data.write_text("".join(json.dumps({"input": f"q{i}", "target": t}) + "\n"
                            for i, t in enumerate(targets)))
    assert _task(data).scorer.name == scorer


def test_a_report_of_single_questions_does_not_call_them_a_wall_of_errors(
    tmp_path: Path
) -> None:
    from redraft.evals.report import write_report

    config = EvalConfig(task="dataset", task_options={"path": str(CHOICES)},
                        corrector=CorrectorConfig(critic="none"), model="simulated/e=0.5",
                        episodes=20)
    run_eval(config, tmp_path / "run")
    report = write_report([tmp_path / "run"], tmp_path / "report", n_boot=200)
    text = report.headlines[0].text
    assert "no episode went past step 1" in text
    assert "had its first committed error at step 1" not in text


def test_simulated_right_answers_are_right_for_fractions_and_decimals(tmp_path: Path) -> None:
    data = tmp_path / "q.csv"
    data.write_text("question,answer\nA third?,1/3\nTwo and a half?,2.5\nA lot?,\"1,000\"\n")
    config = EvalConfig(task="dataset", task_options={"path": str(data)},
                        corrector=CorrectorConfig(critic="none"), model="simulated/e=0", episodes=3)
    run_eval(config, tmp_path / "run")
    assert [e.final for e in read_events(tmp_path / "run") if e.kind == "step"] == [
        "correct"] * 3
