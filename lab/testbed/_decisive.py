"""The decisive experiment's task, per scale, and how its difficulty was chosen.

Issue 19: to test whether per-step errors compound beyond ``(1-e)^n``, every step must be
equally hard and in distribution (totals modulo 100 at a fixed width, a random start, no
step label, training episodes as long as the evaluated ones), undo must
be possible (the ``recent`` representation with true checkpoints), and errors must happen:
the difficulty is chosen, per scale, so that the expert's teacher-forced per-step error
``e_TF`` at temperature 1 lies between 1% and 10%. :data:`DECISIVE_CALIBRATION` records
how each setting was chosen, with the command and what it printed, or says that it was not
measured.

The options include ``representation``; ``redraft train`` takes it as
``--representation`` (:func:`decisive_options` splits it off), ``redraft eval`` as a task
option or flag alike.
"""

from __future__ import annotations

from typing import Any

from redraft.tools import BadInputError

__all__ = [
    "DECISIVE_CALIBRATION",
    "DECISIVE_TASK_OPTIONS",
    "DECISIVE_TRAIN_OVERRIDES",
    "decisive_options",
]

_COMMON: dict[str, Any] = {
    "representation": "recent",
    "modulus": 100,
    "start": "random",
    "step_label": False,
    "window": 2,
    "checkpoint_every": 2,
    "n_keys": 10,
}
"""What every scale shares: in distribution at every step, and undo possible."""

DECISIVE_TASK_OPTIONS: dict[str, dict[str, Any]] = {
    "quick": {**_COMMON, "keys_per_step": 1, "value_min": 0, "value_max": 9},
    "full": {**_COMMON, "keys_per_step": 1, "value_min": 0, "value_max": 9},
    # Calibrated on a GPU before the checkpoint moved to the front of its row.
    "gpu": {**_COMMON, "window": 4, "checkpoint_every": 4, "keys_per_step": 1,
            "value_min": -9, "value_max": 9},
}
"""The ``running_sum`` options of the decisive experiment's *evaluation*, by scale name."""

DECISIVE_TRAIN_OVERRIDES: dict[str, Any] = {"start": "mixed"}
"""What training changes in those options: half the training episodes start at 0 (the easy
first steps a small model learns from; from random starts alone a micro model stayed at
uniform digits for 1500 steps), the others at a drawn total, so every evaluated prompt
(random starts) has the training distribution's form."""

_TRAIN = ("redraft train running_sum --regime expert --size micro --representation recent "
          "--task-option modulus={mod} --task-option start=random --task-option "
          "step_label=false --task-option window={win} --task-option checkpoint_every={win} "
          "--task-option keys_per_step={keys} --task-option value_min={lo} --task-option "
          "value_max={hi} --episode-steps 40 --steps {steps} --minutes 0 --threads 1 --seed 0 "
          "--lr {lr} --batch-size {bs} --out models/{name}")
_ETF = ("redraft eval running_sum --model hf/models/{name} --critic none --rounds 0 "
        "--episodes 30 --max-steps 40 --error-policy continue --temperature {t} --seed 1 "
        "--task-option teacher_force=true --out runs/{name}-t{t}")


def _candidate(name: str, outcome: str, *, mod: int = 100, win: int = 4, keys: int = 1,
               lo: int = -9, hi: int = 9, steps: int = 1500, lr: str = "3e-3",
               bs: int = 64) -> dict[str, Any]:
    command = _TRAIN.format(name=name, mod=mod, win=win, keys=keys, lo=lo, hi=hi, steps=steps,
                            lr=lr, bs=bs)
    return {"name": name, "command": command, "outcome": outcome}


_QUICK_CANDIDATES = [
    # Measured 2026-12-04 on the shared 2-core machine (load 8-17), micro (137,792
    # parameters), recent rows as in _COMMON unless said. A loss of 0.4605 per answer token
    # is ln(100)/10: the format learnt, both digits uniform; 0.2558 is ln(10)/9 modulo 10.
    _candidate("A", "stopped at step 1050 of 1500: loss 0.4610 (digits uniform)"),
    _candidate("B", "stopped at step 1150 of 1500: loss 0.4608 (digits uniform)", lo=0),
    _candidate("C", "stopped at step 450 of 1500: loss 0.4624", keys=2),
    _candidate("D", "stopped at step 800 of 1500: loss 0.2564 (digit uniform)", mod=10),
    _candidate("E", "1500 steps in 538 s: loss 0.2562, held-out greedy step accuracy 14.8% "
               "(chance 10%)", mod=10, lr="6e-3", bs=32),
    _candidate("F", "1500 steps in 303 s: loss 0.4261, held-out accuracy 2.3%", win=2, lo=0,
               lr="6e-3", bs=32),
    _candidate("G", "1500 steps in 391 s (with a 'Total so far' line, since dropped): loss "
               "0.4603, held-out accuracy 0.0%", lr="6e-3", bs=32),
    _candidate("H", "1500 steps in 386 s (with a 'Total so far' line, since dropped): loss "
               "0.3074 (tens digit learnt), held-out accuracy 5.5%", lo=0, lr="6e-3", bs=32),
    _candidate("I", "3000 steps in 378 s: loss 0.3553, held-out accuracy 2.3%", win=2, lo=0,
               steps=3000, lr="6e-3", bs=32),
    _candidate("J", "3000 steps in 455 s: loss 0.2570 (tens digit learnt), held-out "
               "accuracy 7.0%; e_TF 0.916 [0.898, 0.931] at temperature 1, 0.878 [0.855, "
               "0.899] greedy", lo=0, steps=3000, lr="6e-3", bs=32),
    _candidate("K", "6000 steps in 576 s: loss 0.2266, held-out accuracy 17.2%; e_TF 0.873 "
               "[0.851, 0.893] at temperature 1", lo=0, steps=6000, lr="6e-3", bs=32),
    _candidate("L", "6000 steps in 575 s: loss 0.2650, held-out accuracy 10.2%; e_TF 0.930 "
               "[0.913, 0.944] at temperature 1", steps=6000, lr="6e-3", bs=32),
]

_MIXED = ("redraft train running_sum --regime expert --size micro --representation {rep} "
          "--task-option modulus=100 --task-option start=mixed --task-option step_label=false "
          "--task-option n_keys=10 {win}--task-option keys_per_step={keys} --task-option "
          "value_min={lo} --task-option value_max=9 --episode-steps {ep} --steps {steps} "
          "--minutes 0 --threads {threads} --seed {seed} --lr 3e-3 --batch-size {bs} "
          "--out models/{name}")


def _mixed(name: str, outcome: str, *, rep: str = "recent", win: int | None = 2,
           keys: int = 1, lo: int = 0, ep: int = 24, steps: int = 1500, bs: int = 32,
           seed: int = 0, threads: int = 1) -> dict[str, Any]:
    window = ("" if win is None else
              f"--task-option window={win} --task-option checkpoint_every={win} ")
    command = _MIXED.format(rep=rep, win=window, keys=keys, lo=lo, ep=ep, steps=steps, bs=bs,
                            seed=seed, threads=threads, name=name)
    return {"name": name, "command": command, "outcome": outcome}


_MIXED_CANDIDATES = [
    # Measured 2026-12-04 on the 2-core machine (two trainings side by side, or one beside
    # helpers' tests), after two changes: mixed starts in training (the curriculum a micro
    # model needs) and the recent checkpoint in front of its row (so the last stated total
    # sits at one place). e_TF: 40 teacher-forced episodes of 24 steps, start=random, seed 1.
    _mixed("c", "shown, start=zero (control): 1500 steps of 64 in 84 s, held-out accuracy "
           "100%; e_TF on random starts 0.016 [0.006, 0.042] at temperature 1", rep="shown",
           win=None, ep=40, bs=64),
    _mixed("f", "shown: 1500 steps of 64 in 89 s, held-out 99.2%; e_TF 0.039 [0.024, 0.063] "
           "at temperature 1, 0.001 [0.000, 0.005] greedy", rep="shown", win=None, ep=40,
           bs=64),
    _mixed("e", "recent window 4, checkpoint after the total (old rendering): 1500 steps "
           "of 64 in 177 s, held-out 9.4%", win=4, ep=40, bs=64),
    _mixed("j", "recent window 4: 1500 steps of 64 in 169 s, held-out 100%; e_TF 0.001 "
           "[0.000, 0.005] at temperature 1, 0.000 greedy (too easy)", win=4, bs=64),
    _mixed("k", "recent window 4, values -9..9: 1500 steps of 64 in 196 s, held-out 64.1% "
           "(not yet learnt)", win=4, lo=-9, bs=64),
    _mixed("l", "recent window 4, 2 keys per step: loss 0.28 at step 1150 of 64 in 191 s "
           "(stopped: too slow for the quick budget)", win=4, keys=2, bs=64),
    _mixed("m", "recent window 2: 1500 steps of 32 in 94 s (2 threads, helpers' tests "
           "beside it), held-out 100%; e_TF 0.0104 [0.0052, 0.0198] at temperature 1, "
           "0.000 [0.000, 0.004] greedy", threads=2),
    _mixed("n1", "as m, seed 1, 1200 steps: held-out 20.3% (before its learning turn)",
           steps=1200, seed=1),
    _mixed("n2", "as m, seed 2, 1200 steps: held-out 6.2% (before its learning turn)",
           steps=1200, seed=2),
    _mixed("o1", "as m, seed 1: 1500 steps in 59 s, held-out 7.0% (not learnt)", seed=1),
    _mixed("o2", "as m, seed 2: 1500 steps in 58 s, held-out 6.2% (not learnt)", seed=2),
    _mixed("p1", "as m, seed 1, 3000 steps in 179 s (beside p2 and the test suite): "
           "held-out 90.6%; e_TF 0.1292 [0.1083, 0.1616] at temperature 1", steps=3000,
           seed=1),
    _mixed("p2", "as m, seed 2, 3000 steps in 177 s: held-out 96.9%; e_TF 0.0865 [0.0646, "
           "0.1156] at temperature 1", steps=3000, seed=2),
]

DECISIVE_CALIBRATION: dict[str, dict[str, Any]] = {
    "quick": {
        "task_options": DECISIVE_TASK_OPTIONS["quick"],
        "train_overrides": DECISIVE_TRAIN_OVERRIDES,
        "measured": True,
        "in_range": False,
        "size": "micro",
        "training": {"steps": 3000, "batch_size": 32, "lr": 3e-3, "episode_steps": 24,
                     "seed": 1},
        "e_tf_t1": {"value": 0.1292, "ci_low": 0.1083, "ci_high": 0.1616},
        "e_tf_t0": None,
        "eval": "40 episodes x 24 steps, teacher_force=true, start=random, error policy "
                "continue, seed 1",
        "commands": [_MIXED_CANDIDATES[11]["command"],
                     "redraft eval running_sum --model hf/models/p1 --critic none "
                     "--revisions 0 --episodes 40 --max-steps 24 --error-policy continue "
                     "--temperature 1 --seed 1 --representation recent --task-option "
                     "modulus=100 --task-option start=random --task-option step_label=false "
                     "--task-option n_keys=10 --task-option window=2 --task-option "
                     "checkpoint_every=2 --task-option keys_per_step=1 --task-option "
                     "value_min=0 --task-option value_max=9 --task-option teacher_force=true "
                     "--out runs/p1-t1"],
        "candidates": [*_MIXED_CANDIDATES, *_QUICK_CANDIDATES],
        "note": (
            "Not yet in range for every seed. The learning turn falls anywhere between "
            "1000 and 3000 steps of 32 depending on the seed: seed 0 had turned by 1200 "
            "and at 1500 erred on 1.04% [0.52, 1.98] of teacher-forced steps at "
            "temperature 1 (greedy: none); seeds 1 and 2 had not turned at 1500 (held-out "
            "7.0% and 6.2%) and at 3000 erred on 12.9% (seed 1, recorded above: the first "
            "seed measured at this budget) and 8.7% (seed 2). So 3000 steps is the budget "
            "at which every seed tried has learnt, the between-seed spread of e_TF is "
            "large (1-13%), and a quick grid of 15 such models trained in 31.5 minutes "
            "one at a time on 2 idle cores (35 minutes in all, over the quick budget), "
            "15.9 two at once on one thread each (18.5 in all; both findings runs of "
            "2026-12-05, the same models bit for bit). In those runs the experts of "
            "seeds 0-2 erred on 0.7%, 12.2% and 6.4% of teacher-forced steps at temperature 1. "
            "Candidates A-L (random starts only, checkpoint after the total) never learnt."
        ),
    },
    "full": {
        "task_options": DECISIVE_TASK_OPTIONS["full"],
        "measured": False,
        "in_range": None,
        "why_unmeasured": "the shared 2-core machine had no time for a small model's run",
        "estimate": ("the small size (1.1M parameters) learns faster per step than micro; "
                     "e_TF at temperature 1 of a few percent after ~3000 steps of 64 is a "
                     "guess to check with the quick-scale commands at --size small"),
    },
    "gpu": {
        # Measured 2026-12-04 on one NVIDIA H200 (torch 2.11.0+cu130) with
        # bench/calibrate_decisive.py (now python -m redraft.lab.calibrate): four experts
        # trained 2000 steps of 256 (lr 3e-3, 32-step episodes), e_TF on 64 teacher-forced
        # episodes of 32 steps each.
        "task_options": DECISIVE_TASK_OPTIONS["gpu"],
        "measured": True,
        "in_range": False,
        "size": "small",
        "training": {"steps": 2000, "batch_size": 256, "lr": 3e-3, "episode_steps": 32,
                     "seed": 0, "seconds": 97},
        "e_tf_t1": {"value": 0.008, "ci_low": 0.004, "ci_high": 0.012},
        "e_tf_t0": {"value": 0.006, "ci_low": 0.003, "ci_high": 0.011},
        "eval": "64 episodes x 32 steps, teacher_force=true, error policy continue, seed 1",
        "commands": ["python bench/calibrate_decisive.py --device cuda --steps 2000 "
                     "--batch-size 256 --episode-steps 32 --episodes 64 --candidates "
                     "recent-signed-small,recent-0to9-small,shown-signed-small,"
                     "recent-signed-medium --out /tmp/cal"],
        "candidates": [
            {"name": "recent-signed-small", "outcome": "small, 97 s: held-out accuracy 1.000, "
             "e_TF 0.008 [0.004, 0.012] at temperature 1, 0.006 [0.003, 0.011] greedy"},
            {"name": "recent-0to9-small", "outcome": "small, 53 s: e_TF 0.000 [0.000, 0.002] "
             "at temperature 1 and greedy"},
            {"name": "shown-signed-small", "outcome": "small, 68 s: e_TF 0.001 [0.000, 0.005] "
             "at temperature 1, 0.000 [0.000, 0.002] greedy"},
            {"name": "recent-signed-medium", "outcome": "medium, 99 s: e_TF 0.000 [0.000, "
             "0.002] at temperature 1 and greedy"},
        ],
        "note": (
            "Trained to convergence on a GPU the decisive task is too easy: the hardest "
            "setting tried (signed values, small model) errs on 0.8% of teacher-forced steps "
            "at temperature 1, just under the 1% floor, and the medium model on none of "
            "2048. The micro model's failure on CPU (quick) is capacity and budget, not the "
            "task. In range needs a harder step (2 keys per step, or a looked-up operand) or "
            "a budget cut before convergence (the gpu scale's 600 steps, not measured)."
        ),
    },
}
"""How each scale's options were chosen: the model and budget, the expert's measured
``e_TF`` at temperature 1 and 0 with 95% intervals and whether it lies in [1%, 10%], the
commands and every candidate tried, or ``measured: False`` with the reasoning behind an
estimate."""


def decisive_options(scale: str) -> tuple[str, dict[str, Any]]:
    """The representation and the other task options of ``scale``, apart.

    ``redraft train`` takes the representation as ``--representation``, the rest as
    ``--task-option``.

    Raises:
        BadInputError: an unknown scale.
    """
    try:
        options = dict(DECISIVE_TASK_OPTIONS[scale])
    except KeyError:
        raise BadInputError(f"unknown scale {scale!r}; choose one of "
                            f"{', '.join(DECISIVE_TASK_OPTIONS)}") from None
    return str(options.pop("representation")), options
