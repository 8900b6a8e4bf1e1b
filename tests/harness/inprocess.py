"""Test databases opened in the test process with Tracklight's own engine (apart from harness.databases,
which the mlflow 2.x venv, without the tracklight package, imports too)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from harness.databases import create_database, drop_database
from tracklight.store.engine import Database, open_database
from tracklight.store.migrate import prepare_for_serving


@contextlib.contextmanager
def opened_database(
    backend: str, workdir: Path, *, pool_size: int = 10, serving: bool = False
) -> Iterator[Database]:
    """A fresh database of `backend`, opened as the server opens it (with the schema and the default
    experiment when `serving`), dropped afterwards: for tests that drive services or the store in process."""
    uri = create_database(backend, workdir)
    database = open_database(str(uri), pool_size=pool_size)
    try:
        if serving:
            prepare_for_serving(database)
        yield database
    finally:
        database.dispose()
        drop_database(uri)
