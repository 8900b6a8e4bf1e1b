"""Suite-wide pytest setup: put tests/ on sys.path and load the harness fixtures (tests/harness/plugin.py)."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from harness.plugin import *  # noqa: E402,F403 - fixtures and hooks are found by name in this module
