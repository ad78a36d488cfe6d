"""A grid against an OpenAI-compatible server: no critic vs tool feedback vs self-critique.

Any server that speaks the chat completions API will do: vLLM (``vllm serve MODEL``), the
llama.cpp server, Ollama, a hosted API. Start one, then:

    python examples/grid_openai.py --model MODEL --base-url http://127.0.0.1:8000/v1
    # e.g. llama.cpp's server on the embedded model:
    #   python -m llama_cpp.server --model PATH.gguf --model_alias smollm2 --port 8080
    #   python examples/grid_openai.py --model smollm2 --base-url http://127.0.0.1:8080/v1

Several URLs joined by ``|`` spread the requests over several servers. The API key comes
from ``OPENAI_API_KEY`` (local servers take any). This is what ``redraft grid`` does on the
command line; from Python the runs are ordinary ``EvalConfig`` objects, run one after the
other (or resumed: rerun the script), then reported together.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from redraft.agent import CorrectorConfig, CriticMode
from redraft.agent.backends import SamplingParams
from redraft.evals import EvalConfig, run_grid
from redraft.evals.report import write_report

CRITICS: tuple[tuple[CriticMode, int], ...] = (("none", 0), ("tool", 2), ("self", 1))
"""Each run's critic mode and revision budget; the first is the report's baseline."""


def configs(model: str, task: str, episodes: int, max_steps: int) -> dict[str, EvalConfig]:
    """One config per critic mode, named as ``redraft grid`` names its runs."""
    sampling = SamplingParams(max_tokens=32, temperature=0.0)
    return {
        f"{critic}-k{k}": EvalConfig(
            task=task, model=model, episodes=episodes, max_steps=max_steps,
            error_policy="continue", batch_size=episodes,
            corrector=CorrectorConfig(critic=critic, max_revisions=k, sampling=sampling),
        )
        for critic, k in CRITICS
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid against the server, then report it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the model name the server knows")
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--task", default="addition")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("runs/grid_openai"))
    args = parser.parse_args(argv)
    runs = configs(f"openai/{args.model}@{args.base_url}", args.task, args.episodes,
                   args.max_steps)
    # One run after the other (the largest revision budget first), each resumable alone.
    results = run_grid([(config, args.out / name, []) for name, config in runs.items()])
    for name, result in zip(runs, results, strict=True):
        print(f"{name}: {result.episodes} episodes, {result.steps} steps, "
              f"{result.seconds:.1f} s")
    report = write_report([args.out / name for name in runs], args.out / "report")
    for line in report.headlines:
        print(f"{line.subject}: {line.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
