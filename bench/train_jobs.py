"""Training the findings grid's models one at a time or several at once, side by side.

Trains ``--models`` expert models of the quick scale's task and size (``redraft findings
--scale quick``'s settings, ``--steps`` optimizer steps of its batch each) through the
findings scheduler (:func:`redraft.lab.findings.train_models`) under each setting:

- ``jobs=1``: one model at a time in this process, torch on every CPU (the scheduler before
  this bench);
- ``jobs=N``: N models at once, each in a spawned process with CPUs // N torch threads
  (the default on a CPU scale: one process per CPU).

Settings alternate within each of ``--repeats`` repeats; every cell trains fresh models
(same seeds, so the same work). It prints each cell's wall-clock seconds, the other runnable
tasks when it began (a shared machine is not idle), the median per setting and each
setting's ratio to ``jobs=1`` in the same repeat (these machines are noisy: read the
per-repeat ratios).

    python bench/train_jobs.py [--models 4] [--steps 400] [--repeats 2] [--jobs 1,2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _cell(jobs: int, models: int, steps: int, root: Path) -> float:
    from redraft.agent.backends import cpus_available
    from redraft.lab.findings import FindingsOptions, TrainSpec, train_models

    work = Path(tempfile.mkdtemp(dir=root))
    options = FindingsOptions(out=work / "out", work=work, scale="quick", jobs=jobs,
                              threads=max(1, cpus_available() // jobs))
    specs = [TrainSpec(arm="expert", regime="expert", seed=seed, out=work / f"expert-s{seed}",
                       extra={"steps": steps}) for seed in range(models)]
    started = time.perf_counter()
    train_models(specs, options)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    from redraft.agent.backends import cpus_available, sample_runnable

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=4, help="models per cell (4)")
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps each (400)")
    parser.add_argument("--repeats", type=int, default=2, help="repeats of every setting (2)")
    parser.add_argument("--jobs", default=f"1,{cpus_available()}",
                        help="comma-separated jobs settings, the first the baseline")
    args = parser.parse_args(argv)
    settings = [int(x) for x in args.jobs.split(",")]
    walls: dict[int, list[float]] = {j: [] for j in settings}
    print(f"{args.models} quick-scale expert models of {args.steps} steps per cell, "
          f"{cpus_available()} CPUs, settings {settings}, {args.repeats} repeat(s)")
    with tempfile.TemporaryDirectory(prefix="train-jobs-") as root:
        for repeat in range(args.repeats):
            for jobs in settings:
                others = sample_runnable()
                wall = _cell(jobs, args.models, args.steps, Path(root))
                walls[jobs].append(wall)
                print(f"repeat {repeat + 1} jobs={jobs}: {wall:.1f} s "
                      f"(other runnable tasks at start: {others})", flush=True)
    base = walls[settings[0]]
    print(f"\nsetting   median s   per-repeat ratio to jobs={settings[0]} (lower is faster)")
    for jobs in settings:
        ratios = ", ".join(f"{w / b:.2f}" for w, b in zip(walls[jobs], base, strict=True))
        print(f"jobs={jobs:<4} {statistics.median(walls[jobs]):8.1f}   {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
