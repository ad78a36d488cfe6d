"""The ``redraft`` command line: eval, grid, report, merge, list.

Exit status: 0 on success, 2 on bad input (a one-line message on stderr says what to fix),
1 on other failures.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import itertools
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from redraft.tools import BadInputError, RedraftError

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

_EPILOG = """\
examples:
  redraft eval addition --model simulated/e=0.1,r=0.5,h=0.05 --critic tool --rounds 2 \\
      --episodes 200 --max-steps 20 --seed 0 --out runs/addition-tool
  redraft eval chess --model llamacpp/smollm2 --critic self --rounds 1 --episodes 10 \\
      --max-steps 40 --representation fen --out runs/chess-self
  redraft grid addition --model simulated/e=0.1,r=0.5 --critic none,tool,resample \\
      --rounds 0,2 --episodes 100 --max-steps 20 --out runs/grid
  redraft grid running_sum --model simulated/e=0.2,think_e=0.2,think_r=0.5 --critic none \\
      --monologue off,on --episodes 100 --max-steps 20 --out runs/think
  redraft eval addition --episodes 400 --shard 0/4 --out runs/s0   # ... 1/4, 2/4, 3/4
  redraft merge runs/s0 runs/s1 runs/s2 runs/s3 --out runs/all
  redraft report runs/addition-tool runs/all --out reports/cmp
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit status 2 (argparse's too)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        parsed = value
    return key.strip(), parsed


def _out_dir(text: str) -> Path:
    # Path("") is Path("."): an empty --out would silently write into the current directory.
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name a directory, e.g. --out runs/first")
    return Path(text)


def _csv(text: str) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"{text!r} lists nothing")
    return items


def _csv_int(text: str) -> list[int]:
    try:
        return [int(part) for part in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of integers, e.g. 0,2") from None


def _on_off(text: str) -> list[bool]:
    values = {"off": False, "on": True}
    items = _csv(text)
    bad = [item for item in items if item not in values]
    if bad:
        raise argparse.ArgumentTypeError(f"{text!r}: write off, on or off,on")
    return [values[item] for item in items]


def _add_run_options(parser: argparse.ArgumentParser, *, grid: bool) -> None:
    parser.add_argument("task", nargs="?", help="task name (see 'redraft list'); or in --config")
    parser.add_argument("--config", type=Path, help="TOML/YAML/JSON file of EvalConfig fields")
    parser.add_argument("--model", help="PROVIDER/MODEL, e.g. simulated/e=0.1,r=0.5,h=0.05")
    if grid:
        parser.add_argument("--critic", type=_csv, help="critic modes, e.g. none,self,tool")
        parser.add_argument("--rounds", type=_csv_int, help="revision budgets, e.g. 0,2")
        parser.add_argument("--representation", type=_csv, help="representations, e.g. a,b")
        parser.add_argument(
            "--monologue", type=_on_off, help="inner monologue off, on, or both: off,on"
        )
    else:
        parser.add_argument("--critic", help="none|self|tool|self+tool|resample|constrained|oracle")
        parser.add_argument("--rounds", type=int, help="revisions allowed per step (k)")
        parser.add_argument("--representation", help="the task's prompt representation")
        parser.add_argument(
            "--monologue", choices=("off", "on"), help="reason before answering (default off)"
        )
    parser.add_argument("--episodes", type=int, help="episodes in the run")
    parser.add_argument("--max-steps", type=int, help="step limit per episode (censoring)")
    parser.add_argument("--seed", type=int, help="run seed")
    parser.add_argument("--opponent", help="opponent, for tasks that have one (chess)")
    parser.add_argument("--verifier", help="registered verifier to use instead of the task's")
    parser.add_argument("--batch-size", type=int, help="episodes in flight at once (default 64)")
    parser.add_argument("--error-policy", choices=("stop", "continue"), help="after an error")
    parser.add_argument(
        "--max-tokens", type=int,
        help="tokens per generation (default 64; 256 with the monologue)",
    )
    parser.add_argument("--temperature", type=float, help="sampling temperature (default 0)")
    if not grid:
        parser.add_argument("--shard", help="run only shard i of N: i/N")
    parser.add_argument(
        "--task-option", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
        help="task option (repeatable; VALUE parsed as JSON when it is)",
    )
    parser.add_argument(
        "--model-option", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
        help="backend option, e.g. n_ctx=2048 (repeatable)",
    )
    parser.add_argument("--out", type=_out_dir, required=True, help="run directory (grid: parent)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``redraft`` command."""
    parser = _Parser(
        prog="redraft",
        description="Self-correcting LLM agents, measured: per-step error before and after "
        "correction.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_eval = sub.add_parser("eval", help="run (or resume) one eval into a run directory")
    _add_run_options(p_eval, grid=False)
    p_eval.set_defaults(func=_cmd_eval)
    p_grid = sub.add_parser("grid", help="run every combination of critics/rounds, then report")
    _add_run_options(p_grid, grid=True)
    p_grid.set_defaults(func=_cmd_grid)
    p_report = sub.add_parser("report", help="write report.html, plots and summary.json")
    p_report.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    p_report.add_argument("--out", type=_out_dir, required=True, help="report directory")
    p_report.set_defaults(func=_cmd_report)
    p_merge = sub.add_parser("merge", help="join the logs of a run's shards")
    p_merge.add_argument("shards", nargs="+", type=Path, metavar="SHARD_DIR")
    p_merge.add_argument("--out", type=_out_dir, required=True, help="merged run directory")
    p_merge.set_defaults(func=_cmd_merge)
    p_list = sub.add_parser("list", help="list tasks, verifiers and backends (with plug-ins)")
    p_list.set_defaults(func=_cmd_list)
    return parser


# -- configs -------------------------------------------------------------------------------


def _config_data(args: argparse.Namespace) -> dict[str, Any]:
    """The config file's fields, overridden by the flags given."""
    from redraft.evals._config import read_config_file

    data: dict[str, Any] = read_config_file(args.config) if args.config else {}
    flags = {
        "task": args.task,
        "model": args.model,
        "critic": args.critic,
        "max_rounds": args.rounds,
        "representation": args.representation,
        "episodes": args.episodes,
        "max_steps": args.max_steps,
        "seed": args.seed,
        "opponent": args.opponent,
        "verifier": args.verifier,
        "batch_size": args.batch_size,
        "error_policy": args.error_policy,
        "shard": getattr(args, "shard", None),
    }
    if flags["max_rounds"] is not None:
        data.pop("rounds", None)
    data.update({k: v for k, v in flags.items() if v is not None})
    if isinstance(args.monologue, str):  # eval; a grid lists several (see _cmd_grid)
        data["corrector"] = {**(data.get("corrector") or {}), "monologue": args.monologue == "on"}
    sampling = {"max_tokens": args.max_tokens, "temperature": args.temperature}
    if any(v is not None for v in sampling.values()):
        corrector = dict(data.get("corrector") or {})
        merged_sampling = dict(corrector.get("sampling") or {})
        merged_sampling.update({k: v for k, v in sampling.items() if v is not None})
        data["corrector"] = {**corrector, "sampling": merged_sampling}
        if args.max_tokens is not None:
            # One explicit limit for every generation, monologue or not.
            data["corrector"]["monologue_max_tokens"] = None
    for field, pairs in (("task_options", args.task_option), ("model_options", args.model_option)):
        if pairs:
            merged = dict(data.get(field) or {})
            merged.update(dict(pairs))
            data[field] = merged
    return data


def _validate(data: dict[str, Any]) -> Any:
    from redraft.evals._config import EvalConfig, describe_validation_error

    if not data.get("task"):
        raise BadInputError("no task given: name one (redraft eval TASK ...) or set it in --config")
    try:
        return EvalConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(describe_validation_error(exc)) from exc


def _observers(quiet: bool) -> list[Any]:
    from redraft.evals._progress import ProgressBar

    return [] if quiet else [ProgressBar(enabled=None)]


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr)


# -- commands ------------------------------------------------------------------------------


def _cmd_eval(args: argparse.Namespace) -> int:
    from redraft.evals._eval import run_eval

    config = _validate(_config_data(args))
    result = run_eval(config, args.out, observers=_observers(args.quiet))
    verb = "resumed" if result.resumed else "ran"
    _say(
        args.quiet,
        f"redraft: {args.out}: {result.episodes} episodes done ({verb}: {result.ran} episodes, "
        f"{result.steps} steps in {result.seconds:.1f} s)",
    )
    return EXIT_OK


def _grid_name(critic: str, rounds: int, representation: str | None, monologue: bool) -> str:
    name = f"{critic}-k{rounds}"
    if representation:
        name = f"{name}-{representation}"
    return f"{name}-monologue" if monologue else name


def _cmd_grid(args: argparse.Namespace) -> int:
    from redraft.evals._eval import run_eval

    base = _config_data(args)
    critics: list[str] = args.critic or [base.get("critic", "tool")]
    rounds_list: list[int] = args.rounds or [int(base.get("max_rounds", base.get("rounds", 2)))]
    reps: list[str | None] = args.representation or [base.get("representation")]
    corrector = dict(base.get("corrector") or {})
    monologues: list[bool] = args.monologue or [bool(corrector.get("monologue", False))]
    combos: dict[str, Any] = {}
    for critic, rounds, rep, mono in itertools.product(critics, rounds_list, reps, monologues):
        # Without a critic the revision budget is unused: one run stands for every k.
        k = 0 if critic == "none" else rounds
        name = _grid_name(critic, k, rep, mono)
        if name not in combos:
            combos[name] = _validate(
                {
                    **base,
                    "critic": critic,
                    "max_rounds": k,
                    "representation": rep,
                    "corrector": {**corrector, "monologue": mono},
                }
            )
    run_dirs = []
    for name, config in combos.items():
        run_dir = args.out / name
        _say(args.quiet, f"redraft grid: {name}")
        run_eval(config, run_dir, observers=_observers(args.quiet))
        run_dirs.append(run_dir)
    return _report(run_dirs, args.out / "report", args.quiet)


def _report(run_dirs: Sequence[Path], out: Path, quiet: bool) -> int:
    try:
        # Imported lazily: reports pull in matplotlib, which eval runs do not need.
        write_report = importlib.import_module("redraft.evals.report").write_report
    except (ImportError, AttributeError) as exc:
        print(f"redraft: reports are not available ({exc})", file=sys.stderr)
        return EXIT_FAILURE
    try:
        write_report(list(run_dirs), out)
    except OSError as exc:
        if exc.filename is not None and Path(exc.filename).is_relative_to(out):
            raise BadInputError(
                f"cannot write the report to {out}: {exc.strerror or exc}; choose a writable "
                "--out"
            ) from exc
        raise
    _say(quiet, f"redraft: report written to {out}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    missing = [str(d) for d in args.runs if not Path(d).is_dir()]
    if missing:
        raise BadInputError(f"no such run directory: {', '.join(missing)}")
    return _report(args.runs, args.out, False)


def _cmd_merge(args: argparse.Namespace) -> int:
    from redraft.evals._shards import merge_runs

    count = merge_runs(args.shards, args.out)
    print(f"redraft: merged {len(args.shards)} shards into {args.out} ({count} episodes)",
          file=sys.stderr)
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from redraft.agent.backends import backends
    from redraft.evals.tasks import tasks
    from redraft.tools import verifiers

    broken = 0
    for title, registry in (("tasks", tasks), ("verifiers", verifiers), ("backends", backends)):
        print(f"{title}:")
        names = registry.names()
        width = max((len(n) for n in names), default=0)
        for name in names:
            # Loading each entry finds a plug-in that fails to import; it is listed as
            # broken, with why, and the rest are still listed.
            problem = registry.problem(name)
            if problem is not None:
                broken += 1
                print(f"  {name:<{width}}  BROKEN ({problem.target}): {problem.reason}")
            else:
                print(f"  {name:<{width}}  {registry.origin(name)}")
    if broken:
        print(f"redraft: {broken} broken plug-in(s) listed above", file=sys.stderr)
    return EXIT_OK


# -- entry point ---------------------------------------------------------------------------


_PATH_ERRNOS = frozenset({
    errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
    errno.EROFS, errno.EEXIST, errno.ELOOP,
})
"""OSError numbers that mean a path the user gave cannot be used (exit 2, not 1)."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``redraft`` command; return the exit status."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BadInputError as exc:
        print(f"redraft: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RedraftError as exc:
        print(f"redraft: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("redraft: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except SystemExit as exc:
        # Raised by code the run called (a plug-in), not by redraft: the run did not finish,
        # so this is a failure (a rerun resumes it), never a silent exit 0.
        print(f"redraft: stopped by SystemExit({exc.code!r}) raised inside the run; rerun "
              "the same command to resume", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        # A path the system refuses (too long, not a directory, read-only, full disk): one
        # line naming it. Paths are what the user gives, so most of these are bad input.
        where = f" {exc.filename}" if exc.filename else ""
        reason = exc.strerror or _one_line(exc)
        print(f"redraft: cannot use{where}: {reason}", file=sys.stderr)
        return EXIT_BAD_INPUT if exc.errno in _PATH_ERRNOS else EXIT_FAILURE
    except Exception as exc:
        traceback.print_exc()
        print(f"redraft: failed: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
