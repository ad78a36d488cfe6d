"""``redraft findings``: the experiment behind ``docs/findings.md``, as one command.

The decisive experiment: several training seeds of each data regime (arms), each model run
in distribution under declared conditions (free-running at temperature 1 and 0,
teacher-forced, a planted error, no checkpoints), analysed seed-level against declared
contrasts with Holm's correction (``decisive.json``); then exploratory groups (critic modes,
the embedded SmolLM2, the simulated calibration) reported with ``redraft report``. The page
is written from those files alone (:func:`render_page`).
"""

from redraft.lab.findings._analysis import (
    DECISIVE_FILE,
    DecisiveResults,
    analyze_arrays,
    analyze_decisive,
)
from redraft.lab.findings._design import (
    ARMS,
    CONDITIONS,
    DECLARED_CONTRASTS,
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
from redraft.lab.findings._run import run_findings, train_models

__all__ = [
    "ARMS",
    "CONDITIONS",
    "DECISIVE_FILE",
    "DECLARED_CONTRASTS",
    "FIGURE_FILES",
    "META_FILE",
    "REPLICATE_FILE",
    "SCALES",
    "SUMMARIES_DIR",
    "Arm",
    "Condition",
    "Contrast",
    "DecisiveResults",
    "DecisiveRun",
    "Findings",
    "FindingsOptions",
    "Group",
    "Plan",
    "RunSpec",
    "Scale",
    "ScaleName",
    "TrainSpec",
    "add_replicate",
    "analyze_arrays",
    "analyze_decisive",
    "condition_config",
    "decisive_dir",
    "group_dir",
    "group_tables",
    "load_findings",
    "page_path",
    "plan",
    "render_page",
    "run_findings",
    "train_models",
    "write_figures",
    "write_page",
]
