"""The ``redraft`` command line: eval, grid, report, merge, list, train, findings, cache.

Exit status: 0 on success, 2 on bad input (a one-line message on stderr says what to fix),
1 on other failures, 130 when interrupted (SIGINT, Ctrl-C: the shell's 128 + 2; a rerun
resumes).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import itertools
import json
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from redraft.core import BadInputError, RedraftError
from redraft.evals.commands import Command, backend_log, commands, key_value, say

__all__ = ["build_parser", "main", "preload"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
"""128 + SIGINT, as shells report a command stopped by Ctrl-C."""

_EPILOG = """\
examples:
  redraft eval addition --model simulated/e=0.1,r=0.5,h=0.05 --critic tool --revisions 2 \\
      --episodes 200 --max-steps 20 --seed 0 --out runs/addition-tool
  redraft eval chess --model llamacpp/smollm2 --critic self --revisions 1 --episodes 10 \\
      --max-steps 40 --representation fen --out runs/chess-self
  redraft grid addition --model simulated/e=0.1,r=0.5 --critic none,tool,resample \\
      --revisions 0,2 --episodes 100 --max-steps 20 --out runs/grid
  redraft grid running_sum --model simulated/e=0.2,think_e=0.2,think_r=0.5 --critic none \\
      --monologue off,on --episodes 100 --max-steps 20 --out runs/think
  redraft eval addition --episodes 400 --shard 0/4 --out runs/s0   # ... 1/4, 2/4, 3/4
  redraft merge runs/s0 runs/s1 runs/s2 runs/s3 --out runs/all
  redraft report runs/addition-tool runs/all --out reports/cmp
  redraft report a/run=baseline b/run=retrained --out reports/ab   # labels
  redraft train running_sum --regime retry --out models/rs-retry   # then --model hf/models/rs-retry
  redraft findings --out docs/findings --scale quick   # the experiment -> docs/findings.md
  redraft grid dataset --task-option path=examples/word_problems.jsonl --critic none,self,tool \
      --out runs/words   # your own data: JSONL, JSON, CSV or Parquet, each record an episode
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit status 2 (argparse's too)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


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


_OLD_SPELLINGS = {"--rounds": "--revisions"}
"""Old spellings of options, still read with one notice."""


class _Spelled(argparse.Action):
    """Store an option's value and how the user spelt it (errors name the option as typed).

    An old spelling (:data:`_OLD_SPELLINGS`) works as the new one, with one line saying so.
    """

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        if option_string is not None:
            spelled = dict(getattr(namespace, "spelled", None) or {})
            spelled[self.dest] = option_string
            namespace.spelled = spelled
            new = _OLD_SPELLINGS.get(option_string)
            if new is not None:
                print(f"redraft: {option_string} is the old spelling of {new} (the same option: "
                      f"it counts revisions, not rounds); write {new}", file=sys.stderr)


def _add_run_options(parser: argparse.ArgumentParser, *, grid: bool) -> None:
    parser.add_argument("task", nargs="?", help="task name (see 'redraft list'); or in --config")
    parser.add_argument("--config", type=Path, help="TOML/YAML/JSON file of EvalConfig fields")
    parser.add_argument("--model", help="PROVIDER/MODEL, e.g. simulated/e=0.1,r=0.5,h=0.05")
    if grid:
        parser.add_argument("--critic", type=_csv, help="critic modes, e.g. none,self,tool")
        parser.add_argument(
            "--revisions", "--rounds", dest="revisions", type=_csv_int, metavar="K[,K...]",
            action=_Spelled, help="revision budgets k (revisions after the first proposal; a "
            "step has up to k+1 rounds), e.g. 0,2 (--rounds: its old spelling)",
        )
        parser.add_argument("--representation", type=_csv, help="representations, e.g. a,b")
        parser.add_argument(
            "--monologue", type=_on_off, help="inner monologue off, on, or both: off,on"
        )
    else:
        parser.add_argument("--critic", help="none|self|tool|self+tool|resample|constrained|oracle")
        parser.add_argument(
            "--revisions", "--rounds", dest="revisions", type=int, metavar="K",
            action=_Spelled, help="revisions allowed per step after the first proposal (k: up "
            "to k+1 rounds; --rounds: its old spelling)",
        )
        parser.add_argument("--representation", help="the task's prompt representation")
        parser.add_argument(
            "--monologue", choices=("off", "on"), help="reason before answering (default off)"
        )
    parser.add_argument(
        "--commit-policy", choices=("last_accepted", "last"),
        help="which round's answer a step commits: the latest the verifier accepted "
        "(else the last, marked as a fallback; the default) or the last",
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
        parser.add_argument("--label", help="the run's name in reports (default: --out's name)")
    parser.add_argument(
        "--task-option", type=key_value, action="append", default=[], metavar="KEY=VALUE",
        help="task option (repeatable; VALUE parsed as JSON when it is)",
    )
    parser.add_argument(
        "--model-option", type=key_value, action="append", default=[], metavar="KEY=VALUE",
        help="backend option, e.g. n_ctx=2048 (repeatable)",
    )
    parser.add_argument("--out", type=_out_dir, required=True, help="run directory (grid: parent)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument(
        "--verbose", action="store_true",
        help="let the backend log to stderr (llama.cpp's loader: hundreds of lines)",
    )


def _add_plugin_commands(sub: Any) -> None:
    """Add the commands plug-ins contribute (``redraft.commands``: the study's among them).

    A plug-in that fails to load keeps its name: running it says why in one line (exit 2),
    and every other command still works.
    """
    for name in commands.names():
        try:
            command = commands.create(name)
            if not isinstance(command, Command):
                raise TypeError(f"{commands.origin(name)} does not give a redraft command "
                                "(help, add_arguments, run)")
        except Exception as exc:  # a plug-in's import or factory can raise anything
            broken = sub.add_parser(name, help=f"BROKEN plug-in: {_one_line(exc)}")
            broken.add_argument("rest", nargs=argparse.REMAINDER)
            broken.set_defaults(func=_broken_command(name, exc))
            continue
        parser = sub.add_parser(name, help=command.help)
        command.add_arguments(parser)
        parser.set_defaults(func=command.run)


def _broken_command(name: str, exc: BaseException) -> Callable[[argparse.Namespace], int]:
    def refuse(args: argparse.Namespace) -> int:
        raise BadInputError(f"command {name!r} is a plug-in that cannot be loaded: "
                            f"{_one_line(exc)}")

    return refuse


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
    p_grid = sub.add_parser(
        "grid", help="run every combination of critics/revision budgets, then report"
    )
    _add_run_options(p_grid, grid=True)
    p_grid.set_defaults(func=_cmd_grid)
    p_report = sub.add_parser("report", help="write report.html, plots and summary.json")
    p_report.add_argument(
        "runs", nargs="+", metavar="RUN_DIR[=LABEL]",
        help="run directories, the baseline first; =LABEL names a run in the report",
    )
    p_report.add_argument("--out", type=_out_dir, required=True, help="report directory")
    p_report.set_defaults(func=_cmd_report)
    p_merge = sub.add_parser("merge", help="join the logs of a run's shards")
    p_merge.add_argument("shards", nargs="+", type=Path, metavar="SHARD_DIR")
    p_merge.add_argument("--out", type=_out_dir, required=True, help="merged run directory")
    p_merge.set_defaults(func=_cmd_merge)
    p_list = sub.add_parser(
        "list", help="list tasks, verifiers, scorers and backends (with plug-ins)")
    p_list.set_defaults(func=_cmd_list)
    p_cache = sub.add_parser(
        "cache", help="list or clear the models converted once, and native-weights probe "
        "results (~/.cache/redraft)")
    p_cache.add_argument("action", choices=("list", "clear"), help="list: what and how large; "
                         "clear: remove them all (the next load converts again)")
    p_cache.set_defaults(func=_cmd_cache)
    _add_plugin_commands(sub)
    return parser


# -- configs -------------------------------------------------------------------------------


FieldPath = tuple[str, ...]
"""Where a setting lives in an :class:`~redraft.evals.EvalConfig` (``corrector.sampling``...)."""

_FLAG_FIELDS: dict[str, FieldPath] = {
    "task": ("task",),
    "model": ("model",),
    "critic": ("corrector", "critic"),
    "revisions": ("corrector", "max_revisions"),
    "commit_policy": ("corrector", "commit_policy"),
    "monologue": ("corrector", "monologue"),
    "temperature": ("corrector", "sampling", "temperature"),
    "max_tokens": ("corrector", "sampling", "max_tokens"),
    "representation": ("representation",),
    "episodes": ("episodes",),
    "max_steps": ("max_steps",),
    "seed": ("seed",),
    "opponent": ("opponent",),
    "verifier": ("verifier",),
    "batch_size": ("batch_size",),
    "error_policy": ("error_policy",),
    "shard": ("shard",),
}
"""Each run option (its argparse ``dest``) and the one field it sets."""

_GRID_AXES = ("critic", "revisions", "representation", "monologue")
"""Options that list values in a grid (one run per combination)."""


class _RunSettings:
    """A run's config as data: a config file's fields with the flags over them.

    Each field remembers where it came from, so that an invalid value is named as the user
    gave it: ``--revisions -1``, or ``runs.yaml: episodes``.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        from redraft.evals._config import read_config_file

        self.args = args
        self.data: dict[str, Any] = {}
        self.origin: dict[FieldPath, str] = {}
        if args.config:
            def notice(line: str) -> None:
                print(f"redraft: {line}", file=sys.stderr)

            self.data = read_config_file(args.config, notify=notice)
            self._from_file(self.data, ())
        for dest, path in _FLAG_FIELDS.items():
            value = getattr(args, dest, None)
            if value is not None and not isinstance(value, list):  # a grid's lists: per run
                self.put(path, value == "on" if dest == "monologue" else value, dest)
        for dest, field in (("task_option", "task_options"), ("model_option", "model_options")):
            for key, value in getattr(args, dest):
                self.put((field, key), value, dest, f"{key}={json.dumps(value)}")

    def _from_file(self, data: dict[str, Any], prefix: FieldPath) -> None:
        for key, value in data.items():
            path = (*prefix, str(key))
            if isinstance(value, dict) and value:
                self._from_file(value, path)
            else:
                self.origin[path] = f"{self.args.config}: {'.'.join(path)}"

    def spelling(self, dest: str) -> str:
        """The option as the user typed it (``--rounds`` or ``--revisions``)."""
        typed: dict[str, str] = getattr(self.args, "spelled", None) or {}
        return typed.get(dest, "--" + dest.replace("_", "-"))

    def put(self, path: FieldPath, value: Any, dest: str, shown: str | None = None) -> None:
        """Set the field at ``path``, as option ``dest`` gave it (``shown``, else ``value``)."""
        _put(self.data, path, value)
        self.origin[path] = f"{self.spelling(dest)} {shown if shown is not None else value}"
        if path == _FLAG_FIELDS["max_tokens"]:
            # One explicit limit for every generation, monologue or not.
            _put(self.data, ("corrector", "monologue_max_tokens"), None)
            self.origin[("corrector", "monologue_max_tokens")] = self.origin[path]

    def get(self, path: FieldPath, default: Any = None) -> Any:
        """The value at ``path`` so far, or ``default``."""
        node: Any = self.data
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def name(self, loc: tuple[str | int, ...]) -> str:
        """How the user gave the field at ``loc`` (the longest known prefix), else its path."""
        for end in range(len(loc), 0, -1):
            origin = self.origin.get(tuple(str(part) for part in loc[:end]))
            if origin is not None:
                return origin
        return ".".join(str(part) for part in loc)

    def validate(self, data: dict[str, Any] | None = None) -> Any:
        """The :class:`~redraft.evals.EvalConfig` of ``data`` (default: the settings as read).

        Raises:
            BadInputError: no task, or an invalid value, named as the user gave it.
        """
        from redraft.core import describe_validation_error
        from redraft.evals._config import EvalConfig

        data = self.data if data is None else data
        if not data.get("task"):
            raise BadInputError(
                "no task given: name one (redraft eval TASK ...) or set it in --config")
        try:
            return EvalConfig.model_validate(data)
        except ValidationError as exc:
            raise BadInputError(describe_validation_error(exc, name=self.name)) from exc


def _put(data: dict[str, Any], path: FieldPath, value: Any) -> None:
    """Set ``data[path[0]][path[1]]...`` to ``value``, making (or copying) dicts on the way."""
    node = data
    for key in path[:-1]:
        child = node.get(key)
        node[key] = dict(child) if isinstance(child, dict) else {}
        node = node[key]
    node[path[-1]] = value


def _observers(quiet: bool, config: Any, title: str = "steps") -> list[Any]:
    from redraft.evals._progress import ProgressBar

    return [] if quiet else [ProgressBar(max_steps=config.max_steps, title=title)]


# -- commands ------------------------------------------------------------------------------


def _trained_defaults(settings: _RunSettings) -> None:
    """A trained model's own task options and representation, unless the user set them."""
    from redraft.evals._trained import trained_defaults

    data = settings.data
    if data.get("task"):
        representation, options = trained_defaults(
            data["task"], data.get("model"), data.get("representation"),
            dict(data.get("task_options") or {}),
        )
        data.update(representation=representation, task_options=options)


def _episodes_default(settings: _RunSettings) -> None:
    """Without ``--episodes``, a dataset task runs each record once (episode i: record i)."""
    if "episodes" in settings.data:
        return
    from redraft.evals._eval import default_episodes

    count = default_episodes(settings.validate())
    if count is not None:
        settings.data["episodes"] = count


def _cmd_eval(args: argparse.Namespace) -> int:
    from redraft.evals._eval import run_eval

    backend_log(args.verbose)
    settings = _RunSettings(args)
    _trained_defaults(settings)
    _episodes_default(settings)
    config = settings.validate()
    if args.label is not None and not args.label.strip():
        raise BadInputError("--label must not be blank")
    result = run_eval(config, args.out,
                      observers=_observers(args.quiet, config, args.label or args.out.name))
    if args.label is not None:
        from redraft.evals._manifest import write_label

        write_label(args.out, args.label)
    verb = "resumed" if result.resumed else "ran"
    kept = (f"; {result.continued} unfinished episodes continued after their "
            f"{result.kept_steps} logged steps" if result.continued else "")
    say(
        args.quiet,
        f"redraft: {args.out}: {result.episodes} episodes done ({verb}: {result.ran} episodes, "
        f"{result.steps} steps in {result.seconds:.1f} s{kept})",
    )
    return EXIT_OK


def _grid_name(critic: str, k: int, representation: str | None, monologue: bool) -> str:
    name = f"{critic}-k{k}"
    if representation:
        name = f"{name}-{representation}"
    return f"{name}-monologue" if monologue else name


def _cmd_grid(args: argparse.Namespace) -> int:
    from redraft.agent import CorrectorConfig
    from redraft.evals._eval import run_grid

    backend_log(args.verbose)
    settings = _RunSettings(args)
    _trained_defaults(settings)
    _episodes_default(settings)
    defaults = CorrectorConfig.model_fields

    def axis(dest: str, default: Any) -> list[Any]:
        given: list[Any] | None = getattr(args, dest)
        return given or [settings.get(_FLAG_FIELDS[dest], default)]

    critics = axis("critic", defaults["critic"].default)
    budgets = axis("revisions", defaults["max_revisions"].default)
    reps = axis("representation", None)
    monologues = axis("monologue", defaults["monologue"].default)
    combos: dict[str, Any] = {}
    for critic, budget, rep, mono in itertools.product(critics, budgets, reps, monologues):
        # Without a critic the revision budget is unused: one run stands for every k.
        k = 0 if critic == "none" else budget
        name = _grid_name(critic, k, rep, mono)
        if name in combos:
            continue
        for dest, value in (("critic", critic), ("revisions", k), ("representation", rep),
                            ("monologue", mono)):
            if getattr(args, dest):
                settings.put(_FLAG_FIELDS[dest], value, dest)
            else:
                _put(settings.data, _FLAG_FIELDS[dest], value)
        combos[name] = settings.validate()
    names = list(combos)
    run_dirs = [args.out / name for name in names]
    titles = [f"run {i}/{len(names)} {name}" for i, name in enumerate(names, start=1)]
    runs = [
        (combos[name], run_dir, _observers(args.quiet, combos[name], title))
        for name, run_dir, title in zip(names, run_dirs, titles, strict=True)
    ]

    def announce(index: int) -> None:
        say(args.quiet, f"redraft grid: {titles[index]} -> {run_dirs[index]}")

    run_grid(runs, on_start=announce)
    return _report(run_dirs, args.out / "report", args.quiet)


def _report(
    run_dirs: Sequence[Path], out: Path, quiet: bool, labels: Sequence[str | None] = ()
) -> int:
    try:
        # Imported lazily: reports pull in matplotlib, which eval runs do not need.
        write_report = importlib.import_module("redraft.evals.report").write_report
    except (ImportError, AttributeError) as exc:
        print(f"redraft: reports are not available ({exc})", file=sys.stderr)
        return EXIT_FAILURE
    try:
        report = write_report(list(run_dirs), out, labels=list(labels) or None)
    except OSError as exc:
        if exc.filename is not None and Path(exc.filename).is_relative_to(out):
            from redraft.evals._log import write_error

            raise write_error(out, exc, "choose a writable --out for the report") from exc
        raise
    say(quiet, f"redraft: report written to {out / 'report.html'}")
    for line in report.headlines:
        say(quiet, f"  {line.subject}: {line.text}")
        for caveat in line.caveats:
            say(quiet, f"    warning ({caveat.kind}): {caveat.text}")
    return EXIT_OK


def _run_and_label(text: str) -> tuple[Path, str | None]:
    """``DIR`` or ``DIR=LABEL`` (a directory whose own name holds '=' is taken whole)."""
    if Path(text).is_dir() or "=" not in text:
        return Path(text), None
    where, _, label = text.rpartition("=")
    if not label.strip():
        raise BadInputError(f"{text!r}: the label after '=' is empty; write DIR=LABEL")
    return Path(where), label.strip()


def _runs_inside(parent: Path) -> list[Path]:
    """The run directories directly inside ``parent`` (a grid's ``--out``), in its order.

    A grid's own report lists its runs in the order the grid was given (the baseline
    first); runs it does not list follow by name.
    """
    from redraft.evals._manifest import MANIFEST_FILE

    runs = sorted(p for p in parent.iterdir() if (p / MANIFEST_FILE).is_file())
    try:
        summary = json.loads((parent / "report" / "summary.json").read_text(encoding="utf-8"))
        order = [str(run["run"]) for run in summary["runs"]]
    except (OSError, ValueError, KeyError, TypeError):
        order = []
    rank = {name: i for i, name in enumerate(order)}
    return sorted(runs, key=lambda p: (rank.get(p.name, len(rank)), p.name))


def _expand_grids(pairs: list[tuple[Path, str | None]]) -> list[tuple[Path, str | None]]:
    """Replace a folder that holds runs but is not one (a grid's ``--out``) by its runs."""
    from redraft.evals._manifest import MANIFEST_FILE

    expanded: list[tuple[Path, str | None]] = []
    for run_dir, label in pairs:
        inside = [] if (run_dir / MANIFEST_FILE).exists() else _runs_inside(run_dir)
        if not inside:
            if not (run_dir / MANIFEST_FILE).exists():
                raise BadInputError(f"{run_dir} is not a run directory (no {MANIFEST_FILE}) "
                                    "and holds none; give a --out of redraft eval or grid")
            expanded.append((run_dir, label))
            continue
        if label is not None:
            raise BadInputError(f"{run_dir} is a folder of {len(inside)} runs, not a run: "
                                "label its runs one by one (RUN_DIR=LABEL)")
        print(f"redraft: {run_dir} holds no run itself; reporting the {len(inside)} runs "
              f"inside it: {', '.join(p.name for p in inside)}", file=sys.stderr)
        expanded.extend((p, None) for p in inside)
    return expanded


def _cmd_report(args: argparse.Namespace) -> int:
    pairs = [_run_and_label(text) for text in args.runs]
    missing = [str(d) for d, _ in pairs if not d.is_dir()]
    if missing:
        raise BadInputError(f"no such run directory: {', '.join(missing)}")
    pairs = _expand_grids(pairs)
    return _report([d for d, _ in pairs], args.out, False, [label for _, label in pairs])


def _cmd_merge(args: argparse.Namespace) -> int:
    from redraft.evals._shards import merge_runs

    count = merge_runs(args.shards, args.out)
    print(f"redraft: merged {len(args.shards)} shards into {args.out} ({count} episodes)",
          file=sys.stderr)
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from redraft.agent.backends import backends
    from redraft.evals.tasks import tasks
    from redraft.tools import scorers, verifiers

    broken = 0
    registries = (("tasks", tasks), ("verifiers", verifiers), ("scorers", scorers),
                  ("backends", backends), ("commands", commands))
    for title, registry in registries:
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


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def _cmd_cache(args: argparse.Namespace) -> int:
    from redraft.agent.backends.cache import cache_entries, cache_root, clear_cache

    root = cache_root()
    if args.action == "clear":
        freed = clear_cache(root)
        print(f"redraft: cleared {root} ({_megabytes(freed)} freed)", file=sys.stderr)
        return EXIT_OK
    entries = cache_entries(root)
    for entry in entries:
        print(f"{_megabytes(entry.size):>10}  {entry.kind:<14} {entry.role:<16} {entry.path}")
    total = sum(entry.size for entry in entries)
    roles = Counter(entry.role for entry in entries)
    counted = ", ".join(f"{n} {role}(s)" for role, n in sorted(roles.items())) or "nothing"
    print(f"redraft: {counted} in {root}, {_megabytes(total)}; 'redraft cache clear' removes "
          "them", file=sys.stderr)
    return EXIT_OK


# -- entry point ---------------------------------------------------------------------------


_PATH_ERRNOS = frozenset({
    errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
    errno.EROFS, errno.EEXIST, errno.ELOOP,
})
"""OSError numbers that mean a path the user gave cannot be used (exit 2, not 1)."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


_PRELOAD = {
    "eval": ("redraft.evals._eval", "redraft.evals._trained"),
    "grid": ("redraft.evals._eval", "redraft.evals._trained"),
    "report": ("redraft.evals.report",),
    "merge": ("redraft.evals._shards",),
}
"""The heavy modules each command imports before it does anything."""


def preload(argv: Sequence[str] | None = None) -> None:
    """Import the modules the command in ``argv`` needs first.

    The console entry point (:mod:`redraft.evals._console`) calls it while a Ctrl-C still
    ends the process at once, so that one during these imports (most of a second) cannot
    surface half-way through as a traceback, or wrapped in another library's error.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in words if not word.startswith("-")), None)
    for module in _PRELOAD.get(command or "", ()):
        importlib.import_module(module)


def _interrupted(exc: BaseException) -> bool:
    """Did a Ctrl-C cause ``exc`` (a library that wrapped the ``KeyboardInterrupt``)?"""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


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
        return EXIT_INTERRUPTED
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
        if _interrupted(exc):
            print("redraft: interrupted; rerun the same command to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        traceback.print_exc()
        print(f"redraft: failed: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
