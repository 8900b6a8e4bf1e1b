"""Database.read and Database.write on each backend: how pooled connections are handed out and returned."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from harness.databases import create_database, drop_database, selected_backends

from tracklight.store import engine as engine_module
from tracklight.store.engine import Database, open_database


@pytest.fixture(scope="module", params=selected_backends())
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    uri = create_database(request.param, tmp_path_factory.mktemp(f"engine-{request.param}"))
    database = open_database(str(uri), pool_size=1)
    try:
        yield database
    finally:
        database.engine.dispose()
        drop_database(uri)


def test_reads_and_writes_alternate_on_one_pooled_connection(db: Database) -> None:
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE engine_probe (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO engine_probe VALUES (1)")
    for n in range(2, 5):
        with db.read() as conn:
            assert conn.exec_driver_sql("SELECT max(n) FROM engine_probe").scalar() == n - 1
        with db.write() as conn:
            conn.exec_driver_sql(f"INSERT INTO engine_probe VALUES ({n})")


def test_a_failed_write_rolls_back_and_the_next_read_sees_nothing_of_it(db: Database) -> None:
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE engine_rollback (n INTEGER)")
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.exec_driver_sql("INSERT INTO engine_rollback VALUES (1)")
        raise RuntimeError("abandon the transaction")
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM engine_rollback").scalar() == 0


def test_a_read_after_the_idle_ping_works(db: Database) -> None:
    """A connection idle long enough is pinged at checkout; the ping must leave no transaction open,
    or PostgreSQL reads (which switch the connection to autocommit) would fail."""
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    time.sleep(engine_module._IDLE_BEFORE_PING_S + 0.2)
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT 2").scalar() == 2
