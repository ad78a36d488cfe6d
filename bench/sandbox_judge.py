"""What judging tests outside the program's process costs per sandbox run.

The harness forks, and each judged test is one round trip between the harness and the
program's process. Side by side, alternating, the median per run of:

- the same 20 tests judged by the harness (``assert add(i, i) == 2 * i``) and run in the
  program's process (``assert (add(i, i) == 2 * i) is True``, a form the harness does not
  judge), under each isolation the machine has;
- under ``bwrap``, the default process limit (the harness forks) against a limit of 1
  (it cannot, and one process runs everything, as before the fork).

    python bench/sandbox_judge.py --reps 40

Measured (2026-12-07, 2-core AMD EPYC, load ~1.2 as a CI run ended): judged 34.0 ms and
in the program's process 34.2 under bwrap, one process 31.8 (0.93x); 32.9 and 32.9 under the
fallback. The table is in bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

from redraft.tools.sandbox import Sandbox, SandboxLimits, detect_isolation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--tests", type=int, default=20)
    args = parser.parse_args()
    program = "def add(a, b):\n    return a + b\n"
    judged = [f"assert add({i}, {i}) == {2 * i}" for i in range(args.tests)]
    inside = [f"assert (add({i}, {i}) == {2 * i}) is True" for i in range(args.tests)]
    isolations = ["process"]
    if detect_isolation(limits=SandboxLimits())[0].isolation == "bwrap":
        isolations.insert(0, "bwrap")
    for isolation in isolations:
        setups = {"judged": (SandboxLimits(), judged), "in the program's process":
                  (SandboxLimits(), inside)}
        if isolation == "bwrap":
            setups["one process (limit 1)"] = (SandboxLimits(processes=1), judged)
        boxes = {name: Sandbox(isolation, limits)  # type: ignore[arg-type]
                 for name, (limits, _) in setups.items()}
        seconds: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(args.reps):
            for name, (_, tests) in setups.items():
                started = time.perf_counter()
                result = boxes[name].run(program, tests)
                seconds[name].append(time.perf_counter() - started)
                if result.outcome != "passed":
                    raise SystemExit(f"{isolation}, {name}: {result.message}")
        med = {name: statistics.median(v) * 1000 for name, v in seconds.items()}
        base = med["judged"]
        print(f"{isolation} ({args.tests} tests, median of {args.reps} runs): " + ", ".join(
            f"{name} {ms:.1f} ms ({ms / base:.2f}x judged)" for name, ms in med.items()))


if __name__ == "__main__":
    main()
