"""The study's commands, ``redraft train`` and ``redraft findings``, as command plug-ins.

They reach the ``redraft`` command line through the entry point group ``redraft.commands``
(:mod:`redraft.evals.commands`), so the framework's command line imports nothing of the study.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from redraft.core import BadInputError
from redraft.evals.commands import backend_log, key_value, option_error, say

__all__ = ["FindingsCommand", "TrainCommand", "findings_command", "train_command"]


class TrainCommand:
    """``redraft train TASK --regime R --out MODEL_DIR``: one testbed model."""

    help = "train a small testbed model on a task's episodes"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The training options (:class:`~redraft.lab.testbed.TrainConfig`'s fields)."""
        parser.add_argument("task", help="task whose episodes give the training text")
        parser.add_argument("--regime", default="expert", help="expert|retry|scratchpad|recovery")
        parser.add_argument("--out", type=Path, required=True, help="model directory to create")
        parser.add_argument("--size", default="micro", help="micro|small|medium|large")
        parser.add_argument("--steps", type=int, help="optimizer steps (default 2000)")
        parser.add_argument("--minutes", type=float,
                            help="training time budget; 0: none (default 9)")
        parser.add_argument("--seed", type=int, help="training seed (default 0)")
        parser.add_argument("--representation", help="the task's prompt representation")
        parser.add_argument("--episode-steps", type=int, help="steps per training episode (20)")
        parser.add_argument("--retry-p", type=float,
                            help="retry: share of wrong-first steps (0.2)")
        parser.add_argument("--mask-wrong", action="store_true",
                            help="retry: leave the wrong answers, not the [BACK] marker, out of "
                                 "the loss")
        parser.add_argument("--wrong-source", choices=("offset", "model"),
                            help="wrong answers: right total +-1..10 (offset) or "
                                 "--wrong-model's own")
        parser.add_argument("--wrong-model",
                            help="trained model dir whose mistakes give wrong answers")
        parser.add_argument("--recovery-p", type=float,
                            help="share of training steps committed wrong first (recovery "
                                 "needs > 0)")
        parser.add_argument("--batch-size", type=int, help="examples per optimizer step (64)")
        parser.add_argument("--lr", type=float, help="peak learning rate (3e-3)")
        parser.add_argument("--threads", type=int, help="torch CPU threads (default 2)")
        parser.add_argument("--device", help="torch device (default: cuda if present, else cpu)")
        parser.add_argument(
            "--task-option", type=key_value, action="append", default=[], metavar="KEY=VALUE",
            help="task option (repeatable; VALUE parsed as JSON when it is)",
        )
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")

    def run(self, args: argparse.Namespace) -> int:
        """Train and write the model directory; 0."""
        from redraft.lab.testbed import TrainConfig, train

        fields = {
            "task": args.task, "regime": args.regime, "size": args.size, "steps": args.steps,
            "minutes": args.minutes, "seed": args.seed, "representation": args.representation,
            "episode_steps": args.episode_steps, "retry_p": args.retry_p,
            "batch_size": args.batch_size, "lr": args.lr, "threads": args.threads,
            "device": args.device, "task_options": dict(args.task_option),
            "mask_wrong": args.mask_wrong or None, "wrong_source": args.wrong_source,
            "wrong_model": args.wrong_model, "recovery_p": args.recovery_p,
        }
        if args.wrong_model is not None and args.wrong_source is None:
            fields["wrong_source"] = "model"
        if args.minutes is not None and args.minutes <= 0:
            fields["minutes"] = None
            given = {k: v for k, v in fields.items() if v is not None or k == "minutes"}
        else:
            given = {k: v for k, v in fields.items() if v is not None}
        try:
            config = TrainConfig.model_validate(given)
        except ValidationError as exc:
            raise option_error(exc) from exc
        recipe = train(config, args.out, say=None if args.quiet else lambda m: say(False, m))
        say(
            args.quiet,
            f"redraft: {args.out}: {recipe.parameters:,} parameters, {recipe.steps_done} steps "
            f"({recipe.stopped_by}) in {recipe.seconds:.0f} s, held-out step accuracy "
            f"{recipe.heldout_step_accuracy:.1%}; run it with --model hf/{args.out}",
        )
        return 0


class FindingsCommand:
    """``redraft findings --out DIR``: the experiment behind ``docs/findings.md``."""

    help = "train, run the findings grid, report, and write OUT.md from it"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The findings options (:class:`~redraft.lab.findings.FindingsOptions`' fields)."""
        parser.add_argument("--out", type=Path, required=True,
                            help="figures and summaries folder; the page is OUT.md beside it")
        parser.add_argument("--work", type=Path, default=Path("runs/findings"),
                            help="models, run directories and full reports (default "
                                 "runs/findings)")
        parser.add_argument("--model",
                            help="run the grid on PROVIDER/MODEL instead of the testbed")
        parser.add_argument("--scale", choices=("tiny", "quick", "full", "gpu"),
                            default="quick", help="grid size (default quick)")
        parser.add_argument("--seed", type=int, default=0,
                            help="run and training seed (default 0)")
        parser.add_argument("--no-embedded", action="store_true",
                            help="leave out the SmolLM2 (llama.cpp) runs")
        parser.add_argument("--threads", type=int,
                            help="torch threads of the training stack and the scoring "
                                 "(default: every CPU this process may use)")
        parser.add_argument("--replicate", type=Path, metavar="DIR",
                            help="another findings folder (the same grid with another "
                                 "--seed): compare its declared contrasts with OUT's on the "
                                 "page")
        parser.add_argument("--page-only", action="store_true",
                            help="only redraw the figures and rewrite the page from OUT's "
                                 "summaries")
        parser.add_argument(
            "--verbose", action="store_true",
            help="let the backends log to stderr (llama.cpp's loader: hundreds of lines a "
                 "load)",
        )

    def run(self, args: argparse.Namespace) -> int:
        """Run (or resume) the experiment, or rewrite its page; 0."""
        from redraft.lab.findings import (
            FindingsOptions,
            add_replicate,
            run_findings,
            write_page,
        )

        if args.replicate is not None and not args.page_only:
            raise BadInputError("--replicate rewrites an existing page: add --page-only")
        backend_log(args.verbose)
        if args.page_only:
            if args.replicate is not None:
                add_replicate(args.out, args.replicate)
            path = write_page(args.out)
        else:
            try:
                options = FindingsOptions(
                    out=args.out, work=args.work, model=args.model, scale=args.scale,
                    seed=args.seed, embedded=not args.no_embedded, threads=args.threads)
            except ValidationError as exc:
                raise option_error(exc) from exc
            words = ["redraft findings", "--out", str(args.out), "--scale", args.scale]
            if args.work != Path("runs/findings"):
                words += ["--work", str(args.work)]
            if args.model:
                words += ["--model", args.model]
            if args.seed:
                words += ["--seed", str(args.seed)]
            if args.no_embedded:
                words.append("--no-embedded")
            path = run_findings(options, say=lambda m: say(False, m), command=" ".join(words))
        say(False, f"redraft: findings written to {path}")
        return 0


def train_command() -> TrainCommand:
    """The ``redraft train`` command (entry point ``redraft.commands:train``)."""
    return TrainCommand()


def findings_command() -> FindingsCommand:
    """The ``redraft findings`` command (entry point ``redraft.commands:findings``)."""
    return FindingsCommand()
