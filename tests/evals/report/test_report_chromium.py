"""The HTML report renders its figures in a real browser (headless Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from headless import chromium, needs_chromium
from matplotlib import image
from synthetic_logs import Policy, write_run

from redraft.evals.report import write_report
from redraft.evals.report._html import FIGURES_READY_TITLE

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("chromium")
    runs = [
        write_run(base / "none", Policy(e=0.1, growth=0.05, revise=False), 120, 20, 1),
        write_run(base / "tool", Policy(e=0.1, growth=0.05, r=0.7, h=0.05), 120, 20, 2),
    ]
    return write_report(runs, base / "report", n_boot=200).html


def test_every_figure_decodes_in_the_browser(report_html: Path, tmp_path: Path) -> None:
    result = chromium(tmp_path, "--dump-dom", report_html.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    title = re.search(r"<title>(.*?)</title>", result.stdout)
    assert title is not None
    # The page's script sets this title only when every <img> has naturalWidth > 0.
    assert title.group(1) == f"{FIGURES_READY_TITLE} (4)"
    assert result.stdout.count('<img alt="') == 4


def test_screenshot_shows_the_plots(report_html: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,6000",
                       report_html.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    pixels = image.imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (6000, 1200)
    non_white = (pixels < 0.95).any(axis=-1).mean()
    assert non_white > 0.03, f"page looks blank ({non_white:.1%} non-white)"
    # Plot lines use matplotlib's blue (#1f77b4) and red (#d62728); tables use neither.
    for rgb in ((0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28)):
        close = (np.abs(pixels - np.array(rgb) / 255).max(axis=-1) < 0.08).sum()
        assert close > 500, f"no plotted line of colour {rgb} in the screenshot"
