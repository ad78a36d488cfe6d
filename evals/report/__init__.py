"""Reports: a self-contained ``report.html``, the figures as PNG, and ``summary.json``."""

from redraft.evals.report._headline import (
    Caveat,
    Headline,
    comparison_headline,
    format_number,
    headlines,
    needed_digits,
    run_headline,
)
from redraft.evals.report._html import FIGURES_READY_TITLE, render_html
from redraft.evals.report._plots import COLOURS, FIGURES, label_axes, png_bytes
from redraft.evals.report._power import TrendPower, trend_power
from redraft.evals.report._profile import (
    LenientReading,
    RunProfile,
    Transcript,
    TranscriptRound,
    profile_run,
)
from redraft.evals.report._report import (
    HTML_FILE,
    Report,
    build_report,
    run_labels,
    write_report,
)
from redraft.evals.report._settings import setting_differences
from redraft.evals.report._summary import SUMMARY_FILE, summary, write_summary

__all__ = [
    "COLOURS",
    "FIGURES",
    "FIGURES_READY_TITLE",
    "HTML_FILE",
    "SUMMARY_FILE",
    "Caveat",
    "Headline",
    "LenientReading",
    "Report",
    "RunProfile",
    "Transcript",
    "TranscriptRound",
    "TrendPower",
    "build_report",
    "comparison_headline",
    "format_number",
    "headlines",
    "label_axes",
    "needed_digits",
    "png_bytes",
    "profile_run",
    "render_html",
    "run_headline",
    "run_labels",
    "setting_differences",
    "summary",
    "trend_power",
    "write_report",
    "write_summary",
]
