"""SQLite reads on the event loop (store.loop_reads) on a real database file: one that would wait for
a lock, or run past its budget, stops with ReadMustWait and leaves the connection as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tracklight.store import driver
from tracklight.store.engine import Database, open_database
from tracklight.store.loop_reads import ReadMustWait, on_loop
from tracklight.store.transactions import in_transaction

# Millions of SQLite steps: seconds of work, far past the 20 ms an on-loop read may take.
_LONG = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT count(*) FROM n"
_STEPS = 3_000_000


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'reads.db'}")
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE item (name TEXT PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO item VALUES ('a')")
    yield database
    database.dispose()


def _count(db: Database, steps: int) -> int:
    return in_transaction(db, lambda c: c.exec_driver_sql(_LONG, (steps,)).scalar(), write=False)


def _busy_timeout(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar())


def test_a_short_read_on_the_loop_returns_its_rows(db: Database) -> None:
    names = on_loop(
        lambda: in_transaction(db, lambda c: c.exec_driver_sql("SELECT name FROM item").all(), write=False)
    )
    assert [tuple(r) for r in names] == [("a",)]


def test_a_long_read_on_the_loop_is_cut_short_and_runs_in_full_elsewhere(db: Database) -> None:
    with pytest.raises(ReadMustWait):
        on_loop(_count, db, _STEPS)
    # The pooled connection has neither the progress handler nor the zero busy timeout left on it.
    assert _count(db, _STEPS) == _STEPS
    assert _busy_timeout(db) == db.busy_timeout_ms > 0


def test_a_read_on_the_loop_never_waits_for_a_lock(db: Database) -> None:
    # A busy timeout of zero: where another process holds a lock, SQLite answers "locked" at once
    # (and bounded() hands the read to a worker) instead of sleeping on the event loop.
    during = on_loop(
        lambda: in_transaction(db, lambda c: c.exec_driver_sql("PRAGMA busy_timeout").scalar(), write=False)
    )
    assert during == 0
    assert _busy_timeout(db) == db.busy_timeout_ms > 0


def test_a_read_cut_short_while_its_rows_are_fetched_gives_way_too(db: Database) -> None:
    # The first row comes at once; SQLite makes the others while fetchall reads them.
    rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n"
    with pytest.raises(ReadMustWait):
        on_loop(lambda: in_transaction(db, lambda c: driver.native_rows(c, rows, (_STEPS,)), write=False))
    assert len(in_transaction(db, lambda c: driver.native_rows(c, rows, (1000,)), write=False)) == 1000
