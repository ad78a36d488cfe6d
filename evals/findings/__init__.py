"""``redraft findings``: the experiment behind ``docs/findings.md``, as one command.

It trains the testbed models (expert, retry, scratchpad on running_sum), runs the grid of
critic modes on held-out episodes twice the training length, the embedded SmolLM2 on chess
and long addition, and the simulated policy as the calibration, reports each group with
``redraft report`` and writes the page from the summaries alone (:func:`render_page`).
``--model`` runs the same grid on another model instead of the testbed.
"""

from redraft.evals.findings._figures import FIGURE_FILES, write_figures
from redraft.evals.findings._grid import (
    META_FILE,
    SCALES,
    SUMMARIES_DIR,
    FindingsOptions,
    Group,
    RunSpec,
    Scale,
    ScaleName,
    TrainSpec,
    plan,
    run_findings,
)
from redraft.evals.findings._page import (
    Findings,
    group_tables,
    load_findings,
    page_path,
    render_page,
    write_page,
)

__all__ = [
    "FIGURE_FILES",
    "META_FILE",
    "SCALES",
    "SUMMARIES_DIR",
    "Findings",
    "FindingsOptions",
    "Group",
    "RunSpec",
    "Scale",
    "ScaleName",
    "TrainSpec",
    "group_tables",
    "load_findings",
    "page_path",
    "plan",
    "render_page",
    "run_findings",
    "write_figures",
    "write_page",
]
