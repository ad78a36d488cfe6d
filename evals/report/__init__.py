"""Reports: a self-contained ``report.html``, the figures as PNG, and ``summary.json``."""

from redraft.evals.report._html import FIGURES_READY_TITLE, render_html
from redraft.evals.report._plots import FIGURES
from redraft.evals.report._report import HTML_FILE, Report, build_report, write_report
from redraft.evals.report._summary import SUMMARY_FILE, summary, write_summary

__all__ = [
    "FIGURES",
    "FIGURES_READY_TITLE",
    "HTML_FILE",
    "SUMMARY_FILE",
    "Report",
    "build_report",
    "render_html",
    "summary",
    "write_report",
    "write_summary",
]
