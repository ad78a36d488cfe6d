"""The findings page as a browser shows it: rendered from its committed files, then read
back from headless Chromium's DOM, with the wording rules of issue 23 checked."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from headless import chromium, needs_chromium
from markdown_it import MarkdownIt  # rich's own Markdown parser, installed with redraft

from redraft.lab.findings import write_page

pytestmark = [needs_chromium, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_findings_page_renders_with_plain_wording(tmp_path: Path) -> None:
    out = tmp_path / "findings"
    shutil.copytree(DOCS / "findings", out)
    page = write_page(out)  # the page rebuilt from the committed summaries and meta
    body = MarkdownIt("commonmark").enable("table").render(page.read_text(encoding="utf-8"))
    (tmp_path / "findings.html").write_text(
        f"<!doctype html><meta charset=utf-8><title>findings</title>{body}", encoding="utf-8")
    result = chromium(tmp_path, "--dump-dom", (tmp_path / "findings.html").as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    text = html.unescape(re.sub(r"<[^>]+>", " ", result.stdout))
    assert "<table>" in result.stdout and "Machine" in text
    for bad in ("by −", "by -", "−0.000 [", "lower (Δ", "higher (Δ"):
        assert bad not in text, bad
    assert re.search(r"(lower|higher) by \d", text)  # the committed tables hold such effects
