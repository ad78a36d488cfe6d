"""Run every CPU benchmark at a scale that fits about 10 minutes on 2 idle cores.

    python bench/run_all.py

Each benchmark runs in its own process (a fresh interpreter and model) and prints its own
side-by-side ratios; see bench/README.md for what each measures. The GPU script
(``bench/gpu_hf.py``) and the README main-job comparison (``bench/main_job.py``) are not
included: the first needs CUDA, the second takes tens of minutes.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES: list[list[str]] = [
    ["orchestration.py", "--batches", "1,16,256", "--items", "512", "--repeats", "3"],
    ["llamacpp_batching.py", "--answers", "16", "--max-tokens", "12", "--repeats", "2"],
    ["llamacpp_episode_cost.py", "--steps", "100", "--window", "5"],
    ["framework_overhead.py", "--episodes", "8", "--max-steps", "3", "--repeats", "2"],
]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    # Not OMP_WAIT_POLICY=PASSIVE: it lets llama.cpp's threads sleep between graph
    # computations, which doubled a batch-1 token's time on 2 idle cores (bench/README.md).
    env = dict(os.environ)
    started = time.perf_counter()
    failed = 0
    for bench in BENCHES:
        print(f"\n=== {' '.join(bench)}", flush=True)
        began, cpu = time.perf_counter(), children_cpu()
        code = subprocess.call([sys.executable, str(HERE / bench[0]), *bench[1:]], env=env)
        print(
            f"=== {bench[0]}: wall {time.perf_counter() - began:.0f} s, "
            f"cpu {children_cpu() - cpu:.0f} s, exit {code}",
            flush=True,
        )
        failed += code != 0
    print(
        f"\nall benchmarks: wall {time.perf_counter() - started:.0f} s, "
        f"cpu {children_cpu():.0f} s, {failed} failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
