"""The event log: append, read back, torn last lines, bad lines, atomic repair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redraft.core import Cost
from redraft.evals import (
    EpisodeEndEvent,
    EpisodeStartEvent,
    EventLogError,
    RoundEvent,
    StepEvent,
    read_events,
)
from redraft.evals._log import EventWriter, keep_finished, keep_whole_steps, scan_events


def _episode(ep: int, steps: int = 2, *, end: bool = True) -> list[object]:
    records: list[object] = [EpisodeStartEvent(episode=ep, step=0, round=0, seed=ep)]
    for t in range(steps):
        records.append(
            StepEvent(
                episode=ep, step=t, round=0, revisions=0, stop_reason="no_critic",
                committed_round=0, committed_answer="1", action="1", initial="correct",
                final="correct", global_correctness=None, usage=Cost(),
            )
        )
    if end:
        records.append(
            EpisodeEndEvent(
                episode=ep, step=0, round=0, steps=steps, end="natural", first_error_step=None
            )
        )
    return records


def _write(path: Path, *episodes: list[object]) -> None:
    with EventWriter(path) as writer:
        for records in episodes:
            writer.write_all(records)  # type: ignore[arg-type]


def test_round_trip_uses_aliases(tmp_path: Path) -> None:
    _write(tmp_path, _episode(0), _episode(1))
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == 8
    first = json.loads(lines[0])
    assert first["schema"] == 3 and first["kind"] == "episode_start"
    events = read_events(tmp_path)
    assert events == read_events(tmp_path / "events.jsonl")
    assert [e.kind for e in events[:4]] == ["episode_start", "step", "step", "episode_end"]


def test_missing_log_is_an_error_to_read_and_empty_to_resume(tmp_path: Path) -> None:
    # One behaviour for readers (stats and the shared reader agree); resuming starts empty.
    from redraft.evals.stats._load import read_events as stats_read_events

    for reader in (read_events, stats_read_events):
        with pytest.raises(EventLogError, match="no such file"):
            reader(tmp_path / "events.jsonl")
    assert scan_events(tmp_path).events == []


def test_torn_last_line_is_left_out_with_a_warning(tmp_path: Path) -> None:
    _write(tmp_path, _episode(0))
    path = tmp_path / "events.jsonl"
    last = path.read_bytes().splitlines()[-1]
    with open(path, "ab") as file:
        file.write(last[: len(last) // 2])  # half a record, no newline
    with pytest.warns(UserWarning, match="torn last line"):
        events = read_events(tmp_path)
    assert len(events) == 4
    assert scan_events(tmp_path).torn


def test_complete_last_record_without_newline_is_kept(tmp_path: Path) -> None:
    _write(tmp_path, _episode(0))
    path = tmp_path / "events.jsonl"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    scan = scan_events(tmp_path)
    assert len(scan.events) == 4 and not scan.torn and not scan.clean_end
    kept = keep_finished(tmp_path)
    assert len(kept.events) == 4
    assert path.read_bytes().endswith(b"\n")


def test_bad_line_in_the_middle_names_its_number(tmp_path: Path) -> None:
    _write(tmp_path, _episode(0))
    path = tmp_path / "events.jsonl"
    lines = path.read_bytes().splitlines()
    lines[2] = b'{"schema": 1, "kind": "step"}'
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(EventLogError, match=r"line 3"):
        read_events(tmp_path)
    lines[2] = b"not json at all"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(EventLogError, match=r"line 3"):
        keep_finished(tmp_path)


def test_keep_finished_drops_unfinished_episodes_and_torn_tail(tmp_path: Path) -> None:
    _write(tmp_path, _episode(0), _episode(1, end=False), _episode(2), _episode(3, end=False))
    path = tmp_path / "events.jsonl"
    with open(path, "ab") as file:
        file.write(b'{"schema":1,"episode":3,"st')
    kept = keep_finished(tmp_path)
    assert kept.finished() == {0, 2}
    assert {e.episode for e in read_events(tmp_path)} == {0, 2}
    assert not (tmp_path / "events.jsonl.tmp").exists()
    # Nothing to drop: the file is left alone.
    before = path.stat().st_mtime_ns
    keep_finished(tmp_path)
    assert path.stat().st_mtime_ns == before


def _round(ep: int, step: int, round_: int) -> RoundEvent:
    return RoundEvent(episode=ep, step=step, round=round_, purpose="propose", messages=(),
                      output="1")


def test_keep_whole_steps_keeps_the_finished_steps_of_unfinished_episodes(
    tmp_path: Path,
) -> None:
    def steps(ep: int, n: int, *, in_flight: bool) -> list[object]:
        records: list[object] = [EpisodeStartEvent(episode=ep, step=0, round=0, seed=ep)]
        for t, step in enumerate(_episode(ep, n, end=False)[1:]):
            records += [_round(ep, t, 0), _round(ep, t, 1), step]
        if in_flight:  # rounds of a step whose step record was never written
            records += [_round(ep, n, 0)]
        return records

    _write(tmp_path, _episode(0), steps(1, 2, in_flight=True), steps(2, 1, in_flight=False),
           steps(3, 3, in_flight=True))
    path = tmp_path / "events.jsonl"
    with open(path, "ab") as file:
        file.write(b'{"schema":3,"episode":3,"st')
    kept = keep_whole_steps(scan_events(tmp_path), restart={3})
    assert kept.finished() == {0}
    held = {(e.episode, e.kind, e.step, e.round) for e in read_events(tmp_path)}
    assert (1, "round", 2, 0) not in held and (1, "round", 1, 1) in held
    assert (1, "step", 1, 0) in held and (2, "step", 0, 0) in held
    assert not any(ep == 3 for ep, *_ in held)
    assert sum(kind == "episode_start" for _, kind, *_ in held) == 3
    assert path.read_bytes().endswith(b"\n")


def test_writer_appends(tmp_path: Path) -> None:
    _write(tmp_path, _episode(0))
    _write(tmp_path, _episode(1))
    assert {e.episode for e in read_events(tmp_path)} == {0, 1}


def test_a_log_cut_at_any_byte_resumes_to_its_finished_episodes(tmp_path: Path) -> None:
    _write(tmp_path, _episode(0), _episode(1, steps=3), _episode(2, steps=1))
    path = tmp_path / "events.jsonl"
    whole = path.read_bytes()
    complete = read_events(tmp_path)
    ends = [i for i, e in enumerate(complete) if e.kind == "episode_end"]
    newlines = [i for i, byte in enumerate(whole) if byte == ord("\n")]
    cuts = set(range(0, len(whole) + 1, 29)) | {c + d for c in newlines for d in (-1, 0, 1, 2)}
    for cut in sorted(c for c in cuts if 0 <= c <= len(whole)):
        path.write_bytes(whole[:cut])
        scan = scan_events(tmp_path)
        assert scan.events == complete[: len(scan.events)]
        assert len(scan.events) >= whole[:cut].count(b"\n")
        kept = keep_finished(tmp_path)
        n_done = sum(1 for i in ends if i < len(scan.events))
        assert kept.finished() == set(range(n_done))
        assert read_events(tmp_path) == complete[: ends[n_done - 1] + 1 if n_done else 0]
        assert path.read_bytes() == b"" or path.read_bytes().endswith(b"\n")


def test_a_schema_1_log_is_refused_naming_the_line(tmp_path: Path) -> None:
    _write(tmp_path, _episode(0))
    path = tmp_path / "events.jsonl"
    lines = path.read_text().splitlines()
    old = json.loads(lines[1])
    old["schema"] = 1
    lines[1] = json.dumps(old)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EventLogError,
                       match=r"line 2: written with event schema 1; .*schema 2 or 3 only"):
        read_events(tmp_path)
    del old["schema"]  # a record that states no version is refused the same way
    path.write_text("\n".join([lines[0], json.dumps(old), lines[2]]) + "\n")
    with pytest.raises(EventLogError, match="line 2: declares no event schema"):
        read_events(tmp_path)
    old["schema"] = 1
    lines[1] = json.dumps(old)
    # A schema-1 record in the last, unterminated line is refused too, not taken as torn.
    path.write_text("\n".join(lines[:2]))
    with pytest.raises(EventLogError, match="line 2: written with event schema 1"):
        read_events(tmp_path)


def test_a_log_with_a_plug_in_verdict_code_loads_without_the_plug_in(tmp_path: Path) -> None:
    from redraft.evals import RoundEvent
    from redraft.tools import Verdict, register_verdict_code
    from redraft.tools._verdict import VERDICT_CODES

    register_verdict_code("off_by_one_h9", "a plug-in's own code")
    try:
        verdict = Verdict.reject("off_by_one_h9", "one too many")
        record = RoundEvent(episode=0, step=0, round=0, purpose="propose", messages=(),
                            output="2", feedback=verdict)
        line = record.model_dump_json(by_alias=True)
    finally:
        del VERDICT_CODES["off_by_one_h9"]  # this process no longer knows the code
    # Making such a verdict is refused ...
    with pytest.raises(ValueError, match="unknown verdict code"):
        Verdict.reject("off_by_one_h9", "one too many")
    # ... reading one back from a log is not.
    (tmp_path / "events.jsonl").write_text(line + "\n")
    (event,) = read_events(tmp_path)
    assert isinstance(event, RoundEvent) and event.feedback is not None
    assert event.feedback.code == "off_by_one_h9"


def test_a_lone_surrogate_keeps_the_log_context_on_reading(tmp_path: Path) -> None:
    # Text no UTF-8 can hold takes the reader's fallback parse (json, then pydantic): that
    # path reads plug-in verdict codes and checks the schema like the fast one.
    from redraft.evals import RoundEvent
    from redraft.evals._log import encode_event
    from redraft.tools import Verdict, register_verdict_code
    from redraft.tools._verdict import VERDICT_CODES

    register_verdict_code("off_by_one_h22", "a plug-in's own code")
    try:
        verdict = Verdict.reject("off_by_one_h22", "one too many")
        record = RoundEvent(episode=0, step=0, round=0, purpose="propose", messages=(),
                            output="2\ud800", feedback=verdict)
        line = encode_event(record)
    finally:
        del VERDICT_CODES["off_by_one_h22"]
    (tmp_path / "events.jsonl").write_bytes(line + b"\n")
    (event,) = read_events(tmp_path)
    assert isinstance(event, RoundEvent) and event.output == "2\ud800"
    assert event.feedback is not None and event.feedback.code == "off_by_one_h22"
    # A record that states no schema is refused on this path too.
    data = json.loads(line)
    del data["schema"]
    (tmp_path / "events.jsonl").write_text(json.dumps(data) + "\n")
    with pytest.raises(EventLogError, match="line 1: declares no event schema"):
        read_events(tmp_path)


def test_a_schema_2_log_reads_as_schema_3_committing_its_last_round(tmp_path: Path) -> None:
    # Schema 2 always committed the last round and did not record it.
    from redraft.evals import read_manifest

    _write(tmp_path, _episode(0))
    path = tmp_path / "events.jsonl"
    old = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        data["schema"] = 2
        if data["kind"] == "step":
            del data["committed_round"], data["commit_fallback"]
            data["round"] = 1
            data["global_state"] = data.pop("global_correctness") or "correct"
            data["committed"] = data.pop("committed_answer")
        old.append(json.dumps(data))
    path.write_text("\n".join(old) + "\n")
    steps = [e for e in read_events(tmp_path) if isinstance(e, StepEvent)]
    assert [(s.schema_version, s.committed_round, s.commit_fallback, s.global_correctness,
             s.committed_answer) for s in steps] == [(2, 1, False, "correct", "1")] * 2
    manifest = {"schema": 2, "config": {"task": "addition", "critic": "self+tool"}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    corrector = read_manifest(tmp_path)["config"]["corrector"]
    assert (corrector["commit_policy"], corrector["critic"]) == ("last", "self+tool")
    manifest["schema"] = 3
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    corrector = read_manifest(tmp_path)["config"]["corrector"]
    assert "commit_policy" not in corrector  # the default applies


def test_a_schema_3_step_without_committed_round_is_refused_not_migrated(
    tmp_path: Path,
) -> None:
    # Only schema 2 records, which always committed their last round, are read without it;
    # a schema 3 one that lacks it (or speaks schema 2's names) is a broken record.
    _write(tmp_path, _episode(0))
    path = tmp_path / "events.jsonl"
    good = path.read_text().splitlines()
    assert json.loads(good[1])["kind"] == "step" and json.loads(good[1])["schema"] == 3
    for broken in (
        lambda d: d.pop("committed_round"),
        lambda d: d.update(global_state=d.pop("global_correctness")),
        lambda d: d.update(committed=d.pop("committed_answer")),
    ):
        data = json.loads(good[1])
        broken(data)
        path.write_text("\n".join([good[0], json.dumps(data), *good[2:]]) + "\n")
        with pytest.raises(EventLogError, match=r"line 2: not a valid event record") as refused:
            read_events(tmp_path)
        assert "\n" not in str(refused.value)
    data = json.loads(good[1])
    del data["committed_round"]
    path.write_text("\n".join([good[0], json.dumps(data), *good[2:]]) + "\n")
    with pytest.raises(EventLogError, match="must name its committed_round"):
        read_events(tmp_path)
    with pytest.raises(ValueError, match="must name its committed_round"):
        StepEvent.model_validate({k: v for k, v in data.items() if k != "schema"})
    data["schema"] = 2  # the same record declared schema 2 is migrated: its last round
    path.write_text("\n".join([good[0], json.dumps(data), *good[2:]]) + "\n")
    steps = [e for e in read_events(tmp_path) if isinstance(e, StepEvent)]
    assert [(s.schema_version, s.committed_round) for s in steps] == [(2, 0), (3, 0)]
