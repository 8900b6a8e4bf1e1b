"""Suite-wide pytest setup: put tests/ on sys.path and load the harness fixtures (tests/harness/plugin.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from harness.plugin import *  # noqa: E402,F403 - fixtures and hooks are found by name in this module


@pytest.fixture(autouse=True)
def _forget_mlflow_tracking_uri() -> Iterator[None]:
    """mlflow.set_tracking_uri is process-wide and outranks MLFLOW_TRACKING_URI: a test that points it at its
    own server must not leave the next test's client talking to that server (session-scoped servers stay up)."""
    yield
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        mlflow.set_tracking_uri(None)
