"""``redraft findings``: the experiment behind ``docs/findings.md``, as one command.

The decisive experiment: for each paired seed a base model trained to convergence, then
every data regime (arm) trained from it on the same data; every model scored exactly on one
shared set of constructed states (``scores.json``); the runs that need a trajectory made
with ``redraft eval``; four primary outcomes declared in advance, tested per seed with exact
sign-flip tests and Holm's correction, each with the effect it can detect
(``decisive.json``); then exploratory groups (critic modes, the embedded SmolLM2, the
simulated calibration) reported with ``redraft report``. The page is written from those
files alone (:func:`render_page`).
"""

from redraft.lab.findings._analysis import (
    DECISIVE_FILE,
    LEARNT,
    ArmSummary,
    DecisiveResults,
    ModelStatus,
    PrimaryResult,
    ReadWith,
    analyze,
    analyze_decisive,
    converged,
    learning_curve,
    primary_values,
    read_with,
    terms,
)
from redraft.lab.findings._design import (
    ARMS,
    BASE,
    CONDITIONS,
    PRIMARY,
    Arm,
    Condition,
    Contrast,
)
from redraft.lab.findings._figures import FIGURE_FILES, write_figures
from redraft.lab.findings._grid import (
    META_FILE,
    SCALES,
    SUMMARIES_DIR,
    DecisiveRun,
    FindingsOptions,
    Group,
    Plan,
    RunSpec,
    Scale,
    ScaleName,
    TrainSpec,
    condition_config,
    decisive_dir,
    group_dir,
    model_dir,
    plan,
)
from redraft.lab.findings._page import (
    REPLICATE_FILE,
    Findings,
    add_replicate,
    group_tables,
    load_findings,
    page_path,
    render_page,
    write_page,
)
from redraft.lab.findings._planted import World, replicate, simulate
from redraft.lab.findings._run import run_findings, score_grid, train_models
from redraft.lab.findings._scores import SCORES_FILE, ModelScores, Scores, score_models

__all__ = [
    "ARMS",
    "BASE",
    "CONDITIONS",
    "DECISIVE_FILE",
    "FIGURE_FILES",
    "LEARNT",
    "META_FILE",
    "PRIMARY",
    "REPLICATE_FILE",
    "SCALES",
    "SCORES_FILE",
    "SUMMARIES_DIR",
    "Arm",
    "ArmSummary",
    "Condition",
    "Contrast",
    "DecisiveResults",
    "DecisiveRun",
    "Findings",
    "FindingsOptions",
    "Group",
    "ModelScores",
    "ModelStatus",
    "Plan",
    "PrimaryResult",
    "ReadWith",
    "RunSpec",
    "Scale",
    "ScaleName",
    "Scores",
    "TrainSpec",
    "World",
    "add_replicate",
    "analyze",
    "analyze_decisive",
    "condition_config",
    "converged",
    "decisive_dir",
    "group_dir",
    "group_tables",
    "learning_curve",
    "load_findings",
    "model_dir",
    "page_path",
    "plan",
    "primary_values",
    "read_with",
    "render_page",
    "replicate",
    "run_findings",
    "score_grid",
    "score_models",
    "simulate",
    "terms",
    "train_models",
    "write_figures",
    "write_page",
]
