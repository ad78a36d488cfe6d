"""The study's tests reuse the report tests' headless Chromium helper."""

from __future__ import annotations

import sys
from pathlib import Path

_REPORT_TESTS = Path(__file__).resolve().parents[1] / "evals" / "report"
if str(_REPORT_TESTS) not in sys.path:
    sys.path.insert(0, str(_REPORT_TESTS))
