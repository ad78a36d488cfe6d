"""Report tests reuse the synthetic-log generator of the statistics tests."""

from __future__ import annotations

import sys
from pathlib import Path

_STATS_TESTS = Path(__file__).resolve().parents[1] / "stats"
if str(_STATS_TESTS) not in sys.path:
    sys.path.insert(0, str(_STATS_TESTS))
