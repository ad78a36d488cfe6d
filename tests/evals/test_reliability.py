"""Reliability: one writer per run, bounded verifiers, any text logged, logs checked when
read, and one line (exit 2) for every bad input. Each test here once failed (issue 12)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_counting
import redraft_faults
from redraft_logcheck import check_log

from redraft.agent import CorrectorConfig, Item, build_corrector
from redraft.agent.backends import Message
from redraft.agent.backends.scripted import ScriptedBackend
from redraft.evals import EvalConfig, read_events, run_eval
from redraft.evals import _log as log_module
from redraft.evals._log import EventLogError, atomic_write, scan_events
from redraft.evals.cli import main
from redraft.evals.tasks import tasks
from redraft.tools import FunctionVerifier, Verdict, safe_judge, safe_verify
from redraft.tools._verdict import Judgement

tasks.add("counting", redraft_counting.CountingTask)

MODEL = "simulated/e=0.2,r=0.5"


@pytest.fixture(scope="module")
def fault_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = redraft_faults.install(tmp_path_factory.mktemp("faults"))
    return {**os.environ, "PYTHONPATH": str(root), "OMP_WAIT_POLICY": "PASSIVE"}


def _redraft(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redraft.evals.cli", *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )


def _one_line(stderr: str, *words: str) -> str:
    message = stderr.strip()
    assert message.count("\n") == 0, f"not one line: {message!r}"
    assert message.startswith("redraft"), message
    assert "Traceback" not in message
    for word in words:
        assert word in message, message
    return message


def _bad_input(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    return _one_line(result.stderr, *words)


def _eval_args(out: Path | str, *extra: str, episodes: int = 6) -> list[str]:
    return ["eval", "counting", "--model", MODEL, "--episodes", str(episodes), "--max-steps",
            "4", "--out", str(out), "-q", *extra]


# -- one writer per run --------------------------------------------------------------------


@pytest.mark.parametrize("second_model", ["same", "other"])
@pytest.mark.slow
def test_two_evals_on_one_fresh_out_exactly_one_runs(
    tmp_path: Path, fault_env: dict[str, str], second_model: str
) -> None:
    gate = tmp_path / "gate"
    out = tmp_path / "run"
    first_args = _eval_args(out, episodes=20)
    first_args[3] = f"gated/{gate}"
    first = subprocess.Popen(
        [sys.executable, "-m", "redraft.evals.cli", *first_args],
        env=fault_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (gate / "loading").exists():  # the first is loading its model now
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first eval never started loading"
            time.sleep(0.02)
        second_args = list(first_args) if second_model == "same" else _eval_args(out, "--seed", "9")
        second = _redraft(fault_env, *second_args, timeout=30)
        _bad_input(second, "another redraft process", str(out))
        (gate / "open").touch()
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    check_log(read_events(out), range(20))
    # Run again after: a resume with nothing left to do, not a second copy.
    assert _redraft(fault_env, *first_args).returncode == 0
    check_log(read_events(out), range(20))


@pytest.mark.slow
def test_a_failed_start_leaves_no_empty_run_directory(
    tmp_path: Path, fault_env: dict[str, str]
) -> None:
    out = tmp_path / "run"
    result = _redraft(fault_env, *_eval_args(out, "--model-option", "bogus=1"))
    _bad_input(result, "bogus")
    assert not out.exists()


# -- verifiers are bounded -----------------------------------------------------------------


async def _hang(context: Any, proposal: str) -> Verdict:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


def _block(context: Any, proposal: str) -> Verdict:
    time.sleep(3600)
    raise AssertionError("unreachable")


class _BlockingVerifier:
    name = "blocking"

    async def verify(self, context: Any, proposal: str) -> Verdict:
        time.sleep(3600)  # never awaits: only a call on another thread can be abandoned
        raise AssertionError("unreachable")


def _raises(exc: BaseException) -> FunctionVerifier[Any]:
    def verify(context: Any, proposal: str) -> Verdict:
        raise exc

    return FunctionVerifier(verify, name=f"raises-{type(exc).__name__}")


@pytest.mark.parametrize(
    "verifier",
    [FunctionVerifier(_hang, name="hang"), FunctionVerifier(_block, name="block"),
     _BlockingVerifier()],
    ids=["async-hang", "sync-function-blocks", "async-verify-blocks"],
)
def test_a_hanging_verifier_times_out_as_verifier_error(verifier: Any) -> None:
    async def check() -> Verdict:
        return await safe_verify(verifier, None, "x", timeout_s=0.3)

    started = time.perf_counter()
    verdict = asyncio.run(check())
    assert time.perf_counter() - started < 10
    assert (verdict.ok, verdict.code) == (False, "verifier_error")
    assert "timed out" in verdict.message and verdict.source == verifier.name


@pytest.mark.parametrize(
    "exc", [SystemExit(3), KeyboardInterrupt(), GeneratorExit(), RuntimeError("boom")]
)
def test_a_verifier_raising_anything_is_a_verifier_error(exc: BaseException) -> None:
    verdict = asyncio.run(safe_verify(_raises(exc), None, "x", timeout_s=5))
    assert (verdict.ok, verdict.code) == (False, "verifier_error")
    assert type(exc).__name__ in verdict.message
    # Later calls still work: the verifier thread survived.
    ok = asyncio.run(safe_verify(FunctionVerifier(lambda c, p: Verdict.accept()), None, "x",
                                 timeout_s=5))
    assert ok.ok


class _CtrlCBeforeTheAnswer(asyncio.Future[Any]):
    """A waiter whose answer arrives just as a Ctrl-C lands.

    ``asyncio.run`` answers SIGINT by cancelling its main task from a signal handler, which
    runs at whatever bytecode the main thread is on: here, the one before the verifier
    thread's answer is set on the waiter the task awaits.
    """

    main: asyncio.Task[Any] | None = None

    def set_result(self, result: Any) -> None:
        assert self.main is not None
        self.main.cancel()
        super().set_result(result)


def test_a_ctrl_c_as_a_bounded_verifier_answers_stops_the_run_without_a_stray_error() -> None:
    class Loop(asyncio.SelectorEventLoop):
        def create_future(self) -> asyncio.Future[Any]:
            return _CtrlCBeforeTheAnswer(loop=self)

    errors: list[dict[str, Any]] = []

    async def run() -> Verdict:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: errors.append(ctx))
        _CtrlCBeforeTheAnswer.main = asyncio.current_task()
        return await safe_verify(FunctionVerifier(lambda c, p: Verdict.accept()), None, "x",
                                 timeout_s=5)

    with asyncio.Runner(loop_factory=Loop) as runner, pytest.raises(asyncio.CancelledError):
        runner.run(run())
    assert errors == []


def test_without_a_limit_a_keyboard_interrupt_still_stops_the_run() -> None:
    # In the caller's thread it may be the user's Ctrl-C: the run stops and resumes later.
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(safe_verify(_raises(KeyboardInterrupt()), None, "x", timeout_s=None))
    verdict = asyncio.run(safe_verify(_raises(SystemExit(0)), None, "x", timeout_s=None))
    assert verdict.code == "verifier_error"


@pytest.mark.parametrize(
    "forged",
    [
        Verdict.model_construct(ok=True, code="wrong_value", message=""),
        Verdict.model_construct(ok=True, code="no_such_code", message=""),
        Verdict.model_construct(ok=False, code="illegal", message=""),
        "ok",
        None,
    ],
    ids=["ok-with-rejecting-code", "unknown-code", "reject-without-message", "str", "none"],
)
@pytest.mark.parametrize("timeout_s", [None, 5.0])
def test_a_forged_or_invalid_verdict_is_a_verifier_error(
    forged: Any, timeout_s: float | None
) -> None:
    verifier = FunctionVerifier(lambda c, p: forged, name="forger")
    verifier.fn = lambda c, p: forged  # FunctionVerifier's own type check is bypassed below

    class Forger:
        name = "forger"

        async def verify(self, context: Any, proposal: str) -> Any:
            return forged

    verdict = asyncio.run(safe_verify(Forger(), None, "x", timeout_s=timeout_s))  # type: ignore[arg-type]
    assert (verdict.ok, verdict.code) == (False, "verifier_error"), verdict


def test_a_forged_judgement_is_unknown() -> None:
    class Oracle:
        name = "forger"

        async def judge(self, context: Any, proposal: str) -> Judgement:
            return Judgement.model_construct(
                local=Verdict.model_construct(ok=True, code="illegal", message="")
            )

    judgement = asyncio.run(safe_judge(Oracle(), None, "x", timeout_s=5))
    assert judgement.local.code == "oracle_error"


def test_the_corrector_records_a_hung_verifier_and_moves_on() -> None:
    backend = ScriptedBackend(["first", "second"])
    corrector = build_corrector(
        backend, FunctionVerifier(_hang, name="hang"),
        config=CorrectorConfig(critic="tool", max_revisions=2, verify_timeout_s=0.2),
    )
    item = Item(id="a", messages=(Message(role="user", content="hi"),))
    result = corrector.invoke({"items": [item]})["results"][0]
    assert result.stop_reason == "verifier_failed"
    assert result.rounds[-1].feedback is not None
    assert result.rounds[-1].feedback.code == "verifier_error"


def test_verify_timeout_is_a_config_field() -> None:
    config = EvalConfig.model_validate(
        {"task": "counting", "corrector": {"verify_timeout_s": 2.5}}
    )
    assert config.corrector.verify_timeout_s == 2.5
    assert CorrectorConfig().verify_timeout_s == 30.0


@pytest.mark.slow
def test_a_verifier_raising_systemexit_does_not_end_the_run_early(
    tmp_path: Path, fault_env: dict[str, str]
) -> None:
    out = tmp_path / "run"
    env = {**fault_env, "REDRAFT_FAULT_VERIFIER": "0,0,0,0,0.3"}  # SystemExit, 30% of calls
    result = _redraft(env, *_eval_args(out, "--verifier", "faulty_counting", episodes=30))
    assert result.returncode == 0, result.stderr
    events = read_events(out)
    check_log(events, range(30))
    codes = [e.feedback.code for e in events if e.kind == "round" and e.feedback is not None]
    assert "verifier_error" in codes


def test_systemexit_escaping_a_command_is_a_failure_not_success(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def leave(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit(0)

    monkeypatch.setattr("redraft.evals._eval.run_eval", leave)
    assert main(_eval_args(tmp_path / "run")) == 1
    _one_line(capsys.readouterr().err, "resume")


# -- Ctrl-C at any moment -------------------------------------------------------------------


def _sigint_as_a_shell_delivers_it() -> None:
    """In the child before exec: SIGINT handled by default (not ignored, as it is in a
    shell's background job) and held back until the program unblocks it.

    Holding it covers the interpreter's own start-up (10-20 ms before any Python code of
    the program runs, where no program can handle it); redraft's entry point unblocks it as
    its first act, so a Ctrl-C sent at any moment from the start is handled by redraft.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


@pytest.mark.slow
def test_the_entry_point_handles_ctrl_c_before_any_heavy_import() -> None:
    # redraft.evals loads its names lazily, so the console entry point starts in
    # milliseconds and its handler is in place before pydantic, LangGraph or numpy load.
    probe = ("import sys, redraft.evals._console, redraft.evals as e; "
             "heavy = [m for m in ('pydantic', 'langgraph', 'numpy', 'rich') if m in sys.modules]; "
             "print(heavy, all(getattr(e, n) is not None for n in e.__all__), e.tasks.tasks)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.startswith("[] True "), done.stdout + done.stderr


@pytest.mark.slow
def test_ctrl_c_at_any_moment_of_the_first_two_seconds_is_exit_130_and_one_line(
    tmp_path: Path,
) -> None:
    from redraft.evals._console import INTERRUPTED

    script = Path(sys.executable).parent / "redraft"
    if not script.is_file():
        pytest.skip("the redraft console script is not installed next to this Python")
    rng = random.Random(130)
    moments = sorted(rng.uniform(0.0, 2.0) for _ in range(20))
    for attempt, moment in enumerate(moments):
        out = tmp_path / f"run{attempt}"
        proc = subprocess.Popen(
            [str(script), "eval", "addition", "--model", "simulated/e=0.1,r=0.5",
             "--episodes", "100000", "--max-steps", "20", "--out", str(out), "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
            preexec_fn=_sigint_as_a_shell_delivers_it,
        )
        time.sleep(moment)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err.strip()) == (130, INTERRUPTED), (moment, err)


# -- any text can be logged ----------------------------------------------------------------


SURROGATE_TEXT = "7\ud800 and \udfff, \x00 nul, \u2028 line sep, 🤖"


def test_any_string_is_logged_and_replayed_through_a_resume(tmp_path: Path) -> None:
    config = EvalConfig(task="counting", model="scripted/inline", episodes=4, max_steps=3,
                        corrector=CorrectorConfig(critic="tool", max_revisions=1), batch_size=1)
    out = tmp_path / "run"
    run_eval(config, out, backend=ScriptedBackend([lambda r: SURROGATE_TEXT] * 100))
    log = out / "events.jsonl"
    raw = log.read_bytes()
    raw.decode("ascii")  # stored as ASCII JSON escapes
    # Cut the log inside the last episode (a kill), then resume through the odd records.
    lines = raw.splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-2]))
    run_eval(config, out, backend=ScriptedBackend([lambda r: SURROGATE_TEXT] * 100))
    events = read_events(out)
    check_log(events, range(4))
    outputs = {e.output for e in events if e.kind == "round"}
    assert outputs == {SURROGATE_TEXT}


@pytest.mark.slow
def test_a_scripted_file_with_lone_surrogates_runs_from_the_command_line(
    tmp_path: Path, fault_env: dict[str, str]
) -> None:
    script = tmp_path / "script.jsonl"
    script.write_text("\n".join(json.dumps(SURROGATE_TEXT) for _ in range(40)))
    out = tmp_path / "run"
    args = _eval_args(out, episodes=3)
    args[3] = f"scripted/{script}"
    result = _redraft(fault_env, *args, "--critic", "none")
    assert result.returncode == 0, result.stderr
    assert {e.output for e in read_events(out) if e.kind == "round"} == {SURROGATE_TEXT}
    assert _redraft(fault_env, "report", str(out), "--out", str(tmp_path / "rep")).returncode == 0


# -- logs are checked when read ------------------------------------------------------------


def _finished_run(tmp_path: Path, episodes: int = 3) -> Path:
    out = tmp_path / "run"
    config = EvalConfig(task="counting", model=MODEL, episodes=episodes, max_steps=3)
    run_eval(config, out)
    return out


def _edit_log(out: Path, edit: Any) -> int:
    """Apply ``edit`` to the list of record dicts; return the 1-based line it changed."""
    log = out / "events.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    line = edit(records)
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    return int(line)


def _duplicate_step(records: list[dict[str, Any]]) -> int:
    i = next(i for i, r in enumerate(records) if r["kind"] == "step")
    records.insert(i + 1, dict(records[i]))
    return i + 2


def _duplicate_episode(records: list[dict[str, Any]]) -> int:
    episode = [r for r in records if r["episode"] == 0]
    records.extend(dict(r) for r in episode)
    return len(records) - len(episode) + 1


def _record_after_end(records: list[dict[str, Any]]) -> int:
    end = next(i for i, r in enumerate(records) if r["kind"] == "episode_end")
    episode = records[end]["episode"]
    step = next(r for r in records if r["kind"] == "step" and r["episode"] == episode)
    records.insert(end + 1, {**step, "step": 99})
    return end + 2


def _unknown_schema(records: list[dict[str, Any]]) -> int:
    records[1]["schema"] = 99
    return 2


def _outside_the_run(records: list[dict[str, Any]]) -> int:
    episode = [dict(r) for r in records if r["episode"] == 0]
    for r in episode:
        r["episode"] = 7  # the run holds episodes 0..2
    first = len(records) + 1
    records.extend(episode)
    return first


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_duplicate_step, ["step 0", "twice"]),
        (_duplicate_episode, ["episode 0", "twice"]),
        (_record_after_end, ["after its episode_end"]),
        (_unknown_schema, ["event schema 99"]),
        (_outside_the_run, ["episode 7", "outside"]),
    ],
)
def test_a_corrupt_log_is_refused_with_its_line_number_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, words: list[str]
) -> None:
    out = _finished_run(tmp_path)
    line = _edit_log(out, edit)
    with pytest.raises(EventLogError) as caught:
        scan_events(out)
    assert f"line {line}:" in str(caught.value)
    for word in words:
        assert word in str(caught.value)
    config = json.loads((out / "manifest.json").read_text())["config"]
    resume = ["eval", "counting", "--model", MODEL, "--episodes", str(config["episodes"]),
              "--max-steps", "3", "--out", str(out), "-q"]
    for argv in (resume, ["report", str(out), "--out", str(tmp_path / "rep")],
                 ["merge", str(out), "--out", str(tmp_path / "merged")]):
        assert main(argv) == 2, argv
        _one_line(capsys.readouterr().err, f"line {line}:")
    assert not (tmp_path / "merged").exists()


def test_a_manifest_with_wrong_field_types_is_refused_not_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _finished_run(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["config"]["model"] = 5
    manifest["config"]["corrector"]["max_revisions"] = "x"
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 2
    _one_line(capsys.readouterr().err, "not a valid run manifest", "model",
              "corrector.max_revisions")
    assert not (tmp_path / "rep" / "report.html").exists()


# -- bad input: exit 2, one line -----------------------------------------------------------


def _config(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("model-option", ["bogus", "does not take"]),
        ("nested-typo", ["temprature"]),
        ("placeholder", ["{feedbak}", "placeholder"]),
        ("empty-out", ["--out", "empty"]),
        ("long-path", ["name too long"]),
        ("non-utf8-config", ["not UTF-8"]),
        ("non-utf8-script", ["not UTF-8"]),
        ("report-unwritable", ["report"]),
        ("broken-plugin", ["broken", "libfoo"]),
        ("hf-missing-folder", ["no such model folder", "'/path/that/does/not/exist'"]),
        ("verifier-for-another-task", ["--verifier chess", "CountingSeen", "cannot check"]),
    ],
)
@pytest.mark.slow
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, fault_env: dict[str, str], case: str, words: list[str]
) -> None:
    out = tmp_path / "run"
    args = _eval_args(out)
    if case == "model-option":
        args += ["--model-option", "bogus=1"]
    elif case == "nested-typo":
        args += ["--config", str(_config(tmp_path, "c.yaml",
                                         "corrector:\n  sampling:\n    temprature: 0.5\n"))]
    elif case == "placeholder":
        args += ["--config", str(_config(
            tmp_path, "c.toml", 'corrector = { revise_template = "Fix: {feedbak}" }\n'))]
    elif case == "empty-out":
        args[args.index(str(out))] = ""
    elif case == "long-path":
        args[args.index(str(out))] = str(tmp_path / ("x" * 5000))
    elif case == "non-utf8-config":
        args += ["--config", str(_config(tmp_path, "c.toml", b'task = "counting" # \xff\xfe\n'))]
    elif case == "non-utf8-script":
        script = _config(tmp_path, "s.jsonl", b'"caf\xe9"\n')
        args[3] = f"scripted/{script}"
    elif case == "report-unwritable":
        (tmp_path / "file").write_text("x")
        assert _redraft(fault_env, *args).returncode == 0
        args = ["report", str(out), "--out", str(tmp_path / "file" / "report")]
    elif case == "broken-plugin":
        args += ["--verifier", "broken"]
    elif case == "hf-missing-folder":
        args[3] = "hf//path/that/does/not/exist"
    elif case == "verifier-for-another-task":
        args += ["--verifier", "chess"]
    _bad_input(_redraft(fault_env, *args), *words)
    if case not in ("report-unwritable",):
        assert not out.exists() or not (out / "manifest.json").exists()
    assert not Path("").resolve().joinpath("manifest.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["short-script", "script-breaks-choice", "exploding-verifier"])
def test_faults_of_a_plugin_or_a_scripted_file_are_one_line(
    tmp_path: Path, fault_env: dict[str, str], case: str
) -> None:
    out = tmp_path / "run"
    script = tmp_path / "script.jsonl"
    if case == "short-script":  # 2 outputs for a run that needs at least 6
        script.write_text('"1"\n"2"\n')
        args = _eval_args(out, "--critic", "none")
        args[3] = f"scripted/{script}"
        words = [str(script), "exhausted after 2 outputs", "fewer episodes"]
    elif case == "script-breaks-choice":  # an illegal move under constrained decoding
        script.write_text('"Qz9"\n')
        args = ["eval", "chess", "--model", f"scripted/{script}", "--critic", "constrained",
                "--episodes", "1", "--max-steps", "1", "--out", str(out), "-q"]
        words = [str(script), "'Qz9'", "breaks the choice constraint", "must be one of"]
    else:
        args = _eval_args(out, "--verifier", "exploding")
        words = ["verifier 'exploding'", "creating it raised RuntimeError", "licence"]
    _bad_input(_redraft(fault_env, *args), *words)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["grid", "ches"], ["unknown task 'ches'"]),
        (["grid", "counting", "--critic", "none,tool", "--verifier", "chess"],
         ["--verifier chess"]),
        (["grid", "chess", "--representation", "san,nope"], ["representation"]),
        (["grid", "counting", "--critic", "none,tool", "--model-option", "bogus=1"], ["bogus"]),
    ],
    ids=["task", "verifier", "representation", "model-option"],
)
def test_a_grid_checks_every_runs_arguments_before_the_first_starts(
    tmp_path: Path, fault_env: dict[str, str], argv: list[str], words: list[str]
) -> None:
    out = tmp_path / "grid"
    result = _redraft(fault_env, *argv, "--model", MODEL, "--episodes", "2", "--max-steps",
                      "2", "--out", str(out))
    _bad_input(result, *words)
    assert "run 1/" not in result.stdout + result.stderr
    assert not out.exists() or not list(out.rglob("manifest.json"))


@pytest.mark.slow
def test_list_shows_a_broken_plugin_and_the_rest(fault_env: dict[str, str]) -> None:
    result = _redraft(fault_env, "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    broken = [line for line in lines if line.split()[:1] == ["broken"]]
    assert len(broken) == 1 and "BROKEN" in broken[0] and "libfoo" in broken[0]
    for name in ("faulty_counting", "chess", "addition", "counting", "simulated", "gated"):
        assert any(line.split()[:1] == [name] for line in lines), name
    assert "Traceback" not in result.stderr


def test_resume_into_an_unwritable_run_directory_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _finished_run(tmp_path)
    log = out / "events.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))  # unfinished

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", str(out))

    monkeypatch.setattr(log_module.tempfile, "mkstemp", refuse)
    argv = ["eval", "counting", "--model", MODEL, "--episodes", "3", "--max-steps", "3",
            "--out", str(out), "-q"]
    assert main(argv) == 2
    _one_line(capsys.readouterr().err, "cannot write", str(out))


class _FillingFile:
    """A log file on a disk that fills after ``room`` bytes (ENOSPC), as a real one does."""

    def __init__(self, path: Any, mode: str, room: int) -> None:
        self.file = open(path, mode)  # noqa: SIM115 - closed by close()
        self.room = room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return int(self.file.write(data))

    def flush(self) -> None:
        self.file.flush()

    def fileno(self) -> int:
        return int(self.file.fileno())

    def close(self) -> None:
        self.file.close()

    @property
    def closed(self) -> bool:
        return bool(self.file.closed)


def _filling(path: Any, mode: str = "r") -> Any:
    # The event log fills the disk; other files (the manifest) are written as usual.
    return _FillingFile(path, mode, 20_000) if mode == "ab" else open(path, mode)


def test_a_full_disk_is_one_line_naming_the_path_and_exit_1_mid_run_and_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Simulated ENOSPC; the tmpfs test below fills a real disk where it can mount one."""
    out = tmp_path / "run"
    argv = _eval_args(out, "--batch-size", "2", episodes=40)
    with monkeypatch.context() as patch:
        patch.setattr(log_module, "open", _filling, raising=False)
        assert main(argv) == 1
    _one_line(capsys.readouterr().err, f"cannot write {out / 'events.jsonl'}",
              "No space left on device", "free some space", "resume")

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:  # the resume rewrites the log without its rounds
        patch.setattr(log_module.os, "replace", full)
        assert main(argv) == 1
    _one_line(capsys.readouterr().err, str(out / "events.jsonl"), "No space left on device")
    assert main(argv) == 0  # room again: the resume finishes the run
    check_log(read_events(out), range(40))


@contextlib.contextmanager
def _tiny_disk(where: Path, kilobytes: int) -> Iterator[Path]:
    """A tmpfs of ``kilobytes`` mounted at ``where`` (root only; skips elsewhere)."""
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the simulated ENOSPC test stands in")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs",
                              str(where)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the simulated "
                    "ENOSPC test stands in")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.slow
def test_a_full_tmpfs_mid_run_and_on_resume_then_room_again(
    tmp_path: Path, fault_env: dict[str, str]
) -> None:
    with _tiny_disk(tmp_path / "disk", 96) as disk:
        out = disk / "run"
        args = _eval_args(out, "--batch-size", "4", episodes=3000)
        for attempt in ("mid-run", "resume"):
            result = _redraft(fault_env, *args)
            assert result.returncode == 1, (attempt, result.stderr)
            line = _one_line(result.stderr, "No space left on device", "resume")
            assert str(out) in line, (attempt, line)
        scan_events(out)  # still a readable log: every record whole but maybe the last
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        done = _redraft(fault_env, *args, timeout=120)
        assert done.returncode == 0, done.stderr
        check_log(read_events(out), range(3000))


def test_a_failed_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old")

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(log_module.os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    assert target.read_text() == "old"


def test_stale_temporaries_of_a_killed_writer_are_removed_on_resume(tmp_path: Path) -> None:
    out = _finished_run(tmp_path)
    (out / ".events.jsonl.abc123.tmp").write_text("half")
    (out / "events.jsonl.tmp").write_text("half")
    run_eval(EvalConfig(task="counting", model=MODEL, episodes=3, max_steps=3), out)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


@pytest.mark.slow
def test_a_huge_episode_count_streams_instead_of_building_a_list(
    tmp_path: Path, fault_env: dict[str, str]
) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "redraft.evals.cli",
         *_eval_args(out, "--batch-size", "4", episodes=10**12)],
        env=fault_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        log = out / "events.jsonl"
        while b"episode_end" not in (log.read_bytes() if log.exists() else b""):
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "no episode finished within 60 s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["episodes"] == 10**12


def test_a_withheld_answer_is_judged_unknown_not_wrong() -> None:
    from redraft.agent.backends import Generation
    from redraft.tools import truncated_judgement

    assert Generation(text="", finish_reason="content_filter").finish_reason == "content_filter"
    empty = Verdict.reject("unparseable", "no answer found")
    judged = truncated_judgement(Judgement(local=empty, global_state=empty), "content_filter")
    assert judged.local.code == "withheld" and judged.correctness == "unknown"
    assert judged.global_correctness == "unknown"
    # The same empty output that the model itself ended is wrong, as before.
    assert truncated_judgement(Judgement(local=empty), "stop").correctness == "incorrect"
