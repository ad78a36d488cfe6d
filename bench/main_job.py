"""The README's main job, run by the code of an earlier commit and by this checkout, side by side.

Runs ``redraft grid chess --model llamacpp/smollm2 --critic none,tool,constrained --revisions 2
--episodes E --max-steps T --error-policy continue`` as a user would (a fresh process, the
report included, the environment as given: no ``OMP_WAIT_POLICY`` is set here), once with
the code of ``--old`` (default: the commit before batched decoding, when the main job took
about six minutes on 2 idle cores) and once with this checkout, alternating, ``--repeats``
times each. Each side imports its own code through a ``PYTHONPATH`` shim (``redraft.agent``,
``.tools`` and ``.evals`` pointing into its tree) and shares this interpreter's packages.
Prints wall-clock and CPU seconds (user + system of the child, all its threads) of every
run, the ratios of the minima, and how many committed answers the two sides share.

    python bench/main_job.py [--old 0858214] [--episodes 16] [--max-steps 8] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD = "0858214"
"""The last commit before batched decoding (the main job as issue 11 found it)."""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def shim(tree: Path, where: Path) -> Path:
    """A folder whose ``redraft`` package is the code in ``tree``."""
    package = where / "redraft"
    package.mkdir(parents=True)
    for part in ("agent", "tools", "evals"):
        (package / part).symlink_to(tree / part)
    return where


def main_job_command(episodes: int, max_steps: int, out: Path) -> list[str]:
    """The README's main job (a grid of three critic modes on chess), scaled down."""
    return [
        sys.executable, "-m", "redraft.evals.cli", "grid", "chess",
        "--model", "llamacpp/smollm2", "--critic", "none,tool,constrained", "--revisions", "2",
        "--episodes", str(episodes), "--max-steps", str(max_steps),
        "--error-policy", "continue", "--out", str(out), "--quiet",
    ]  # fmt: skip


def run_job(path: Path, episodes: int, max_steps: int, out: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one job, with the code the shim ``path`` points to."""
    command = main_job_command(episodes, max_steps, out)
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(path)})
    return time.perf_counter() - started, children_cpu() - cpu


def committed(out: Path) -> dict[tuple[str, int, int], str]:
    """Each run's committed answer per (run, episode, step)."""
    answers = {}
    for log in sorted(out.glob("*/events.jsonl")):
        for line in log.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("kind") == "round" and event.get("round") == 0:
                answers[(log.parent.name, event["episode"], event["step"])] = event["output"]
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--old", default=OLD, help=f"the earlier commit (default {OLD})")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs per side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old_tree = tmp / "old-tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_tree), args.old],
            check=True, capture_output=True,
        )  # fmt: skip
        try:
            sides = {
                f"old {args.old}": shim(old_tree, tmp / "old-path"),
                "new (this checkout)": shim(ROOT, tmp / "new-path"),
            }
            walls: dict[str, list[float]] = {side: [] for side in sides}
            cpus: dict[str, list[float]] = {side: [] for side in sides}
            outs: dict[str, Path] = {}
            for repeat in range(args.repeats):
                for index, (side, path) in enumerate(sides.items()):
                    out = tmp / f"run-{index}-{repeat}"
                    wall, cpu = run_job(path, args.episodes, args.max_steps, out)
                    walls[side].append(wall)
                    cpus[side].append(cpu)
                    outs[side] = out
                    print(f"  run {repeat + 1}: {side:<22} wall {wall:7.1f} s  cpu {cpu:7.1f} s",
                          flush=True)
            old_side, new_side = sides
            print(
                f"redraft grid chess, critics none,tool,constrained, k=2, {args.episodes} "
                f"episodes, max {args.max_steps} steps, min of {args.repeats} alternating runs, "
                f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"
            )
            for side in sides:
                print(f"{side:<22} wall {min(walls[side]):7.1f} s  cpu {min(cpus[side]):7.1f} s")
            print(
                f"old / new: wall {min(walls[old_side]) / min(walls[new_side]):.2f}x, "
                f"cpu {min(cpus[old_side]) / min(cpus[new_side]):.2f}x"
            )
            old_answers, new_answers = committed(outs[old_side]), committed(outs[new_side])
            same = sum(old_answers.get(key) == text for key, text in new_answers.items())
            print(
                f"first proposals identical in both: {same} of {len(new_answers)} (the new "
                "default computes the same weights in 32-bit floats, so texts may differ)"
            )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)],
                check=False, capture_output=True,
            )  # fmt: skip


if __name__ == "__main__":
    main()
