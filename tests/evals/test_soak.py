"""Soak: thousands of simulated episodes under random faults, then an audit of the log.

Real ``redraft eval`` processes run one run directory to its end while faults are injected:
the backend fails now and then (the run exits 1), the verifier crashes, hangs (awaiting and
blocking), forges verdicts and raises ``SystemExit`` (each recorded as ``verifier_error``),
and the process is SIGKILLed at random moments. Each attempt is rerun until one exits 0,
and none may ask the backend again for a step an earlier attempt logged. Then the log must
hold every episode exactly once, complete and consistent, with the faults visible where
they happened, and the report must count exactly those episodes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins"))

import redraft_faults
from redraft_logcheck import check_log

from redraft.evals import read_events
from redraft.evals._log import scan_events

EPISODES = 3000
SEED = 12
MAX_ATTEMPTS = 60
BUDGET_S = 240.0
"""Give up (fail) after this long; the test takes ~30-90 s on two cores."""

# Per generate call (a batch): the run stops with exit 1 and is rerun.
BACKEND_FAULT = "0.004"
# Per verification: raise, hang (await), block (sleep in the thread), forge, SystemExit.
VERIFIER_FAULTS = "0.002,0.0004,0.0002,0.001,0.001"


def _command(out: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "redraft.evals.cli", "eval", "counting",
            "--model", "faulty/e=0.2,r=0.5,h=0.05", "--verifier", "faulty_counting",
            "--critic", "tool", "--rounds", "2", "--episodes", str(EPISODES),
            "--max-steps", "6", "--batch-size", "64", "--error-policy", "continue",
            "--seed", str(SEED), "--config", str(config), "--out", str(out), "-q"]


@pytest.mark.soak
@pytest.mark.slow
def test_soak_faults_and_kills_then_audit(tmp_path: Path) -> None:
    root = redraft_faults.install(tmp_path / "plugin")
    config = tmp_path / "run.toml"
    config.write_text("[corrector]\nverify_timeout_s = 0.5\n")
    out = tmp_path / "run"
    rng = random.Random(SEED)
    started = time.monotonic()
    outcomes: Counter[str] = Counter()
    logged: set[str] = set()
    for attempt in range(MAX_ATTEMPTS):
        assert time.monotonic() - started < BUDGET_S, f"not done after {outcomes}"
        requests = tmp_path / f"requests-{attempt}.txt"
        env = {**os.environ, "PYTHONPATH": str(root), "OMP_WAIT_POLICY": "PASSIVE",
               "REDRAFT_FAULT_SEED": str(attempt), "REDRAFT_FAULT_BACKEND": BACKEND_FAULT,
               "REDRAFT_FAULT_VERIFIER": VERIFIER_FAULTS, "REDRAFT_REQUEST_LOG": str(requests)}
        proc = subprocess.Popen(_command(out, config), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        kill_after = rng.uniform(1.0, 6.0) if attempt < 8 and rng.random() < 0.6 else None
        try:
            _, err = proc.communicate(timeout=kill_after if kill_after is not None else 120)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate()
            outcomes["killed"] += 1
        # No step an earlier attempt logged was asked for again (resumes keep every step).
        again = {item for item, _ in redraft_faults.requested(requests)} & logged
        assert not again, f"attempt {attempt} recomputed logged steps {sorted(again)[:5]}"
        logged = {f"{e.episode}/{e.step}" for e in scan_events(out).events if e.kind == "step"}
        if proc.returncode == -signal.SIGKILL:
            continue
        lines = err.strip().splitlines()
        assert proc.returncode in (0, 1), (proc.returncode, err)
        if proc.returncode == 0:
            outcomes["finished"] += 1
            break
        # A failed run says why in one line (no traceback) and resumes on the next try.
        assert len(lines) == 1 and "injected fault" in lines[0], err
        outcomes["backend_failed"] += 1
    else:
        pytest.fail(f"no attempt finished: {outcomes}")
    assert outcomes["killed"] >= 1 and outcomes["backend_failed"] >= 1, outcomes

    # -- audit ---------------------------------------------------------------------------
    scan = scan_events(out)  # refuses duplicates, ids outside the run, unknown schemas
    assert not scan.torn and scan.clean_end
    events = read_events(out)
    by_episode = check_log(events, range(EPISODES))
    assert len(by_episode) == EPISODES and len(scan.finished()) == EPISODES
    ends = [e for e in events if e.kind == "episode_end"]
    assert Counter(e.episode for e in ends) == Counter(range(EPISODES))
    messages = [e.feedback.message for e in events
                if e.kind == "round" and e.feedback is not None
                and e.feedback.code == "verifier_error"]
    for fault in ("timed out", "RuntimeError", "SystemExit", "invalid verdict"):
        assert any(fault in m for m in messages), (fault, Counter(m[:40] for m in messages))
    steps = [e for e in events if e.kind == "step"]
    assert sum(e.steps for e in ends) == len(steps)
    assert not list(out.glob(".*.tmp")), "a temporary file was left behind"
    manifest = json.loads((out / "manifest.json").read_text())
    # Every attempt after the first that got as far as opening the run resumed it.
    assert 1 <= len(manifest["resumed_at"]) <= sum(outcomes.values()) - 1
