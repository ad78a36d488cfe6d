"""Reports: a self-contained ``report.html``, the figures as PNG, and ``summary.json``."""

from redraft.evals.report._headline import Caveat, Headline, format_number, needed_digits
from redraft.evals.report._plots import COLOURS, label_axes, png_bytes
from redraft.evals.report._report import HTML_FILE, Report, build_report, write_report
from redraft.evals.report._summary import SUMMARY_FILE

__all__ = [
    "COLOURS",
    "HTML_FILE",
    "SUMMARY_FILE",
    "Caveat",
    "Headline",
    "Report",
    "build_report",
    "format_number",
    "label_axes",
    "needed_digits",
    "png_bytes",
    "write_report",
]
